import os
import subprocess
import sys
from io import StringIO

import pytest
from django.apps import apps
from django.conf import settings
from django.core.management import CommandError, call_command

from accounts.models import User
from core.management.commands.seed_demo import demo_fixtures


def _row_counts():
    return {
        model._meta.label: model._base_manager.count()
        for model in apps.get_models()
        if model._meta.app_label in ("carriers", "logistics", "registry", "community")
    }


@pytest.mark.django_db
def test_seed_demo_loads_every_fixture_and_is_idempotent():
    call_command("seed_demo", stdout=StringIO())
    first = _row_counts()
    call_command("seed_demo", stdout=StringIO())
    assert _row_counts() == first


@pytest.mark.django_db
@pytest.mark.parametrize("fixture", demo_fixtures() or ["<none declared>"])
def test_each_fixture_loads_with_loaddata_on_a_fresh_database(fixture):
    if fixture == "<none declared>":
        pytest.skip("no app declares demo fixtures")
    out = StringIO()
    call_command("loaddata", fixture, stdout=out)
    assert "Installed" in out.getvalue()


@pytest.mark.django_db
def test_ensure_admin_creates_a_superuser_once_and_prints_the_password():
    out = StringIO()
    call_command("ensure_admin", stdout=out)
    password = out.getvalue().split("password:")[1].strip()
    admin = User.objects.get(username="admin")
    assert admin.is_superuser and admin.check_password(password)
    again = StringIO()
    call_command("ensure_admin", stdout=again)
    assert "already exists" in again.getvalue() and password not in again.getvalue()
    assert User.objects.filter(username="admin").count() == 1


@pytest.mark.django_db
def test_wait_for_db_succeeds_when_the_database_answers():
    out = StringIO()
    call_command("wait_for_db", "--timeout", "5", stdout=out, stderr=StringIO())
    assert "is available" in out.getvalue()


def test_wait_for_db_gives_up_with_a_non_zero_exit_when_time_runs_out():
    env = {
        **os.environ,
        "DJANGO_SETTINGS_MODULE": "config.settings.test",
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere",
        "DB_POOL_ENABLED": "false",
        "DB_CONNECT_TIMEOUT": "1",
    }
    result = subprocess.run(  # a hang fails here: it must give up on its own, well before 60 s
        [sys.executable, "manage.py", "wait_for_db", "--timeout", "2"],
        env=env,
        cwd=settings.BASE_DIR,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode != 0
    assert "still unreachable" in result.stderr
    assert result.stderr.count("retrying in") >= 2  # it retried, backing off


def test_create_api_token_rejects_silly_lifetimes(db):
    with pytest.raises(CommandError):
        call_command("create_api_token", "anyone", "--days", "0", stdout=StringIO())
