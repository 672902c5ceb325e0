"""The test suite: fast hashing, isolated cache, throttles out of the way unless a test sets them."""

import os
import tempfile
from pathlib import Path

from .base import *  # noqa: F403
from .base import REST_FRAMEWORK

DEBUG = False
SECRET_KEY = "test-only-secret-key-not-for-production-use-0123456789abcdef"
PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]
CACHES = {"default": {"BACKEND": "django.core.cache.backends.locmem.LocMemCache"}}
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "django.contrib.staticfiles.storage.StaticFilesStorage"},
}
REST_FRAMEWORK = {
    **REST_FRAMEWORK,
    "DEFAULT_THROTTLE_RATES": {"anon": "10000/min", "user": "10000/min", "login": "10000/min"},
}
# Query-count tests count authentication too; the tests of the token cache switch it on.
API_AUTH_CACHE_SECONDS = 0
# The request that publishes numbers its events after commit, so a test reads the numbers at once; the sequencer
# thread production uses has tests of its own (tests/events/test_outbox.py) and serves the server tests.
EVENTS_SEQUENCER_THREAD = False

# Tests point the FMCSA client at local HTTP servers; never at the real service.
FMCSA_BASE_URL = "http://127.0.0.1:9/qc/services"
FMCSA_WEB_KEY = "test-key"
FMCSA_TIMEOUT_SECONDS = 1.0

# A small model used to test the shared base classes on their own.
INSTALLED_APPS = [*INSTALLED_APPS, "tests.core.testapp"]  # noqa: F405

# Serve static files from the finders; no collectstatic needed for tests.
WHITENOISE_AUTOREFRESH = True
WHITENOISE_USE_FINDERS = True

if DATABASES["default"]["ENGINE"] == "django.db.backends.sqlite3":  # noqa: F405
    # A file rather than memory, so concurrency tests see WAL, IMMEDIATE transactions and
    # the busy timeout exactly as the application runs them.
    # One file per test run, so parallel runs on one machine do not share it.
    DATABASES["default"]["TEST"] = {"NAME": str(Path(tempfile.gettempdir()) / f"freight-test-{os.getpid()}.sqlite3")}  # noqa: F405

# Planning in tests: deterministic (seed + iteration limit) and quick.
LOGISTICS_SOLVER_MAX_ITERATIONS = 300
LOGISTICS_DEFAULT_TIME_LIMIT_SECONDS = 2.0
CELERY_BROKER_URL = "memory://localhost/"
CELERY_TASK_ALWAYS_EAGER = True

# Tests call HTTP servers on this machine (health checks, the FMCSA look-alike) through core.outbound.
OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.0/8", "::1/128"]

# Sign-in protection (accounts.signin) out of the way unless a test sets it.
REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"] = {**REST_FRAMEWORK["DEFAULT_THROTTLE_RATES"], "login_username": "10000/min"}
SIGN_IN_LOCKOUT_FAILURES = 10000

# The demo's desk history, so its replay is tested; not installed in production.
INSTALLED_APPS = [*INSTALLED_APPS, "demo"]
