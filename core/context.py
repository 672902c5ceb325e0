"""Who is acting and under which request id, for code far from the view.

The request is kept in a context variable by ``RequestContextMiddleware``. DRF sets
``request.user`` on the underlying Django request once a token authenticates, so the
current user is right for token clients, session users and the admin alike.
"""

from contextlib import contextmanager
from contextvars import ContextVar
from types import SimpleNamespace

current_request: ContextVar = ContextVar("current_request", default=None)
current_request_id: ContextVar = ContextVar("current_request_id", default=None)


def get_current_user():
    request = current_request.get()
    user = getattr(request, "user", None) if request is not None else None
    if user is not None and user.is_authenticated:
        return user
    return None


@contextmanager
def acting_as(user):
    """Writes made inside are by ``user`` (``created_by``, ``done_by``, history), as if ``user``
    had made them through a request: for management commands and jobs acting for someone."""
    token = current_request.set(SimpleNamespace(user=user))
    try:
        yield
    finally:
        current_request.reset(token)
