"""One error body for every 4xx the API returns:

    {"status": 400, "code": "invalid", "detail": "Some fields are not valid.",
     "fields": {"amount": ["Ensure this value is greater than 0."]}}

``fields`` appears only for validation errors. Services raise ``core.errors`` domain
errors; this is the one place that turns them into HTTP statuses.
"""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.core.exceptions import RequestDataTooBig
from django.core.exceptions import ValidationError as DjangoValidationError
from django.db import InterfaceError, OperationalError
from django.http import Http404
from rest_framework import exceptions, status
from rest_framework.serializers import as_serializer_error
from rest_framework.views import exception_handler as drf_exception_handler

from core import errors

# Domain error class → HTTP status. The most specific class wins (the MRO is walked).
DOMAIN_STATUS = {
    errors.Invalid: status.HTTP_400_BAD_REQUEST,
    errors.Forbidden: status.HTTP_403_FORBIDDEN,
    errors.NotFound: status.HTTP_404_NOT_FOUND,
    errors.Conflict: status.HTTP_409_CONFLICT,
    errors.Unavailable: status.HTTP_503_SERVICE_UNAVAILABLE,
    errors.DomainError: status.HTTP_400_BAD_REQUEST,
}


class Conflict(exceptions.APIException):
    status_code = status.HTTP_409_CONFLICT
    default_detail = "The request conflicts with the current state of the resource."
    default_code = "conflict"


class ServiceUnavailable(exceptions.APIException):
    status_code = status.HTTP_503_SERVICE_UNAVAILABLE
    default_detail = "A service this request depends on is unavailable."
    default_code = "service_unavailable"


class PreconditionFailed(exceptions.APIException):
    """``If-Match`` names a version the row is no longer at (RFC 9110 §13.1.1). The response
    carries the current ``ETag`` so the client can reload and retry."""

    status_code = status.HTTP_412_PRECONDITION_FAILED
    default_detail = "The record changed since the version given in If-Match."
    default_code = "precondition_failed"

    def __init__(self, detail=None, code=None, *, etag: str):
        super().__init__(detail, code)
        self.etag = etag


class DatabaseUnavailable(ServiceUnavailable):
    default_detail = "The database cannot be reached right now; try again shortly."
    default_code = "database_unavailable"


# Seconds a client is asked to wait after a 503 for an unreachable database.
DATABASE_RETRY_AFTER_SECONDS = 5


def is_database_unavailable(exc) -> bool:
    """An error that says the database cannot answer now (unreachable, restarting, pool
    exhausted, SQLite locked), as opposed to a query the database refused."""
    return isinstance(exc, OperationalError | InterfaceError)


def _first_code(detail):
    if isinstance(detail, list) and detail:
        return _first_code(detail[0])
    if isinstance(detail, dict) and detail:
        return _first_code(next(iter(detail.values())))
    return getattr(detail, "code", None)


def domain_error_to_api(exc: errors.DomainError) -> exceptions.APIException:
    if isinstance(exc, errors.Invalid):
        return exceptions.ValidationError(detail=exc.fields or {"non_field_errors": [exc.message]}, code=exc.code)
    status_code = next(DOMAIN_STATUS[cls] for cls in type(exc).__mro__ if cls in DOMAIN_STATUS)
    api_exc = exceptions.APIException(detail=exc.message, code=exc.code)
    api_exc.status_code = status_code
    return api_exc


def exception_handler(exc, context):
    if isinstance(exc, errors.DomainError):
        exc = domain_error_to_api(exc)
    elif is_database_unavailable(exc):
        exc = DatabaseUnavailable()
    elif isinstance(exc, RequestDataTooBig):
        from core.api.parsers import RequestTooLarge, max_body_bytes

        exc = RequestTooLarge(f"The request body is larger than {max_body_bytes()} bytes.")
    elif isinstance(exc, DjangoValidationError):
        exc = exceptions.ValidationError(detail=as_serializer_error(exc))
    response = drf_exception_handler(exc, context)
    if response is None:
        return None
    body = {"status": response.status_code}
    if isinstance(exc, exceptions.ValidationError):
        detail = exc.detail
        if not isinstance(detail, dict):
            detail = {"non_field_errors": detail if isinstance(detail, list) else [detail]}
        body.update(code=_first_code(detail) or "invalid", detail="Some fields are not valid.", fields=detail)
    elif isinstance(exc, exceptions.APIException):
        body.update(code=exc.get_codes() if isinstance(exc.get_codes(), str) else "error", detail=exc.detail)
    elif isinstance(exc, Http404):
        body.update(code="not_found", detail="Not found.")
    elif isinstance(exc, DjangoPermissionDenied):
        body.update(code="permission_denied", detail="You do not have permission to perform this action.")
    response.data = body
    if isinstance(exc, PreconditionFailed):
        response["ETag"] = exc.etag
    elif isinstance(exc, DatabaseUnavailable):
        response["Retry-After"] = str(DATABASE_RETRY_AFTER_SECONDS)
    return response
