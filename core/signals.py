from django.db import transaction
from django.db.models.signals import post_delete, post_save
from django.dispatch import receiver

from . import runtime
from .models import RuntimeSetting


@receiver([post_save, post_delete], sender=RuntimeSetting)
def clear_runtime_settings_cache(**kwargs):
    runtime.clear_cache()
    # Also after commit, so a reader that refilled the cache mid-transaction is not left stale.
    transaction.on_commit(runtime.clear_cache)
