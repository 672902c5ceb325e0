import io
import json
import logging

import pytest

from core.context import current_request_id
from core.logging import JsonFormatter, RequestIdFilter


def _format(message, **extra):
    record = logging.makeLogRecord({"name": "carriers", "levelname": "INFO", "msg": message, **extra})
    RequestIdFilter().filter(record)
    return JsonFormatter().format(record)


def test_each_event_is_one_json_line_with_the_request_id():
    token = current_request_id.set("req-42")
    try:
        line = _format("booked\nload L-1", load_id="L-1", request=object())
    finally:
        current_request_id.reset(token)
    assert "\n" not in line
    entry = json.loads(line)
    assert entry["message"] == "booked\nload L-1"
    assert entry["request_id"] == "req-42" and entry["load_id"] == "L-1"
    assert "request" not in entry  # objects are left out, plain values kept


@pytest.mark.django_db
def test_request_logs_carry_the_request_id(client):
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.addFilter(RequestIdFilter())
    handler.setFormatter(JsonFormatter())
    logger = logging.getLogger("django.request")
    logger.addHandler(handler)
    try:
        client.get("/api/v1/auth/me/", HTTP_X_REQUEST_ID="trace-7")
    finally:
        logger.removeHandler(handler)
    entries = [json.loads(line) for line in stream.getvalue().splitlines()]
    assert entries and entries[0]["status_code"] == 401 and entries[0]["request_id"] == "trace-7"


def test_outgoing_request_urls_are_not_logged_so_api_keys_stay_out_of_logs():
    assert not logging.getLogger("httpx").isEnabledFor(logging.INFO)
