"""The API's one request body parser: strict JSON, bounded in size and depth.

Everything a client can send wrong here is a 4xx with the API's error body, never a 500:

* a body over ``DATA_UPLOAD_MAX_MEMORY_SIZE`` (env ``API_MAX_BODY_BYTES``, default 2.5 MB)
  → 413 (Django refuses it while reading; ``core.api.exceptions`` gives it the status);
* bytes that are not UTF-8, text that is not JSON, ``NaN``/``Infinity``, numbers that do not
  fit a double (``1e400``) or integers longer than Python parses → 400;
* nesting deeper than ``API_MAX_JSON_DEPTH`` (default 64) → 400 (deeper input would reach
  Python's recursion limit in the decoder or later in a serializer);
* a NUL character in any key or string → 400 naming the field (PostgreSQL cannot store it
  in text or JSON);
* any content type other than JSON → 415 (DRF does this once this is the only parser).
"""

import json
import math

from django.conf import settings
from rest_framework import exceptions, parsers, status
from rest_framework.settings import api_settings


class RequestTooLarge(exceptions.APIException):
    status_code = status.HTTP_413_REQUEST_ENTITY_TOO_LARGE
    default_detail = "The request body is too large."
    default_code = "request_too_large"


def max_body_bytes() -> int:
    return settings.DATA_UPLOAD_MAX_MEMORY_SIZE or 2_621_440


def max_json_depth() -> int:
    return getattr(settings, "API_MAX_JSON_DEPTH", 64)


def _parse_float(text):
    value = float(text)
    if math.isinf(value):
        raise ValueError(f"The number {text[:40]} is out of range.")
    return value


def _refuse_constant(name):
    raise ValueError(f"{name} is not a JSON number.")


def check_structure(data, max_depth):
    """Walk the parsed document without recursion: bounded depth and no NUL characters.
    A NUL is reported under the top-level field it was found in, with its path in the message."""
    stack = [(data, 1, ())]
    while stack:
        value, depth, path = stack.pop()
        if isinstance(value, str):
            if "\x00" in value:
                name = path[0] if path else api_settings.NON_FIELD_ERRORS_KEY
                where = f" (at {'.'.join(path)})" if len(path) > 1 else ""
                raise exceptions.ValidationError(
                    {name: [f"Null characters are not allowed{where}."]}, code="null_character"
                )
        elif isinstance(value, dict | list):
            if depth > max_depth:
                raise exceptions.ParseError(f"JSON parse error - nested deeper than {max_depth} levels.")
            if isinstance(value, dict):
                for key, item in value.items():
                    stack.append((key, depth, (*path, key.replace("\x00", "\\u0000"))))
                    stack.append((item, depth + 1, (*path, key.replace("\x00", "\\u0000"))))
            else:
                stack.extend((item, depth + 1, (*path, str(index))) for index, item in enumerate(value))


def read_body(stream, request_meta) -> bytes:
    limit = max_body_bytes()
    try:
        declared = int(request_meta.get("CONTENT_LENGTH") or 0)
    except ValueError:
        declared = 0
    if declared > limit:
        raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
    if stream is None:
        return b""
    body = stream.read(limit + 1)
    if len(body) > limit:
        raise RequestTooLarge(f"The request body is larger than {limit} bytes.")
    return body


class JSONParser(parsers.JSONParser):
    def parse(self, stream, media_type=None, parser_context=None):
        parser_context = parser_context or {}
        request = parser_context.get("request")
        meta = getattr(request, "META", {}) if request is not None else {}
        body = read_body(stream, meta)
        try:
            text = body.decode("utf-8")
        except UnicodeDecodeError:
            raise exceptions.ParseError("JSON parse error - the body is not valid UTF-8.") from None
        if not text.strip():
            # DRF treats an empty body as "no data"; keep that for bodiless POSTs (logout, restore).
            return {}
        try:
            data = json.loads(text, parse_float=_parse_float, parse_constant=_refuse_constant)
        except RecursionError:
            raise exceptions.ParseError(f"JSON parse error - nested deeper than {max_json_depth()} levels.") from None
        except ValueError as exc:  # JSONDecodeError, out-of-range numbers, over-long integers
            raise exceptions.ParseError(f"JSON parse error - {exc}") from None
        check_structure(data, max_json_depth())
        return data
