"""simple_history's history manager, built once per class.

Private API it touches (tests/core/test_fastpaths_guards.py): simple_history's
``HistoryManager.from_queryset`` is called on every access of ``Model.history``.
"""

from simple_history.manager import HistoryManager as BaseHistoryManager


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
