import json
import os
import subprocess
import sys

import pytest
from django.conf import settings

pytestmark = pytest.mark.django_db


def test_live_answers_without_touching_the_database(client, django_assert_num_queries):
    with django_assert_num_queries(0):
        response = client.get("/health/live/")
    assert response.status_code == 200 and response.json() == {"status": "ok"}


def test_ready_reports_each_check(client):
    response = client.get("/health/ready/")
    assert response.status_code == 200
    body = response.json()
    assert body["status"] == "ok"
    database = body["checks"]["database"]
    assert database["status"] == "ok" and database["vendor"] in ("sqlite", "postgresql", "mysql")
    assert database["latency_ms"] >= 0
    if database["vendor"] == "postgresql" and "pool" in settings.DATABASES["default"]["OPTIONS"]:
        assert database["pool"]["pool_max"] == settings.DATABASES["default"]["OPTIONS"]["pool"]["max_size"]
    assert body["checks"]["cache"]["status"] == "ok"
    assert body["checks"]["migrations"] == {"status": "ok", "pending": 0}
    assert response.headers["Cache-Control"].startswith("max-age=0")


def test_ready_needs_no_authentication_and_reveals_no_secrets(client):
    text = client.get("/health/ready/").content.decode()
    assert settings.SECRET_KEY not in text
    assert "PASSWORD" not in text and "password" not in text


def test_ready_is_503_naming_the_database_when_it_is_unreachable():
    # A real unreachable server: a separate process whose DATABASE_URL points at a closed port.
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": "postgres://nobody:s3cret@127.0.0.1:1/nowhere",
        "DB_POOL_TIMEOUT": "2",
        "DB_CONNECT_TIMEOUT": "2",
    }
    code = (
        "import django, json; django.setup();"
        "from django.test import Client;"
        "r = Client(SERVER_NAME='localhost').get('/health/ready/');"
        "print(json.dumps({'status': r.status_code, 'body': r.json()}))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], env=env, cwd=settings.BASE_DIR, capture_output=True, text=True, timeout=90
    )
    assert result.returncode == 0, result.stderr[-2000:]
    answer = json.loads(result.stdout.strip().splitlines()[-1])
    assert answer["status"] == 503
    assert "database" in answer["body"]["failing"]
    assert answer["body"]["checks"]["database"]["status"] == "failing"
    assert answer["body"]["checks"]["cache"]["status"] == "ok"
    assert "s3cret" not in result.stdout


def test_ready_reports_a_lost_cache_as_degraded_not_the_app_as_down(client, settings):
    # The platform's Redis backend serves without Redis (tests/core/test_cache_outage.py), so a
    # lost Redis keeps the app in service; the closed port is a Redis that is gone.
    import socket

    from core.fastpaths import cache as fastcache

    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    settings.CACHES = {
        "default": {
            "BACKEND": "core.fastpaths.cache.RedisCache",
            "LOCATION": f"redis://127.0.0.1:{port}/9",
            "OPTIONS": {"socket_connect_timeout": 0.25, "socket_timeout": 0.25},
        }
    }
    try:
        response = client.get("/health/ready/")
    finally:
        fastcache._outages.clear()
    assert response.status_code == 200, response.content
    body = response.json()
    assert body["checks"]["cache"] == {
        "status": "degraded",
        "error": "ConnectionError",
        "detail": "serving without the cache",
    }
    assert body["checks"]["database"]["status"] == "ok"
    assert (body["status"], body["degraded"]) == ("degraded", ["cache"])
    assert str(port) not in response.content.decode()
