"""Periodic account work on the job engine (scheduled with django-celery-beat, editable in the admin)."""

from celery import shared_task

from . import services


@shared_task(name="accounts.purge_expired_tokens")
def purge_expired_tokens() -> int:
    return services.tokens_purge_expired()
