from decimal import Decimal

import pytest
from django.core.management import call_command

from carriers.models import Carrier, Load
from carriers.services import verification_is_fresh

pytestmark = pytest.mark.django_db


def test_demo_fixture_loads_and_reloads_idempotently():
    call_command("loaddata", "carriers_demo", verbosity=0)
    call_command("loaddata", "carriers_demo", verbosity=0)
    assert set(Carrier.objects.values_list("mc_number", flat=True)) == {"123456", "789012", "999999"}
    loads = list(Load.objects.all())
    assert len(loads) == 50
    for load in loads:
        assert load.delivery_datetime > load.pickup_datetime
        per_mile = load.loadboard_rate / load.miles
        assert Decimal("2.0") <= per_mile <= Decimal("3.5"), load.load_id


def test_fixture_verifications_are_marked_and_stale():
    call_command("loaddata", "carriers_demo", verbosity=0)
    for carrier in Carrier.objects.all():
        assert carrier.verification_source == "fixture"
        assert not verification_is_fresh(carrier)
    assert Carrier.objects.get(mc_number="999999").eligible is False
