from decimal import Decimal

import pytest

from carriers.choices import LoadStatus
from carriers.models import Carrier
from tests.carriers.factories import CarrierFactory, LoadFactory

pytestmark = pytest.mark.django_db

CARRIERS = "/api/v1/carriers/"


def test_manager_creates_and_updates_a_carrier(manager_client):
    response = manager_client.post(CARRIERS, {"mc_number": "MC-123456", "legal_name": "Great Lakes Haulage LLC"})
    assert response.status_code == 201, response.content
    body = response.json()
    assert body["mc_number"] == "123456" and body["eligible"] is False and body["verified_at"] is None
    updated = manager_client.patch(f"{CARRIERS}123456/", {"dba_name": "GLH", "eligible": True, "version": 1})
    assert updated.status_code == 200
    carrier = Carrier.objects.get()
    assert carrier.dba_name == "GLH" and carrier.eligible is False  # eligibility comes only from FMCSA


@pytest.mark.parametrize(
    ("payload", "field"),
    [
        ({"mc_number": "MC-12345678901"}, "mc_number"),
        ({"mc_number": "123456", "legal_name": "A\x00B"}, "legal_name"),
        ({"legal_name": "No MC"}, "mc_number"),
    ],
)
def test_bad_carriers_are_400(manager_client, payload, field):
    response = manager_client.post(CARRIERS, payload)
    assert response.status_code == 400 and field in response.json()["fields"]


def test_duplicate_mc_is_400(manager_client):
    CarrierFactory(mc_number="123456")
    response = manager_client.post(CARRIERS, {"mc_number": "123456"})
    assert response.status_code == 400 and "mc_number" in response.json()["fields"]


def test_filters(manager_client, django_assert_num_queries):
    CarrierFactory(mc_number="123456", dot_number=2345678, legal_name="Great Lakes Haulage LLC")
    CarrierFactory(mc_number="999999", legal_name="Desert Wind Carriers", dba_name="Desert Wind", ineligible=True)

    def mcs(**params):
        response = manager_client.get(CARRIERS, params)
        assert response.status_code == 200, response.content
        return [row["mc_number"] for row in response.json()["results"]]

    assert mcs() == ["123456", "999999"]
    assert mcs(mc_number="MC 999999") == ["999999"]
    assert mcs(dot_number="2345678") == ["123456"]
    assert mcs(eligible="false") == ["999999"]
    assert mcs(name="desert wind") == ["999999"]
    assert mcs(search="lakes") == ["123456"]
    with django_assert_num_queries(6):  # auth (2), permissions (2), count, page
        manager_client.get(CARRIERS)


def test_sales_agents_read_but_do_not_write_carriers(sales_agent_client):
    CarrierFactory(mc_number="123456")
    assert sales_agent_client.get(f"{CARRIERS}123456/").status_code == 200
    assert sales_agent_client.post(CARRIERS, {"mc_number": "1"}).status_code == 403
    assert sales_agent_client.patch(f"{CARRIERS}123456/", {"legal_name": "x"}).status_code == 403


def test_a_new_mc_number_drops_the_old_verification(manager_client):
    CarrierFactory(mc_number="123456")
    response = manager_client.patch(f"{CARRIERS}123456/", {"mc_number": "MC 654321"})
    assert response.status_code == 200
    body = response.json()
    assert (body["mc_number"], body["eligible"], body["verified_at"], body["verification_source"]) == (
        "654321",
        False,
        None,
        "",
    )


def test_a_carrier_holding_a_load_in_progress_is_not_deleted(manager_client):
    carrier = CarrierFactory(mc_number="123456")
    LoadFactory(load_id="L-1", status=LoadStatus.IN_TRANSIT, booked_carrier=carrier, agreed_rate=Decimal("2000"))
    response = manager_client.delete(f"{CARRIERS}123456/")
    assert response.status_code == 409 and "L-1" in response.json()["detail"]
    assert not Carrier.all_objects.get().is_deleted
