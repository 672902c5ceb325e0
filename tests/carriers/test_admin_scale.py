"""Changelists of tables that grow into the millions: no full COUNT(*) once the planner says the
result is large, and searches that match whole values through indexes."""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from django.urls import reverse

from core.admin import EstimatedCountPaginator
from tests.carriers.factories import CallFactory, CarrierFactory, LoadFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_web(client):
    client.force_login(UserFactory(is_staff=True, is_superuser=True))
    return client


def count_queries_on(captured, table):
    return [q["sql"] for q in captured if q["sql"].startswith("SELECT COUNT(") and table in q["sql"]]


@pytest.mark.skipif(connection.vendor != "postgresql", reason="the planner estimate is PostgreSQL's")
def test_large_results_are_estimated_not_counted(admin_web, monkeypatch):
    for _ in range(30):
        LoadFactory()
    # Pretend 30 rows are "large", as a million are.
    monkeypatch.setattr(EstimatedCountPaginator, "exact_below", 1)
    with CaptureQueriesContext(connection) as captured:
        response = admin_web.get(reverse("admin:carriers_load_changelist"))
    assert response.status_code == 200
    assert count_queries_on(captured.captured_queries, "carriers_load") == []
    assert any(q["sql"].startswith("EXPLAIN (FORMAT JSON)") for q in captured.captured_queries)


def test_small_results_are_counted_exactly(admin_web):
    LoadFactory(load_id="L-1"), LoadFactory(load_id="L-2"), LoadFactory(load_id="L-3")
    response = admin_web.get(reverse("admin:carriers_load_changelist"))
    assert response.status_code == 200 and response.context["cl"].result_count == 3


def test_searches_match_whole_values(admin_web):
    carrier = CarrierFactory(mc_number="654321")
    wanted = LoadFactory(load_id="L-777", origin_city="Memphis")
    LoadFactory(load_id="L-7770")
    on_load = CallFactory(external_id="vc-1", mc_number="", load=wanted)
    by_carrier = CallFactory(external_id="vc-2", carrier=carrier)
    by_id = CallFactory(external_id="vc-3", mc_number="")
    CallFactory(external_id="vc-4", mc_number="")

    def found(name, term):
        response = admin_web.get(reverse(f"admin:carriers_{name}_changelist"), {"q": term})
        assert response.status_code == 200
        return {obj.pk for obj in response.context["cl"].result_list}

    assert found("load", "L-777") == {wanted.pk}  # not L-7770
    assert found("load", "memphis") == {wanted.pk}
    assert found("call", "L-777") == {on_load.pk}
    assert found("call", "654321") == {by_carrier.pk}
    assert found("call", "vc-3") == {by_id.pk}
    assert found("call", "nothing-like-it") == set()
