"""Base models every domain model builds on.

* ``BaseModel``: UUID key, timestamps, who created/updated it, an optimistic-lock
  ``version`` and change history.
* ``SoftDeleteModel``: adds ``deleted_at``/``deleted_by``; ``objects`` hides deleted
  rows, ``all_objects`` shows them, and deleting (instance or queryset) only marks rows.
* ``RuntimeSetting``: operator-tunable values, see ``core.runtime``.
"""

import uuid

from django.conf import settings
from django.core.exceptions import ValidationError
from django.db import models, router, transaction
from django.db.models import signals
from django.utils import timezone
from simple_history.models import HistoricalRecords

from . import clock
from .context import get_current_user
from .db.locks import lock_rows
from .errors import Conflict
from .fastpaths.history import HistoryManager
from .history import history_user


class StaleVersionError(Conflict):
    """The row changed (or was deleted) since this copy was read."""

    def __init__(self, instance, expected_version):
        self.instance = instance
        self.expected_version = expected_version
        super().__init__(
            f"This {instance._meta.verbose_name} was changed by someone else since it was read "
            f"(expected version {expected_version}); reload it and try again.",
            code="stale_version",
        )


# The audit foreign keys carry no index by default: no read filters on them (rows are fetched by
# their own keys and the user is joined by the users' primary key), while every index costs each
# write, and the imports write 100,000s of rows. A model whose reads do filter on one keeps it
# with ``audit_user(db_index=True)``; tests/core/test_indexes.py lists which do, and why.
# Deleting a user (Admin only; users are normally deactivated) then sets these to NULL with one
# sequential scan per column: see docs/architecture.md#audit-indexes.
AUDIT_USER_FIELDS = ("created_by", "updated_by", "deleted_by")


def audit_user(*, db_index: bool = False) -> models.ForeignKey:
    """The who-did-it foreign key of the audit fields (``created_by``, ``updated_by``, ``deleted_by``)."""
    return models.ForeignKey(
        settings.AUTH_USER_MODEL,
        null=True,
        blank=True,
        editable=False,
        on_delete=models.SET_NULL,
        related_name="+",
        db_index=db_index,
    )


class BaseModel(models.Model):
    id = models.UUIDField(primary_key=True, default=uuid.uuid4, editable=False)
    # Defaults rather than auto_now*, so fixtures may omit them and loaddata still works.
    created_at = models.DateTimeField(default=timezone.now, editable=False, db_index=True)
    updated_at = models.DateTimeField(default=timezone.now, editable=False)
    created_by = audit_user()
    updated_by = audit_user()
    version = models.PositiveIntegerField(default=1, editable=False)

    # History rows copy the audit keys without a constraint and nothing looks them up, so their
    # copies carry no index either. ``history_user`` keeps simple_history's index: deleting a user
    # sets it to NULL on every history table, the largest tables there are.
    history = HistoricalRecords(
        inherit=True, history_manager=HistoryManager, get_user=history_user, no_db_index=list(AUDIT_USER_FIELDS)
    )

    class Meta:
        abstract = True

    # Fields only delete()/restore() may write; a plain save() leaves them as stored.
    _lifecycle_fields: tuple[str, ...] = ()
    # Telemetry (last seen, check counters...): written only by their own narrow updates, which
    # do not bump ``version``. A plain save() leaves them as stored, so an edit made on a copy
    # read before the latest report neither conflicts with it nor writes the old values back.
    _telemetry_fields: tuple[str, ...] = ()

    def save(self, *args, **kwargs):
        user = get_current_user()
        now = clock.now()
        update_fields = kwargs.get("update_fields")
        if self._state.adding:
            # The field default stamped the real time when the instance was built; a row written
            # while the clock is held (core.clock.frozen_at, a replay) is created at the held moment.
            self.created_at = now if clock.frozen() else self.created_at or now
            if user is not None and self.created_by_id is None:
                self.created_by = user
            self.updated_at = now
            self.updated_by = user if user is not None else self.updated_by
            return self._save_dated(now, *args, **kwargs)

        self.updated_at = now
        if user is not None:
            self.updated_by = user
        if args or kwargs.get("force_insert"):
            raise TypeError("save() of a stored row takes only keyword arguments: using, update_fields.")
        kept = (*self._lifecycle_fields, *self._telemetry_fields)
        if update_fields is None and kept:
            deferred = self.get_deferred_fields()
            update_fields = [
                f.name
                for f in self._meta.concrete_fields
                if not f.primary_key and f.name not in kept and f.attname not in deferred
            ]
        if update_fields is not None:
            update_fields = {*update_fields, "updated_at", "updated_by", "version"}
        expected = self.version
        self.version = expected + 1
        try:
            self._save_versioned(now, expected, using=kwargs.get("using"), update_fields=update_fields)
        except BaseException:
            self.version = expected
            raise

    def _save_dated(self, now, *args, **kwargs):
        """Save; while the clock is held, the change-history entry is dated at the held moment too
        (simple_history reads ``_history_date``, else takes the real time)."""
        if not clock.frozen():
            return super().save(*args, **kwargs)
        self._history_date = now
        try:
            return super().save(*args, **kwargs)
        finally:
            del self._history_date

    def _save_versioned(self, now, expected: int, *, using=None, update_fields=None):
        """The UPDATE ``save()`` runs for a stored row, matching only the version this copy was
        read at (the optimistic lock): a copy someone else changed or deleted meanwhile raises
        ``StaleVersionError`` and writes nothing.

        Written with public APIs (the save signals, ``Field.pre_save``, ``QuerySet.update``), as
        ``Model.save_base`` runs them for an update, rather than by overriding Django's private
        ``Model._do_update`` to add the condition. One UPDATE, as before; the signals carry what
        they carry for a plain save, so simple_history records the change."""
        model = type(self)
        meta = self._meta
        using = using or router.db_for_write(model, instance=self)
        fields = [f for f in meta.local_concrete_fields if not f.primary_key and not f.generated]
        if update_fields is not None:
            names = frozenset(update_fields)
            unknown = names - {f.name for f in fields} - {f.attname for f in fields}
            if unknown:
                raise ValueError(f"update_fields names no column of {meta.label}: {', '.join(sorted(unknown))}.")
            fields = [f for f in fields if f.name in names or f.attname in names]
        else:
            names = None
            deferred = self.get_deferred_fields()
            fields = [f for f in fields if f.attname not in deferred]
        if clock.frozen():
            self._history_date = now
        try:
            signals.pre_save.send(sender=model, instance=self, raw=False, using=using, update_fields=names)
            values = {f.attname: f.pre_save(self, False) for f in fields}
            rows = model._base_manager.using(using).filter(pk=self.pk)
            with transaction.mark_for_rollback_on_error(using):
                if not rows.filter(version=expected).update(**values):
                    raise StaleVersionError(self, expected)
            self._state.db = using
            self._state.adding = False
            signals.post_save.send(
                sender=model, instance=self, created=False, update_fields=names, raw=False, using=using
            )
        finally:
            self.__dict__.pop("_history_date", None)


class SoftDeleteQuerySet(models.QuerySet):
    def alive(self):
        return self.filter(deleted_at__isnull=True)

    def deleted(self):
        return self.filter(deleted_at__isnull=False)

    def delete(self):
        """Soft-delete every row through its app's delete rules (``core.services``), one at a
        time so each gets its history entry."""
        from .services import delete_locked

        count = 0
        with transaction.atomic(using=self.db):
            # Only these rows are locked, so a queryset with select_related (the admin's changelist)
            # can be deleted too: PostgreSQL refuses FOR UPDATE on an outer join.
            for obj in lock_rows(self.alive()):
                delete_locked(obj)
                count += 1
        return count, {self.model._meta.label: count}

    delete.alters_data = True
    delete.queryset_only = True

    def hard_delete(self):
        return super().delete()

    hard_delete.alters_data = True

    def restore(self):
        """Restore every deleted row through its app's restore rules (``core.services``)."""
        from .services import restore_locked

        count = 0
        with transaction.atomic(using=self.db):
            for obj in lock_rows(self.deleted()):
                restore_locked(obj)
                count += 1
        return count


class AliveManager(models.Manager.from_queryset(SoftDeleteQuerySet)):
    def get_queryset(self):
        return super().get_queryset().filter(deleted_at__isnull=True)


AllObjectsManager = models.Manager.from_queryset(SoftDeleteQuerySet)


class SoftDeleteModel(BaseModel):
    deleted_at = models.DateTimeField(null=True, blank=True, editable=False, db_index=True)
    deleted_by = audit_user()

    objects = AliveManager()
    all_objects = AllObjectsManager()

    _lifecycle_fields = ("deleted_at", "deleted_by")

    class Meta:
        abstract = True
        # Related lookups and the admin's object fetches see deleted rows too.
        base_manager_name = "all_objects"

    @property
    def is_deleted(self) -> bool:
        return self.deleted_at is not None

    def delete(self, using=None, keep_parents=False):
        """Mark the row deleted. Use ``hard_delete()`` to remove it for good."""
        if self.is_deleted:
            return 0, {}
        self.deleted_at = clock.now()
        self.deleted_by = get_current_user()
        self.save(update_fields=["deleted_at", "deleted_by"])
        return 1, {self._meta.label: 1}

    def hard_delete(self, using=None, keep_parents=False):
        return super().delete(using=using, keep_parents=keep_parents)

    def restore(self):
        if not self.is_deleted:
            return
        self.validate_restorable()
        self.deleted_at = None
        self.deleted_by = None
        self.save(update_fields=["deleted_at", "deleted_by"])

    def validate_restorable(self):
        """Refuse a restore that would break a live-row unique rule."""
        for constraint in self._meta.constraints:
            if isinstance(constraint, models.UniqueConstraint) and constraint.fields:
                attnames = [self._meta.get_field(name).attname for name in constraint.fields]
                lookup = {attname: getattr(self, attname) for attname in attnames}
                clash = type(self).objects.filter(**lookup).exclude(pk=self.pk)
                if clash.exists():
                    fields = ", ".join(constraint.fields)
                    raise Conflict(
                        f"Cannot restore: a live {self._meta.verbose_name} with the same {fields} exists.",
                        code="restore_clash",
                    )


class NamedLock(models.Model):
    """A row per named lock, locked FOR UPDATE by ``core.db.locks.transaction_lock`` on databases without
    transaction-scoped advisory locks (MySQL, MariaDB). Created on first use; never changes."""

    name = models.CharField(max_length=100, primary_key=True)

    def __str__(self):
        return self.name


class RuntimeSetting(BaseModel):
    """A value operators change in the admin without a redeploy; see ``core.runtime``."""

    key = models.CharField(max_length=100, unique=True)
    value = models.JSONField()
    description = models.TextField(blank=True, editable=False)

    class Meta:
        ordering = ["key"]

    def __str__(self):
        return f"{self.key} = {self.value!r}"

    def clean(self):
        from . import runtime

        try:
            self.value = runtime.validate(self.key, self.value)
        except KeyError:
            raise ValidationError({"key": f"Unknown setting {self.key!r}."}) from None
        except ValidationError as exc:
            raise ValidationError({"value": exc.messages}) from None
