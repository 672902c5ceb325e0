"""Domain errors raised anywhere below a view become the API's one error body, with the
status their class stands for; write bodies are strict."""

import pytest
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import OperationalError
from django.urls import path
from rest_framework import serializers
from rest_framework.decorators import api_view, permission_classes
from rest_framework.permissions import AllowAny
from rest_framework.response import Response
from rest_framework.test import APIClient

from core import errors
from core.api.serializers import InputSerializer

RAISED = {
    "invalid": errors.Invalid({"amount": "Must be positive.", "when": ["Too early.", "A weekday."]}),
    "invalid-whole": errors.Invalid("Pickup must come before delivery.", code="bad_window"),
    "not-found": errors.NotFound("No load L-1."),
    "forbidden": errors.Forbidden(),
    "conflict": errors.Conflict("Load L-1 is already booked.", code="load_not_available"),
    "unavailable": errors.Unavailable("FMCSA is down.", code="fmcsa_unavailable"),
    "domain": errors.DomainError(),
    "django-invalid": DjangoValidationError({"name": ["Taken."]}),
    "database": OperationalError("connection refused"),
}


@api_view(["GET"])
@permission_classes([AllowAny])
def raise_view(request, kind):
    raise RAISED[kind]


class ThingInput(InputSerializer):
    name = serializers.CharField()
    note = serializers.CharField(required=False)
    tag = serializers.CharField(required=False, allow_null=True)


@api_view(["POST"])
@permission_classes([AllowAny])
def echo_view(request):
    payload = ThingInput(data=request.data)
    payload.is_valid(raise_exception=True)
    return Response(payload.validated_data)


urlpatterns = [path("api/raise/<str:kind>/", raise_view), path("api/echo/", echo_view)]
pytestmark = [pytest.mark.urls(__name__)]


@pytest.mark.parametrize(
    ("kind", "status", "code", "detail"),
    [
        ("not-found", 404, "not_found", "No load L-1."),
        ("forbidden", 403, "forbidden", "This is not allowed."),
        ("conflict", 409, "load_not_available", "Load L-1 is already booked."),
        ("unavailable", 503, "fmcsa_unavailable", "FMCSA is down."),
        ("domain", 400, "error", "The request could not be carried out."),
    ],
)
def test_each_domain_error_has_its_status_and_the_error_body(kind, status, code, detail):
    response = APIClient().get(f"/api/raise/{kind}/")
    assert response.status_code == status
    assert response.json() == {"status": status, "code": code, "detail": detail}


def test_invalid_lists_messages_per_field():
    response = APIClient().get("/api/raise/invalid/")
    assert response.status_code == 400
    body = response.json()
    assert body["code"] == "invalid" and body["detail"] == "Some fields are not valid."
    assert body["fields"] == {"amount": ["Must be positive."], "when": ["Too early.", "A weekday."]}


def test_invalid_about_the_whole_request_goes_under_non_field_errors_with_its_code():
    body = APIClient().get("/api/raise/invalid-whole/").json()
    assert body["fields"] == {"non_field_errors": ["Pickup must come before delivery."]}
    assert body["code"] == "bad_window"


def test_django_validation_error_is_a_400_with_its_fields():
    response = APIClient().get("/api/raise/django-invalid/")
    assert response.status_code == 400 and response.json()["fields"] == {"name": ["Taken."]}


def test_unreachable_database_is_a_503_asking_to_retry():
    response = APIClient().get("/api/raise/database/")
    assert response.status_code == 503
    assert response.json()["code"] == "database_unavailable"
    assert int(response.headers["Retry-After"]) > 0


def test_invalid_from_django_keeps_fields_and_code():
    exc = errors.Invalid.from_django(DjangoValidationError({"__all__": ["Overlaps."], "rate": ["Too high."]}))
    assert exc.fields == {"non_field_errors": ["Overlaps."], "rate": ["Too high."]}
    coded = errors.Invalid.from_django(DjangoValidationError("Cycle.", code="dependency_cycle"))
    assert coded.fields == {"non_field_errors": ["Cycle."]} and coded.code == "dependency_cycle"


def test_unknown_body_field_is_a_400_naming_it():
    response = APIClient().post("/api/echo/", {"name": "a", "is_required": True}, format="json")
    assert response.status_code == 400
    assert response.json()["fields"] == {"is_required": ["This field is not known to this endpoint."]}
    assert response.json()["code"] == "unknown_field"


def test_null_on_an_optional_field_means_not_given_and_stays_null_where_null_is_allowed():
    response = APIClient().post("/api/echo/", {"name": "a", "note": None, "tag": None}, format="json")
    assert response.status_code == 200
    assert response.json() == {"name": "a", "tag": None}


def test_null_on_a_required_field_is_still_refused():
    response = APIClient().post("/api/echo/", {"name": None}, format="json")
    assert response.status_code == 400 and "name" in response.json()["fields"]


@pytest.mark.parametrize("body", ["[1, 2]", '"text"', "3"])
def test_a_body_that_is_not_an_object_is_a_400(body):
    response = APIClient().post("/api/echo/", body, content_type="application/json")
    assert response.status_code == 400 and "non_field_errors" in response.json()["fields"]
