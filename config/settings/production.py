"""Production: every secret from the environment with no default, HTTPS-only."""

from django.core.exceptions import ImproperlyConfigured

from .base import *  # noqa: F403
from .base import DB_REPLICA_ROUTER, add_replicas, configure_database, env, with_reusing_redis_client

DEBUG = False
SECRET_KEY = env("DJANGO_SECRET_KEY")
if not SECRET_KEY:
    raise ImproperlyConfigured("DJANGO_SECRET_KEY is empty: production needs a long random secret.")
ALLOWED_HOSTS = env.list("DJANGO_ALLOWED_HOSTS")

# Production never falls back to the embedded SQLite file.
DATABASES = {"default": configure_database(env.db("DATABASE_URL"))}
# Read replicas (DATABASE_REPLICA_URLS), added again to the DATABASES that replaces base.py's.
DB_REPLICA_ALIASES = add_replicas(DATABASES)
DATABASE_ROUTERS = [DB_REPLICA_ROUTER] if DB_REPLICA_ALIASES else []

# Several workers (and machines) share throttles, the FMCSA circuit breaker and runtime
# settings through this cache, so production refuses to start without a shared one.
CACHES = {"default": with_reusing_redis_client(env.cache("CACHE_URL"))}
if "redis" not in CACHES["default"]["BACKEND"].lower():
    raise ImproperlyConfigured("CACHE_URL must point at Redis (redis:// or rediss://): workers share state through it.")

# Jobs go to Celery workers: a planning solve (up to LOGISTICS_MAX_TIME_LIMIT_SECONDS) must never
# run inside a web request, so production refuses to start without a broker.
CELERY_BROKER_URL = env("CELERY_BROKER_URL")
CELERY_TASK_ALWAYS_EAGER = False
if CELERY_BROKER_URL.startswith("memory://"):
    raise ImproperlyConfigured("CELERY_BROKER_URL must point at a shared broker (redis:// or amqp://).")

# Behind a TLS-terminating proxy that sets X-Forwarded-Proto.
SECURE_PROXY_SSL_HEADER = ("HTTP_X_FORWARDED_PROTO", "https")
SECURE_SSL_REDIRECT = env.bool("DJANGO_SECURE_SSL_REDIRECT", default=True)
SECURE_REDIRECT_EXEMPT = [r"^health/"]
SESSION_COOKIE_SECURE = True
CSRF_COOKIE_SECURE = True
SESSION_COOKIE_HTTPONLY = True
SECURE_HSTS_SECONDS = env.int("DJANGO_SECURE_HSTS_SECONDS", default=60 * 60 * 24 * 365)
SECURE_HSTS_INCLUDE_SUBDOMAINS = env.bool("DJANGO_SECURE_HSTS_INCLUDE_SUBDOMAINS", default=True)
SECURE_HSTS_PRELOAD = env.bool("DJANGO_SECURE_HSTS_PRELOAD", default=True)
SECURE_CONTENT_TYPE_NOSNIFF = True
SECURE_REFERRER_POLICY = "same-origin"
X_FRAME_OPTIONS = "DENY"

# DRF's sign-in page (/api-auth/) is one more password form to guard; production leaves it out.
API_BROWSABLE_LOGIN = env.bool("API_BROWSABLE_LOGIN", default=False)
