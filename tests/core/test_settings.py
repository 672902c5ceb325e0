import os
import subprocess
import sys

import pytest
from django.conf import settings

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x7#kq9!v2@m4$p8^z1&w6*r3(t5)y0_u-i+o=a[s]d{f}g|h;j:k'l,z.x/c?v",
    "DJANGO_ALLOWED_HOSTS": "freight.example.com",
    "DATABASE_URL": "postgres://app:pw@db.internal:5432/freight",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
    "CELERY_BROKER_URL": "redis://127.0.0.1:6379/2",
}


def _manage(*args, env):
    return _run([sys.executable, "manage.py", *args], env=env)


def _run(command, *, env):
    base = {
        k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CACHE_URL", "CELERY_"))
    }
    return subprocess.run(
        command,
        env={**base, **env},
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=120,
    )


def test_check_deploy_under_production_settings_is_clean():
    result = _manage("check", "--deploy", "--fail-level", "WARNING", env=PRODUCTION_ENV)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "System check identified no issues (0 silenced)." in result.stdout


def test_production_refuses_to_start_without_its_secrets():
    for missing in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL"):
        env = {key: value for key, value in PRODUCTION_ENV.items() if key != missing}
        result = _manage("check", env=env)
        assert result.returncode != 0
        assert missing in result.stderr


def test_production_refuses_a_cache_that_workers_do_not_share():
    result = _manage("check", env={**PRODUCTION_ENV, "CACHE_URL": "locmemcache://default"})
    assert result.returncode != 0
    assert "CACHE_URL must point at Redis" in result.stderr


def test_production_refuses_an_in_process_broker():
    result = _manage("check", env={**PRODUCTION_ENV, "CELERY_BROKER_URL": "memory://localhost/"})
    assert result.returncode != 0
    assert "CELERY_BROKER_URL must point at a shared broker" in result.stderr


# What a deployment starts, exactly as the README's production section starts it: no
# DJANGO_SETTINGS_MODULE, the entry point imported the way gunicorn or an ASGI server imports it.
SERVE_UNKNOWN_URL = """
import io, sys
from {module} import application
{call}
from django.conf import settings
print("SETTINGS", settings.SETTINGS_MODULE, "DEBUG", settings.DEBUG)
"""
WSGI_CALL = """
environ = {{"REQUEST_METHOD": "GET", "PATH_INFO": "/no-such-page/", "SERVER_NAME": "freight.example.com",
    "SERVER_PORT": "443", "HTTP_HOST": "freight.example.com", "wsgi.url_scheme": "https",
    "HTTP_X_FORWARDED_PROTO": "https", "wsgi.input": io.BytesIO(), "wsgi.errors": sys.stderr}}
seen = {{}}
body = b"".join(application(environ, lambda status, headers, exc_info=None: seen.update(status=status)))
print("STATUS", seen["status"])
print("BODY", body.decode())
"""
ASGI_CALL = """
import asyncio
async def main():
    sent = []
    scope = {{"type": "http", "asgi": {{"version": "3.0"}}, "http_version": "1.1", "method": "GET", "scheme": "https",
        "path": "/no-such-page/", "raw_path": b"/no-such-page/", "query_string": b"", "root_path": "",
        "headers": [(b"host", b"freight.example.com"), (b"x-forwarded-proto", b"https")],
        "client": ("127.0.0.1", 1), "server": ("freight.example.com", 443)}}
    messages = [{{"type": "http.request", "body": b"", "more_body": False}}]
    async def receive():
        if messages:
            return messages.pop()
        await asyncio.Event().wait()  # the client stays connected
    async def send(message):
        sent.append(message)
    await application(scope, receive, send)
    print("STATUS", sent[0]["status"])
    print("BODY", b"".join(m.get("body", b"") for m in sent[1:]).decode())
asyncio.run(main())
"""


@pytest.fixture(scope="module")
def deployed_static(tmp_path_factory):
    """``collectstatic``, as the README's production start runs it before gunicorn."""
    root = tmp_path_factory.mktemp("static")
    result = _manage("collectstatic", "--noinput", "-v0", env={**PRODUCTION_ENV, "DJANGO_STATIC_ROOT": str(root)})
    assert result.returncode == 0, result.stderr
    return root


def _serve_unknown_url(module, call, static_root, tmp_path, **overrides):
    env = {
        **PRODUCTION_ENV,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
        "DJANGO_STATIC_ROOT": str(static_root),
        **overrides,
    }
    env.pop("DJANGO_SETTINGS_MODULE")
    return _run([sys.executable, "-c", SERVE_UNKNOWN_URL.format(module=module, call=call.format())], env=env)


@pytest.mark.parametrize(("module", "call"), [("config.wsgi", WSGI_CALL), ("config.asgi", ASGI_CALL)])
def test_a_deployment_started_without_a_settings_module_runs_production(module, call, deployed_static, tmp_path):
    result = _serve_unknown_url(module, call, deployed_static, tmp_path)
    assert result.returncode == 0, result.stderr
    assert "SETTINGS config.settings.production DEBUG False" in result.stdout
    assert "STATUS 404" in result.stdout
    body = result.stdout.split("BODY", 1)[1]
    # The plain page of templates/404.html, not Django's technical (debug) 404.
    assert "There is no page at this address." in body
    assert "URLconf" not in body and "DEBUG = True" not in body


@pytest.mark.parametrize("secret_key", [None, ""])
def test_a_deployment_without_its_secret_key_refuses_to_start(secret_key, deployed_static, tmp_path):
    overrides = {"DJANGO_SECRET_KEY": secret_key} if secret_key is not None else {}
    env_without = {k: v for k, v in PRODUCTION_ENV.items() if secret_key is not None or k != "DJANGO_SECRET_KEY"}
    result = _run(
        [sys.executable, "-c", SERVE_UNKNOWN_URL.format(module="config.wsgi", call=WSGI_CALL.format())],
        env={
            **{k: v for k, v in env_without.items() if k != "DJANGO_SETTINGS_MODULE"},
            "DATABASE_URL": f"sqlite:///{tmp_path / 'db.sqlite3'}",
            "DJANGO_STATIC_ROOT": str(deployed_static),
            **overrides,
        },
    )
    assert result.returncode != 0
    assert "STATUS" not in result.stdout


def test_manage_py_keeps_local_settings():
    env = {"DJANGO_SECRET_KEY": "", "DATABASE_URL": "sqlite:////tmp/unused.sqlite3"}
    result = _manage("shell", "-v0", "-c", "from django.conf import settings; print(settings.SETTINGS_MODULE)", env=env)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip().endswith("config.settings.local")
