#!/bin/sh
# Static files into DJANGO_STATIC_ROOT at image build time (the Dockerfile) and in CI (tests/deploy).
# Production settings refuse to load without their secrets and services; collectstatic uses none of
# them, so this one command gets placeholders that nothing connects to and that never reach the image's
# environment.
set -eu
cd "$(dirname "$0")/.."
env DJANGO_SETTINGS_MODULE=config.settings.production \
    DJANGO_SECRET_KEY=collectstatic-build-step-only \
    DJANGO_ALLOWED_HOSTS=localhost \
    DATABASE_URL=postgres://build@localhost:5432/build \
    CACHE_URL=redis://localhost:6379/1 \
    CELERY_BROKER_URL=redis://localhost:6379/0 \
    "${PYTHON:-python}" manage.py collectstatic --noinput
