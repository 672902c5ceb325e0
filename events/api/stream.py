"""``GET /api/v1/events/stream/``: the feed as Server-Sent Events (``text/event-stream``).

Each event is ``id: <sequence>``, ``event: <type>``, ``data: <the feed's JSON for it>``; a comment line every
``EVENTS_HEARTBEAT_SECONDS`` (15) keeps proxies from closing an idle stream. A client resumes from the
``Last-Event-ID`` header its EventSource sends on reconnecting (or ``?after=``); with neither it hears only what comes
next. Authentication, permission, throttles and validation are the feed's (``EventFeedView``), done once before the
stream starts; the stream then reads with the user it authenticated.

Under the ASGI server the stream is an async generator woken by ``events.notify`` (no thread held between events)
and it ends when the client goes away (Django cancels it on ``http.disconnect``). Under WSGI (``runserver``) it is a
plain generator in the request's thread, ending at the first write after the client left."""

import asyncio
import json
import math
import time

from asgiref.sync import sync_to_async
from django.conf import settings
from django.core.handlers.asgi import ASGIRequest
from django.core.serializers.json import DjangoJSONEncoder
from django.db import connection
from django.http import StreamingHttpResponse
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.permissions import IsAuthenticated
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.views import APIView

from events import notify
from events.selectors import FEED_MAX_LIMIT, last_sequence
from events.types import readable_types

from . import feed
from .feed import MAX_SEQUENCE, AsyncEntryMixin, Hold, TypesField, _parse, event_data, read_page

RETRY_MILLISECONDS = 3000
RETRY = f"retry: {RETRY_MILLISECONDS}\n\n".encode()  # how long an EventSource waits to reconnect


def heartbeat_seconds() -> float:
    return settings.EVENTS_HEARTBEAT_SECONDS


class StreamQuerySerializer(serializers.Serializer):
    after = serializers.IntegerField(min_value=0, max_value=MAX_SEQUENCE, required=False)
    types = TypesField(required=False, allow_blank=True, max_length=2000)


class LastEventIdSerializer(serializers.Serializer):
    last_event_id = serializers.IntegerField(min_value=0, max_value=MAX_SEQUENCE, label="Last-Event-ID")


class EventStreamRenderer(BaseRenderer):
    """Lets content negotiation accept what an EventSource asks for (``Accept: text/event-stream``). The events
    themselves are written by the streaming response; this renders only a refusal (400, 401, 429) as JSON text."""

    media_type = "text/event-stream"
    format = "event-stream"
    charset = "utf-8"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return b"" if data is None else json.dumps(data, cls=DjangoJSONEncoder).encode()


class EventStreamView(AsyncEntryMixin, APIView):
    permission_classes = [IsAuthenticated]
    renderer_classes = [JSONRenderer, EventStreamRenderer]

    @extend_schema(exclude=True)  # An endless text/event-stream: docs/events.md describes it.
    def get(self, request):
        params = _parse(request, StreamQuerySerializer)
        after = params.get("after")
        header = request.headers.get("Last-Event-ID")
        if header is not None and header.strip():
            resumed = LastEventIdSerializer(data={"last_event_id": header.strip()})
            resumed.is_valid(raise_exception=True)
            after = resumed.validated_data["last_event_id"]
        if after is None:
            after = last_sequence()
        types = params.get("types") or None
        allowed = frozenset(name for name in readable_types(request.user) if types is None or name in types)
        feed.recent_events.start()
        response = Response(status=200)
        response.stream = (request.user, after, types, allowed)
        return response

    @classmethod
    def continues(cls, response) -> bool:
        return getattr(response, "stream", None) is not None

    @classmethod
    async def continue_async(cls, request, response):
        stream = response.stream
        events = async_events(*stream) if isinstance(request, ASGIRequest) else sync_events(*stream[:3])
        streaming = StreamingHttpResponse(events, content_type="text/event-stream; charset=utf-8")
        streaming["Cache-Control"] = "no-cache"
        streaming["X-Accel-Buffering"] = "no"  # nginx: pass each event on as it comes
        return streaming


def _frame(event) -> bytes:
    data = json.dumps(event_data(event), cls=DjangoJSONEncoder, separators=(",", ":"))
    return f"id: {event.sequence}\nevent: {event.type}\ndata: {data}\n\n".encode()


def _frames(user, after, types) -> tuple[bytes, int]:
    page = read_page(user, after=after, types=types, limit=FEED_MAX_LIMIT)
    return b"".join(_frame(event) for event in page.events), page.last_sequence


async def async_events(user, after, types, allowed):
    loop = asyncio.get_running_loop()
    beat = loop.time() + heartbeat_seconds()
    opening = RETRY
    woken = False
    while True:
        seen = notify.mark()  # before the read: anything announced after it wakes the wait below
        page = None
        if woken:  # what is new was read once for every stream of the process (RecentEvents)
            await feed.recent_events.refresh(seen)
            page = feed.recent_events.page(Hold(user, after, types, FEED_MAX_LIMIT, 0, seen, allowed))
        if page is None:
            chunk, after = await sync_to_async(_frames)(user, after, types)
        else:
            chunk, after = b"".join(_frame(event) for event in page.events), page.last_sequence
        if opening or chunk:
            yield opening + chunk  # the first frame comes after the first read: from then on nothing is missed
            opening = b""
            beat = loop.time() + heartbeat_seconds()
            if chunk:
                continue  # a full page may have more behind it
        while True:
            remaining = beat - loop.time()
            if remaining <= 0:
                yield b": keep-alive\n\n"
                beat = loop.time() + heartbeat_seconds()
            elif await notify.wait_async(seen, remaining):
                woken = True
                break
            elif notify.poll_seconds() != math.inf:
                woken = False
                break  # a poll tick: read the table


def _release_connection() -> None:
    # A stream's thread then waits for as long as its client stays: it holds no database connection meanwhile
    # (the test client's stream runs inside the test's transaction, which keeps its connection).
    if not connection.in_atomic_block:
        connection.close()


def sync_events(user, after, types):
    beat = time.monotonic() + heartbeat_seconds()
    opening = RETRY
    while True:
        seen = notify.mark()
        try:
            chunk, after = _frames(user, after, types)
        finally:
            _release_connection()
        if opening or chunk:
            yield opening + chunk
            opening = b""
            beat = time.monotonic() + heartbeat_seconds()
            if chunk:
                continue
        while True:
            remaining = beat - time.monotonic()
            if remaining <= 0:
                yield b": keep-alive\n\n"
                beat = time.monotonic() + heartbeat_seconds()
            elif notify.wait_for(seen, remaining) or notify.poll_seconds() != math.inf:
                break
