"""Writes every app shares: soft delete and restore of any soft-deletable row.

The API's DELETE and ``restore/``, the admin's delete and restore action, any command and
``queryset.delete()`` / ``queryset.restore()`` on a soft-deletable model all reach these rules. An app whose rows need more than marking
(closing what hangs off a load, refusing a restore that would close a dependency cycle)
registers its own functions in its ``services.py`` (imported by its ``AppConfig.ready``):

    @on_delete(Load)
    def load_delete(*, instance): ...

Hooks run inside the transaction ``object_delete`` / ``object_restore`` open, on a row
locked for the duration, and raise ``core.errors`` to refuse.
"""

from collections.abc import Callable

from django.db import transaction

from .errors import Conflict
from .models import SoftDeleteModel

_delete_hooks: dict[type, Callable] = {}
_restore_hooks: dict[type, Callable] = {}


def on_delete(model: type[SoftDeleteModel]):
    """Register ``func(*, instance)`` as the way rows of ``model`` are deleted."""

    def register(func):
        _delete_hooks[model] = func
        return func

    return register


def on_restore(model: type[SoftDeleteModel]):
    """Register ``func(*, instance)`` as the way rows of ``model`` are restored."""

    def register(func):
        _restore_hooks[model] = func
        return func

    return register


def _locked(instance: SoftDeleteModel) -> SoftDeleteModel:
    return type(instance).all_objects.select_for_update().get(pk=instance.pk)


def delete_locked(instance: SoftDeleteModel) -> SoftDeleteModel:
    """Soft-delete a live row the caller has locked, inside the caller's transaction."""
    hook = _delete_hooks.get(type(instance))
    if hook is not None:
        hook(instance=instance)
    else:
        instance.delete()
    return instance


def restore_locked(instance: SoftDeleteModel) -> SoftDeleteModel:
    """Restore a deleted row the caller has locked, inside the caller's transaction."""
    hook = _restore_hooks.get(type(instance))
    if hook is not None:
        hook(instance=instance)
    else:
        instance.restore()
    return instance


@transaction.atomic
def object_delete(*, instance: SoftDeleteModel) -> SoftDeleteModel:
    """Soft-delete one row through its app's rules. Deleting a deleted row changes nothing."""
    instance = _locked(instance)
    if instance.is_deleted:
        return instance
    return delete_locked(instance)


@transaction.atomic
def object_restore(*, instance: SoftDeleteModel) -> SoftDeleteModel:
    """Bring back a soft-deleted row through its app's rules; ``Conflict`` if it is not deleted
    or a live row has taken its unique name meanwhile."""
    instance = _locked(instance)
    if not instance.is_deleted:
        raise Conflict("This record is not deleted.", code="not_deleted")
    return restore_locked(instance)
