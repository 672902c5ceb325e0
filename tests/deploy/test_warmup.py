"""core.warmup: a fresh worker compiles the hot statements before its first request."""

import logging
from urllib.parse import parse_qs, urlsplit

import pytest

from accounts import roles
from carriers.api.serializers import LoadListSerializer
from core import warmup
from core.fastpaths import prepared
from tests.carriers.factories import LoadFactory


@pytest.fixture
def empty_shapes():
    """``prepared._compiled`` as a new worker has it: empty. The shapes compiled before are put back."""
    saved = dict(prepared._compiled)
    prepared._compiled.clear()
    yield prepared._compiled
    prepared._compiled.clear()
    prepared._compiled.update(saved)


def search_keys(shapes):
    # (alias, ("load-rows", columns, include_deleted), filter paths, ordering, slice, lock, first)
    return {(key[1][1], key[2]) for key in shapes if key[1][0] == "load-rows"}


class Ceiling:
    def __init__(self, sees):
        self.sees = sees

    def has_perm(self, perm):
        return self.sees


@pytest.mark.django_db
def test_warm_up_compiles_the_searches_and_the_service_reads(empty_shapes, settings):
    settings.ALLOWED_HOSTS = [".ops.example.com"]  # as production has them: no "testserver"
    assert warmup.warm_up() is True

    agent = tuple(LoadListSerializer.columns_for(Ceiling(False)))
    manager = tuple(LoadListSerializer.columns_for(Ceiling(True)))
    assert agent != manager
    searches = search_keys(empty_shapes)
    for columns in (agent, manager):
        # The voice agent's search, its next page (the cursor's position filter), a load's detail.
        assert (columns, ("origin_state__exact", "equipment_type__exact")) in searches
        assert (columns, ("origin_state__exact", "equipment_type__exact", "pickup_datetime__gt")) in searches
        assert (columns, ()) in searches
        assert (columns, ("load_id",)) in searches
    firsts = {(key[1][1], key[2], key[5]) for key in empty_shapes if key[1][0] == "first"}
    assert firsts >= {
        ("carriers.Carrier", ("mc_number",), False),
        ("carriers.Load", ("load_id",), False),
        ("carriers.Load", ("pk",), True),
        ("carriers.Negotiation", ("load_id", "carrier_id"), True),
        ("carriers.Call", ("external_id",), False),
    }


@pytest.mark.django_db
def test_after_warm_up_the_first_requests_compile_nothing_new(empty_shapes, make_client):
    """The shapes warmed are exactly those real requests use: the load search (first and next
    page, agent and manager), a load's detail and a call logged compile nothing more."""
    LoadFactory.create_batch(3, origin_state="IL", equipment_type="dry_van")
    load = LoadFactory(load_id="L-WARM-1")
    agent, manager = make_client(roles.SALES_AGENT), make_client(roles.MANAGER)
    assert warmup.warm_up() is True
    warmed = set(empty_shapes)

    for client in (agent, manager):
        page = client.get("/api/v1/loads/", {"origin_state": "IL", "equipment_type": "dry-van", "page_size": 50})
        assert page.status_code == 200, page.content
        assert client.get("/api/v1/loads/").status_code == 200
        assert client.get("/api/v1/loads/L-WARM-1/", HTTP_ACCEPT="application/json").status_code == 200
    # The next page (the cursor's position filter), at the default page size.
    next_link = agent.get("/api/v1/loads/", {"page_size": 1}).json()["next"]
    cursor = parse_qs(urlsplit(next_link).query)["cursor"][0]
    assert agent.get("/api/v1/loads/", {"cursor": cursor}).status_code == 200
    logged = agent.post(
        "/api/v1/calls/",
        {
            "external_id": "warm-1",
            "mc_number": "MC-123456",
            "load_id": load.load_id,
            "started_at": "2026-11-21T15:04:00Z",
            "duration_seconds": 60,
            "outcome": "no_matching_load",
            "sentiment": "neutral",
        },
    )
    assert logged.status_code == 201, logged.content

    page_size_1 = {key for key in empty_shapes if key[1][0] == "load-rows" and key[4] == (0, 2) and key[2] == ()}
    assert set(empty_shapes) - warmed - page_size_1 == set()


@pytest.mark.django_db
def test_warm_up_fails_soft(empty_shapes, monkeypatch, caplog):
    def broken():
        raise RuntimeError("database gone")

    monkeypatch.setattr(warmup, "_warm_searches", broken)
    with caplog.at_level(logging.WARNING, logger="core.warmup"):
        assert warmup.warm_up() is False
    assert "warm-up failed" in caplog.text
