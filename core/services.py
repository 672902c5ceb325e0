"""Writes every app shares: one row created or changed, and soft delete and restore of any
soft-deletable row.

The API's DELETE and ``restore/``, the admin's delete and restore action, any command and
``queryset.delete()`` / ``queryset.restore()`` on a soft-deletable model all reach these rules. An app whose rows need more than marking
(closing what hangs off a load, refusing a restore that would close a dependency cycle)
registers its own functions in its ``services.py`` (imported by its ``AppConfig.ready``):

    @on_delete(Load)
    def load_delete(*, instance): ...

Hooks run inside the transaction ``object_delete`` / ``object_restore`` open, on a row
locked for the duration, and raise ``core.errors`` to refuse.

And the one way a service writes a row it has built or changed (``model_create``,
``model_update``, after HackSoft's ``model_update``): validated by the model's own rules, saved
under a savepoint, a database refusal turned into ``Invalid``, audit fields, ``version`` and a
change-history entry written by the save itself. Bulk changes use ``core.history.update_with_history``.
"""

import logging
from collections.abc import Callable, Iterable, Mapping
from typing import Any, TypeVar

from django.core.exceptions import NON_FIELD_ERRORS, ValidationError
from django.db import IntegrityError, models, router, transaction

from .errors import Conflict, Invalid
from .models import SoftDeleteModel

logger = logging.getLogger(__name__)

M = TypeVar("M", bound=models.Model)

DATABASE_RULE_BROKEN = "This change breaks a rule the database enforces."

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


# --- Writing one row ------------------------------------------------------------------------


def _rule_errors(
    instance: models.Model, exclude: Iterable[str] = (), unique_messages: Mapping[str, str] | None = None
) -> dict[str, list[str]]:
    """What ``full_clean()`` reports, keyed the way ``Invalid`` is, with one difference: a unique
    rule on one field (a live-rows-only constraint, say) is reported on that field, in the words of
    ``unique_messages[field]`` when given, else Django's ("Load with this load ID already exists."),
    where ``full_clean()`` files a conditional one under the whole row as "Constraint “…” is violated."."""
    unique_messages = unique_messages or {}
    exclude = set(exclude)
    errors: dict[str, list[str]] = {}

    def add(name: str, messages: list[str]) -> None:
        errors.setdefault("non_field_errors" if name == NON_FIELD_ERRORS else name, []).extend(messages)

    try:
        instance.full_clean(exclude=exclude, validate_constraints=False)
    except ValidationError as exc:
        for name, field_errors in exc.error_dict.items():
            for error in field_errors:
                taken = error.code == "unique" and name in unique_messages
                add(name, [unique_messages[name]] if taken else error.messages)
    # As full_clean() does: constraints only over fields that passed their own checks.
    exclude |= {name for name in errors if name != "non_field_errors"}
    using = router.db_for_write(type(instance), instance=instance)
    for model_class, constraints in instance.get_constraints():
        for constraint in constraints:
            try:
                constraint.validate(model_class, instance, exclude=exclude, using=using)
            except ValidationError as exc:
                fields = getattr(constraint, "fields", ())
                if not (isinstance(constraint, models.UniqueConstraint) and len(fields) == 1):
                    add(NON_FIELD_ERRORS, exc.messages)
                elif fields[0] in unique_messages:
                    add(fields[0], [unique_messages[fields[0]]])
                elif constraint.violation_error_message == constraint.default_violation_error_message:
                    add(fields[0], instance.unique_error_message(model_class, fields).messages)
                else:
                    add(fields[0], exc.messages)
    return errors


def _save(
    instance: M,
    *,
    update_fields: list[str] | None,
    validate: bool,
    exclude: Iterable[str],
    unique_messages: Mapping[str, str] | None,
    reason: str | None,
) -> M:
    if validate:
        errors = _rule_errors(instance, exclude, unique_messages)
        if errors:
            raise Invalid(errors)
    if reason is not None:
        instance._change_reason = reason  # read by simple_history when it records the entry
    try:
        # A savepoint: a refused write (and its history entry) leaves nothing behind, and the
        # caller's transaction stays usable.
        with transaction.atomic(using=router.db_for_write(type(instance), instance=instance)):
            instance.save(update_fields=update_fields)
    except IntegrityError as exc:
        # Two writers passed the checks at once, or a rule only the database holds: say which.
        errors = _rule_errors(instance, exclude, unique_messages)
        if not errors:
            logger.warning("%s refused by the database: %s", instance._meta.label, exc)
            errors = {"non_field_errors": [DATABASE_RULE_BROKEN]}
        raise Invalid(errors) from exc
    finally:
        if reason is not None:
            del instance._change_reason
    return instance


def model_create(
    *,
    model: type[M],
    data: Mapping[str, Any],
    validate: bool = True,
    exclude: Iterable[str] = (),
    unique_messages: Mapping[str, str] | None = None,
    reason: str | None = None,
) -> M:
    """Create one row of ``model`` from ``data`` (its concrete fields; many-to-many sets are the
    caller's, after this returns). Written as ``model_update`` describes."""
    instance = model(**data)
    return _save(
        instance,
        update_fields=None,
        validate=validate,
        exclude=exclude,
        unique_messages=unique_messages,
        reason=reason,
    )


def model_update(
    *,
    instance: M,
    data: Mapping[str, Any],
    fields: Iterable[str] | None = None,
    validate: bool = True,
    exclude: Iterable[str] = (),
    unique_messages: Mapping[str, str] | None = None,
    reason: str | None = None,
) -> tuple[M, bool]:
    """Set ``data`` on ``instance`` (only the keys in ``fields``, when given) and write the values
    that changed; returns ``(instance, changed)``. Nothing changed: nothing is written.

    Every app's services write single rows through this and ``model_create``, so a row is written
    the same way from the API, the admin, a command or a job:

    * **Validation** is ``full_clean()``: field checks, the model's ``clean()``, uniqueness and the
      ``Meta.constraints``, reported together as field messages (``Invalid``) before anything is
      written. ``clean()`` alone (what carriers ran) lets a bad choice, a too-long text or a taken
      unique value through to the database, to come back as an ``IntegrityError``; running nothing
      (what some writes did) lets the database be the only check. ``exclude`` skips fields the
      caller has checked itself; ``unique_messages`` words a taken unique value in the domain's
      terms (``{"mc_number": "A carrier with this MC number already exists."}``);
      ``validate=False`` skips the checks, not the mapping below.
    * **A database refusal** (``IntegrityError``: two writers that passed the checks at once, or a
      rule only the database holds) is rolled back to a savepoint and the checks run again to name
      the rule: ``Invalid`` on the field of a one-field unique rule, else under ``non_field_errors``.
      Never a 500, never half a write, and the caller's transaction goes on.
    * **Only the changed columns** are written (``save(update_fields=...)``), so counters moved by
      ``UPDATE x = x + 1`` and telemetry are never written back from this copy.
    * **Audit fields, version, history** come from the save itself: ``BaseModel.save()`` stamps
      ``updated_at`` and ``updated_by`` (the acting user, ``core.context.get_current_user``) and
      bumps ``version`` under the optimistic lock: the UPDATE matches only the version this copy
      was read at, so a copy someone else changed meanwhile raises ``StaleVersionError``
      (``Conflict``, 409) and writes nothing. simple_history's post-save handler records the
      change-history entry, by the acting user (``core.history.history_user``), with ``reason``.
    """
    if instance._state.adding:
        raise ValueError("model_update() changes a stored row; use model_create() for a new one.")
    allowed = None if fields is None else set(fields)
    changed: list[str] = []
    for name, value in data.items():
        if allowed is not None and name not in allowed:
            continue
        field = instance._meta.get_field(name)
        if not field.concrete or field.many_to_many:
            raise ValueError(f"model_update() writes the row's own columns; set {name!r} after it.")
        if field.is_relation and name == field.name:
            # Compare keys, so a related row that is not loaded is not read just to compare it.
            current, new = getattr(instance, field.attname), value.pk if isinstance(value, models.Model) else value
        else:
            current, new = getattr(instance, name), value
        if current != new:
            setattr(instance, name, value)
            changed.append(field.name)
    if not changed:
        return instance, False
    _save(
        instance,
        update_fields=list(dict.fromkeys(changed)),
        validate=validate,
        exclude=exclude,
        unique_messages=unique_messages,
        reason=reason,
    )
    return instance, True
