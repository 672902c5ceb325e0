"""The feed (``GET /api/v1/events/``), its watch (``wait=``) and the Server-Sent Events stream."""

import asyncio
import json
import threading

import pytest
from asgiref.sync import async_to_sync
from django.db import transaction
from knox.models import AuthToken
from rest_framework.test import APIClient

from accounts import roles
from core.models import RuntimeSetting
from events import notify, services
from tests.factories import UserFactory

TIMEOUT = 10  # seconds any bounded wait of these tests may take before it fails


def publish(event_type="load.posted", *, actor=None, **payload):
    """Commit one change with its event (numbered after commit, as the services do)."""
    with transaction.atomic():
        thing, _ = RuntimeSetting.objects.get_or_create(key="events.feed", defaults={"value": 1})
        event = services.publish(event_type, obj=thing, payload=payload, actor=actor)
    event.refresh_from_db()
    return event


def client_for(role):
    user = UserFactory(roles=[role] if role else [])
    _, token = AuthToken.objects.create(user=user)
    client = APIClient()
    client.credentials(HTTP_AUTHORIZATION=f"Token {token}")
    client.user = user
    return client


@pytest.fixture(autouse=True)
def fresh_cache(monkeypatch):
    """Each test's sequences start at 1: a process's cache of recent events starts with it."""
    from events.api import feed

    monkeypatch.setattr(feed, "recent_events", feed.RecentEvents())


@pytest.fixture
def manager(db):
    return client_for(roles.MANAGER)


def sequences(body):
    return [event["sequence"] for event in body["events"]]


# --- the feed ----------------------------------------------------------------------------------------------------


@pytest.mark.django_db(transaction=True)
def test_the_feed_lists_events_in_sequence_order_with_their_fields(manager):
    first = publish(actor=manager.user, load_id="L-1")
    second = publish("call.logged", call_id="c-1")

    response = manager.get("/api/v1/events/")

    assert response.status_code == 200, response.content
    body = response.json()
    assert sequences(body) == [first.sequence, second.sequence]
    assert body["last_sequence"] == second.sequence
    assert body["events"][0] == {
        "sequence": first.sequence,
        "type": "load.posted",
        "object_type": "core.runtimesetting",
        "object_id": first.object_id,
        "occurred_at": body["events"][0]["occurred_at"],
        "actor": manager.user.username,
        "data": {"load_id": "L-1"},
    }
    assert body["events"][1]["actor"] is None


@pytest.mark.django_db(transaction=True)
def test_pages_follow_the_cursor_with_no_gap_and_no_repeat(manager):
    published = [publish(n=n).sequence for n in range(7)]
    seen, cursor = [], 0
    for _ in range(10):
        body = manager.get("/api/v1/events/", {"after": cursor, "limit": 3}).json()
        if not body["events"]:
            assert body["last_sequence"] == cursor  # an empty page keeps the cursor
            break
        seen += sequences(body)
        cursor = body["last_sequence"]
    assert seen == published


@pytest.mark.django_db(transaction=True)
def test_each_role_reads_only_its_types(make_client):
    load = publish("load.posted")
    reply = publish("community.reply.created")
    route = publish("route.started")

    def read(role):
        return sequences(make_client(role).get("/api/v1/events/").json())

    assert read(roles.MANAGER) == [load.sequence, reply.sequence, route.sequence]
    assert read(roles.MEMBER) == [reply.sequence]
    assert read(roles.DISPATCHER) == [load.sequence, reply.sequence, route.sequence]
    assert read(roles.REGISTRY_OPERATOR) == [reply.sequence]


@pytest.mark.django_db(transaction=True)
def test_types_narrows_the_feed(manager):
    publish("load.posted")
    call = publish("call.logged")
    booked = publish("load.booked")
    body = manager.get("/api/v1/events/", {"types": "call.logged, load.booked"}).json()
    assert sequences(body) == [call.sequence, booked.sequence]


def test_asking_for_a_type_you_may_not_read_is_a_400(db):
    member = client_for(roles.MEMBER)
    response = member.get("/api/v1/events/", {"types": "community.reply.created,load.posted"})
    assert response.status_code == 400
    assert response.json()["fields"]["types"] == ["You may not read these event types: load.posted."]


@pytest.mark.parametrize(
    ("params", "field"),
    [
        ({"after": "x"}, "after"),
        ({"after": -1}, "after"),
        ({"after": 2**63}, "after"),
        ({"limit": 0}, "limit"),
        ({"limit": 501}, "limit"),
        ({"types": "load.exploded"}, "types"),
        ({"wait": 61}, "wait"),
        ({"wait": "soon"}, "wait"),
    ],
)
def test_bad_parameters_are_400_with_field_messages(manager, params, field):
    response = manager.get("/api/v1/events/", params)
    assert response.status_code == 400, response.content
    body = response.json()
    assert list(body["fields"]) == [field]


def test_anonymous_is_401(db):
    assert APIClient().get("/api/v1/events/").status_code == 401
    assert APIClient().get("/api/v1/events/stream/").status_code == 401


def test_session_authentication_reads_the_feed(db):
    user = UserFactory(roles=[roles.MANAGER])
    client = APIClient()
    client.force_login(user)
    assert client.get("/api/v1/events/").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_the_feed_costs_the_same_queries_whatever_its_length(manager, django_assert_num_queries):
    for n in range(3):
        publish(actor=manager.user, n=n)
    manager.get("/api/v1/events/")
    with django_assert_num_queries(6):  # token and permissions (4), the page, its actors
        assert len(manager.get("/api/v1/events/").json()["events"]) == 3
    for n in range(20):
        publish(actor=manager.user, n=n)
    with django_assert_num_queries(6):
        assert len(manager.get("/api/v1/events/").json()["events"]) == 23


# --- the watch ---------------------------------------------------------------------------------------------------


class Watcher(threading.Thread):
    """One ``GET /api/v1/events/?wait=`` in a thread of its own; ``answer`` once it returns."""

    def __init__(self, client, **params):
        super().__init__(daemon=True)
        self.client, self.params, self.answer = client, params, None

    def run(self):
        self.answer = self.client.get("/api/v1/events/", self.params)


def wait_until_waiting(count: int, before: int = 0):
    """The watchers are parked on their wake-up."""
    assert notify.wait_for_waiters(before + count, TIMEOUT), "the watcher never started waiting"


def _parked() -> int:
    return notify.waiting()


@pytest.fixture(params=["in-process", "redis"])
def announcements(request, settings):
    """How watchers hear of new events: this process's own announcements (no Redis: they also poll the table), or
    Redis pub/sub, where every announcement is heard and watchers read through the cache of recent events."""
    if request.param == "redis":
        import uuid

        import redis

        location = "redis://127.0.0.1:6379/9"
        try:
            redis.Redis.from_url(location).ping()
        except redis.exceptions.ConnectionError:
            pytest.skip("Redis is not running on 127.0.0.1:6379")
        settings.CACHES = {"default": {"BACKEND": "core.fastpaths.cache.RedisCache", "LOCATION": location}}
        settings.EVENTS_CHANNEL = f"test-events-{uuid.uuid4().hex}"
        assert notify.start_listener() and notify.listener_ready(TIMEOUT)
        assert notify.poll_seconds() == float("inf")
        yield request.param
        notify.stop_listener()
    else:
        yield request.param


@pytest.mark.django_db(transaction=True)
def test_a_watch_answers_at_once_when_something_is_new(manager, announcements):
    event = publish()
    response = manager.get("/api/v1/events/", {"after": 0, "wait": 60})
    assert sequences(response.json()) == [event.sequence]


@pytest.mark.django_db(transaction=True)
def test_a_watch_from_a_cursor_older_than_the_cache_reads_the_table(manager, announcements):
    first, second = publish(n=1), publish(n=2)
    manager.get("/api/v1/events/", {"after": second.sequence, "wait": 0})
    from events.api import feed

    feed.recent_events.start()  # the process's cache begins above both events
    response = manager.get("/api/v1/events/", {"after": 0, "wait": 60})
    assert sequences(response.json()) == [first.sequence, second.sequence]


@pytest.mark.django_db(transaction=True)
def test_a_watch_is_woken_by_a_commit_and_resumes_with_no_gap_and_no_repeat(manager, settings, announcements):
    settings.EVENTS_POLL_SECONDS = 60  # only the wake-up can answer it in time
    first = publish()
    watcher = Watcher(manager, after=first.sequence, wait=60)
    parked = _parked()
    watcher.start()
    wait_until_waiting(1, parked)

    second = publish(n=2)
    watcher.join(TIMEOUT)  # far below its 60 s wait and its 60 s poll: only the wake-up answers in time

    assert not watcher.is_alive(), "the watcher was not woken"
    body = watcher.answer.json()
    assert sequences(body) == [second.sequence]
    assert body["last_sequence"] == second.sequence
    third = publish(n=3)
    assert sequences(manager.get("/api/v1/events/", {"after": body["last_sequence"], "wait": 60}).json()) == [
        third.sequence
    ]


@pytest.mark.django_db(transaction=True)
def test_a_watch_ignores_events_it_may_not_read_and_answers_empty_with_its_cursor(db, settings, announcements):
    settings.EVENTS_POLL_SECONDS = 0.05
    member = client_for(roles.MEMBER)
    reply = publish("community.reply.created")
    watcher = Watcher(member, after=reply.sequence, wait=1)
    parked = _parked()
    watcher.start()
    wait_until_waiting(1, parked)
    publish("load.posted")  # wakes it, but is not the member's to read

    watcher.join(TIMEOUT)
    assert not watcher.is_alive()
    assert watcher.answer.json() == {"events": [], "last_sequence": reply.sequence}


def test_wait_zero_answers_an_empty_page_at_once(manager):
    assert manager.get("/api/v1/events/", {"after": 5}).json() == {"events": [], "last_sequence": 5}


def test_an_async_waiter_is_woken_from_another_thread():
    async def wait():
        return await notify.wait_async(notify.mark(), TIMEOUT)

    before = notify.waiting()
    result = {}
    thread = threading.Thread(target=lambda: result.setdefault("woken", async_to_sync(wait)()), daemon=True)
    thread.start()
    wait_until_waiting(1, before)
    notify._wake(None)
    thread.join(TIMEOUT)
    assert result == {"woken": True}


# --- the stream --------------------------------------------------------------------------------------------------


def read_frames(response, count):
    """The first ``count`` events of an event stream (comments and ``retry:`` skipped)."""
    frames, buffer = [], b""
    for chunk in response.streaming_content:
        buffer += chunk
        while b"\n\n" in buffer:
            block, buffer = buffer.split(b"\n\n", 1)
            fields = dict(line.split(": ", 1) for line in block.decode().splitlines() if not line.startswith(":"))
            if "id" in fields:
                frames.append(fields)
                if len(frames) == count:
                    response.close()
                    return frames
    return frames


@pytest.mark.django_db(transaction=True)
def test_the_stream_resumes_after_last_event_id(manager):
    events = [publish(n=n) for n in range(4)]
    # As a browser's EventSource asks: it says what it accepts.
    response = manager.get(
        "/api/v1/events/stream/", HTTP_LAST_EVENT_ID=str(events[1].sequence), HTTP_ACCEPT="text/event-stream"
    )
    assert response.status_code == 200
    assert response["Content-Type"].startswith("text/event-stream")

    frames = read_frames(response, 2)

    assert [int(frame["id"]) for frame in frames] == [events[2].sequence, events[3].sequence]
    assert frames[0]["event"] == "load.posted"
    assert json.loads(frames[0]["data"])["data"] == {"n": 2}


@pytest.mark.django_db(transaction=True)
def test_the_stream_sends_what_is_committed_while_it_is_open(manager, settings):
    settings.EVENTS_POLL_SECONDS = 60
    first = publish()
    response = manager.get("/api/v1/events/stream/", {"after": first.sequence})
    got = {}

    def read():
        got["frames"] = read_frames(response, 1)

    reader = threading.Thread(target=read, daemon=True)
    parked = _parked()
    reader.start()
    wait_until_waiting(1, parked)
    second = publish(n=2)
    reader.join(TIMEOUT)
    assert not reader.is_alive()
    assert [int(frame["id"]) for frame in got["frames"]] == [second.sequence]


@pytest.mark.django_db(transaction=True)
def test_a_stream_thread_holds_no_database_connection_while_it_waits(manager):
    # Under runserver (WSGI) a stream is a thread for as long as its client stays; between events it must not keep
    # a connection of the database's own (PostgreSQL counts them; the test database cannot be dropped with one open).
    from django.db import connection

    from events.api.stream import sync_events

    event = publish()
    found = {}

    def stream():
        frames = sync_events(manager.user, 0, None)
        found["first"] = next(frames)
        found["connected"] = connection.connection is not None
        frames.close()

    reader = threading.Thread(target=stream)
    reader.start()
    reader.join(TIMEOUT)
    assert f"id: {event.sequence}".encode() in found["first"]
    assert found["connected"] is False


def test_a_bad_last_event_id_is_a_400(manager):
    response = manager.get("/api/v1/events/stream/", HTTP_LAST_EVENT_ID="abc")
    assert response.status_code == 400
    assert "last_event_id" in response.json()["fields"]


# --- the ASGI application ----------------------------------------------------------------------------------------


def asgi_get(application, path, query=b"", headers=()):
    """One GET through an ASGI application, as a server sends it; (status, headers, body)."""
    messages = []

    async def run():
        received = asyncio.Event()

        async def receive():
            if not received.is_set():
                received.set()
                return {"type": "http.request", "body": b"", "more_body": False}
            await asyncio.Event().wait()  # the client stays until the answer is complete

        async def send(message):
            messages.append(message)

        scope = {
            "type": "http",
            "asgi": {"version": "3.0"},
            "http_version": "1.1",
            "method": "GET",
            "scheme": "https",
            "path": path,
            "raw_path": path.encode(),
            "query_string": query,
            "root_path": "",
            "headers": [(b"host", b"testserver"), *headers],
            "client": ("127.0.0.1", 1234),
            "server": ("testserver", 443),
        }
        await asyncio.wait_for(application(scope, receive, send), TIMEOUT)

    asyncio.run(run())
    start = next(message for message in messages if message["type"] == "http.response.start")
    body = b"".join(message.get("body", b"") for message in messages if message["type"] == "http.response.body")
    return start["status"], {name.lower(): value for name, value in start["headers"]}, body


@pytest.mark.django_db(transaction=True)
def test_the_asgi_events_handler_serves_the_feed_with_its_own_async_middleware(manager):
    from config.asgi import EventsHandler

    event = publish()
    handler = EventsHandler(threads=2)
    # The private attributes load_middleware fills for BaseHandler (a Django upgrade that renames them fails here).
    assert handler._middleware_chain is not None
    assert isinstance(handler._view_middleware, list) and isinstance(handler._exception_middleware, list)
    token = manager._credentials["HTTP_AUTHORIZATION"].encode()

    status, headers, body = asgi_get(handler, "/api/v1/events/", b"after=0", [(b"authorization", token)])

    assert status == 200, body
    assert [e["sequence"] for e in json.loads(body)["events"]] == [event.sequence]
    assert headers[b"x-request-id"]
    status, _, body = asgi_get(handler, "/api/v1/events/", b"limit=0", [(b"authorization", token)])
    assert status == 400 and b"limit" in body
    assert asgi_get(handler, "/api/v1/events/")[0] == 401


@pytest.mark.django_db(transaction=True)
def test_an_events_request_takes_three_trips_to_a_thread(manager):
    # Django's request_started, the view (authentication, the read, the rendering) and request_finished: a burst of
    # 500 woken long polls asking again is 1,500 trips, not the 5,500 of Django's own middleware and renderer.
    from config.asgi import EventsHandler

    publish()
    handler = EventsHandler(threads=1)
    (executor,) = handler.executors
    trips = []
    submit = executor.submit
    executor.submit = lambda fn, *args, **kwargs: trips.append(fn) or submit(fn, *args, **kwargs)
    token = manager._credentials["HTTP_AUTHORIZATION"].encode()

    status, _, body = asgi_get(handler, "/api/v1/events/", b"after=0", [(b"authorization", token)])

    assert status == 200 and len(json.loads(body)["events"]) == 1
    assert len(trips) == 3


@pytest.mark.django_db(transaction=True)
def test_the_events_handler_keeps_djangos_headers_and_session_sign_in(settings):
    from django.test import Client

    from config.asgi import EventsHandler

    settings.SECURE_HSTS_SECONDS = 3600
    dispatcher = UserFactory(roles=[roles.DISPATCHER])
    browser = Client()
    browser.force_login(dispatcher)  # the dashboard's EventSource signs in with its session cookie
    cookie = f"{settings.SESSION_COOKIE_NAME}={browser.cookies[settings.SESSION_COOKIE_NAME].value}".encode()
    publish("decision.proposed")
    handler = EventsHandler(threads=1)

    status, headers, body = asgi_get(handler, "/api/v1/events/", b"after=0", [(b"cookie", cookie)])

    assert status == 200, body
    assert [event["type"] for event in json.loads(body)["events"]] == ["decision.proposed"]
    assert headers[b"strict-transport-security"].startswith(b"max-age=3600")
    assert headers[b"x-content-type-options"] == b"nosniff"
    assert b"Cookie" in headers[b"vary"]
    assert headers[b"content-length"] == str(len(body)).encode()
    assert asgi_get(handler, "/api/v1/events/", b"after=0", [(b"cookie", b"sessionid=forged")])[0] == 401


def test_the_events_handler_refuses_synchronous_middleware():
    from django.core.exceptions import ImproperlyConfigured

    from config.asgi import EventsHandler

    with pytest.raises(ImproperlyConfigured, match="not async-capable"):
        EventsHandler(middleware=["core.middleware.RequestContextMiddleware"])
