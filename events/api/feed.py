"""``GET /api/v1/events/``: the feed of events a reader may see, and the watch (``wait=``) on it.

The DRF view (``EventFeedView``) does what every API view does, authentication, permission, throttles, input
validation, the read and the error body, in one synchronous step. The URL serves it through ``as_async_view``: an
async Django view that runs that step with ``sync_to_async`` and, when the page is empty and ``wait`` asks for it,
holds the request on ``events.notify`` (no thread held while it waits) before reading again. Under the ASGI server
a watcher costs a coroutine; under WSGI (``runserver``, the test client) the same view runs in the request's thread.
"""

import asyncio
import bisect
import functools
import math
import threading
from dataclasses import dataclass

from asgiref.sync import markcoroutinefunction, sync_to_async
from django.db import connection
from django.db.models import prefetch_related_objects
from django.http import HttpResponse
from django.views.decorators.csrf import csrf_exempt
from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.response import Response
from rest_framework.views import APIView

from events import notify
from events.models import Event
from events.selectors import FEED_LIMIT, FEED_MAX_LIMIT, events_after, last_sequence
from events.types import TYPES, readable_types

MAX_WAIT_SECONDS = 60
MAX_SEQUENCE = 2**63 - 1


class TypesField(serializers.CharField):
    """Comma-separated event types; each must exist and be readable by the requesting user."""

    def to_internal_value(self, data):
        text = super().to_internal_value(data)
        names = [name.strip() for name in text.split(",") if name.strip()]
        unknown = [name for name in names if name not in TYPES]
        if unknown:
            raise serializers.ValidationError(f"Unknown event types: {', '.join(unknown)}.")
        readable = set(readable_types(self.context["user"]))
        refused = [name for name in names if name not in readable]
        if refused:
            raise serializers.ValidationError(f"You may not read these event types: {', '.join(refused)}.")
        return list(dict.fromkeys(names))


class FeedQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(
        min_value=0, max_value=MAX_SEQUENCE, default=0, help_text="Return events with a sequence above this."
    )
    types = TypesField(
        required=False,
        allow_blank=True,
        max_length=2000,
        help_text="Comma-separated event types; all the types you may read when left out.",
    )
    limit = serializers.IntegerField(min_value=1, max_value=FEED_MAX_LIMIT, default=FEED_LIMIT)
    wait = serializers.IntegerField(
        min_value=0,
        max_value=MAX_WAIT_SECONDS,
        default=0,
        help_text="Seconds to hold the request when nothing is new after `after`: it answers as soon as an event "
        "arrives, or with an empty page and the same cursor when the time is up.",
    )


class EventSerializer(serializers.Serializer):
    sequence = serializers.IntegerField(help_text="Position in the feed; resume with `after=` this.")
    type = serializers.ChoiceField(choices=sorted(TYPES))
    object_type = serializers.CharField(help_text='The changed object\'s model, e.g. "carriers.load".')
    object_id = serializers.CharField()
    occurred_at = serializers.DateTimeField(source="created_at")
    actor = serializers.CharField(source="actor.username", allow_null=True, default=None)
    data = serializers.JSONField(source="payload", help_text="The type's payload (docs/events.md).")


def _event_schema():
    """Each event documented with its type's payload, discriminated by ``type``; a free-form ``data`` object for
    any type ``events.payloads`` does not describe (or all of them, without that module)."""
    try:
        from events.payloads import PAYLOAD_SERIALIZERS
    except ImportError:
        PAYLOAD_SERIALIZERS = {}
    if not PAYLOAD_SERIALIZERS:
        return EventSerializer(many=True)
    variants = {}
    for name in TYPES:
        payload = PAYLOAD_SERIALIZERS.get(name)
        if payload is None:
            variants[name] = EventSerializer
            continue
        title = "".join(part.capitalize() for part in name.replace(".", "_").split("_"))
        variants[name] = type(f"Event{title}", (EventSerializer,), {"data": payload(source="payload")})
    return PolymorphicProxySerializer(
        component_name="Event", serializers=variants, resource_type_field_name="type", many=True
    )


def _feed_schema():
    class EventFeedSerializer(serializers.Serializer):
        events = _event_schema()
        last_sequence = serializers.IntegerField(
            help_text="The cursor to resume from: the last sequence returned, or `after` when none was."
        )

    return EventFeedSerializer


def event_data(event) -> dict:
    """The feed's representation of an event; the recent events' cache keeps it, made once per process."""
    data = getattr(event, "feed_data", None)
    return data if data is not None else EventSerializer(event).data


@dataclass
class Page:
    events: list
    last_sequence: int

    def data(self) -> dict:
        return {"events": [event_data(event) for event in self.events], "last_sequence": self.last_sequence}


def read_page(user, *, after: int, types: list[str] | None, limit: int) -> Page:
    events = events_after(user, after=after, types=types, limit=limit)
    # The selector reads events alone; one more query names their actors (none when no event has one).
    prefetch_related_objects(events, _ACTOR)
    return Page(events, events[-1].sequence if events else after)


_ACTOR = "actor"


@dataclass
class Hold:
    """An empty page a watcher asked to wait on."""

    user: object
    after: int
    types: list[str] | None
    limit: int
    wait: int
    seen: int  # notify.mark() before the empty read: any announcement past it may be ours
    allowed: frozenset  # the types it reads (its role's, narrowed by ``types``)
    unread: bool = False  # the first read is left to the watch (through the cache), not done by the view


class RecentEvents:
    """The events numbered since this process began holding watchers, read once per announcement for all of them.

    Without it, an event wakes every watcher of the process and each reads the table: 500 watchers, 500 queries
    and 500 trips through the thread pool, all at once, and as many again when they ask again. Here the first woken
    watcher reads what is new (one query, all types, their actors joined, each serialized once) and every watcher
    picks its own out of that in memory. The cache holds the ``size`` latest events and is complete above
    ``floor``; a watcher whose cursor is older reads the table."""

    def __init__(self, size: int = 5000):
        self.size = size
        self.lock = threading.Lock()
        self.snapshot: tuple[int | None, list] = (None, [])  # (floor, events above it in sequence order)
        self.mark = -1  # notify.mark() of the last refresh
        self.inflight: dict = {}  # event loop → the refresh it is running

    def start(self) -> None:
        """Begin at the highest sequence now (called, in a thread, when a watcher is first held)."""
        with self.lock:
            if self.snapshot[0] is None:
                self.snapshot = (last_sequence(), [])

    def _refresh(self, mark: int) -> None:
        with self.lock:
            if self.mark >= mark:
                return
            floor, events = self.snapshot
            high = events[-1].sequence if events else floor
            try:
                new = list(Event.objects.filter(sequence__gt=high).select_related(_ACTOR).order_by("sequence"))
                for event in new:
                    event.feed_data = EventSerializer(event).data
                if not new and events and last_sequence() < high:
                    # The numbers started again (a database emptied or restored under a running server).
                    floor, events = last_sequence(), []
            finally:
                connection.close()  # a thread of the loop's pool: give the connection back now
            events = events + new
            if len(events) > self.size:
                floor, events = events[-self.size - 1].sequence, events[-self.size :]
            self.snapshot, self.mark = (floor, events), mark

    async def refresh(self, mark: int) -> None:
        """Bring the cache up to the announcement ``mark``: one query per process however many watchers ask."""
        loop = asyncio.get_running_loop()
        while self.mark < mark:
            task = self.inflight.get(loop)
            if task is None or task.done():
                task = self.inflight[loop] = loop.create_task(
                    sync_to_async(self._refresh, thread_sensitive=False)(mark)
                )
            await asyncio.shield(task)

    def page(self, hold: Hold) -> Page | None:
        """The watcher's page from the cache; None when its cursor is older than the cache."""
        floor, events = self.snapshot
        if floor is None or hold.after < floor:
            return None
        start = bisect.bisect_right([event.sequence for event in events], hold.after)
        mine = [event for event in events[start:] if event.type in hold.allowed][: hold.limit]
        return Page(mine, mine[-1].sequence if mine else hold.after)


recent_events = RecentEvents()


def _parse(request, serializer_class=FeedQuerySerializer) -> dict:
    query = serializer_class(data=request.query_params, context={"user": request.user})
    query.is_valid(raise_exception=True)
    return query.validated_data


def finished(response):
    """A DRF response, rendered, as a plain ``HttpResponse``. Django's async handler renders anything with a
    ``render`` method in a thread of its own, rendered already or not: one more trip per request."""
    if not hasattr(response, "render"):
        return response
    if not response.is_rendered:
        response.render()
    plain = HttpResponse(response.content, status=response.status_code)
    plain.headers, plain.cookies = response.headers, response.cookies
    return plain


class AsyncEntryMixin:
    """``as_async_view()``: the DRF view behind an async Django view, which the URLconf serves. drf-spectacular
    finds the DRF class on it (``cls``, as on ``as_view()``'s function) and documents it as usual.

    The DRF view runs in one trip to a thread, rendering included; only a response the view marks to go on
    (``continues``: a held watch, a stream) comes back unrendered, for ``continue_async`` in the event loop."""

    @classmethod
    def as_async_view(cls, **initkwargs):
        sync_view = cls.as_view(**initkwargs)

        def respond(request, *args, **kwargs):
            response = sync_view(request, *args, **kwargs)
            return response if cls.continues(response) else finished(response)

        async def view(request, *args, **kwargs):
            response = await sync_to_async(respond)(request, *args, **kwargs)
            if cls.continues(response):
                response = finished(await cls.continue_async(request, response))
            return response

        functools.update_wrapper(view, sync_view, assigned=("__name__", "__qualname__", "__doc__", "__module__"))
        view.cls, view.initkwargs = sync_view.cls, sync_view.initkwargs
        markcoroutinefunction(view)
        return csrf_exempt(view)

    @classmethod
    def continues(cls, response) -> bool:
        return False

    @classmethod
    async def continue_async(cls, request, response):
        return response


class EventFeedView(AsyncEntryMixin, APIView):
    """The events you may read (each role its types, `events.types`), oldest first, after the cursor `after`.
    Resume with `after=<last_sequence>`: no event is skipped or repeated. With `wait`, a request that finds
    nothing new is held until an event arrives (within a second of its commit) or the wait ends."""

    permission_classes = [IsAuthenticated]

    @extend_schema(
        operation_id="events_feed",
        tags=["events"],
        summary="The events you may read, in sequence order; with `wait`, a long poll for the next ones",
        parameters=[FeedQuerySerializer],
        responses={200: _feed_schema()},
    )
    def get(self, request):
        params = _parse(request)
        user, after = request.user, params["after"]
        seen = notify.mark()
        types = params.get("types") or None
        if not params["wait"]:
            return Response(read_page(user, after=after, types=types, limit=params["limit"]).data())
        allowed = frozenset(name for name in readable_types(user) if types is None or name in types)
        recent_events.start()
        if notify.poll_seconds() == math.inf:
            # Every announcement is heard: the watch reads through the cache of recent events, one query per
            # process for all watchers. A long poll just answered asks again at once; 500 of them cost no query.
            response = Response(Page([], after).data())
            response.hold = Hold(user, after, types, params["limit"], params["wait"], seen, allowed, unread=True)
            return response
        page = read_page(user, after=after, types=types, limit=params["limit"])
        response = Response(page.data())
        if not page.events:
            response.hold = Hold(user, after, types, params["limit"], params["wait"], seen, allowed)
        return response

    @classmethod
    def continues(cls, response) -> bool:
        return getattr(response, "hold", None) is not None

    @classmethod
    async def continue_async(cls, request, response):
        page = await watch(response.hold)
        if page is not None:
            response.data = page.data()  # the events' actors came with them: no query
        if response.accepted_renderer.format == "json":
            response.render()  # plain JSON, no database: rendered here rather than in a thread
        else:
            await sync_to_async(response.render)()  # the browsable API builds its page with the database
        return response


async def watch(hold: Hold) -> Page | None:
    """Wait for the first page of events after ``hold.after`` until ``hold.wait`` seconds pass; None if none came."""
    loop = asyncio.get_running_loop()
    deadline = loop.time() + hold.wait
    seen = hold.seen
    if hold.unread and (page := await _read(hold, seen)).events:
        return page
    while (remaining := deadline - loop.time()) > 0:
        await notify.wait_async(seen, remaining)
        seen = notify.mark()
        if (page := await _read(hold, seen)).events:
            return page
    return None


async def _read(hold: Hold, seen: int) -> Page:
    """The watcher's page as of the announcement ``seen``: from the cache, or from the table for an old cursor."""
    await recent_events.refresh(seen)
    page = recent_events.page(hold)
    if page is None:
        page = await sync_to_async(read_page)(hold.user, after=hold.after, types=hold.types, limit=hold.limit)
    return page
