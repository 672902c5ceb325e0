"""The published schema tells clients every error an operation can answer, and list
filters take any valid date-time."""

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from core.api.filters import UTCIsoDateTimeField

pytestmark = pytest.mark.django_db


@pytest.fixture(scope="module")
def openapi(django_db_blocker):
    with django_db_blocker.unblock():
        response = APIClient().get("/api/schema/", {"format": "json"})
    assert response.status_code == 200
    return response.json()


def _operations(openapi):
    for path, item in openapi["paths"].items():
        for method, operation in item.items():
            if method in ("get", "post", "put", "patch", "delete"):
                yield path, method, operation


def test_every_operation_documents_its_errors_with_the_error_body(openapi):
    error_ref = "#/components/schemas/Error"
    assert set(openapi["components"]["schemas"]["Error"]["required"]) == {"status", "code", "detail"}
    for path, method, operation in _operations(openapi):
        responses = operation["responses"]
        errors = {code for code in responses if code.startswith(("4", "5"))}
        assert {"400", "429", "503"} <= errors, (method, path)
        if path != "/api/v1/auth/login/":
            assert {"401", "403"} <= errors, (method, path)
        if "{" in path:
            assert "404" in errors, (method, path)
        if method in ("post", "put", "patch"):
            assert {"413", "415"} <= errors, (method, path)
        for code in errors:
            schema = responses[code]["content"]["application/json"]["schema"]
            assert schema == {"$ref": error_ref}, (method, path, code)


def test_versioned_updates_and_deletes_document_412(openapi):
    for path in ("/api/v1/loads/{load_id}/", "/api/v1/registry/services/{name}/", "/api/v1/carriers/{mc_number}/"):
        for method in ("put", "patch", "delete"):
            assert "412" in openapi["paths"][path][method]["responses"], (method, path)


def test_fmcsa_verification_documents_503(openapi):
    assert "503" in openapi["paths"]["/api/v1/carriers/verify/{mc}/"]["get"]["responses"]


def test_optional_write_fields_are_documented_as_nullable(openapi):
    call_request = openapi["components"]["schemas"]["CallInputRequest"]["properties"]
    assert call_request["load_id"].get("nullable") is True


def test_read_only_fields_that_can_be_null_are_documented_so(openapi):
    load = openapi["components"]["schemas"]["Load"]["properties"]
    assert load["booked_carrier"].get("nullable") is True
    assert load["created_by"].get("nullable") is True


def test_graph_lists_are_documented_as_plain_lists(openapi):
    for path in ("/api/v1/registry/services/{name}/dependencies/", "/api/v1/registry/services/{name}/dependents/"):
        schema = openapi["paths"][path]["get"]["responses"]["200"]["content"]["application/json"]["schema"]
        assert schema["type"] == "array", path


@pytest.mark.parametrize("value", ["2026-01-01T00:00:00+20:00", "2026-01-01T00:00:00-23:59"])
def test_date_time_filters_accept_offsets_postgresql_would_refuse(admin_client_api, value):
    assert admin_client_api.get("/api/v1/loads/", {"pickup_from": value}).status_code == 200


def test_date_time_field_turns_offsets_into_utc():
    parsed = UTCIsoDateTimeField().clean("2026-01-01T20:00:00+20:00")
    assert parsed.utcoffset().total_seconds() == 0 and parsed.hour == 0 and parsed.day == 1
    assert timezone.is_aware(parsed)


@pytest.mark.parametrize(
    "value", ["0001-01-01T00:00:00+05:00", "9999-12-31T23:00:00-05:00", "2026-01-01T00:00:00+24:00"]
)
def test_date_time_out_of_range_is_a_400(admin_client_api, value):
    response = admin_client_api.get("/api/v1/calls/", {"started_from": value})
    assert response.status_code == 400 and "started_from" in response.json()["fields"]
