"""Real servers for the tests that run the platform as production does: gunicorn on the production
settings (its own process, a real PostgreSQL, Redis for the cache and the broker), Celery workers,
and a TCP proxy a test can cut to take a part away.

Nothing here sleeps. A server is handed a socket the test already listens on (``fd://``), so a
request sent before the worker has booted waits in the backlog and is answered once it is up; a
server that dies fails that first request at once, with its log.
"""

import contextlib
import os
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

import httpx
import pytest
from django.conf import settings
from django.db import connection

START_TIMEOUT = 60  # seconds for a server to boot and answer its first request
SECRET_KEY = "test-servers-secret-key-0123456789abcdefghijklmnopqrstuvwxyz-ABCDEFGHIJ"
REDIS = ("127.0.0.1", 6379)
PG_BIN = Path("/usr/lib/postgresql/15/bin")
HAS_PG_SERVER = all((PG_BIN / tool).exists() for tool in ("initdb", "pg_basebackup", "pg_ctl"))
CONDITION_TIMEOUT = 60  # seconds for a condition a test waits on


def wait_for(condition, what: str, timeout: float = CONDITION_TIMEOUT):
    """Ask ``condition`` again until it is true (each asking is a real request or query); fail naming
    ``what`` after ``timeout`` seconds. Returns the condition's value."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"{what}: not within {timeout} s")


def run(command, **kwargs):
    result = subprocess.run(command, capture_output=True, text=True, timeout=300, **kwargs)
    assert result.returncode == 0, f"{command} failed:\n{result.stdout[-3000:]}\n{result.stderr[-3000:]}"
    return result


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


def database_address() -> tuple[str, int]:
    """Host and port of the test database's server (PostgreSQL or MySQL/MariaDB)."""
    db = connection.settings_dict
    return db["HOST"] or "127.0.0.1", int(db["PORT"] or (3306 if connection.vendor == "mysql" else 5432))


def database_url(*, host=None, port=None, name=None) -> str:
    """The test database's URL (pytest-django's), optionally through another host or port."""
    db = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{name or db['NAME']}"
    host = host or db["HOST"] or "127.0.0.1"
    scheme, default_port = ("mysql", 3306) if connection.vendor == "mysql" else ("postgres", 5432)
    port = port or db["PORT"] or default_port
    password = f":{db['PASSWORD']}" if db.get("PASSWORD") else ""
    return f"{scheme}://{db['USER']}{password}@{host}:{port}/{name or db['NAME']}"


def redis_db(number: int):
    """A flushed Redis database of a test's own (skips without Redis); flushed again after."""
    import redis

    client = redis.Redis(*REDIS, db=number, socket_connect_timeout=1)
    try:
        client.ping()
    except redis.exceptions.ConnectionError:
        pytest.skip("no Redis on 127.0.0.1:6379")
    client.flushdb()
    return client


def reset_celery_connections():
    """Drop every pooled broker connection and producer, so the next job is sent to the broker
    ``config.celery.app`` is configured with now. kombu keeps producer pools per broker in its own
    registry, bound to the connection pool they were made with: closing the app's pool alone leaves
    a producer pool on a closed one, which the next test sending a job would get."""
    from kombu import pools

    from config.celery import app

    if app._pool is not None:
        app._pool.force_close_all()
        app._pool = None
    app.amqp._producer_pool = None
    pools.reset()


def production_env(*, cache_url: str, broker_url: str, database: str | None = None, **extra) -> dict:
    """The environment the README's production section sets, for a server or worker of the tests."""
    inherited = {
        name: value
        for name, value in os.environ.items()
        if not name.startswith(("DJANGO_", "DATABASE_", "CACHE_", "CELERY_", "DB_"))
    }
    return {
        **inherited,
        "DJANGO_SETTINGS_MODULE": "config.settings.production",
        "DJANGO_SECRET_KEY": SECRET_KEY,
        "DJANGO_ALLOWED_HOSTS": "127.0.0.1,localhost",
        "DATABASE_URL": database or database_url(),
        "CACHE_URL": cache_url,
        "CELERY_BROKER_URL": broker_url,
        "DJANGO_LOG_LEVEL": "WARNING",
        "PYTHONUNBUFFERED": "1",  # tests read the logs as they are written
        **{name: str(value) for name, value in extra.items()},
    }


class Gunicorn:
    """``gunicorn config.wsgi`` with ``env``, serving on a socket of the test's; a context manager.

    ``client()`` gives an httpx client that says, as the production proxy does, that the request
    came over HTTPS. ``kill()`` stops it at once (SIGKILL to its process group), ``start()`` again
    on the same port."""

    def __init__(self, env: dict, log: Path, *, workers: int = 1, threads: int = 4, port: int | None = None):
        self.env, self.log, self.workers, self.threads = env, Path(log), workers, threads
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        self.process = None

    def command(self, fd: int) -> list[str]:
        return [sys.executable, "-m", "gunicorn", "config.wsgi", "-c", "gunicorn.conf.py", "-b", f"fd://{fd}"] + [
            "-w",
            str(self.workers),
            "--threads",
            str(self.threads),
        ]

    def start(self):
        listener = socket.create_server(("127.0.0.1", self.port), reuse_port=False)
        with listener, open(self.log, "ab") as output:
            fd = listener.fileno()
            self.process = subprocess.Popen(
                self.command(fd),
                cwd=settings.BASE_DIR,
                env=self.env,
                pass_fds=(fd,),
                stdout=output,
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
        try:
            live = httpx.get(f"{self.url}/health/live/", timeout=START_TIMEOUT)
        except httpx.HTTPError as exc:
            self.kill()
            pytest.fail(f"{type(self).__name__} did not start: {exc!r}\n{self.log.read_text()[-3000:]}")
        assert live.status_code == 200, live.text
        return self

    def client(self, **kwargs) -> httpx.Client:
        headers = {"X-Forwarded-Proto": "https", **kwargs.pop("headers", {})}
        return httpx.Client(base_url=self.url, headers=headers, **kwargs)

    def kill(self):
        if self.process is not None and self.process.poll() is None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait(timeout=30)

    def stop(self):
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()

    def __enter__(self):
        return self.start()

    def __exit__(self, *exc):
        self.stop()


class CeleryWorker:
    """``celery -A config worker`` in its own process group, as production starts it (production
    settings from ``env``); its log lines are read as they come, to wait on."""

    def __init__(self, name: str, env: dict, *, concurrency: int = 1, queues: str | None = None):
        command = [sys.executable, "-m", "celery", "-A", "config", "worker", "-n", f"{name}@%h"]
        command += [f"--concurrency={concurrency}", "--loglevel=INFO", "--without-gossip", "--without-mingle"]
        command += ["--without-heartbeat"] + (["-Q", queues] if queues else [])
        self._spawn(command, env)

    def _spawn(self, command, env):
        self.lines = []
        self.changed = threading.Condition()
        self.process = subprocess.Popen(
            command,
            cwd=settings.BASE_DIR,
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            start_new_session=True,  # its own process group, like a container or a systemd unit
        )
        threading.Thread(target=self._read, daemon=True).start()

    def _read(self):
        for line in self.process.stdout:
            with self.changed:
                self.lines.append(line)
                self.changed.notify_all()
        with self.changed:
            self.lines.append(None)  # the output ended: the worker is gone
            self.changed.notify_all()

    def wait_for(self, text: str, timeout: float):
        """Block until a log line contains ``text``; fail the test after ``timeout`` seconds."""

        def seen():
            return any(line is None or text in line for line in self.lines)

        with self.changed:
            found = self.changed.wait_for(seen, timeout=timeout)
            ended = None in self.lines
        if not found or (ended and not any(line and text in line for line in self.lines)):
            tail = "".join(line for line in self.lines[-30:] if line)
            pytest.fail(f"no log line with {text!r} within {timeout} s (worker ended: {ended}):\n{tail}")

    def kill(self):
        """SIGKILL the whole process group: the main process and its pool die together, no
        acknowledgement and no warm shutdown, as on an OOM kill of the container or a lost node."""
        with contextlib.suppress(ProcessLookupError):
            os.killpg(self.process.pid, signal.SIGKILL)
        self.process.wait(timeout=30)

    def stop(self):
        if self.process.poll() is None:
            os.killpg(self.process.pid, signal.SIGTERM)
            try:
                self.process.wait(timeout=30)
            except subprocess.TimeoutExpired:
                self.kill()


class CeleryBeat(CeleryWorker):
    """``celery -A config beat`` (the database scheduler of the settings), once per cluster as
    production runs it; its log is read as a worker's is (``wait_for``), and it stops as one does."""

    def __init__(self, env: dict):
        self._spawn([sys.executable, "-m", "celery", "-A", "config", "beat", "--loglevel=INFO"], env)


class TcpProxy:
    """Forwards 127.0.0.1:<port> to ``target`` until closed; can be opened again."""

    def __init__(self, target):
        self.target = target
        self.port = free_port()
        self.listener = None
        self.sockets = []
        self.lock = threading.Lock()
        self.forwarded = threading.Event()

    def open(self):
        """Start forwarding; ``self.forwarded`` is set once a client connects through this opening."""
        listener = socket.socket()
        listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        listener.bind(("127.0.0.1", self.port))
        listener.listen(64)
        self.listener = listener
        self.forwarded = threading.Event()
        threading.Thread(target=self._accept, args=(listener, self.forwarded), daemon=True).start()

    def close(self):
        listener, self.listener = self.listener, None
        if listener is not None:
            with contextlib.suppress(OSError):
                listener.shutdown(socket.SHUT_RDWR)
            listener.close()
        with self.lock:
            sockets, self.sockets = self.sockets, []
        for sock in sockets:
            with contextlib.suppress(OSError):
                sock.shutdown(socket.SHUT_RDWR)
            sock.close()

    def _accept(self, listener, forwarded):
        while True:
            try:
                client, _ = listener.accept()
            except OSError:
                return
            try:
                upstream = socket.create_connection(self.target, timeout=5)
            except OSError:
                client.close()
                continue
            upstream.settimeout(None)
            with self.lock:
                self.sockets += [client, upstream]
            for source, sink in ((client, upstream), (upstream, client)):
                threading.Thread(target=self._pipe, args=(source, sink), daemon=True).start()
            forwarded.set()

    @staticmethod
    def _pipe(source, sink):
        try:
            while data := source.recv(65536):
                sink.sendall(data)
        except OSError:
            pass
        finally:
            for sock in (source, sink):
                with contextlib.suppress(OSError):
                    sock.shutdown(socket.SHUT_RDWR)


def as_postgres(command):
    """PostgreSQL refuses to run as root: the suite's root runs it as ``postgres``."""
    if os.geteuid() == 0:
        return ["runuser", "-u", "postgres", "--", *map(str, command)]
    return [str(command[0]), *map(str, command[1:])]


class PostgresServer:
    """One PostgreSQL server of a cluster a test builds (``streaming_pair``)."""

    def __init__(self, root: Path, name: str):
        self.data = root / name
        self.log = root / f"{name}.log"
        self.port = free_port()
        self.url = f"postgres://postgres@127.0.0.1:{self.port}/freight"

    def configure(self, **options):
        with open(self.data / "postgresql.conf", "a") as conf:
            for key, value in options.items():
                conf.write(f"{key} = {value}\n")

    def start(self):
        run(as_postgres([PG_BIN / "pg_ctl", "-D", self.data, "-l", self.log, "-w", "-t", "120", "start"]))

    def stop(self, mode="fast"):
        subprocess.run(
            as_postgres([PG_BIN / "pg_ctl", "-D", self.data, "-m", mode, "-w", "stop"]),
            capture_output=True,
            timeout=120,
        )

    def query(self, sql, dbname="freight"):
        import psycopg

        with psycopg.connect(
            host="127.0.0.1", port=self.port, user="postgres", dbname=dbname, autocommit=True, connect_timeout=5
        ) as conn:
            cursor = conn.execute(sql)
            return cursor.fetchall() if cursor.description else None


@contextlib.contextmanager
def streaming_pair():
    """A throwaway PostgreSQL 15 primary (database ``freight``) and a hot standby streaming from it
    (``initdb``, ``pg_basebackup -R``) on free ports; yields ``(primary, replica)``."""
    root = Path(tempfile.mkdtemp(prefix="freight-cluster-"))
    if os.geteuid() == 0:
        shutil.chown(root, "postgres", "postgres")
    primary, replica = PostgresServer(root, "primary"), PostgresServer(root, "replica")
    try:
        run(as_postgres([PG_BIN / "initdb", "-D", primary.data, "-U", "postgres", "-A", "trust", "--no-sync"]))
        with open(primary.data / "pg_hba.conf", "a") as hba:
            hba.write("local replication all trust\nhost replication all 127.0.0.1/32 trust\n")
        options = {
            "listen_addresses": "'127.0.0.1'",
            "unix_socket_directories": f"'{root}'",
            "wal_level": "replica",
            "max_wal_senders": 4,
            "hot_standby": "on",
            "fsync": "off",  # a throwaway cluster
            "max_connections": 100,
        }
        primary.configure(port=primary.port, **options)
        primary.start()
        primary.query("CREATE DATABASE freight", dbname="postgres")
        run(
            as_postgres(
                [PG_BIN / "pg_basebackup", "-h", "127.0.0.1", "-p", primary.port, "-U", "postgres"]
                + ["-D", replica.data, "-R", "-X", "stream", "--no-sync"]
            )
        )
        replica.configure(port=replica.port)
        replica.start()
        assert replica.query("SELECT pg_is_in_recovery()") == [(True,)]
        yield primary, replica
    finally:
        replica.stop("immediate")
        primary.stop("immediate")
        shutil.rmtree(root, ignore_errors=True)
