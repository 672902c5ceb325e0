from django.db.models import F
from django.utils import timezone
from simple_history.manager import HistoryManager as BaseHistoryManager

from .context import get_current_user


def history_user(instance=None, request=None, **kwargs):
    """Who a change-history entry is by: the user acting now (a request's, or a command's or job's
    ``acting_as``), the one ``created_by``/``updated_by`` name. Every ``HistoricalRecords`` takes
    it as ``get_user``, so no request middleware of simple_history's is needed."""
    return get_current_user()


def record_history(instance, *, reason: str | None = None) -> None:
    """Add a change-history entry for a row written by ``queryset.update()``, which sends no
    signals and so leaves no history by itself. ``instance`` must hold the row as now stored."""
    record_history_many([instance], reason=reason)


def record_history_many(instances, *, reason: str | None = None) -> None:
    """``record_history`` for many rows at once (one INSERT)."""
    instances = list(instances)
    if instances:
        type(instances[0]).history.bulk_history_create(
            instances, update=True, default_user=get_current_user(), default_change_reason=reason
        )


def update_with_history(queryset, *, reason: str | None = None, **changes) -> int:
    """``queryset.update(**changes)`` written like any other write: each row gets a new
    ``version``, ``updated_at``/``updated_by`` and a change-history entry. Call it inside a
    transaction; the rows are locked first, so the ones changed are exactly the ones recorded."""
    model = queryset.model
    # Locked in key order, so two updates over overlapping rows cannot wait on each other (and
    # no join is made for the model's default ordering).
    pks = list(queryset.select_for_update(of=("self",)).order_by("pk").values_list("pk", flat=True))
    if not pks:
        return 0
    rows = model._base_manager.filter(pk__in=pks)
    count = rows.update(updated_at=timezone.now(), updated_by=get_current_user(), version=F("version") + 1, **changes)
    record_history_many(rows.order_by("pk"), reason=reason)
    return count


class HistoryManager(BaseHistoryManager):
    """``Model.history``. simple_history builds the manager's class anew on every access (a new
    type and a scan of the queryset's methods), and every history entry written accesses it:
    about half a millisecond per entry. Here each class is built once."""

    _built: dict = {}

    @classmethod
    def from_queryset(cls, queryset_class, class_name=None):
        key = (cls, queryset_class, class_name)
        built = HistoryManager._built.get(key)
        if built is None:
            built = HistoryManager._built[key] = super().from_queryset(queryset_class, class_name)
        return built
