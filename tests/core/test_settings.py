import os
import subprocess
import sys

from django.conf import settings

PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "x7#kq9!v2@m4$p8^z1&w6*r3(t5)y0_u-i+o=a[s]d{f}g|h;j:k'l,z.x/c?v",
    "DJANGO_ALLOWED_HOSTS": "freight.example.com",
    "DATABASE_URL": "postgres://app:pw@db.internal:5432/freight",
    "CACHE_URL": "redis://127.0.0.1:6379/1",
}


def _manage(*args, env):
    base = {k: v for k, v in os.environ.items() if not k.startswith(("DJANGO_", "DATABASE_URL", "CACHE_URL"))}
    return subprocess.run(
        [sys.executable, "manage.py", *args],
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
    for missing in ("DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL"):
        env = {key: value for key, value in PRODUCTION_ENV.items() if key != missing}
        result = _manage("check", env=env)
        assert result.returncode != 0
        assert missing in result.stderr


def test_production_refuses_a_cache_that_workers_do_not_share():
    result = _manage("check", env={**PRODUCTION_ENV, "CACHE_URL": "locmemcache://default"})
    assert result.returncode != 0
    assert "CACHE_URL must point at Redis" in result.stderr
