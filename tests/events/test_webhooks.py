"""Webhooks (push) against a real HTTP receiver on 127.0.0.1: signatures the Standard Webhooks reference library
accepts, retries on the core clock, receivers that fail or hang holding up nothing else, endpoints disabled and
replayed, the outbound guard, secrets shown once, and each user's endpoints their own."""

import base64
import json
import logging
import re
import socket
import threading
from datetime import UTC, datetime, timedelta
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer

import pytest
import standardwebhooks
from django.db import connections, transaction
from django.test.utils import CaptureQueriesContext
from django_celery_beat.models import PeriodicTask

from accounts import roles
from config.celery import app as celery_app
from core import clock, outbound
from core.models import RuntimeSetting
from events import endpoint_services, services, webhooks
from events.models import Delivery, DeliveryAttempt, DeliveryStatus, Event, WebhookEndpoint
from events.tasks import deliver
from tests.factories import UserFactory
from tests.servers import reset_celery_connections

BASE = "/api/v1/webhooks"
T0 = datetime(2026, 3, 2, 9, 0, tzinfo=UTC)
WAIT = 30  # seconds a test waits for a thread or a request before failing (never reached when all is well)


# --- A receiver -------------------------------------------------------------------------------------------------


class Receiver:
    """A threaded HTTP server answering POSTs with the scripted statuses in turn (the last one repeats). With
    ``hold`` set, each request waits (up to WAIT seconds) until the test releases it; with ``keepalive``, it answers
    over HTTP/1.1 and keeps connections open."""

    def __init__(self, statuses=(200,), *, hold=False, keepalive=False):
        self.statuses = list(statuses)
        self.requests: list[tuple[dict, bytes]] = []
        self.connections: list[int] = []  # each request's client port
        self.arrived = threading.Event()
        self.release = threading.Event()
        self.hold = hold
        receiver = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1" if keepalive else "HTTP/1.0"

            def do_POST(self):
                body = self.rfile.read(int(self.headers.get("content-length", 0)))
                receiver.connections.append(self.client_address[1])
                receiver.requests.append(({k.lower(): v for k, v in self.headers.items()}, body))
                receiver.arrived.set()
                if receiver.hold:
                    receiver.release.wait(WAIT)
                status = receiver.statuses.pop(0) if len(receiver.statuses) > 1 else receiver.statuses[0]
                answer = f"answer {status}".encode()
                self.send_response(status)
                self.send_header("content-length", str(len(answer)))
                self.end_headers()
                self.wfile.write(answer)

            def log_message(self, *args):
                pass

        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.server.daemon_threads = True
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.server.server_address[1]}/hook"

    def close(self):
        self.release.set()
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receivers():
    made = []

    def make(statuses=(200,), **kwargs):
        made.append(Receiver(statuses, **kwargs))
        return made[-1]

    yield make
    for receiver in made:
        receiver.close()


@pytest.fixture(autouse=True)
def loopback_allowed(settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    settings.WEBHOOK_TIMEOUT_SECONDS = 5.0
    settings.WEBHOOK_RETRY_SECONDS = (5, 30, 120)
    settings.WEBHOOK_DISABLE_AFTER_FAILURES = 5
    outbound.close_shared_clients()  # no connection kept from another test
    yield settings
    outbound.close_shared_clients()


def _closed_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- Helpers ----------------------------------------------------------------------------------------------------


def publish(event_type="load.posted", payload=None, **kwargs) -> Event:
    """An event as a service writes it, numbered; its deliveries planned (their jobs are driven by the test)."""
    with transaction.atomic():
        thing = RuntimeSetting.objects.create(key=f"events.test.{Event.objects.count()}", value=1)
        event = services.publish(event_type, obj=thing, payload=payload or {"load_id": "L-1"}, **kwargs)
    services.assign_sequences()
    event.refresh_from_db()
    return event


def endpoint_for(owner, url, **kwargs) -> WebhookEndpoint:
    return endpoint_services.endpoint_create(owner=owner, url=url, **kwargs)


def delivery_of(event, endpoint) -> Delivery:
    return Delivery.objects.get(event=event, endpoint=endpoint)


def run_due(delivery: Delivery) -> str:
    """Move the core clock to when the delivery is due, and run its job there."""
    delivery.refresh_from_db()
    with clock.frozen_at(delivery.next_attempt_at):
        return deliver(delivery.pk)


@pytest.fixture
def manager(db):
    return UserFactory(roles=[roles.MANAGER])


# --- Signing ----------------------------------------------------------------------------------------------------


def test_a_new_secret_is_whsec_and_32_random_bytes():
    first, second = webhooks.new_secret(), webhooks.new_secret()
    assert first.startswith("whsec_") and first != second
    assert len(base64.b64decode(first.removeprefix("whsec_"))) == 32


def test_sign_matches_the_standard_webhooks_reference():
    # The example in the Standard Webhooks specification, and the reference library on a random secret.
    secret = "whsec_MfKQ9r8GKYqrTwjUPD8ILPZIo2LaLaSw"
    body = '{"test": 2432232314}'
    assert webhooks.sign(secret, "msg_p5jXN8AQM9LWM0D4loKWxJek", 1614265330, body) == (
        "v1,g0hM9SsE+OTPJTGt/tmIKtSyZlE3uFJELVlNIOLJ1OE="
    )
    secret = webhooks.new_secret()
    moment = datetime.fromtimestamp(1700000000, tz=UTC)
    reference = standardwebhooks.Webhook(secret).sign("evt_7", moment, b'{"a":1}')
    assert webhooks.sign(secret, "evt_7", 1700000000, b'{"a":1}') == reference


def test_a_delivery_verifies_with_the_reference_library(manager, receivers):
    receiver = receivers()
    endpoint = endpoint_for(manager, receiver.url, event_types=["load.posted"])
    event = publish("load.posted", {"load_id": "L-7", "origin": "Dallas, TX"})

    assert deliver(delivery_of(event, endpoint).pk) == "succeeded"

    (headers, body) = receiver.requests[0]
    document = standardwebhooks.Webhook(endpoint.secret).verify(body, headers)
    assert document == {
        "type": "load.posted",
        "timestamp": event.created_at.isoformat(),
        "data": {"load_id": "L-7", "origin": "Dallas, TX", "sequence": event.sequence, "object_id": event.object_id},
    }
    assert headers["webhook-id"] == f"evt_{event.sequence}"
    assert headers["content-type"] == "application/json"
    with pytest.raises(standardwebhooks.webhooks.WebhookVerificationError):
        standardwebhooks.Webhook(webhooks.new_secret()).verify(body, headers)
    delivery = delivery_of(event, endpoint)
    assert (delivery.status, delivery.attempts, delivery.last_status_code) == (DeliveryStatus.SUCCEEDED, 1, 200)
    attempt = delivery.attempt_log.get()
    assert (attempt.number, attempt.status_code, attempt.response_excerpt, attempt.error) == (1, 200, "answer 200", "")


def test_after_a_rotation_both_secrets_sign_until_the_old_one_expires(manager, receivers):
    receiver = receivers()
    endpoint = endpoint_for(manager, receiver.url)
    old = endpoint.secret
    endpoint = endpoint_services.endpoint_rotate_secret(endpoint=endpoint)
    deliver(delivery_of(publish(), endpoint).pk)
    headers, body = receiver.requests[-1]
    assert len(headers["webhook-signature"].split(" ")) == 2
    for secret in (old, endpoint.secret):
        standardwebhooks.Webhook(secret).verify(body, headers)

    endpoint = endpoint_services.endpoint_rotate_secret(endpoint=endpoint, expire_previous=True)
    deliver(delivery_of(publish(), endpoint).pk)
    headers, body = receiver.requests[-1]
    assert len(headers["webhook-signature"].split(" ")) == 1
    standardwebhooks.Webhook(endpoint.secret).verify(body, headers)


# --- Retries ----------------------------------------------------------------------------------------------------


def test_a_receiver_failing_three_times_then_recovering_gets_the_event_with_one_webhook_id(manager, receivers):
    receiver = receivers([500, 502, 503, 200])
    endpoint = endpoint_for(manager, receiver.url)
    with clock.frozen_at(T0):
        event = publish()
        delivery = delivery_of(event, endpoint)
        assert deliver(delivery.pk) == "retrying"
        assert deliver(delivery.pk) == "skipped"  # a copy of the job, or the retry's job run early: not due yet
    moments = [T0]
    for expected in ("retrying", "retrying", "succeeded"):
        delivery.refresh_from_db()
        moments.append(delivery.next_attempt_at)
        assert run_due(delivery) == expected

    # The schedule comes from WEBHOOK_RETRY_SECONDS, each delay with at most 20 % jitter on top.
    for earlier, later, base in zip(moments, moments[1:], (5, 30, 120), strict=False):
        assert timedelta(seconds=base) <= later - earlier <= timedelta(seconds=base * 1.2)
    assert len(receiver.requests) == 4
    assert {headers["webhook-id"] for headers, _ in receiver.requests} == {f"evt_{event.sequence}"}
    assert [int(headers["webhook-timestamp"]) for headers, _ in receiver.requests] == [
        int(moment.timestamp()) for moment in moments
    ]
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, delivery.delivered_at) == (DeliveryStatus.SUCCEEDED, 4, moments[-1])
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 500), (2, 502), (3, 503), (4, 200)]
    endpoint.refresh_from_db()
    assert endpoint.consecutive_failures == 0 and endpoint.is_active


def test_an_endpoint_that_keeps_failing_is_disabled_with_the_reason_and_replay_works_from_the_api(
    loopback_allowed, make_client, receivers, django_capture_on_commit_callbacks
):
    loopback_allowed.WEBHOOK_RETRY_SECONDS = (5,)
    loopback_allowed.WEBHOOK_DISABLE_AFTER_FAILURES = 2
    client = make_client(roles.SALES_AGENT)
    receiver = receivers([503])
    endpoint = endpoint_for(client.user, receiver.url, event_types=["load.posted"])

    with clock.frozen_at(T0):
        first, second = publish(), publish()
    for number, event in enumerate((first, second), start=1):
        delivery = delivery_of(event, endpoint)
        assert run_due(delivery) == "retrying"
        assert run_due(delivery) == "failed"
        endpoint.refresh_from_db()
        assert endpoint.consecutive_failures == number
    assert not endpoint.is_active
    assert "2 deliveries in a row failed" in endpoint.disabled_reason
    assert "HTTP 503" in endpoint.disabled_reason
    assert not Delivery.objects.filter(event=publish()).exists()  # no more deliveries planned to it

    failed = delivery_of(first, endpoint)
    response = client.post(f"{BASE}/deliveries/{failed.pk}/replay/")
    assert response.status_code == 409 and response.json()["code"] == "endpoint_disabled"
    response = client.get(f"{BASE}/endpoints/{endpoint.pk}/")
    assert response.json()["is_active"] is False and "in a row" in response.json()["disabled_reason"]

    receiver.statuses = [200]
    response = client.post(f"{BASE}/endpoints/{endpoint.pk}/enable/")
    assert response.status_code == 200
    assert (response.json()["is_active"], response.json()["consecutive_failures"]) == (True, 0)
    with django_capture_on_commit_callbacks() as queued:
        response = client.post(f"{BASE}/deliveries/{failed.pk}/replay/")
    assert response.status_code == 202, response.content
    assert response.json()["status"] == "pending" and len(queued) == 1  # queued, not sent by the request
    assert client.post(f"{BASE}/deliveries/{failed.pk}/replay/").status_code == 409  # still being tried
    sent = len(receiver.requests)
    assert run_due(failed) == "succeeded"
    assert receiver.requests[sent][0]["webhook-id"] == f"evt_{first.sequence}"

    response = client.get(f"{BASE}/endpoints/{endpoint.pk}/deliveries/", {"status": "succeeded"})
    (answer,) = response.json()["results"]
    assert answer["webhook_id"] == f"evt_{first.sequence}"
    assert [a["status_code"] for a in answer["attempt_log"]] == [503, 503, 200]


def test_a_success_writes_the_endpoint_only_when_its_failures_must_go_back_to_zero(manager, receivers):
    receiver = receivers()
    endpoint = endpoint_for(manager, receiver.url)
    for failures in (0, 2):
        endpoint.consecutive_failures = failures
        endpoint.save(update_fields=["consecutive_failures"])
        delivery = delivery_of(publish(), endpoint)
        claim = webhooks._claim(delivery.pk)
        outcome = webhooks._post(claim)
        with CaptureQueriesContext(transaction.get_connection()) as queries:
            assert webhooks._record(claim, outcome) == "succeeded"
        endpoint_rows = re.compile(
            r"UPDATE [`\"]?events_webhookendpoint[`\"]? SET|FROM [`\"]?events_webhookendpoint[`\"]? WHERE"
        )
        touched = [query["sql"] for query in queries if endpoint_rows.search(query["sql"])]
        assert bool(touched) is bool(failures), touched  # (the delivery's lock reads the count in a subquery)
        endpoint.refresh_from_db()
        assert endpoint.consecutive_failures == 0


def test_a_second_job_on_a_leased_delivery_sends_nothing_and_a_stale_attempt_is_logged_not_counted(manager, receivers):
    receiver = receivers()
    endpoint = endpoint_for(manager, receiver.url)
    with clock.frozen_at(T0):
        delivery = delivery_of(publish(), endpoint)
        first = webhooks._claim(delivery.pk)
    with clock.frozen_at(T0 + timedelta(seconds=1)):
        assert deliver(delivery.pk) == "skipped"  # a copy of the job meets the lease: nothing sent
    assert receiver.requests == []
    # The first job's worker seems dead: once its lease is over another job claims the delivery.
    with clock.frozen_at(T0 + webhooks._lease() + timedelta(seconds=1)):
        second = webhooks._claim(delivery.pk)
    assert (first.number, second.number) == (1, 2)
    assert first.headers["webhook-id"] == second.headers["webhook-id"] == f"evt_{delivery.event.sequence}"
    assert webhooks._record(first, webhooks._post(first)) == "skipped"  # the stale one: logged only
    assert webhooks._record(second, webhooks._post(second)) == "succeeded"
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts) == (DeliveryStatus.SUCCEEDED, 2)
    assert list(delivery.attempt_log.values_list("number", "status_code")) == [(1, 200), (2, 200)]


def test_deliveries_to_a_keep_alive_receiver_share_one_connection(manager, receivers):
    receiver = receivers([500, 200], keepalive=True)
    endpoint = endpoint_for(manager, receiver.url)
    with clock.frozen_at(T0):
        events = [publish() for _ in range(3)]
    deliveries = [delivery_of(event, endpoint) for event in events]
    assert [run_due(delivery) for delivery in deliveries] == ["retrying", "succeeded", "succeeded"]
    assert run_due(deliveries[0]) == "succeeded"
    assert len(receiver.requests) == 4 and len(set(receiver.connections)) == 1
    assert [headers["webhook-id"] for headers, _ in receiver.requests] == [
        f"evt_{event.sequence}" for event in (*events, events[0])
    ]


def test_a_dead_receiver_fails_with_the_error_class_only(manager):
    endpoint = endpoint_for(manager, f"http://127.0.0.1:{_closed_port()}/hook")
    with clock.frozen_at(T0):
        delivery = delivery_of(publish(), endpoint)
        assert deliver(delivery.pk) == "retrying"
    attempt = DeliveryAttempt.objects.get(delivery=delivery)
    assert (attempt.status_code, attempt.error) == (None, "ConnectError")
    assert endpoint.secret not in json.dumps(list(DeliveryAttempt.objects.values()), default=str)


# --- Nothing waits for a receiver -------------------------------------------------------------------------------


@pytest.fixture
def real_broker():
    """Jobs go to the (in-memory) broker instead of running in the caller, as with a real broker; the test runs
    them itself, as a worker would."""
    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_always_eager")}
    celery_app.conf.update(broker_url="memory://localhost/", task_always_eager=False)
    reset_celery_connections()
    yield
    celery_app.conf.update(saved)
    reset_celery_connections()


@pytest.mark.django_db(transaction=True)
def test_a_hanging_receiver_delays_neither_the_change_nor_another_endpoint(real_broker, receivers):
    owner = UserFactory(roles=[roles.MANAGER])
    hanging, healthy = receivers(hold=True), receivers()
    slow_endpoint = endpoint_for(owner, hanging.url)
    good_endpoint = endpoint_for(owner, healthy.url)

    # The change commits; its event is numbered and its deliveries planned and queued, and nothing is called.
    with transaction.atomic():
        thing = RuntimeSetting.objects.create(key="events.test", value=1)
        event = services.publish("load.posted", obj=thing, payload={"load_id": "L-1"})
    event.refresh_from_db()
    assert event.sequence is not None
    assert Delivery.objects.filter(event=event, status=DeliveryStatus.PENDING, attempts=0).count() == 2
    assert hanging.requests == [] and healthy.requests == []

    # A worker is stuck on the hanging receiver; another delivers to the healthy one meanwhile.
    def worker(delivery_id):
        try:
            deliver(delivery_id)
        finally:
            connections.close_all()  # this thread's own connection

    stuck = threading.Thread(target=worker, args=[delivery_of(event, slow_endpoint).pk])
    stuck.start()
    try:
        assert hanging.arrived.wait(WAIT)
        assert deliver(delivery_of(event, good_endpoint).pk) == "succeeded"
        assert delivery_of(event, slow_endpoint).status == DeliveryStatus.PENDING  # still waiting for its answer
    finally:
        hanging.release.set()
        stuck.join(WAIT)
    assert not stuck.is_alive()
    assert delivery_of(event, slow_endpoint).status == DeliveryStatus.SUCCEEDED


def test_with_the_broker_down_a_delivery_waits_and_the_beat_job_sends_it(manager, receivers, caplog):
    receiver = receivers()
    endpoint = endpoint_for(manager, receiver.url)
    with clock.frozen_at(T0):
        delivery = delivery_of(publish(), endpoint)
    saved = {key: celery_app.conf[key] for key in ("broker_url", "task_always_eager", "task_publish_retry_policy")}
    celery_app.conf.task_publish_retry_policy = {"max_retries": 1, "interval_start": 0, "interval_step": 0}
    celery_app.conf.update(broker_url=f"redis://127.0.0.1:{_closed_port()}/0", task_always_eager=False)
    reset_celery_connections()
    try:
        with caplog.at_level(logging.WARNING, logger="events.webhooks"):
            assert webhooks.queue(delivery.pk) is False
    finally:
        celery_app.conf.update(saved)
        reset_celery_connections()
    assert "the job broker did not answer" in caplog.text
    delivery.refresh_from_db()
    assert (delivery.status, delivery.attempts, receiver.requests) == (DeliveryStatus.PENDING, 0, [])

    # Not yet: the delivery may still have its own message.
    assert webhooks.requeue_due(now=T0 + timedelta(seconds=1)) == 0
    # The suite's jobs run in the caller, so the beat job's message is delivered at once here.
    with clock.frozen_at(T0 + webhooks.REQUEUE_AFTER):
        assert webhooks.requeue_due() == 1
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.SUCCEEDED and len(receiver.requests) == 1
    assert PeriodicTask.objects.filter(task="events.requeue_due_deliveries", enabled=True).exists()


# --- The outbound guard -----------------------------------------------------------------------------------------


def test_internal_addresses_are_refused_unless_allowed(loopback_allowed, make_client, receivers):
    client = make_client(roles.DISPATCHER)
    receiver = receivers()
    loopback_allowed.OUTBOUND_ALLOWED_NETWORKS = []
    response = client.post(f"{BASE}/endpoints/", {"url": receiver.url})
    assert response.status_code == 400
    assert "address the server may not call" in response.json()["fields"]["url"][0]
    assert not WebhookEndpoint.objects.exists()

    loopback_allowed.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    response = client.post(f"{BASE}/endpoints/", {"url": receiver.url, "event_types": ["decision.committed"]})
    assert response.status_code == 201, response.content
    endpoint = WebhookEndpoint.objects.get()

    loopback_allowed.OUTBOUND_ALLOWED_NETWORKS = []  # closed again after the endpoint was saved
    with clock.frozen_at(T0):
        delivery = delivery_of(publish("decision.committed", {"decision_id": "d-1"}), endpoint)
        assert deliver(delivery.pk) == "retrying"
    assert receiver.requests == []
    assert DeliveryAttempt.objects.get(delivery=delivery).error == "refused: address not allowed"


# --- The API ----------------------------------------------------------------------------------------------------


def test_the_secret_is_shown_once_and_never_logged(make_client, receivers, caplog):
    client = make_client(roles.REGISTRY_OPERATOR)
    receiver = receivers()
    with caplog.at_level(logging.DEBUG):
        response = client.post(
            f"{BASE}/endpoints/",
            {"url": receiver.url, "event_types": ["registry.service.registered"], "description": "ops"},
        )
        assert response.status_code == 201, response.content
        created = response.json()
        secret = created["secret"]
        assert secret.startswith("whsec_") and created["owner"] == client.user.username
        listed = client.get(f"{BASE}/endpoints/")
        detail = client.get(f"{BASE}/endpoints/{created['id']}/")
        for answer in (listed, detail):
            assert answer.status_code == 200 and secret not in answer.content.decode()
            assert "secret" not in answer.content.decode()
        rotated = client.post(f"{BASE}/endpoints/{created['id']}/rotate-secret/", {})
        assert rotated.status_code == 200
        new_secret = rotated.json()["secret"]
        assert new_secret != secret and rotated.json()["previous_secret_expires_at"]
        endpoint = WebhookEndpoint.objects.get()
        deliver(delivery_of(publish("registry.service.registered", {"name": "api"}), endpoint).pk)
        deliveries = client.get(f"{BASE}/endpoints/{created['id']}/deliveries/")
    assert deliveries.status_code == 200 and len(deliveries.json()["results"]) == 1
    assert len(receiver.requests) == 1
    for value in (secret, new_secret, secret.removeprefix("whsec_"), new_secret.removeprefix("whsec_")):
        assert value not in caplog.text
        assert value not in deliveries.content.decode()


def test_users_see_and_manage_only_their_own_endpoints(make_client, receivers):
    alice, bob, admin = make_client(roles.SALES_AGENT), make_client(roles.SALES_AGENT), make_client(roles.ADMIN)
    receiver = receivers()
    response = alice.post(f"{BASE}/endpoints/", {"url": receiver.url})
    assert response.status_code == 201
    pk = response.json()["id"]
    endpoint = WebhookEndpoint.objects.get(pk=pk)
    delivery = delivery_of(publish(), endpoint)
    deliver(delivery.pk)

    assert bob.get(f"{BASE}/endpoints/").json()["results"] == []
    for method, url in (
        ("get", f"{BASE}/endpoints/{pk}/"),
        ("patch", f"{BASE}/endpoints/{pk}/"),
        ("delete", f"{BASE}/endpoints/{pk}/"),
        ("post", f"{BASE}/endpoints/{pk}/rotate-secret/"),
        ("post", f"{BASE}/endpoints/{pk}/enable/"),
        ("post", f"{BASE}/endpoints/{pk}/disable/"),
        ("get", f"{BASE}/endpoints/{pk}/deliveries/"),
        ("get", f"{BASE}/deliveries/{delivery.pk}/"),
        ("post", f"{BASE}/deliveries/{delivery.pk}/replay/"),
    ):
        assert getattr(bob, method)(url, {}).status_code == 404, (method, url)

    assert [e["id"] for e in admin.get(f"{BASE}/endpoints/").json()["results"]] == [pk]
    assert admin.get(f"{BASE}/deliveries/{delivery.pk}/").status_code == 200

    response = alice.patch(f"{BASE}/endpoints/{pk}/", {"description": "desk", "is_active": False})
    assert response.status_code == 200
    assert (response.json()["description"], response.json()["is_active"]) == ("desk", False)
    assert response.json()["disabled_reason"] == endpoint_services.DISABLED_BY_OWNER
    assert alice.post(f"{BASE}/endpoints/{pk}/enable/").json()["is_active"] is True
    assert alice.delete(f"{BASE}/endpoints/{pk}/").status_code == 204
    assert not WebhookEndpoint.objects.exists() and not Delivery.objects.exists()


def test_a_user_cannot_subscribe_to_types_they_may_not_read_and_gets_no_deliveries_of_them(make_client, receivers):
    member = make_client(roles.MEMBER)
    receiver = receivers()
    response = member.post(f"{BASE}/endpoints/", {"url": receiver.url, "event_types": ["load.posted", "load.nuked"]})
    assert response.status_code == 400
    assert response.json()["fields"]["event_types"] == [
        "Unknown event type: load.nuked.",
        "The endpoint's owner may not read events of type load.posted.",
    ]
    response = member.post(f"{BASE}/endpoints/", {"url": receiver.url})  # every type the member may read
    assert response.status_code == 201
    endpoint = WebhookEndpoint.objects.get()
    response = member.patch(f"{BASE}/endpoints/{endpoint.pk}/", {"event_types": ["call.logged"]})
    assert response.status_code == 400 and "call.logged" in response.json()["fields"]["event_types"][0]

    load_event, reply_event = publish("load.posted"), publish("community.reply.created", {"reply_id": 1})
    assert list(Delivery.objects.values_list("event_id", flat=True)) == [reply_event.pk]
    assert not Delivery.objects.filter(event=load_event).exists()

    # An owner who loses the permission after subscribing gets nothing more of that type.
    agent = make_client(roles.SALES_AGENT)
    subscribed = endpoint_for(agent.user, receiver.url, event_types=["load.posted"])
    planned = delivery_of(publish("load.posted"), subscribed)
    agent.user.groups.clear()
    agent.user = type(agent.user).objects.get(pk=agent.user.pk)  # fresh permission cache
    assert deliver(planned.pk) == "skipped"
    planned.refresh_from_db()
    assert planned.status == DeliveryStatus.FAILED and not planned.attempt_log.exists()
    assert not Delivery.objects.filter(endpoint=subscribed, event=publish("load.posted")).exists()
    assert len(receiver.requests) == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"url": "not a url"}, "url"),
        ({"url": "ftp://example.com/x"}, "url"),
        ({"url": "http://127.0.0.1:9/x", "event_types": "load.posted"}, "event_types"),
        ({"url": "http://127.0.0.1:9/x", "event_types": [1, None]}, "event_types"),
        ({"url": "http://127.0.0.1:9/x", "description": "x" * 201}, "description"),
        ({"url": "http://127.0.0.1:9/x", "secret": "whsec_mine"}, "secret"),
        ({"url": "http://127.0.0.1:9/x", "is_active": "maybe"}, "is_active"),
        ({}, "url"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(manager_client, body, field):
    response = manager_client.post(f"{BASE}/endpoints/", body)
    assert response.status_code == 400, response.content
    assert field in response.json()["fields"]


def test_bad_rotate_and_filter_input_is_a_400(manager_client, manager, receivers):
    endpoint = endpoint_for(manager_client.user, receivers().url)
    assert (
        manager_client.post(f"{BASE}/endpoints/{endpoint.pk}/rotate-secret/", {"expire_previous": "x"}).status_code
        == 400
    )
    assert manager_client.get(f"{BASE}/endpoints/{endpoint.pk}/deliveries/", {"status": "lost"}).status_code == 400
    assert manager_client.get(f"{BASE}/endpoints/abc/").status_code == 404


def test_lists_take_the_same_queries_however_many_rows(manager_client, receivers):
    receiver = receivers()
    owner = manager_client.user

    def counted(url):
        with CaptureQueriesContext(transaction.get_connection()) as queries:
            assert manager_client.get(url).status_code == 200
        return len(queries)

    first = endpoint_for(owner, receiver.url)
    deliver(delivery_of(publish(), first).pk)
    one = (counted(f"{BASE}/endpoints/"), counted(f"{BASE}/endpoints/{first.pk}/deliveries/"))
    endpoint_for(owner, receiver.url)
    for _ in range(3):
        deliver(delivery_of(publish(), first).pk)
    assert (counted(f"{BASE}/endpoints/"), counted(f"{BASE}/endpoints/{first.pk}/deliveries/")) == one


# --- The admin --------------------------------------------------------------------------------------------------


def test_the_admin_rotates_with_the_secret_shown_once_and_replays(
    admin_client, loopback_allowed, manager, receivers, caplog
):
    loopback_allowed.WEBHOOK_RETRY_SECONDS = ()  # one attempt, then failed
    receiver = receivers([500, 200])
    endpoint = endpoint_for(manager, receiver.url)
    with clock.frozen_at(T0):
        delivery = delivery_of(publish(), endpoint)
    with caplog.at_level(logging.DEBUG):
        response = admin_client.post(
            "/admin/events/webhookendpoint/",
            {"action": "rotate_secret", "_selected_action": [endpoint.pk]},
            follow=True,
        )
    endpoint.refresh_from_db()
    assert response.status_code == 200
    assert endpoint.secret in response.content.decode()
    assert endpoint.secret not in caplog.text
    assert (
        endpoint.secret not in admin_client.get(f"/admin/events/webhookendpoint/{endpoint.pk}/change/").content.decode()
    )

    with clock.frozen_at(T0):
        assert deliver(delivery.pk) == "failed"
    response = admin_client.post(
        "/admin/events/delivery/", {"action": "replay", "_selected_action": [delivery.pk]}, follow=True
    )
    assert response.status_code == 200 and "Queued 1 deliveries again" in response.content.decode()
    delivery.refresh_from_db()
    assert delivery.status == DeliveryStatus.PENDING
    page = admin_client.get(f"/admin/events/delivery/{delivery.pk}/change/")
    assert page.status_code == 200 and "answer 500" in page.content.decode()


def test_the_admin_creates_through_the_service(admin_client, manager, receivers):
    receiver = receivers()
    response = admin_client.post(
        "/admin/events/webhookendpoint/add/",
        {
            "owner": manager.pk,
            "url": receiver.url,
            "event_types": ["call.logged"],
            "description": "",
            "is_active": "on",
        },
        follow=True,
    )
    endpoint = WebhookEndpoint.objects.get()
    assert endpoint.secret in response.content.decode() and endpoint.event_types == ["call.logged"]

    member = UserFactory(roles=[roles.MEMBER])
    response = admin_client.post(
        "/admin/events/webhookendpoint/add/",
        {"owner": member.pk, "url": receiver.url, "event_types": ["call.logged"], "is_active": "on"},
    )
    assert response.status_code == 200 and "may not read events of type call.logged" in response.content.decode()
    assert WebhookEndpoint.objects.count() == 1
