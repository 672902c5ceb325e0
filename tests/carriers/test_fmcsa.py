"""Carrier verification through the real HTTP client against a QCMobile look-alike."""

from datetime import timedelta

import pytest
import time_machine
from django.utils import timezone

from carriers import fmcsa
from carriers.models import Carrier
from tests.carriers.conftest import docket_body, qc_carrier
from tests.carriers.factories import CarrierFactory

pytestmark = pytest.mark.django_db

VERIFY = "/api/v1/carriers/verify/{}/"
KEYS = {
    "mc_number",
    "eligible",
    "reasons",
    "legal_name",
    "dba_name",
    "dot_number",
    "allowed_to_operate",
    "status",
    "verified_at",
    "source",
}


def verify(client, mc):
    return client.get(VERIFY.format(mc))


def test_eligible_carrier_is_verified_and_stored(fmcsa, sales_agent_client):
    fmcsa.on("123456", "json", (200, docket_body(qc_carrier(dbaName="GLH TRANSPORT"))))
    response = verify(sales_agent_client, "123456")
    assert response.status_code == 200
    body = response.json()
    assert set(body) == KEYS
    assert body["eligible"] is True and body["reasons"] == []
    assert body["mc_number"] == "123456" and body["dot_number"] == 2345678
    assert body["legal_name"] == "GREAT LAKES HAULAGE LLC" and body["dba_name"] == "GLH TRANSPORT"
    assert body["allowed_to_operate"] is True and body["status"] == "active" and body["source"] == "fmcsa"
    carrier = Carrier.objects.get(mc_number="123456")
    assert carrier.eligible and carrier.fmcsa_data["legalName"] == "GREAT LAKES HAULAGE LLC"
    assert fmcsa.requests[0].endswith("/carriers/docket-number/123456?webKey=test-key")


@pytest.mark.parametrize("spelling", ["MC123456", "MC-123456", "MC 123456", "mc123456", "123456"])
def test_mc_spellings_are_normalised(fmcsa, sales_agent_client, spelling):
    fmcsa.on("123456", "json", (200, docket_body(qc_carrier())))
    response = verify(sales_agent_client, spelling)
    assert response.status_code == 200
    assert response.json()["mc_number"] == "123456"


@pytest.mark.parametrize(
    "bad", ["MC", "123456789", "12a456", "MC--", "0", "١٢٣", "-5", "MC-", "MC--5", "--5", "+5", "MC 5 5", "MC-0", "5-"]
)
def test_malformed_mc_is_a_400_and_fmcsa_is_not_called(fmcsa, sales_agent_client, bad):
    response = verify(sales_agent_client, bad)
    assert response.status_code == 400
    assert "mc" in response.json()["fields"]
    assert fmcsa.requests == []


@pytest.mark.parametrize(
    ("overrides", "reasons"),
    [
        ({"allowedToOperate": "N"}, ["not_allowed_to_operate"]),
        ({"oosDate": "2026-10-02"}, ["out_of_service"]),
        ({"statusCode": "I"}, ["inactive"]),
        ({"safetyRating": "U"}, ["unsatisfactory_safety_rating"]),
        ({"bipdInsuranceOnFile": "0"}, ["insurance_missing"]),
        ({"allowedToOperate": "N", "statusCode": "I"}, ["not_allowed_to_operate", "inactive"]),
    ],
)
def test_each_failed_rule_is_a_reason(fmcsa, sales_agent_client, overrides, reasons):
    fmcsa.on("222222", "json", (200, docket_body(qc_carrier(**overrides))))
    body = verify(sales_agent_client, "222222").json()
    assert body["eligible"] is False
    assert body["reasons"] == reasons


def test_unknown_carrier_is_not_found_not_an_error(fmcsa, sales_agent_client):
    fmcsa.on("333333", "json", (200, {"content": [], "retrievalDate": "2026-11-21T10:00:00.000+0000"}))
    response = verify(sales_agent_client, "333333")
    assert response.status_code == 200
    body = response.json()
    assert body["eligible"] is False and body["reasons"] == ["not_found"]


@pytest.mark.parametrize(
    ("kind", "payload"),
    [
        ("json", (404, {"content": "Webkey not found"})),  # wrong key
        ("html", None),  # maintenance page served with 200
        ("status", 503),
        ("json", (200, {"content": "unexpected"})),
        ("json", (200, {"content": [{"carrier": {"legalName": "NO STATUS FIELDS"}}]})),
    ],
    ids=["wrong-key", "maintenance-page", "http-503", "content-not-a-list", "carrier-missing-fields"],
)
def test_unexpected_answers_are_503_never_a_guess(fmcsa, sales_agent_client, kind, payload):
    fmcsa.on("444444", kind, payload)
    response = verify(sales_agent_client, "444444")
    assert response.status_code == 503
    body = response.json()
    assert body["code"] == "fmcsa_unavailable" and "FMCSA" in body["detail"]
    assert not Carrier.objects.filter(mc_number="444444").exists()


def test_a_hanging_fmcsa_times_out_with_503(fmcsa, sales_agent_client, settings):
    settings.FMCSA_TIMEOUT_SECONDS = 0.3
    fmcsa.on("555555", "hang")
    response = verify(sales_agent_client, "555555")
    # The answer names the timeout: the client gave up rather than waiting for the server to hang up.
    assert response.status_code == 503
    assert "in time" in response.json()["detail"]


def test_transient_failure_is_retried(fmcsa, sales_agent_client, settings):
    settings.FMCSA_RETRIES = 1
    fmcsa.on("666666", "sequence", [("status", 502), ("json", (200, docket_body(qc_carrier())))])
    response = verify(sales_agent_client, "666666")
    assert response.status_code == 200 and response.json()["eligible"] is True
    assert fmcsa.count("666666") == 2


def test_repeat_verification_uses_the_stored_answer(fmcsa, sales_agent_client):
    fmcsa.on("123456", "json", (200, docket_body(qc_carrier())))
    assert verify(sales_agent_client, "123456").json()["source"] == "fmcsa"
    second = verify(sales_agent_client, "MC-123456").json()
    assert second["source"] == "cache" and second["eligible"] is True
    assert fmcsa.count("123456") == 1


def test_stale_answer_is_refreshed_after_cache_hours(fmcsa, sales_agent_client, settings):
    settings.FMCSA_CACHE_HOURS = 24
    CarrierFactory(mc_number="123456", verified_at=timezone.now() - timedelta(hours=25), legal_name="OLD NAME")
    fmcsa.on("123456", "json", (200, docket_body(qc_carrier())))
    body = verify(sales_agent_client, "123456").json()
    assert body["source"] == "fmcsa" and body["legal_name"] == "GREAT LAKES HAULAGE LLC"
    assert fmcsa.count("123456") == 1


def test_stale_answer_is_not_served_when_fmcsa_is_down(fmcsa, sales_agent_client):
    CarrierFactory(mc_number="123456", verified_at=timezone.now() - timedelta(days=3))
    fmcsa.on("123456", "html")
    assert verify(sales_agent_client, "123456").status_code == 503


def test_fresh_answer_is_served_even_when_fmcsa_is_down(fmcsa, sales_agent_client):
    CarrierFactory(mc_number="123456", verified_at=timezone.now() - timedelta(hours=1))
    fmcsa.on("123456", "html")
    body = verify(sales_agent_client, "123456").json()
    assert body["source"] == "cache" and body["eligible"] is True
    assert fmcsa.requests == []


def test_circuit_opens_after_repeated_failures_and_closes_after_reset(fmcsa, sales_agent_client, settings):
    settings.FMCSA_CIRCUIT_FAILURES = 2
    settings.FMCSA_CIRCUIT_RESET_SECONDS = 1
    fmcsa.on("777777", "status", 500)
    assert verify(sales_agent_client, "777777").status_code == 503
    assert verify(sales_agent_client, "777777").status_code == 503
    assert fmcsa.count("777777") == 2
    response = verify(sales_agent_client, "777777")
    assert response.status_code == 503 and "paused" in response.json()["detail"]
    assert fmcsa.count("777777") == 2  # failed fast, FMCSA not called
    fmcsa.on("777777", "json", (200, docket_body(qc_carrier())))
    # The circuit and its cache entry are timed by the clock: move it past the reset.
    with time_machine.travel(timezone.now() + timedelta(seconds=1.5), tick=True):
        assert verify(sales_agent_client, "777777").status_code == 200
    assert fmcsa.count("777777") == 3


def test_missing_web_key_is_503_not_configured(fmcsa, sales_agent_client, settings):
    settings.FMCSA_WEB_KEY = ""
    response = verify(sales_agent_client, "123456")
    assert response.status_code == 503
    assert response.json()["code"] == "fmcsa_not_configured"
    assert "not configured" in response.json()["detail"]
    assert fmcsa.requests == []


@pytest.mark.parametrize("role_client", ["dispatcher_client", "member_client"])
def test_verification_needs_the_verify_permission(request, fmcsa, role_client):
    assert verify(request.getfixturevalue(role_client), "123456").status_code == 403


def test_anonymous_caller_is_refused(fmcsa, api_client):
    assert verify(api_client, "123456").status_code == 401


def test_fixture_carriers_are_stale_and_never_served_from_cache(fmcsa, sales_agent_client):
    from django.core.management import call_command

    call_command("loaddata", "carriers_demo", verbosity=0)
    carrier = Carrier.objects.get(mc_number="123456")
    assert carrier.verification_source == "fixture"
    fmcsa.on("123456", "json", (200, docket_body(qc_carrier())))
    assert verify(sales_agent_client, "123456").json()["source"] == "fmcsa"
    assert fmcsa.count("123456") == 1


def test_ineligibility_rules_read_real_shapes():
    assert fmcsa.ineligibility_reasons(qc_carrier()) == []
    assert fmcsa.ineligibility_reasons(qc_carrier(bipdInsuranceRequired="N", bipdInsuranceOnFile="0")) == []
    assert fmcsa.ineligibility_reasons(qc_carrier(bipdInsuranceOnFile="500")) == ["insurance_missing"]


def test_fmcsa_is_called_through_the_outbound_guard(fmcsa, sales_agent_client, settings):
    # The test settings open loopback for the look-alike; closed, the guard refuses it unheard.
    settings.OUTBOUND_ALLOWED_NETWORKS = []
    fmcsa.on("123456", "json", (200, docket_body(qc_carrier())))
    response = verify(sales_agent_client, "123456")
    assert response.status_code == 503
    assert response.json()["code"] == "fmcsa_unavailable" and "FMCSA" in response.json()["detail"]
    assert fmcsa.requests == []
