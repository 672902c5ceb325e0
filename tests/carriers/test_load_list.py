"""The load search writes its rows directly; they must be exactly what the full serializer gives
(the detail view), for every role, and cost the same queries whatever the page holds."""

from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from carriers.choices import LoadStatus
from core.context import current_request
from tests.carriers.factories import CarrierFactory, LoadFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


class _Request:
    def __init__(self, user):
        self.user = user


def loads_with_everything():
    author, editor = UserFactory(username="ana"), UserFactory(username="ben")
    token = current_request.set(_Request(author))
    try:
        plain = LoadFactory(load_id="L-PLAIN", max_rate=None, miles=None, num_of_pieces=None)
        odd = LoadFactory(
            load_id="L-ODD",
            loadboard_rate=Decimal("1999.5"),
            pickup_datetime=timezone.now().replace(microsecond=123456) + timedelta(days=3),
            notes="Ünïcode & <tags>",
        )
        booked = LoadFactory(load_id="L-BOOKED")
    finally:
        current_request.reset(token)
    carrier = CarrierFactory(fmcsa_data={"carrier": {"legalName": "X"}})
    type(booked).all_objects.filter(pk=booked.pk).update(
        status=LoadStatus.BOOKED,
        booked_carrier=carrier,
        agreed_rate=Decimal("2100.00"),
        booked_at=timezone.now(),
        updated_by=editor,
    )
    return [plain, odd, booked]


@pytest.mark.parametrize("role", ["sales_agent_client", "manager_client"])
def test_list_rows_equal_the_full_serializer(role, request):
    client = request.getfixturevalue(role)
    loads_with_everything()
    rows = client.get("/api/v1/loads/", {"page_size": 50}).json()["results"]
    assert len(rows) == 3
    for row in rows:
        assert row == client.get(f"/api/v1/loads/{row['load_id']}/").json()
    by_id = {row["load_id"]: row for row in rows}
    assert by_id["L-BOOKED"]["booked_carrier"] and by_id["L-BOOKED"]["updated_by"] == "ben"
    assert by_id["L-PLAIN"]["created_by"] == "ana"
    assert ("max_rate" in by_id["L-ODD"]) == (role == "manager_client")  # the ceiling stays the broker's


def test_deleted_rows_listed_to_those_who_may_see_them_match_too(manager_client):
    gone = loads_with_everything()[0]
    gone.delete()
    rows = manager_client.get("/api/v1/loads/", {"include_deleted": "true"}).json()["results"]
    row = next(row for row in rows if row["load_id"] == "L-PLAIN")
    assert row["deleted_at"] is not None
    assert row == manager_client.get("/api/v1/loads/L-PLAIN/", {"include_deleted": "true"}).json()


def test_search_queries_do_not_grow_with_authored_rows(sales_agent_client, django_assert_num_queries, settings):
    settings.API_AUTH_CACHE_SECONDS = 60  # as deployed: a known token costs no query
    loads_with_everything()
    sales_agent_client.get("/api/v1/loads/")  # the token's identity is now cached
    with django_assert_num_queries(1):
        first = sales_agent_client.get("/api/v1/loads/").json()["results"]
    more = [LoadFactory(created_by=UserFactory(), updated_by=UserFactory()) for _ in range(10)]
    with django_assert_num_queries(1):  # the page, its carriers and its authors in one query
        rows = sales_agent_client.get("/api/v1/loads/").json()["results"]
    assert len(rows) == len(first) + len(more)
    assert all(row["created_by"] and row["updated_by"] for row in rows)
