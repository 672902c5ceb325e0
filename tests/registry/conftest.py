import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest


class _HealthHandler(BaseHTTPRequestHandler):
    """``/ok`` answers 200, ``/error`` 500, ``/redirect`` 302; ``/hang`` waits until the server stops."""

    def do_GET(self):
        if self.path == "/hang":
            self.server.stopping.wait(10)
            return
        status = {"/ok": 200, "/error": 500, "/redirect": 302}.get(self.path, 404)
        body = b'{"status": "ok"}' if status == 200 else b"{}"
        self.send_response(status)
        self.send_header("Content-Type", "application/json")
        self.send_header("Content-Length", str(len(body)))
        if status == 302:
            self.send_header("Location", "/ok")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format, *args):
        pass


@pytest.fixture
def health_server():
    """A real HTTP server on 127.0.0.1 with a free port; yields its base URL."""
    server = ThreadingHTTPServer(("127.0.0.1", 0), _HealthHandler)
    server.daemon_threads = True
    server.block_on_close = False
    server.stopping = threading.Event()
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.stopping.set()
        server.shutdown()
        server.server_close()
        thread.join(5)
