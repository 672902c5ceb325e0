"""The background job engine. Settings come from Django's (``CELERY_*``); tasks live in each app's
``tasks.py``. With no ``CELERY_BROKER_URL`` (development, tests) tasks run in the calling process;
production settings refuse to start without one.

Importing ``config`` runs this module before ``config.wsgi`` or ``config.asgi`` runs, so its default
must be theirs: whatever a deployment starts (gunicorn, an ASGI server, ``celery -A config``) runs
production settings unless told otherwise. ``manage.py`` sets local settings before it imports this.
"""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
