"""Guards on what the platform borrows from Django's internals (see docs/architecture.md)."""

from django.db.models import Model

from core.models import BaseModel


def test_optimistic_locking_overrides_no_private_save_step():
    # The version check is written with public APIs in BaseModel._save_versioned; nothing of
    # Model.save_base/_save_table/_do_update is overridden, so a Django upgrade cannot bypass it.
    for name in ("save_base", "_save_table", "_do_update", "_do_insert", "_save_parents"):
        assert getattr(BaseModel, name) is getattr(Model, name), name
