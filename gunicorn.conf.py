"""Gunicorn settings for ``gunicorn -c gunicorn.conf.py config.wsgi`` (docker/entrypoint.sh ``web``).

Every value comes from the environment, so one image serves any machine size:

| variable | default | meaning |
| --- | --- | --- |
| ``GUNICORN_BIND`` | ``0.0.0.0:$PORT`` (``PORT`` 8000) | address to listen on |
| ``GUNICORN_WORKERS`` or ``WEB_CONCURRENCY`` | 2 × cores + 1 | worker processes (each with its own database pool of ``DB_POOL_MAX_SIZE``) |
| ``GUNICORN_THREADS`` | 4 | threads per worker (``gthread``); 1 runs sync workers |
| ``GUNICORN_TIMEOUT`` | 30 | seconds a request may run before its worker is killed and replaced |
| ``GUNICORN_GRACEFUL_TIMEOUT`` | 30 | seconds a worker gets to finish its requests on restart or shutdown |
| ``GUNICORN_KEEPALIVE`` | 5 | seconds an idle keep-alive connection stays open (above the load balancer's idle timeout) |
| ``GUNICORN_MAX_REQUESTS`` / ``GUNICORN_MAX_REQUESTS_JITTER`` | 0 / 100 | recycle a worker after this many requests (0: never; a recycled worker loads the app and warms up again, seconds of CPU, so keep it in the tens of thousands if set) |
| ``GUNICORN_ACCESS_LOG`` | off | ``-`` writes gunicorn's access log to stdout (the app logs each request's errors itself) |
| ``GUNICORN_LOG_LEVEL`` | ``info`` | gunicorn's own log level |
| ``GUNICORN_WARM_UP`` | ``true`` | warm each worker before it serves (``core.warmup``) |

Workers are forked before the application is loaded (no ``preload_app``), so no database
connection or pool is ever shared across a fork.
"""

import logging
import multiprocessing
import os


def _int(name: str, default: int) -> int:
    value = os.environ.get(name, "").strip()
    if not value:
        return default
    try:
        return int(value)
    except ValueError:
        raise ValueError(f"{name} must be a whole number, not {value!r}") from None


def _bool(name: str, default: bool) -> bool:
    value = os.environ.get(name, "").strip().lower()
    if not value:
        return default
    return value in ("1", "true", "yes", "on")


wsgi_app = "config.wsgi:application"
bind = [os.environ.get("GUNICORN_BIND") or f"0.0.0.0:{_int('PORT', 8000)}"]
workers = _int("GUNICORN_WORKERS", _int("WEB_CONCURRENCY", multiprocessing.cpu_count() * 2 + 1))
threads = _int("GUNICORN_THREADS", 4)
worker_class = "gthread" if threads > 1 else "sync"
timeout = _int("GUNICORN_TIMEOUT", 30)
graceful_timeout = _int("GUNICORN_GRACEFUL_TIMEOUT", 30)
keepalive = _int("GUNICORN_KEEPALIVE", 5)
max_requests = _int("GUNICORN_MAX_REQUESTS", 0)
max_requests_jitter = _int("GUNICORN_MAX_REQUESTS_JITTER", 100)
preload_app = False

accesslog = os.environ.get("GUNICORN_ACCESS_LOG") or None
errorlog = "-"
loglevel = os.environ.get("GUNICORN_LOG_LEVEL", "info")
# The heartbeat file on memory, not on a container's overlay disk (a slow disk stalls workers).
worker_tmp_dir = os.environ.get("GUNICORN_WORKER_TMP_DIR") or ("/dev/shm" if os.path.isdir("/dev/shm") else None)

WARM_UP = _bool("GUNICORN_WARM_UP", True)


def post_worker_init(worker):
    """The application is loaded in this worker: compile the hot statements before it accepts
    a request. ``core.warmup.warm_up`` never raises; this guard covers its import too."""
    if not WARM_UP:
        return
    try:
        from core.warmup import warm_up as run

        run()
    except Exception:
        logging.getLogger("core.warmup").exception("warm-up could not run")


def child_exit(server, worker):
    """prometheus_client's multiprocess mode: drop the metrics files of a worker that exited."""
    if os.environ.get("PROMETHEUS_MULTIPROC_DIR"):
        from prometheus_client import multiprocess

        multiprocess.mark_process_dead(worker.pid)
