"""Guards on what the platform borrows from Django's internals (see docs/architecture.md)."""

import inspect

from django.db.models import Model

from core.models import BaseModel


def test_django_do_update_still_has_the_signature_optimistic_locking_overrides():
    # BaseModel overrides this private method to add "AND version = expected" to the UPDATE.
    # If a Django upgrade changes it, this fails before a stale write slips through.
    expected = ["self", "base_qs", "using", "pk_val", "values", "update_fields", "forced_update"]
    assert list(inspect.signature(Model._do_update).parameters) == expected
    assert list(inspect.signature(BaseModel._do_update).parameters) == expected
