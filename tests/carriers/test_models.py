"""What the database itself refuses, whatever code path writes."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import IntegrityError, transaction

from carriers.choices import LoadStatus
from carriers.models import Load
from tests.carriers.factories import CarrierFactory, LoadFactory

pytestmark = pytest.mark.django_db


def refused(**changes):
    load = LoadFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Load.objects.filter(pk=load.pk).update(**changes)


def test_posted_rate_must_be_positive():
    refused(loadboard_rate=Decimal("0"))


def test_ceiling_not_below_posted_rate():
    refused(max_rate=Decimal("1.00"))


def test_delivery_after_pickup():
    load = LoadFactory()
    with pytest.raises(IntegrityError), transaction.atomic():
        Load.objects.filter(pk=load.pk).update(delivery_datetime=load.pickup_datetime - timedelta(minutes=1))


def test_booked_load_has_a_carrier_and_an_agreed_rate():
    refused(status=LoadStatus.BOOKED)


def test_available_load_has_no_carrier():
    refused(booked_carrier=CarrierFactory(), agreed_rate=Decimal("2000"))


def test_nothing_agreed_above_the_ceiling():
    refused(status=LoadStatus.BOOKED, booked_carrier=CarrierFactory(), agreed_rate=Decimal("99999"))


def test_state_codes_must_be_real():
    refused(origin_state="ZZ")


def test_equipment_must_be_known():
    refused(equipment_type="spaceship")


def test_live_load_ids_are_unique_but_a_deleted_one_frees_its_id():
    first = LoadFactory(load_id="L-1")
    with pytest.raises(IntegrityError), transaction.atomic():
        LoadFactory(load_id="L-1")
    first.delete()
    assert LoadFactory(load_id="L-1").pk != first.pk


def test_live_mc_numbers_are_unique():
    CarrierFactory(mc_number="123456")
    with pytest.raises(IntegrityError), transaction.atomic():
        CarrierFactory(mc_number="123456")


def test_ceiling_defaults_to_posted_plus_percent():
    load = LoadFactory(loadboard_rate=Decimal("1999.99"), max_rate=None)
    assert load.ceiling(10) == Decimal("2199.98")
    assert LoadFactory(loadboard_rate=Decimal("1000"), max_rate=Decimal("1050")).ceiling(10) == Decimal("1050")
