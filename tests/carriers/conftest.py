"""A local HTTP server that answers like FMCSA's QCMobile API, one behaviour per MC number."""

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
from django.core.cache import cache


def qc_carrier(**overrides):
    """A QCMobile ``carrier`` object for an eligible carrier; override fields per case."""
    carrier = {
        "allowedToOperate": "Y",
        "bipdInsuranceOnFile": "1000",
        "bipdInsuranceRequired": "Y",
        "bipdRequiredAmount": "750",
        "cargoInsuranceOnFile": "0",
        "commonAuthorityStatus": "A",
        "contractAuthorityStatus": "N",
        "dbaName": None,
        "dotNumber": 2345678,
        "legalName": "GREAT LAKES HAULAGE LLC",
        "oosDate": None,
        "phyCity": "JOLIET",
        "phyState": "IL",
        "safetyRating": "S",
        "statusCode": "A",
        "telephone": "(815) 555-0142",
        "totalDrivers": 47,
        "totalPowerUnits": 42,
    }
    carrier.update(overrides)
    return carrier


def docket_body(*carriers):
    return {
        "content": [{"_links": {"basics": {"href": "..."}}, "carrier": carrier} for carrier in carriers],
        "retrievalDate": "2026-11-21T10:00:00.000+0000",
    }


MAINTENANCE_PAGE = b"<html><head><title>Site Maintenance</title></head><body>We'll be back soon.</body></html>"


class FakeQCMobile:
    """Routes ``/qc/services/carriers/docket-number/{mc}`` to the behaviour set for that MC."""

    def __init__(self):
        self.behaviours = {}
        self.requests = []
        self.release = threading.Event()
        handler = self._handler()
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, kwargs={"poll_interval": 0.02}, daemon=True)
        self.thread.start()
        self.base_url = f"http://127.0.0.1:{self.server.server_address[1]}/qc/services"

    def on(self, mc, kind, payload=None):
        """``kind``: json (payload = (status, body)), html, hang, status (payload = code), or
        sequence (payload = a list of (kind, payload), one per request, the last repeating)."""
        self.behaviours[str(mc)] = (kind, payload)

    def count(self, mc):
        return sum(1 for path in self.requests if path.split("?")[0].endswith(f"/docket-number/{mc}"))

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()

    def _handler(self):
        fake = self

        class Handler(BaseHTTPRequestHandler):
            def log_message(self, *args):
                pass

            def _send(self, status, body: bytes, content_type):
                self.send_response(status)
                self.send_header("Content-Type", content_type)
                self.send_header("Content-Length", str(len(body)))
                self.end_headers()
                self.wfile.write(body)

            def do_GET(self):
                fake.requests.append(self.path)
                path, _, query = self.path.partition("?")
                if "webKey=" not in query:
                    return self._send(400, b'{"content": "webKey is required"}', "application/json")
                mc = path.rstrip("/").rsplit("/", 1)[-1]
                kind, payload = fake.behaviours.get(mc, ("json", (200, {"content": []})))
                if kind == "sequence":
                    kind, payload = payload.pop(0) if len(payload) > 1 else payload[0]
                if kind == "json":
                    status, body = payload
                    return self._send(status, json.dumps(body).encode(), "application/json;charset=UTF-8")
                if kind == "html":
                    return self._send(200, MAINTENANCE_PAGE, "text/html; charset=UTF-8")
                if kind == "hang":
                    fake.release.wait(10)
                    return
                if kind == "status":
                    return self._send(payload, b"Service Unavailable", "text/plain")
                raise AssertionError(kind)

        return Handler


@pytest.fixture(autouse=True)
def _clear_cache():
    """The circuit breaker and runtime settings live in the cache; start every test clean."""
    cache.clear()
    yield
    cache.clear()


@pytest.fixture
def fmcsa(settings):
    """A QCMobile look-alike on a free local port, wired into the settings."""
    server = FakeQCMobile()
    settings.FMCSA_BASE_URL = server.base_url
    settings.FMCSA_WEB_KEY = "test-key"
    settings.FMCSA_TIMEOUT_SECONDS = 0.5
    settings.FMCSA_RETRIES = 0
    yield server
    server.close()
