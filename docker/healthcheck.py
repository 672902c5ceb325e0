"""The image's HEALTHCHECK: GET /health/live/ on this container's gunicorn, exit 0 on 200.

Sent with a Host header the settings allow (the first of DJANGO_ALLOWED_HOSTS), or Django would
answer 400 to a probe addressed to 127.0.0.1. Standard library only, no curl in the image.
"""

import http.client
import os
import sys


def main() -> int:
    port = os.environ.get("PORT", "8000")
    bind = os.environ.get("GUNICORN_BIND", "")
    if bind.count(":") == 1 and not bind.startswith(("unix:", "fd:")):
        port = bind.rsplit(":", 1)[1]
    hosts = [h.strip() for h in os.environ.get("DJANGO_ALLOWED_HOSTS", "").split(",") if h.strip()]
    host = next((h.lstrip(".") for h in hosts if h != "*"), "localhost")
    connection = http.client.HTTPConnection("127.0.0.1", int(port), timeout=5)
    try:
        connection.request("GET", "/health/live/", headers={"Host": host})
        status = connection.getresponse().status
    except OSError as exc:
        print(f"health check failed: {type(exc).__name__}: {exc}", file=sys.stderr)
        return 1
    finally:
        connection.close()
    if status != 200:
        print(f"health check failed: /health/live/ answered {status}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main())
