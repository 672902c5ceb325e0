"""The write path every app shares: bulk updates that leave history, and soft delete and
restore through the owning app's rules whichever way they are reached."""

from decimal import Decimal

import pytest

from carriers.choices import LoadStatus, NegotiationStatus
from carriers.models import Carrier, Load, Negotiation
from core.context import current_request
from core.errors import Conflict
from core.history import update_with_history
from core.services import object_delete
from tests.carriers.factories import CarrierFactory, LoadFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class Request:
    def __init__(self, user):
        self.user = user


def test_update_with_history_writes_like_a_save():
    load = LoadFactory()
    open_, other = (Negotiation.objects.create(load=load, carrier=CarrierFactory()) for _ in range(2))
    Negotiation.objects.filter(pk=other.pk).update(status=NegotiationStatus.REJECTED)
    user = UserFactory()
    token = current_request.set(Request(user))
    try:
        changed = update_with_history(
            Negotiation.objects.filter(load=load, status=NegotiationStatus.OPEN),
            status=NegotiationStatus.CLOSED,
            reason="load withdrawn",
        )
    finally:
        current_request.reset(token)
    assert changed == 1
    open_.refresh_from_db()
    assert (open_.status, open_.version, open_.updated_by) == (NegotiationStatus.CLOSED, 2, user)
    latest = open_.history.first()
    assert (latest.status, latest.version, latest.history_user, latest.history_change_reason) == (
        NegotiationStatus.CLOSED,
        2,
        user,
        "load withdrawn",
    )
    assert other.history.count() == 1  # untouched rows get no entry
    assert update_with_history(Negotiation.objects.none(), status=NegotiationStatus.OPEN) == 0


def test_update_with_history_entries_hold_the_rows_as_stored(django_assert_num_queries):
    # Carriers: JSON, lists, dates, booleans and nullable columns, copied into their entries by SQL.
    carriers = [
        CarrierFactory(
            fmcsa_data={"carrier": {"legalName": f"Hauler {n}", "ratio": 0.5, "flags": [True, None]}},
            ineligibility_reasons=["out_of_service"] if n % 2 else [],
            legal_name=f"Hauler {n} 'quoted' \\ ünïcode",
        )
        for n in range(3)
    ]
    user = UserFactory()
    token = current_request.set(Request(user))
    try:
        with django_assert_num_queries(3):  # the rows locked, updated, their entries copied
            update_with_history(Carrier.objects.filter(pk__in=[c.pk for c in carriers]), phone="+1 312 555 0100")
    finally:
        current_request.reset(token)
    for carrier in carriers:
        stored = Carrier.all_objects.get(pk=carrier.pk)
        entry = stored.history.first()
        assert (stored.phone, stored.version, stored.updated_by) == ("+1 312 555 0100", 2, user)
        for field in Carrier._meta.concrete_fields:
            assert getattr(entry, field.attname) == getattr(stored, field.attname), field.name
        assert (entry.history_type, entry.history_user, entry.history_change_reason) == ("~", user, None)
        assert stored.history.count() == 2


def test_queryset_delete_goes_through_the_apps_delete_rules():
    carrier = CarrierFactory()
    booked = LoadFactory(status=LoadStatus.BOOKED, booked_carrier=carrier, agreed_rate=Decimal("2000"))
    available = LoadFactory()
    with pytest.raises(Conflict, match="cancel it before deleting it"):
        Load.objects.filter(pk__in=[booked.pk, available.pk]).delete()
    assert Load.objects.count() == 2  # all or nothing
    with pytest.raises(Conflict, match="holds loads in progress"):
        object_delete(instance=carrier)
    assert Load.objects.filter(pk=available.pk).delete() == (1, {"carriers.Load": 1})
