from .context import get_current_user


def record_history(instance, *, reason: str | None = None) -> None:
    """Add a change-history entry for a row written by ``queryset.update()``, which sends no
    signals and so leaves no history by itself. ``instance`` must hold the row as now stored."""
    type(instance).history.bulk_history_create(
        [instance], update=True, default_user=get_current_user(), default_change_reason=reason
    )
