"""core.bulk: rows and their "created" history entries, exactly as the ORM would store them (COPY on
PostgreSQL, bulk_create elsewhere), JSON included; from instances or from each row's values."""

from datetime import date
from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from carriers.models import Carrier
from core.bulk import create_rows_with_history, create_with_history, existing_values
from tests.carriers.factories import CarrierFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


def assert_stored_as(given: Carrier, user):
    """The row and its history entry hold ``given``'s values, field by field."""
    stored = Carrier.all_objects.get(pk=given.pk)
    entry = Carrier.history.get(id=given.pk)
    for field in Carrier._meta.concrete_fields:
        assert getattr(stored, field.attname) == getattr(given, field.attname), field.name
        assert getattr(entry, field.attname) == getattr(given, field.attname), field.name
    assert entry.history_type == "+" and entry.history_user_id == (user and user.pk)
    assert entry.history_change_reason is None  # as simple_history stores it


def test_rows_and_history_entries_are_stored_as_given():
    user = UserFactory()
    now = timezone.now()
    carriers = [
        Carrier(
            mc_number=str(700000 + n),
            legal_name=f"Bulk Hauling {n} \\ \t 'quoted' \"double\" ünïcode",
            fmcsa_data={"carrier": {"legalName": f"Bulk {n}", "ratio": 0.5, "flags": [True, None]}},
            ineligibility_reasons=["out_of_service"] if n % 2 else [],
            verified_at=now,
            created_by=user,
            updated_by=user,
        )
        for n in range(5)
    ]
    reported = []
    with transaction.atomic():
        create_with_history(Carrier, carriers, user=user, batch_size=2, progress=lambda *done: reported.append(done))
    for given in carriers:
        assert_stored_as(given, user)
    assert Carrier.objects.get(mc_number="700001").fmcsa_data["carrier"]["ratio"] == Decimal("0.5")
    assert reported[-1] == (5, 5) and reported == sorted(reported)


def test_rows_given_as_values_are_stored_as_instances_of_them_would_be():
    user = UserFactory()
    now = timezone.now()
    rows = [
        {"mc_number": "800001"},  # everything else from the field defaults
        {
            "mc_number": "800002",
            "dot_number": 2**40,
            "legal_name": "Values \\ \t 'Hauling' ü",
            "allowed_to_operate": False,
            "out_of_service_date": date(2026, 1, 31),
            "ineligibility_reasons": ["out_of_service"],
            "fmcsa_data": {"carrier": {"ratio": 0.25, "flags": [None]}},
            "verified_at": now,
            "version": 7,
        },
        {"mc_number": "800003", "created_at": now, "created_by_id": None},  # ``fixed`` values win
    ]
    fixed = {"created_at": now, "updated_at": now, "created_by_id": user.pk, "updated_by_id": user.pk}
    with transaction.atomic():
        create_rows_with_history(Carrier, rows, fixed=fixed, user=None)
    stored = {carrier.mc_number: carrier for carrier in Carrier.objects.all()}
    assert len(stored) == 3 and len({carrier.pk for carrier in stored.values()}) == 3  # a new id for each
    for row in rows:
        # What the ORM would store for the same values (the id is the one default drawn at random).
        expected = Carrier(**{**row, **fixed, "id": stored[row["mc_number"]].pk})
        assert_stored_as(expected, None)
    assert stored["800001"].ineligibility_reasons == [] and stored["800001"].version == 1
    assert stored["800003"].created_by == user


def test_unknown_values_are_refused():
    with pytest.raises(TypeError, match="colour"), transaction.atomic():
        create_rows_with_history(Carrier, [{"mc_number": "1", "colour": "red"}])
    with pytest.raises(TypeError, match="colour"), transaction.atomic():
        create_rows_with_history(Carrier, [{"mc_number": "1"}], fixed={"colour": "red"})
    assert not Carrier.all_objects.exists()


def test_existing_values_are_found_among_many():
    CarrierFactory(mc_number="123")
    CarrierFactory(mc_number="456").delete()  # not a live one
    values = [str(n) for n in range(5000)]
    assert existing_values(Carrier.objects, "mc_number", values, batch_size=1000) == {"123"}
    assert existing_values(Carrier.all_objects, "mc_number", values) == {"123", "456"}
    assert existing_values(Carrier.objects, "mc_number", []) == set()
