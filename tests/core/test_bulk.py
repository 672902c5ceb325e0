"""core.bulk.create_with_history: rows and their "created" history entries, exactly as the ORM
would store them (COPY on PostgreSQL, bulk_create elsewhere), JSON included."""

from decimal import Decimal

import pytest
from django.db import transaction
from django.utils import timezone

from carriers.models import Carrier
from core.bulk import create_with_history
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


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
    with transaction.atomic():
        create_with_history(Carrier, carriers, user=user, batch_size=2)
    for given in carriers:
        stored = Carrier.objects.get(pk=given.pk)
        entry = Carrier.history.get(id=given.pk)
        for field in Carrier._meta.concrete_fields:
            assert getattr(stored, field.attname) == getattr(given, field.attname), field.name
            assert getattr(entry, field.attname) == getattr(given, field.attname), field.name
        assert entry.history_type == "+" and entry.history_user_id == user.pk
    assert Carrier.objects.get(mc_number="700001").fmcsa_data["carrier"]["ratio"] == Decimal("0.5")
