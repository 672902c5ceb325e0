# syntax=docker/dockerfile:1
# The production image: web, events, worker, beat and migrate from one build (docker/entrypoint.sh ROLE).
#   docker build -t freight-ops .
#   docker compose up          # the whole production-like stack (compose.yaml)
ARG PYTHON_IMAGE=python:3.11-slim-bookworm

# --- builder: every pinned dependency as a wheel (all of them ship manylinux wheels today) ---
FROM ${PYTHON_IMAGE} AS builder
ENV PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1
WORKDIR /build
COPY requirements.txt .
RUN pip wheel --no-cache-dir --wheel-dir /build/wheels -r requirements.txt

# --- runtime ------------------------------------------------------------------------------------
FROM ${PYTHON_IMAGE} AS runtime
ENV PYTHONDONTWRITEBYTECODE=1 \
    PYTHONUNBUFFERED=1 \
    PIP_NO_CACHE_DIR=1 \
    PIP_DISABLE_PIP_VERSION_CHECK=1 \
    DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_STATIC_ROOT=/app/staticfiles \
    PORT=8000

# The app runs as an unprivileged user; the code and static files stay root's, read-only to it.
RUN groupadd --system --gid 10001 app \
    && useradd --system --uid 10001 --gid app --create-home --home-dir /home/app --shell /usr/sbin/nologin app

WORKDIR /app
COPY --from=builder /build/wheels /tmp/wheels
COPY requirements.txt .
RUN pip install --no-cache-dir --no-index --find-links=/tmp/wheels -r requirements.txt \
    && rm -rf /tmp/wheels

COPY . .
# The same scripts CI runs (tests/deploy): static files now, the roles at start.
RUN docker/collectstatic.sh \
    && python -m compileall -q accounts carriers community config core dashboard events logistics registry

USER 10001:10001
EXPOSE 8000
HEALTHCHECK --interval=30s --timeout=5s --start-period=60s --retries=3 \
    CMD ["python", "/app/docker/healthcheck.py"]
ENTRYPOINT ["/app/docker/entrypoint.sh"]
CMD ["web"]
