"""Developer machines: DEBUG on, a throwaway secret, SQLite unless DATABASE_URL is set."""

from .base import *  # noqa: F403
from .base import env

DEBUG = env.bool("DJANGO_DEBUG", default=True)
SECRET_KEY = env(
    "DJANGO_SECRET_KEY",
    default="local-development-only-5b1c2f0e9c2d4d7a8e3f6a1b4c7d0e2f9a8b7c6d5e4f3a2b",
)
# runserver serves static files itself; WhiteNoise looks them up on each request.
WHITENOISE_AUTOREFRESH = DEBUG
WHITENOISE_USE_FINDERS = DEBUG
# The demo's registry services answer on this machine; a developer's probes may reach it.
OUTBOUND_ALLOWED_NETWORKS = env.list("OUTBOUND_ALLOWED_NETWORKS", default=["127.0.0.0/8", "::1/128"])

# The demo's desk history (manage.py seed_desk_history, run by `make run`); not installed in production.
INSTALLED_APPS = [*INSTALLED_APPS, "demo"]  # noqa: F405
