import re
import uuid

from django.http import HttpResponseBadRequest, JsonResponse

from . import runtime
from .context import current_request, current_request_id

REQUEST_ID_HEADER = "X-Request-ID"
# A caller's id is kept only if it is short and plain, so it cannot forge log lines.
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestContextMiddleware:
    """Gives each request an id (the caller's X-Request-ID or a new one) and makes the
    request reachable from logging and audit code through context variables; runtime
    settings are read once per request."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request.request_id = request_id
        request_token = current_request.set(request)
        id_token = current_request_id.set(request_id)
        try:
            with runtime.read_once():
                response = self.get_response(request)
        finally:
            current_request.reset(request_token)
            current_request_id.reset(id_token)
        response[REQUEST_ID_HEADER] = request_id
        return response


class RejectNulMiddleware:
    """A NUL character in the path or the query string is a 400 before any view runs:
    PostgreSQL cannot compare text containing it, so a filter or lookup would fail with a
    500. API paths get the API's error body."""

    def __init__(self, get_response):
        self.get_response = get_response

    def __call__(self, request):
        raw_query = request.META.get("QUERY_STRING", "")
        if "\x00" in request.path or "%00" in raw_query or "\x00" in raw_query:
            detail = "Null characters (%00) are not allowed in the URL."
            if request.path.startswith("/api/"):
                return JsonResponse({"status": 400, "code": "null_character", "detail": detail}, status=400)
            return HttpResponseBadRequest(detail)
        return self.get_response(request)
