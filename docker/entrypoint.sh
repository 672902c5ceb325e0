#!/bin/sh
# The one start script of the image and of CI (tests/deploy): docker/entrypoint.sh ROLE [ARGS...]
#
#   web      wait for the database, then gunicorn with gunicorn.conf.py (GUNICORN_* / WEB_CONCURRENCY)
#   events   wait for the database, then the ASGI server of /api/v1/events/ (the feed, its watch and the
#            stream): gunicorn with uvicorn workers on config.asgi, EVENTS_WORKERS (2) of them, on
#            EVENTS_PORT (8001); the load balancer sends /api/v1/events/ here and the rest to web
#   worker   wait for the database, then a Celery worker (ARGS go to celery, e.g. --concurrency=2)
#   beat     wait for the database, then Celery beat: exactly one per cluster
#   migrate  wait for the database, then `migrate --noinput`; run it once per release, before the rest
#   *        anything else runs as given (`docker/entrypoint.sh python manage.py shell`)
#
# WAIT_FOR_DB_TIMEOUT (seconds, default 60) bounds the wait; past it the script exits non-zero.
# Like gunicorn and `celery -A config`, it runs production settings unless DJANGO_SETTINGS_MODULE
# says otherwise (manage.py alone would default to local ones).
set -eu

cd "$(dirname "$0")/.."
export DJANGO_SETTINGS_MODULE="${DJANGO_SETTINGS_MODULE:-config.settings.production}"
PYTHON="${PYTHON:-python}"

wait_for_db() {
    "$PYTHON" manage.py wait_for_db --timeout "${WAIT_FOR_DB_TIMEOUT:-60}"
}

role="${1:-web}"
[ "$#" -gt 0 ] && shift

case "$role" in
    web)
        wait_for_db
        if [ -n "${PROMETHEUS_MULTIPROC_DIR:-}" ]; then
            # prometheus_client's multiprocess files from an earlier run would add to this one's.
            mkdir -p "$PROMETHEUS_MULTIPROC_DIR"
            find "$PROMETHEUS_MULTIPROC_DIR" -maxdepth 1 -type f -name '*.db' -delete
        fi
        exec "$PYTHON" -m gunicorn -c gunicorn.conf.py "$@" config.wsgi
        ;;
    events)
        wait_for_db
        # One event loop per worker holds every watcher of that process; GUNICORN_TIMEOUT is then the
        # worker's heartbeat, not a request's limit (a watch lasts up to 60 s, a stream for as long as
        # its client stays).
        exec "$PYTHON" -m gunicorn -c gunicorn.conf.py -k uvicorn_worker.UvicornWorker \
            -w "${EVENTS_WORKERS:-2}" -b "${EVENTS_BIND:-0.0.0.0:${EVENTS_PORT:-8001}}" "$@" config.asgi:application
        ;;
    worker)
        wait_for_db
        exec "$PYTHON" -m celery -A config worker --loglevel="${CELERY_LOG_LEVEL:-INFO}" "$@"
        ;;
    beat)
        wait_for_db
        exec "$PYTHON" -m celery -A config beat --loglevel="${CELERY_LOG_LEVEL:-INFO}" "$@"
        ;;
    migrate)
        wait_for_db
        exec "$PYTHON" manage.py migrate --noinput "$@"
        ;;
    *)
        exec "$role" "$@"
        ;;
esac
