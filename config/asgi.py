"""The ASGI application: ``gunicorn -k uvicorn_worker.UvicornWorker config.asgi`` (docker/entrypoint.sh ``events``).

Production serves the API through the WSGI server (gunicorn, ``config.wsgi``) and sends ``/api/v1/events/`` (the
feed, its watch and the stream, which hold requests open) here. This application answers every path, though:

* ``/api/v1/events/…`` goes through ``EventsHandler``, Django's ASGI handler with a middleware stack that is async
  from end to end (``EVENTS_MIDDLEWARE``), so a waiting watcher is a coroutine, not a thread. The project's own
  middleware is synchronous; Django would run each request through it in a thread of its own, held for as long as
  the watch lasts. Its work for these paths is done here instead: the request id (``RequestIdMiddleware``);
  sign-in throttling and NUL checks are not needed by read-only views that validate every parameter.
* Django's own middleware in that stack (security headers, session, common, authentication) does no I/O on these
  read-only requests: building a lazy session and a lazy user, and headers. Django would still hand each of their
  steps to a thread (``MiddlewareMixin.__acall__``), seven trips per request; ``Inline`` runs them in the event loop
  (a session that must be saved still goes to a thread). With the view's one trip (``events.api.feed``) a request
  costs three: Django's ``request_started``, the view, and ``request_finished`` (tests/events/test_feed.py counts
  them). 500 long polls woken by one event ask again at once: that is 500 requests in a burst.
* Synchronous work of those requests (authentication, the database reads) runs on ``EVENTS_ASGI_THREADS`` threads
  per process, shared by all its requests (each request stays on one of them, so Django's per-thread connections
  stay per-thread): the number of database connections a process uses is bounded, whatever the watchers.
* Any other path goes to Django's ordinary ASGI handler (the project's whole middleware, a thread per request),
  for a deployment that sends everything here.

``lifespan`` start-up subscribes the process to the events channel (``events.notify``) and warms it up.
"""

import asyncio
import itertools
import logging
import os
import re
import uuid
from concurrent.futures import ThreadPoolExecutor

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.production")

import django

django.setup(set_prefix=False)

from asgiref.sync import ThreadSensitiveContext, iscoroutinefunction, markcoroutinefunction, sync_to_async  # noqa: E402
from django.conf import settings  # noqa: E402
from django.contrib.auth.middleware import AuthenticationMiddleware  # noqa: E402
from django.contrib.sessions.middleware import SessionMiddleware  # noqa: E402
from django.core.asgi import get_asgi_application  # noqa: E402
from django.core.exceptions import ImproperlyConfigured  # noqa: E402
from django.core.handlers.asgi import ASGIHandler  # noqa: E402
from django.core.handlers.exception import convert_exception_to_response  # noqa: E402
from django.middleware.common import CommonMiddleware  # noqa: E402
from django.middleware.security import SecurityMiddleware  # noqa: E402
from django.utils.module_loading import import_string  # noqa: E402

from core.context import current_request, current_request_id  # noqa: E402

logger = logging.getLogger(__name__)

EVENTS_PATH = "/api/v1/events/"
REQUEST_ID_HEADER = "X-Request-ID"
_VALID_REQUEST_ID = re.compile(r"^[A-Za-z0-9._-]{1,64}$")


class RequestIdMiddleware:
    """``core.middleware.RequestContextMiddleware``'s request id and context, async."""

    sync_capable = False
    async_capable = True

    def __init__(self, get_response):
        self.get_response = get_response
        markcoroutinefunction(self)

    async def __call__(self, request):
        incoming = request.headers.get(REQUEST_ID_HEADER, "")
        request.request_id = incoming if _VALID_REQUEST_ID.match(incoming) else uuid.uuid4().hex
        request_token = current_request.set(request)
        id_token = current_request_id.set(request.request_id)
        try:
            response = await self.get_response(request)
        finally:
            current_request.reset(request_token)
            current_request_id.reset(id_token)
        response[REQUEST_ID_HEADER] = request.request_id
        return response


class Inline:
    """A Django ``MiddlewareMixin`` middleware run in the event loop: ``process_request`` and ``process_response``
    are called directly instead of in a thread each. Only for middleware whose steps do no I/O on the events
    paths; one that tried the database here would raise ``SynchronousOnlyOperation``, not block the loop."""

    sync_capable = False
    async_capable = True

    async def __acall__(self, request):
        response = self.process_request(request) if hasattr(self, "process_request") else None
        response = response or await self.get_response(request)
        if hasattr(self, "process_response"):
            response = await self.respond(request, response)
        return response

    async def respond(self, request, response):
        return self.process_response(request, response)


class InlineSecurityMiddleware(Inline, SecurityMiddleware):
    """The HTTPS redirect and the security headers, as everywhere."""


class InlineSessionMiddleware(Inline, SessionMiddleware):
    """A lazy session for session authentication (the dashboard's EventSource); it is read, if at all, by the view
    in its thread. Saving one (changed, or ``SESSION_SAVE_EVERY_REQUEST``) is I/O: that goes to a thread."""

    async def respond(self, request, response):
        session = getattr(request, "session", None)
        if session is not None and (session.modified or settings.SESSION_SAVE_EVERY_REQUEST):
            return await sync_to_async(self.process_response, thread_sensitive=True)(request, response)
        return self.process_response(request, response)


class InlineCommonMiddleware(Inline, CommonMiddleware):
    pass


class InlineAuthenticationMiddleware(Inline, AuthenticationMiddleware):
    """``request.user``, lazily: the session's user is loaded by the view in its thread."""


EVENTS_MIDDLEWARE = [
    "config.asgi.RequestIdMiddleware",
    "config.asgi.InlineSecurityMiddleware",
    "config.asgi.InlineSessionMiddleware",
    "config.asgi.InlineCommonMiddleware",
    "config.asgi.InlineAuthenticationMiddleware",
]


class EventsHandler(ASGIHandler):
    """Django's ASGI handler with ``EVENTS_MIDDLEWARE``, every one async-capable, and a fixed set of threads."""

    def __init__(self, middleware=EVENTS_MIDDLEWARE, threads: int | None = None):
        self.middleware = list(middleware)
        count = threads or settings.EVENTS_ASGI_THREADS
        self.executors = [ThreadPoolExecutor(max_workers=1, thread_name_prefix="events-sync") for _ in range(count)]
        self._next = itertools.cycle(self.executors)
        super().__init__()

    def load_middleware(self, is_async=False):
        # BaseHandler.load_middleware, for an all-async stack of our own list (it reads settings.MIDDLEWARE).
        # tests/events/test_feed.py holds this to the private attributes it fills.
        if not is_async:
            raise ImproperlyConfigured("EventsHandler serves ASGI only.")
        self._view_middleware = []
        self._template_response_middleware = []
        self._exception_middleware = []
        handler = convert_exception_to_response(self._get_response_async)
        for path in reversed(self.middleware):
            middleware = import_string(path)
            if not getattr(middleware, "async_capable", False):
                raise ImproperlyConfigured(f"{path} is not async-capable: it would hold a thread per watcher.")
            instance = middleware(handler)
            if not iscoroutinefunction(instance):
                raise ImproperlyConfigured(f"{path} did not switch to async mode.")
            if hasattr(instance, "process_view"):
                self._view_middleware.insert(0, self.adapt_method_mode(True, instance.process_view))
            if hasattr(instance, "process_template_response"):
                self._template_response_middleware.append(
                    self.adapt_method_mode(True, instance.process_template_response)
                )
            if hasattr(instance, "process_exception"):
                self._exception_middleware.append(self.adapt_method_mode(False, instance.process_exception))
            handler = convert_exception_to_response(instance)
        self._middleware_chain = handler

    async def __call__(self, scope, receive, send):
        # Every thread-sensitive call of this request (signals, sessions, authentication, reads) runs on one of
        # the shared threads; Django's own ThreadSensitiveContext inside then keeps it.
        async with ThreadSensitiveContext(executor=next(self._next)):
            await super().__call__(scope, receive, send)


class Application:
    """Routes ``/api/v1/events/`` to ``EventsHandler``, the rest to Django's ASGI handler; answers lifespan."""

    def __init__(self):
        self.events = EventsHandler()
        self.django = get_asgi_application()

    async def __call__(self, scope, receive, send):
        if scope["type"] == "lifespan":
            return await self.lifespan(receive, send)
        if scope["type"] == "http" and scope["path"].startswith(EVENTS_PATH):
            return await self.events(scope, receive, send)
        return await self.django(scope, receive, send)

    async def lifespan(self, receive, send):
        from events import notify

        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                notify.start_listener()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await asyncio.to_thread(notify.stop_listener)
                await send({"type": "lifespan.shutdown.complete"})
                return


application = Application()
