"""A long-lived worker process for tests/core/test_shared_state.py.

Runs with the production settings the test gives it and answers one JSON command per
line on stdin with one JSON line on stdout, so two of these stand in for two gunicorn
workers sharing the cache.
"""

import json
import sys


def main():
    import django

    django.setup()

    from django.test import Client

    from carriers.fmcsa import Circuit
    from core import runtime
    from core.models import RuntimeSetting

    client = Client()
    for line in sys.stdin:
        command = json.loads(line)
        op = command["op"]
        if op == "circuit_fail":
            Circuit.record_failure()
            result = Circuit.is_open()
        elif op == "circuit_open":
            result = Circuit.is_open()
        elif op == "runtime_get":
            result = runtime.get(command["key"])
        elif op == "runtime_set":
            RuntimeSetting.objects.update_or_create(key=command["key"], defaults={"value": command["value"]})
            result = True
        elif op == "login":
            response = client.post(
                "/api/v1/auth/login/",
                {"username": command["username"], "password": command["password"]},
                content_type="application/json",
                secure=True,
            )
            result = response.status_code
        else:
            result = f"unknown op {op}"
        sys.stdout.write(json.dumps({"result": result}) + "\n")
        sys.stdout.flush()


if __name__ == "__main__":
    main()
