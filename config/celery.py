"""The background job engine. Settings come from Django's (``CELERY_*``); tasks live in each app's
``tasks.py``. With no ``CELERY_BROKER_URL`` tasks run in the calling process (development, tests)."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

app = Celery("config")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()
