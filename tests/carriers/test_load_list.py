"""The load search writes its rows directly; they must be exactly what the full serializer gives
(the detail view), for every role, and cost the same queries whatever the page holds."""

import random
from contextlib import contextmanager
from datetime import timedelta
from decimal import Decimal

import pytest
from django.utils import timezone

from carriers import selectors
from carriers.choices import LoadStatus
from core.context import current_request
from core.fastpaths import prepared as fastpaths_prepared
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
        # The detail of a load reads its row as the search does; with any parameter it takes the
        # ORM path, a model instance through LoadSerializer.
        detail = client.get(f"/api/v1/loads/{row['load_id']}/")
        full = client.get(f"/api/v1/loads/{row['load_id']}/", {"include_deleted": "false"})
        assert row == detail.json() == full.json()
        assert detail["ETag"] == full["ETag"] == f'"{row["version"]}"'
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


def test_a_deleted_or_unknown_load_is_not_found_on_the_detail_path(sales_agent_client, manager_client):
    gone = loads_with_everything()[0]
    gone.delete()
    for client in (sales_agent_client, manager_client):
        assert client.get("/api/v1/loads/L-PLAIN/").status_code == 404
        assert client.get("/api/v1/loads/L-NOPE/").status_code == 404
    assert manager_client.get("/api/v1/loads/L-PLAIN/", {"include_deleted": "true"}).status_code == 200


def test_the_browsable_detail_still_offers_the_edit_form(manager_client):
    loads_with_everything()
    page = manager_client.get("/api/v1/loads/L-ODD/", HTTP_ACCEPT="text/html")
    assert page.status_code == 200
    html = page.content.decode()
    assert 'data-method="PUT"' in html and "1999.50" in html


def test_detail_queries(sales_agent_client, django_assert_num_queries, settings):
    settings.API_AUTH_CACHE_SECONDS = 60
    loads_with_everything()
    sales_agent_client.get("/api/v1/loads/L-BOOKED/")
    with django_assert_num_queries(1):  # the load, its carrier and its authors in one query
        assert sales_agent_client.get("/api/v1/loads/L-BOOKED/").json()["booked_carrier"]


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


# --- The prepared search (core.fastpaths.prepared) against the ORM path -----------------------
# The view reads through selectors.load_rows (SQL compiled once per shape); the reference answer
# comes from the same view reading through its ORM twin, selectors.load_row_queryset.


@contextmanager
def through_the_orm():
    with pytest.MonkeyPatch.context() as patch:
        patch.setattr(selectors, "load_rows", selectors.load_row_queryset)
        yield


CITIES = [("Chicago", "IL"), ("chicago", "IL"), ("Dallas", "TX"), ("Gary_%", "IN"), ("Zürich", "IL")]


def _search_data():
    rng = random.Random(7)
    base = timezone.now().replace(microsecond=0)
    loads = []
    for _ in range(60):
        city, state = rng.choice(CITIES)
        dest_city, dest_state = rng.choice(CITIES)
        # Several loads share a pickup time, so pages must cut inside runs of equal positions.
        pickup = base + timedelta(hours=rng.randrange(12))
        loads.append(
            LoadFactory(
                origin_city=city,
                origin_state=state,
                destination_city=dest_city,
                destination_state=dest_state,
                pickup_datetime=pickup,
                equipment_type=rng.choice(["dry_van", "reefer", "flatbed"]),
                loadboard_rate=Decimal(rng.randrange(900, 4000)),
                weight=rng.randrange(1000, 45000),
                status=rng.choice([LoadStatus.AVAILABLE, LoadStatus.AVAILABLE, LoadStatus.CANCELLED]),
            )
        )
    loads[0].delete()  # soft-deleted rows stay out of both
    return base


def _walk(client, params):
    """Every row of a search, following `next` links; then back through `previous` links."""
    page = client.get("/api/v1/loads/", params)
    assert page.status_code == 200, page.json()
    pages = [page.json()]
    while pages[-1]["next"]:
        pages.append(client.get(pages[-1]["next"]).json())
    backwards = [pages[-1]]
    while backwards[-1]["previous"]:
        backwards.append(client.get(backwards[-1]["previous"]).json())
    return [[row["load_id"] for row in p["results"]] for p in pages], [
        [row["load_id"] for row in p["results"]] for p in backwards
    ]


@pytest.mark.parametrize(
    "params",
    [
        {},
        {"origin_state": "il"},
        {"origin_state": "IL", "equipment_type": "Reefer", "status": "available"},
        {"origin_city": "CHICAGO"},
        {"origin_city": "gary_%"},  # LIKE characters are matched as themselves
        {"destination_city": "zürich", "destination_state": "IL"},
        {"min_rate": "1500.50", "max_weight": "30000"},
        {"pickup_from": "PICKUP+3", "pickup_to": "PICKUP+8"},
        {"status": "cancelled", "origin_state": "TX"},
    ],
)
@pytest.mark.parametrize("page_size", [7, 50])
def test_prepared_search_walks_the_same_pages_as_the_orm(manager_client, params, page_size):
    base = _search_data()
    params = {
        name: (base + timedelta(hours=int(value[7:]))).isoformat() if str(value).startswith("PICKUP") else value
        for name, value in params.items()
    }
    params["page_size"] = page_size
    prepared = _walk(manager_client, params)
    with through_the_orm():
        orm = _walk(manager_client, params)
    assert prepared == orm
    forward = [load for page in prepared[0] for load in page]
    assert len(forward) == len(set(forward))  # no row twice, none skipped (same as the ORM)


def test_the_search_and_the_detail_take_the_compiled_path(sales_agent_client):
    load = LoadFactory(origin_state="IL")
    fastpaths_prepared._compiled.clear()
    assert sales_agent_client.get("/api/v1/loads/", {"origin_state": "IL"}).json()["results"][0]["id"] == str(load.id)
    assert sales_agent_client.get(f"/api/v1/loads/{load.load_id}/").json()["id"] == str(load.id)
    shapes = [shape for shape in fastpaths_prepared._compiled if shape[1][0] == "load-rows"]
    assert len(shapes) == 2  # the search's and the detail's
    # Asked what it does not compile (a word search, a filter across a relation), the ORM answers.
    assert sales_agent_client.get("/api/v1/loads/", {"search": load.origin_city}).json()["results"][0]["id"] == str(
        load.id
    )
    assert len([shape for shape in fastpaths_prepared._compiled if shape[1][0] == "load-rows"]) == 2


def test_prepared_search_rows_equal_the_orm_rows_for_each_role(sales_agent_client, manager_client):
    loads_with_everything()
    for client in (sales_agent_client, manager_client):
        prepared = client.get("/api/v1/loads/", {"origin_state": "IL"}).json()["results"]
        with through_the_orm():
            orm = client.get("/api/v1/loads/", {"origin_state": "IL"}).json()["results"]
        assert prepared == orm and len(prepared) == 3


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"origin_state": "Illinois"}, "origin_state"),
        ({"equipment_type": "spaceship"}, "equipment_type"),
        ({"status": "lost"}, "status"),
        ({"min_rate": "cheap"}, "min_rate"),
        ({"pickup_from": "tomorrow"}, "pickup_from"),
    ],
)
def test_prepared_search_refuses_bad_filters_like_the_orm_path(sales_agent_client, params, field):
    prepared = sales_agent_client.get("/api/v1/loads/", params)
    with through_the_orm():
        orm = sales_agent_client.get("/api/v1/loads/", params)
    assert prepared.status_code == orm.status_code == 400
    assert list(prepared.json()["fields"]) == [field]
    assert prepared.json() == orm.json()


def test_a_forged_cursor_is_refused_not_a_server_error(sales_agent_client):
    import base64

    cursor = base64.b64encode(b"p=not-a-date").decode()
    prepared = sales_agent_client.get("/api/v1/loads/", {"cursor": cursor})
    with through_the_orm():
        orm = sales_agent_client.get("/api/v1/loads/", {"cursor": cursor})
    assert prepared.status_code == orm.status_code == 400


def _prepared_statements():
    from django.db import connection

    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        statements = [row[0] for row in cursor.fetchall()]
        cursor.execute("SHOW plan_cache_mode")
        return statements, cursor.fetchone()[0]


@pytest.mark.django_db(transaction=True)
def test_postgresql_keeps_the_search_prepared_with_a_generic_plan(sales_agent_client, settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    LoadFactory()
    for _ in range(3):
        assert sales_agent_client.get("/api/v1/loads/", {"origin_state": "IL"}).status_code == 200
    statements, mode = _prepared_statements()
    assert any('FROM "carriers_load"' in statement for statement in statements)
    assert mode == "force_generic_plan"


@pytest.mark.django_db(transaction=True)
def test_preparing_can_be_turned_off_for_poolers(sales_agent_client, settings):
    from django.db import connection

    if connection.vendor != "postgresql":
        pytest.skip("prepared statements are PostgreSQL's")
    settings.DB_PREPARE_HOT_QUERIES = False
    with connection.cursor() as cursor:
        cursor.execute("DEALLOCATE ALL")  # whatever this connection prepared before
    LoadFactory()
    for _ in range(3):
        assert sales_agent_client.get("/api/v1/loads/", {"origin_state": "IL"}).status_code == 200
    statements, _ = _prepared_statements()
    assert not any('FROM "carriers_load"' in statement for statement in statements)


def test_rows_equal_the_full_serializer_in_another_time_zone(manager_client, settings):
    settings.TIME_ZONE = "America/Chicago"  # rows are written in the site's zone, as DRF writes them
    loads_with_everything()
    for client_params in ({}, {"include_deleted": "false"}):  # the prepared path and the ORM path
        rows = manager_client.get("/api/v1/loads/", client_params).json()["results"]
        assert rows and all(row["pickup_datetime"].endswith(("-05:00", "-06:00")) for row in rows)
        for row in rows:
            detail = manager_client.get(f"/api/v1/loads/{row['load_id']}/").json()
            full = manager_client.get(f"/api/v1/loads/{row['load_id']}/", {"include_deleted": "false"}).json()
            assert row == detail == full


@pytest.mark.django_db
@pytest.mark.parametrize("param", ["origin_state", "destination_state", "equipment_type"])
def test_a_percent_sign_in_a_filter_is_a_400_naming_it(sales_agent_client, param):
    # User text is a parameter of the message, never part of its format (found by make fuzz).
    response = sales_agent_client.get("/api/v1/loads/", {param: "%"})
    assert response.status_code == 400
    assert "'%'" in response.json()["fields"][param][0]
