"""Periodic account work on the job engine (scheduled with django-celery-beat, editable in the admin)."""

from celery import shared_task
from django.utils import timezone
from knox.models import get_token_model


@shared_task(name="accounts.purge_expired_tokens")
def purge_expired_tokens() -> int:
    """Delete API tokens past their expiry. Knox itself only drops a user's expired tokens when
    that user next authenticates; this clears those of users who never come back."""
    deleted, _ = get_token_model().objects.filter(expiry__lt=timezone.now()).delete()
    return deleted
