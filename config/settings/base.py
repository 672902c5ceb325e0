"""Settings shared by every environment.

Every value that differs between machines comes from the environment through the one
``env`` below; ``local``, ``test`` and ``production`` only override what they must.
"""

from datetime import timedelta
from pathlib import Path

import environ

BASE_DIR = Path(__file__).resolve().parent.parent.parent

env = environ.Env()
# A developer's .env file is read when present; real deployments set variables directly.
env.read_env(BASE_DIR / ".env", overwrite=False)

# --- Core -------------------------------------------------------------------------------
DEBUG = env.bool("DJANGO_DEBUG", default=False)
SECRET_KEY = env("DJANGO_SECRET_KEY", default="")
# Fernet keys for encrypted fields (core.db.encrypted): first encrypts, all decrypt; empty: derived from SECRET_KEY.
FIELD_ENCRYPTION_KEYS = env.list("FIELD_ENCRYPTION_KEYS", default=[])
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS", default=["localhost", "127.0.0.1", "[::1]"])
CSRF_TRUSTED_ORIGINS = env.list("DJANGO_CSRF_TRUSTED_ORIGINS", default=[])

TIME_ZONE = env("DJANGO_TIME_ZONE", default="UTC")
LANGUAGE_CODE = "en-us"
USE_I18N = True
USE_TZ = True

ROOT_URLCONF = "config.urls"
WSGI_APPLICATION = "config.wsgi.application"
ASGI_APPLICATION = "config.asgi.application"
DEFAULT_AUTO_FIELD = "django.db.models.BigAutoField"
AUTH_USER_MODEL = "accounts.User"
LOGIN_URL = "login"
LOGIN_REDIRECT_URL = "dashboard:overview"

DJANGO_APPS = [
    "django.contrib.admin",
    "django.contrib.auth",
    "django.contrib.contenttypes",
    "django.contrib.sessions",
    "django.contrib.messages",
    "django.contrib.staticfiles",
]
THIRD_PARTY_APPS = [
    "rest_framework",
    "knox",
    "django_filters",
    "drf_spectacular",
    "drf_spectacular_sidecar",
    "simple_history",
    "django_htmx",
    "django_celery_beat",
]
LOCAL_APPS = [
    "core",
    "accounts",
    "carriers",
    "logistics",
    "registry",
    "community",
    "events",
    "dashboard",
]
INSTALLED_APPS = DJANGO_APPS + THIRD_PARTY_APPS + LOCAL_APPS

MIDDLEWARE = [
    "core.metrics.MetricsMiddleware",
    "core.middleware.RequestContextMiddleware",
    "core.db.middleware.ReplicaMiddleware",
    "csp.middleware.CSPMiddleware",
    "core.middleware.RejectNulMiddleware",
    "django.middleware.security.SecurityMiddleware",
    "whitenoise.middleware.WhiteNoiseMiddleware",
    "django.contrib.sessions.middleware.SessionMiddleware",
    "django.middleware.common.CommonMiddleware",
    "django.middleware.csrf.CsrfViewMiddleware",
    "django.contrib.auth.middleware.AuthenticationMiddleware",
    "accounts.signin.SignInGuardMiddleware",
    "django.contrib.messages.middleware.MessageMiddleware",
    "django.middleware.clickjacking.XFrameOptionsMiddleware",
    "django_htmx.middleware.HtmxMiddleware",
]

TEMPLATES = [
    {
        "BACKEND": "django.template.backends.django.DjangoTemplates",
        "DIRS": [BASE_DIR / "templates"],
        "APP_DIRS": True,
        "OPTIONS": {
            "context_processors": [
                "django.template.context_processors.request",
                "django.contrib.auth.context_processors.auth",
                "django.contrib.messages.context_processors.messages",
            ],
        },
    },
]

AUTH_PASSWORD_VALIDATORS = [
    {"NAME": "django.contrib.auth.password_validation.UserAttributeSimilarityValidator"},
    {"NAME": "django.contrib.auth.password_validation.MinimumLengthValidator"},
    {"NAME": "django.contrib.auth.password_validation.CommonPasswordValidator"},
    {"NAME": "django.contrib.auth.password_validation.NumericPasswordValidator"},
]

STATIC_URL = "/static/"
# Our own files and vendored front-end libraries (each with its licence beside it).
STATICFILES_DIRS = [BASE_DIR / "static"]
STATIC_ROOT = env.path("DJANGO_STATIC_ROOT", default=BASE_DIR / "staticfiles")
STORAGES = {
    "default": {"BACKEND": "django.core.files.storage.FileSystemStorage"},
    "staticfiles": {"BACKEND": "whitenoise.storage.CompressedManifestStaticFilesStorage"},
}

# --- Database ---------------------------------------------------------------------------
# SQLite in the project directory unless DATABASE_URL says otherwise.
DATABASES = {"default": env.db("DATABASE_URL", default=f"sqlite:///{BASE_DIR / 'db.sqlite3'}")}
# The pooler in front of PostgreSQL, DB_POOLER: empty for none (or one that keeps a client on one server
# connection, as PgBouncer's session mode does), or "pgbouncer" for PgBouncer in transaction mode, which gives
# each transaction whichever server connection is free: nothing may outlive a transaction there.
DB_POOLERS = ("", "pgbouncer")


def database_pooler() -> str:
    """DB_POOLER, checked. ``DB_PREPARE_HOT_QUERIES=false``, its older spelling, reads as ``pgbouncer``."""
    from django.core.exceptions import ImproperlyConfigured

    pooler = env.str("DB_POOLER", default="").strip().lower()
    if pooler not in DB_POOLERS:
        raise ImproperlyConfigured(
            f"DB_POOLER={pooler!r} is not known: set DB_POOLER=pgbouncer behind PgBouncer in transaction mode, "
            "or leave it empty."
        )
    prepare = env.bool("DB_PREPARE_HOT_QUERIES", default=None)
    if pooler and prepare:
        raise ImproperlyConfigured(
            "DB_PREPARE_HOT_QUERIES=true contradicts DB_POOLER=pgbouncer (PgBouncer in transaction mode cannot "
            "follow prepared statements): unset DB_PREPARE_HOT_QUERIES."
        )
    return pooler or ("pgbouncer" if prepare is False else "")


def configure_database(db: dict) -> dict:
    """Engine-specific options that a URL cannot express."""
    engine = db["ENGINE"]
    options = db.setdefault("OPTIONS", {})
    if engine == "django.db.backends.sqlite3":
        # WAL lets readers run beside a writer; IMMEDIATE takes the write lock at BEGIN so
        # concurrent writers queue on the busy timeout instead of failing "database is locked".
        options.setdefault("timeout", env.int("SQLITE_BUSY_TIMEOUT", default=20))
        options.setdefault("transaction_mode", "IMMEDIATE")
        options.setdefault(
            "init_command",
            "PRAGMA journal_mode=WAL; PRAGMA synchronous=NORMAL; PRAGMA foreign_keys=ON;",
        )
    elif engine in ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis"):
        # Short waits, so an unreachable database answers 503 within seconds (see
        # core.api.exceptions) rather than holding requests for a long pool timeout.
        options.setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=3))
        if database_pooler() == "pgbouncer":
            # In autocommit Django holds a server-side cursor (QuerySet.iterator()) open past its
            # transaction, which PgBouncer in transaction mode cannot follow (Django's docs, "Transaction
            # pooling and server-side cursors"). Prepared statements: DB_PREPARE_HOT_QUERIES below; the
            # time zone Django sets per connection PgBouncer restores itself (it tracks TimeZone).
            # Django's pool stays on: an idle client connection holds no server connection in transaction
            # mode, so it costs PgBouncer a client slot (processes x DB_POOL_MAX_SIZE, under its
            # max_client_conn), spares a connection per request and keeps DB_POOL_TIMEOUT's fast 503 when
            # PgBouncer is unreachable (PostgreSQL down behind it: PgBouncer's query_wait_timeout bounds it).
            db["DISABLE_SERVER_SIDE_CURSORS"] = True
        if env.bool("DB_POOL_ENABLED", default=True):
            # Django's native psycopg 3 pool; persistent connections must stay off with it.
            # CONN_HEALTH_CHECKS makes the pool check each connection before handing it out.
            db["CONN_MAX_AGE"] = 0
            db["CONN_HEALTH_CHECKS"] = True
            options["pool"] = {
                "min_size": env.int("DB_POOL_MIN_SIZE", default=2),
                "max_size": env.int("DB_POOL_MAX_SIZE", default=10),
                "timeout": env.float("DB_POOL_TIMEOUT", default=3.0),
            }
        else:
            db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
            db["CONN_HEALTH_CHECKS"] = True
    elif engine == "django.db.backends.mysql":
        # MySQL 8 / MariaDB 10.11 through mysqlclient (requirements-mysql.txt). All of it is enforced per
        # connection, so a server configured otherwise cannot change what the application relies on.
        # utf8mb4: the full Unicode range (MySQL's "utf8" is 3-byte utf8mb3 and refuses emoji). The collation
        # is UCA 14.0, accent- and case-insensitive, as the database default; MySQL 8 has no uca1400: there
        # set DB_COLLATION=utf8mb4_0900_ai_ci (or utf8mb4_unicode_520_ci, which both servers have).
        collation = env.str("DB_COLLATION", default="utf8mb4_uca1400_ai_ci")
        options.setdefault("charset", "utf8mb4")
        options.setdefault("collation", collation)
        # Short waits, as for PostgreSQL: an unreachable database answers 503 within seconds.
        options.setdefault("connect_timeout", env.int("DB_CONNECT_TIMEOUT", default=3))
        # READ COMMITTED, PostgreSQL's level, which the locking and booking code assumes (REPEATABLE READ,
        # InnoDB's default, reads a snapshot and takes gap locks). Django runs SET SESSION TRANSACTION
        # ISOLATION LEVEL on each new connection.
        options.setdefault("isolation_level", "read committed")
        options.setdefault(
            "init_command",
            # Strict mode: a value too long, out of range, or a bad date is an error, never silently
            # truncated or zeroed; a missing storage engine is an error, not a MyISAM table.
            # SIMULTANEOUS_ASSIGNMENT (MariaDB only, in a /*M! comment MySQL skips): every right-hand side
            # of UPDATE ... SET reads the row as it was, as in PostgreSQL; without it a later assignment
            # reads the values set before it (registry.services.service_record_health relies on this).
            "SET SESSION sql_mode = CONCAT('STRICT_TRANS_TABLES,STRICT_ALL_TABLES,ERROR_FOR_DIVISION_BY_ZERO,"
            "NO_ZERO_DATE,NO_ZERO_IN_DATE,NO_ENGINE_SUBSTITUTION' /*M!100305 , ',SIMULTANEOUS_ASSIGNMENT' */), "
            # Django stores aware datetimes as UTC; NOW()/CURRENT_TIMESTAMP (Now(), db_default) must too.
            "time_zone = '+00:00', "
            "innodb_strict_mode = ON",
        )
        # The test database is created with the same character set and collation.
        db.setdefault("TEST", {}).update({"CHARSET": "utf8mb4", "COLLATION": collation})
        # Django has no connection pool for MySQL: persistent connections, checked before reuse.
        db["CONN_MAX_AGE"] = env.int("DB_CONN_MAX_AGE", default=60)
        db["CONN_HEALTH_CHECKS"] = True
    return db


configure_database(DATABASES["default"])
# MySQL and MariaDB have no conditional unique constraints, partial indexes, covering indexes or (MariaDB)
# indexes on expressions, and Django warns of each (models.W036, W037, W040, W043). The conditional uniques are
# enforced there all the same, by generated columns under unique indexes (core.db.conditional_unique; a test
# holds every one of them to it). The indexes only speed up reads, which run without them (README, "Databases").
SILENCED_SYSTEM_CHECKS = ["models.W036", "models.W037", "models.W040", "models.W043"]
DB_POOLER = database_pooler()
# The hot searches (core.fastpaths.prepared) run as statements PostgreSQL keeps prepared with a generic plan
# (set per connection), except behind DB_POOLER=pgbouncer. A pooler nobody declared is detected on each new
# connection there: nothing is prepared on it and a warning names DB_POOLER.
DB_PREPARE_HOT_QUERIES = DB_POOLER != "pgbouncer"

# --- Read replicas (core.db; docs/architecture.md, "Read replicas") ------------------------
# DATABASE_REPLICA_URLS: PostgreSQL streaming replicas of DATABASE_URL, comma-separated (empty: none), as the
# aliases replica1, replica2, ... with the primary's engine options. Requests read from a replica outside
# transactions once it has replayed the client's own last write (remembered DB_REPLICA_STICKY_SECONDS); a
# replica down, or lagging more than DB_REPLICA_MAX_LAG_SECONDS, is skipped until a probe (every
# DB_REPLICA_CHECK_SECONDS, in each process) finds it well. Jobs and commands read from the primary.
DB_REPLICA_STICKY_SECONDS = env.int("DB_REPLICA_STICKY_SECONDS", default=60)
DB_REPLICA_MAX_LAG_SECONDS = env.float("DB_REPLICA_MAX_LAG_SECONDS", default=30.0)
DB_REPLICA_CHECK_SECONDS = env.float("DB_REPLICA_CHECK_SECONDS", default=5.0)
DB_REPLICA_ROUTER = "core.db.router.ReplicaRouter"


def add_replicas(databases: dict) -> list[str]:
    """Adds DATABASE_REPLICA_URLS to ``databases`` as replica1, replica2, ...; returns their aliases. In tests
    each mirrors ``default``, so a suite run with replicas configured reads the test database."""
    from django.core.exceptions import ImproperlyConfigured

    urls = [url.strip() for url in env.list("DATABASE_REPLICA_URLS", default=[]) if url.strip()]
    postgresql = ("django.db.backends.postgresql", "django.contrib.gis.db.backends.postgis")
    if urls and databases["default"]["ENGINE"] not in postgresql:
        raise ImproperlyConfigured("DATABASE_REPLICA_URLS needs PostgreSQL: DATABASE_URL names another database.")
    for number, url in enumerate(urls, start=1):
        replica = configure_database(env.db_url_config(url))
        replica["TEST"] = {"MIRROR": "default"}
        databases[f"replica{number}"] = replica
    return [f"replica{number}" for number in range(1, len(urls) + 1)]


DB_REPLICA_ALIASES = add_replicas(DATABASES)
DATABASE_ROUTERS = [DB_REPLICA_ROUTER] if DB_REPLICA_ALIASES else []


# --- Cache ------------------------------------------------------------------------------
# Local memory by default; redis:// in production so throttles and caches are shared.
def with_reusing_redis_client(cache: dict) -> dict:
    """Django's Redis backend builds a client per call; ``core.fastpaths.cache.RedisCache`` keeps one per pool
    and serves without Redis when it is lost. Short client timeouts keep a lost Redis from holding requests;
    after a failure a process skips Redis for CACHE_OUTAGE_BACKOFF_SECONDS."""
    if cache.get("BACKEND") == "django.core.cache.backends.redis.RedisCache":
        cache["BACKEND"] = "core.fastpaths.cache.RedisCache"
    if cache.get("BACKEND") == "core.fastpaths.cache.RedisCache":
        options = cache.setdefault("OPTIONS", {})
        options.setdefault("socket_connect_timeout", env.float("CACHE_CONNECT_TIMEOUT", default=0.25))
        options.setdefault("socket_timeout", env.float("CACHE_SOCKET_TIMEOUT", default=0.25))
        cache.setdefault("OUTAGE_BACKOFF_SECONDS", env.float("CACHE_OUTAGE_BACKOFF_SECONDS", default=5.0))
    return cache


CACHES = {"default": with_reusing_redis_client(env.cache("CACHE_URL", default="locmemcache://default"))}

# --- REST framework ---------------------------------------------------------------------
REST_FRAMEWORK = {
    "DEFAULT_AUTHENTICATION_CLASSES": [
        "accounts.auth.TokenAuthentication",
        "rest_framework.authentication.SessionAuthentication",
    ],
    "DEFAULT_PERMISSION_CLASSES": ["core.api.permissions.ModelPermissions"],
    "DEFAULT_FILTER_BACKENDS": [
        "django_filters.rest_framework.DjangoFilterBackend",
        "rest_framework.filters.SearchFilter",
        "rest_framework.filters.OrderingFilter",
    ],
    "DEFAULT_RENDERER_CLASSES": [
        "core.api.renderers.JSONRenderer",
        "rest_framework.renderers.BrowsableAPIRenderer",
    ],
    "DEFAULT_PAGINATION_CLASS": "core.api.pagination.PageNumberPagination",
    "PAGE_SIZE": 50,
    "DEFAULT_SCHEMA_CLASS": "core.api.schema.AutoSchema",
    "EXCEPTION_HANDLER": "core.api.exceptions.exception_handler",
    "DEFAULT_METADATA_CLASS": "core.api.metadata.Metadata",
    "DEFAULT_THROTTLE_CLASSES": [
        "core.api.throttling.AnonRateThrottle",
        "core.api.throttling.UserRateThrottle",
    ],
    "DEFAULT_THROTTLE_RATES": {
        "anon": env("THROTTLE_ANON_RATE", default="60/min"),
        "user": env("THROTTLE_USER_RATE", default="1200/min"),
        "login": env("THROTTLE_LOGIN_RATE", default="10/min"),
        "login_username": env("THROTTLE_LOGIN_USERNAME_RATE", default="5/min"),
    },
    "TEST_REQUEST_DEFAULT_FORMAT": "json",
    # JSON only, strict and bounded (core.api.parsers); other content types get 415.
    "DEFAULT_PARSER_CLASSES": ["core.api.parsers.JSONParser"],
}
# The largest request body accepted (bytes); larger ones get 413.
DATA_UPLOAD_MAX_MEMORY_SIZE = env.int("API_MAX_BODY_BYTES", default=2_621_440)
API_MAX_JSON_DEPTH = env.int("API_MAX_JSON_DEPTH", default=64)

# How long a token's user and permissions are reused from the cache (changes drop them at once).
API_AUTH_CACHE_SECONDS = env.int("API_AUTH_CACHE_SECONDS", default=60)
KNOX_TOKEN_MODEL = "knox.AuthToken"  # named so accounts.TokenInfo can point at it
REST_KNOX = {
    "TOKEN_TTL": timedelta(hours=env.int("API_TOKEN_TTL_HOURS", default=24 * 7)),
    "AUTO_REFRESH": False,
    "TOKEN_LIMIT_PER_USER": env.int("API_TOKEN_LIMIT_PER_USER", default=None),
    "USER_SERIALIZER": "accounts.api.serializers.UserSerializer",
}

SPECTACULAR_SETTINGS = {
    "TITLE": "Freight & Fleet Operations API",
    "DESCRIPTION": "Carrier sales, dispatch, service registry and community APIs.",
    "VERSION": "1.0.0",
    "SERVE_INCLUDE_SCHEMA": False,
    "SWAGGER_UI_DIST": "SIDECAR",
    "SWAGGER_UI_FAVICON_HREF": "SIDECAR",
    "REDOC_DIST": "SIDECAR",
    "COMPONENT_SPLIT_REQUEST": True,
    # Group operations by the segment after /api/v1/ (auth, loads, registry, ...).
    "SCHEMA_PATH_PREFIX": r"/api/v[0-9]+",
    # One name per choice set that several fields share.
    "ENUM_NAME_OVERRIDES": {
        "USStateEnum": "carriers.choices.USState",
        "LoadStatusEnum": "carriers.choices.LoadStatus",
        "NegotiationStatusEnum": "carriers.choices.NegotiationStatus",
        "FollowUpReasonEnum": "carriers.choices.FollowUpReason",
        "CommunityPostStatusEnum": "community.choices.PostStatus",
        "CommunityReportStatusEnum": "community.choices.ReportStatus",
        "CommunityUseCaseStatusEnum": "community.choices.UseCaseStatus",
        "OrderStatusEnum": "logistics.choices.OrderStatus",
        "OrderPriorityEnum": "logistics.choices.Priority",
        "PriorityEnum": "registry.choices.Priority",  # keeps its name now that two apps have a priority
        "OrderHandlingEnum": "logistics.choices.Handling",
        "VehicleStatusEnum": "logistics.choices.VehicleStatus",
        "RouteStatusEnum": "logistics.choices.RouteStatus",
        "DecisionStatusEnum": "logistics.choices.DecisionStatus",
        "DecisionTypeEnum": "logistics.choices.DecisionType",
        "DeliveryResultEnum": "logistics.choices.DeliveryResult",
    },
}

# --- Content-Security-Policy ---------------------------------------------------------------
# django-csp's middleware sends this on every response. Scripts come only from our own origin:
# no inline <script>, no on*= attributes, no eval, so markup a user stored cannot run even where
# escaping slipped. Pages pass data to scripts in json_script blocks or data-* attributes.
CONTENT_SECURITY_POLICY = {
    "DIRECTIVES": {
        "default-src": ["'self'"],
        "script-src": ["'self'"],
        # Inline styles stay: ECharts' tooltips, htmx, Swagger UI, ReDoc and DRF's pages write them.
        "style-src": ["'self'", "'unsafe-inline'"],
        "img-src": ["'self'", "data:"],
        "object-src": ["'none'"],
        "base-uri": ["'self'"],
        "frame-ancestors": ["'none'"],
        "form-action": ["'self'"],
    },
}

# --- Sign-in protection (accounts.signin) -------------------------------------------------
# Reverse proxies in front of the app that append the address they were reached from to
# X-Forwarded-For. With N the client is the Nth address from the right; 0 ignores the header (the
# client could write it) and takes the connecting address. Behind one proxy (the usual) set 1, or
# every client shares the proxy's address and its sign-in and request throttles (core.network).
NUM_PROXIES = env.int("NUM_PROXIES", default=0)
REST_FRAMEWORK["NUM_PROXIES"] = NUM_PROXIES
# Sign-in throttles are the REST_FRAMEWORK rates "login" (per address) and "login_username". On top,
# this many failed sign-ins at one username within the window refuse that username, from any
# address, for the lockout (known usernames or not).
SIGN_IN_LOCKOUT_FAILURES = env.int("SIGN_IN_LOCKOUT_FAILURES", default=10)
SIGN_IN_LOCKOUT_WINDOW_SECONDS = env.int("SIGN_IN_LOCKOUT_WINDOW_SECONDS", default=15 * 60)
SIGN_IN_LOCKOUT_SECONDS = env.int("SIGN_IN_LOCKOUT_SECONDS", default=15 * 60)
# DRF's sign-in page for the browsable API (/api-auth/); production leaves it out. Sessions from
# /sign-in/ or /admin/ use the browsable API either way.
API_BROWSABLE_LOGIN = env.bool("API_BROWSABLE_LOGIN", default=True)

# --- Prometheus metrics at /metrics (core.metrics) ----------------------------------------
PROMETHEUS_ENABLED = env.bool("PROMETHEUS_ENABLED", default=True)
# The scraper's bearer token; without one only signed-in staff can read /metrics.
METRICS_TOKEN = env("METRICS_TOKEN", default="")

# --- Logging: one line per event on stdout, with the request id ----------------------
LOG_LEVEL = env("DJANGO_LOG_LEVEL", default="INFO")
LOGGING = {
    "version": 1,
    "disable_existing_loggers": False,
    "filters": {"request_id": {"()": "core.logging.RequestIdFilter"}},
    "formatters": {"json": {"()": "core.logging.JsonFormatter"}},
    "handlers": {
        "stdout": {
            "class": "logging.StreamHandler",
            "stream": "ext://sys.stdout",
            "formatter": "json",
            "filters": ["request_id"],
        },
    },
    "root": {"handlers": ["stdout"], "level": LOG_LEVEL},
    "loggers": {
        # Replace Django's own console/mail handlers so each event is logged once.
        "django": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "django.server": {"handlers": ["stdout"], "level": LOG_LEVEL, "propagate": False},
        "django.db.backends": {"level": "WARNING"},
        # httpx logs every request URL at INFO, and FMCSA's key travels in the query string.
        "httpx": {"level": "WARNING"},
    },
}

# --- Domain defaults (operators may override some at runtime; see core.runtime) ----------
FMCSA_BASE_URL = env("FMCSA_BASE_URL", default="https://mobile.fmcsa.dot.gov/qc/services")
FMCSA_WEB_KEY = env("FMCSA_WEB_KEY", default="")
FMCSA_TIMEOUT_SECONDS = env.float("FMCSA_TIMEOUT_SECONDS", default=5.0)
FMCSA_RETRIES = env.int("FMCSA_RETRIES", default=1)
FMCSA_CACHE_HOURS = env.int("FMCSA_CACHE_HOURS", default=24)
FMCSA_CIRCUIT_FAILURES = env.int("FMCSA_CIRCUIT_FAILURES", default=5)
FMCSA_CIRCUIT_RESET_SECONDS = env.int("FMCSA_CIRCUIT_RESET_SECONDS", default=60)

NEGOTIATION_MAX_ROUNDS = env.int("NEGOTIATION_MAX_ROUNDS", default=3)
NEGOTIATION_ACCEPT_MARGIN_PCT = env.float("NEGOTIATION_ACCEPT_MARGIN_PCT", default=2.0)
NEGOTIATION_CEILING_PCT = env.float("NEGOTIATION_CEILING_PCT", default=10.0)
NEGOTIATION_COUNTER_STEP_PCT = env.float("NEGOTIATION_COUNTER_STEP_PCT", default=50.0)

# Lane rate intelligence: the history a suggested ceiling is drawn from, and whether it is applied.
LANE_RATE_DAYS = env.int("LANE_RATE_DAYS", default=90)
LANE_RATE_MIN_BOOKINGS = env.int("LANE_RATE_MIN_BOOKINGS", default=5)
CEILING_AUTO_SUGGEST = env.bool("CEILING_AUTO_SUGGEST", default=False)

REGISTRY_FAILURES_BEFORE_UNHEALTHY = env.int("REGISTRY_FAILURES_BEFORE_UNHEALTHY", default=3)
REGISTRY_SUCCESSES_BEFORE_HEALTHY = env.int("REGISTRY_SUCCESSES_BEFORE_HEALTHY", default=2)
REGISTRY_STALE_MINUTES = env.int("REGISTRY_STALE_MINUTES", default=10)

RUNTIME_SETTINGS_CACHE_SECONDS = env.int("RUNTIME_SETTINGS_CACHE_SECONDS", default=60)

# --- Outbound requests (core.outbound) -----------------------------------------------------
# Requests to URLs users supply (health checks, webhooks) may reach only public addresses. List CIDRs
# here to open internal ranges on purpose, e.g. OUTBOUND_ALLOWED_NETWORKS=10.20.0.0/16,fd00:1::/64.
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=[])

# --- Email (community reply notifications) -----------------------------------------------
# The console backend prints messages in development; set an SMTP backend and host in production.
EMAIL_BACKEND = env("DJANGO_EMAIL_BACKEND", default="django.core.mail.backends.console.EmailBackend")
EMAIL_HOST = env("DJANGO_EMAIL_HOST", default="localhost")
EMAIL_PORT = env.int("DJANGO_EMAIL_PORT", default=25)
EMAIL_HOST_USER = env("DJANGO_EMAIL_HOST_USER", default="")
EMAIL_HOST_PASSWORD = env("DJANGO_EMAIL_HOST_PASSWORD", default="")
EMAIL_USE_TLS = env.bool("DJANGO_EMAIL_USE_TLS", default=False)
DEFAULT_FROM_EMAIL = env("DJANGO_DEFAULT_FROM_EMAIL", default="community@localhost")


# --- Background jobs (Celery) ----------------------------------------------------------
# Redis in production (CELERY_BROKER_URL=redis://host:6379/0). Without a broker, tasks run in the
# calling process, so development and tests need nothing else running.
CELERY_TASK_ALWAYS_EAGER = not env("CELERY_BROKER_URL", default="")
CELERY_BROKER_URL = env("CELERY_BROKER_URL", default="") or "memory://localhost/"
CELERY_TASK_EAGER_PROPAGATES = True
CELERY_TASK_IGNORE_RESULT = True
CELERY_TASK_ACKS_LATE = True
CELERY_WORKER_PREFETCH_MULTIPLIER = 1
# Jobs whose worker died (OOM kill, lost node, deploy) — docs/logistics.md, "Background jobs":
# * A message taken by a worker that dies before acknowledging it goes back to the queue once it
#   has been out for the visibility timeout; a worker looks for such messages every 10 s. Keep it
#   above the longest job (1.5 × LOGISTICS_MAX_TIME_LIMIT_SECONDS plus a margin): a message out
#   longer is delivered again while its job still runs (harmless — the solve claims its decision
#   atomically — but wasted). A pool process killed alone (OOM) has its message acknowledged by
#   Celery (task_reject_on_worker_lost stays off, so a job that kills workers is not run forever).
# * The sweeper (logistics.fail_stuck_decisions, every minute on beat) fails a decision its worker
#   started and left: still solving 1.5 × its time limit + DECISION_STUCK_GRACE_SECONDS after the
#   claim; or never started, DECISION_QUEUE_TIMEOUT_SECONDS after the request.
CELERY_BROKER_TRANSPORT_OPTIONS = {
    "visibility_timeout": env.int("CELERY_VISIBILITY_TIMEOUT_SECONDS", default=300),
    "unacked_restore_interval": 10,
    "unacked_restore_throttle": 1,
}
DECISION_STUCK_GRACE_SECONDS = env.float("DECISION_STUCK_GRACE_SECONDS", default=120.0)
DECISION_QUEUE_TIMEOUT_SECONDS = env.float("DECISION_QUEUE_TIMEOUT_SECONDS", default=3600.0)
# A decision no worker has claimed this long after its request has its solve sent again by the
# sweeper: accepting a plan request never depends on the broker being up (logistics.services.queue_solve).
DECISION_REQUEUE_SECONDS = env.float("DECISION_REQUEUE_SECONDS", default=60.0)
CELERY_TASK_SERIALIZER = "json"
CELERY_ACCEPT_CONTENT = ["json"]
CELERY_TIMEZONE = TIME_ZONE
# Periodic schedules live in the database and are edited in the admin (Periodic tasks).
CELERY_BEAT_SCHEDULER = "django_celery_beat.schedulers:DatabaseScheduler"

# --- Events and webhooks (events; docs/events.md) ---------------------------------------
# Events older than this are deleted by `manage.py prune_events` (daily on beat), with their deliveries.
EVENTS_RETENTION_DAYS = env.int("EVENTS_RETENTION_DAYS", default=30)
# Redis pub/sub channel that wakes the watchers of every process when events are numbered.
EVENTS_CHANNEL = env.str("EVENTS_CHANNEL", default="freight:events")
# Without Redis, a watcher also looks at the table this often.
EVENTS_POLL_SECONDS = env.float("EVENTS_POLL_SECONDS", default=0.5)
# A comment line this often keeps proxies from closing an idle event stream.
EVENTS_HEARTBEAT_SECONDS = env.float("EVENTS_HEARTBEAT_SECONDS", default=15.0)
# Threads per ASGI process for the feed's and stream's synchronous work (authentication, reads): this bounds the
# database connections the watchers hold, however many they are.
EVENTS_ASGI_THREADS = env.int("EVENTS_ASGI_THREADS", default=4)
# Number committed events in a thread of each process (events.sequencer) rather than in the request that published
# them, which would wait for the numbering's own commit. Off in the tests, which read the numbers right after commit.
EVENTS_SEQUENCER_THREAD = env.bool("EVENTS_SEQUENCER_THREAD", default=True)
# Delays before each retry of a failed webhook delivery (seconds, comma-separated; each gets up to 20% jitter):
# about a day in all by default. After the last, the delivery is failed.
WEBHOOK_RETRY_SECONDS = tuple(
    env.list("WEBHOOK_RETRY_SECONDS", cast=int, default=[5, 30, 120, 600, 1800, 3600, 7200, 14400, 28800, 28800])
)
# An endpoint is disabled, with the reason, after this many deliveries in a row failed for good.
WEBHOOK_DISABLE_AFTER_FAILURES = env.int("WEBHOOK_DISABLE_AFTER_FAILURES", default=5)
WEBHOOK_TIMEOUT_SECONDS = env.float("WEBHOOK_TIMEOUT_SECONDS", default=5.0)

# --- Dispatch planning -----------------------------------------------------------------
LOGISTICS_DEFAULT_TIME_LIMIT_SECONDS = env.float("LOGISTICS_DEFAULT_TIME_LIMIT_SECONDS", default=5.0)
LOGISTICS_MAX_TIME_LIMIT_SECONDS = env.float("LOGISTICS_MAX_TIME_LIMIT_SECONDS", default=120.0)
# Tests set an iteration limit and seed so the same input gives the same plan.
LOGISTICS_SOLVER_MAX_ITERATIONS = env.int("LOGISTICS_SOLVER_MAX_ITERATIONS", default=None)
LOGISTICS_SOLVER_SEED = env.int("LOGISTICS_SOLVER_SEED", default=1)

# Carrier negotiation: the most a counter may be over the posted rate, in %, by round 1, 2, … (the last
# entry holds for later rounds). Counters never depend on the ceiling (carriers/negotiation.py).
NEGOTIATION_CONCESSION_SCHEDULE_PCT = tuple(
    env.list("NEGOTIATION_CONCESSION_SCHEDULE_PCT", cast=float, default=[3.0, 6.0, 9.0])
)
