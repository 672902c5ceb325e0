"""Webhook signing secrets are stored encrypted (core.db.encrypted): the columns hold Fernet tokens, never
``whsec_`` text, while the model and the signing code see the plain secret; and the migration that encrypts the rows
stored before (events 0005) works both ways."""

import importlib
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from threading import Thread
from types import SimpleNamespace

import pytest
import standardwebhooks
from cryptography.fernet import Fernet
from django.apps import apps as django_apps
from django.db import connection, transaction
from django.db.migrations.executor import MigrationExecutor

from accounts import roles
from core.db import encrypted
from core.models import RuntimeSetting
from events import endpoint_services, services, webhooks
from events.models import Delivery, WebhookEndpoint
from events.tasks import deliver
from tests.factories import UserFactory

BEFORE = ("events", "0004_requeue_deliveries_job")
ENCRYPTED = ("events", "0005_encrypt_endpoint_secrets")
KEY = Fernet.generate_key().decode()
migration = importlib.import_module("events.migrations.0005_encrypt_endpoint_secrets")


def qn(name):
    return connection.ops.quote_name(name)


def raw_secrets(pk=None) -> list[tuple]:
    """(id, secret, previous_secret) as the database holds them, read past the ORM."""
    sql = f"SELECT {qn('id')}, {qn('secret')}, {qn('previous_secret')} FROM {qn('events_webhookendpoint')}"
    params = []
    if pk is not None:
        sql += f" WHERE {qn('id')} = %s"
        params = [pk]
    with connection.cursor() as cursor:
        cursor.execute(sql + f" ORDER BY {qn('id')}", params)
        return [tuple(row) for row in cursor.fetchall()]


@pytest.fixture
def manager(db):
    return UserFactory(roles=[roles.MANAGER])


@pytest.fixture
def receiver():
    """An HTTP server on 127.0.0.1 that answers 200 and keeps what it was sent."""
    got = []

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self):
            got.append(
                ({k.lower(): v for k, v in self.headers.items()}, self.rfile.read(int(self.headers["content-length"])))
            )
            self.send_response(200)
            self.send_header("content-length", "0")
            self.end_headers()

        def log_message(self, *args):
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    server.daemon_threads = True
    Thread(target=server.serve_forever, daemon=True).start()
    server.url, server.got = f"http://127.0.0.1:{server.server_address[1]}/hook", got
    yield server
    server.shutdown()
    server.server_close()


def test_the_columns_hold_fernet_tokens_and_the_model_the_plain_secrets(manager, settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY]
    endpoint = endpoint_services.endpoint_create(owner=manager, url="http://127.0.0.1:9/hook")
    old = endpoint.secret
    endpoint = endpoint_services.endpoint_rotate_secret(endpoint=endpoint)
    assert old.startswith("whsec_") and endpoint.secret.startswith("whsec_")

    [(_, secret, previous)] = raw_secrets(endpoint.pk)
    assert "whsec_" not in secret + previous
    assert Fernet(KEY).decrypt(secret.encode()).decode() == endpoint.secret
    assert Fernet(KEY).decrypt(previous.encode()).decode() == old
    assert not any("whsec_" in str(value) for row in raw_secrets() for value in row)  # the whole table

    stored = WebhookEndpoint.objects.get(pk=endpoint.pk)
    assert (stored.secret, stored.previous_secret) == (endpoint.secret, old)
    # What the signing code computes from the stored row verifies against the secrets handed to the owner.
    moment = int(time.time())
    body = b'{"type":"load.posted"}'
    for secret in (endpoint.secret, old):
        signature = webhooks.sign(secret, "evt_1", moment, body)
        headers = {"webhook-id": "evt_1", "webhook-timestamp": str(moment), "webhook-signature": signature}
        assert standardwebhooks.Webhook(secret).verify(body, headers) is not None
    assert webhooks.sign(stored.secret, "evt_1", moment, body) == webhooks.sign(endpoint.secret, "evt_1", moment, body)


def test_a_delivery_from_the_stored_row_verifies_with_the_reference_library(manager, receiver, settings):
    settings.OUTBOUND_ALLOWED_NETWORKS = ["127.0.0.1/32"]
    endpoint = endpoint_services.endpoint_create(owner=manager, url=receiver.url)
    shown = endpoint.secret  # what the owner was given once
    with transaction.atomic():
        thing = RuntimeSetting.objects.create(key="events.test.secrets", value=1)
        event = services.publish("load.posted", obj=thing, payload={"load_id": "L-1"})
    services.assign_sequences()

    assert deliver(Delivery.objects.get(event=event, endpoint=endpoint).pk) == "succeeded"
    headers, body = receiver.got[0]
    standardwebhooks.Webhook(shown).verify(body, headers)
    assert "whsec_" not in raw_secrets(endpoint.pk)[0][1]


def _migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate([target])
    return executor.loader.project_state([target]).apps


@pytest.mark.django_db(transaction=True)
def test_the_migration_encrypts_plain_secrets_and_its_reverse_decrypts_them(settings):
    settings.FIELD_ENCRYPTION_KEYS = [KEY]
    owner = UserFactory()
    plain, previous = webhooks.new_secret(), webhooks.new_secret()
    try:
        old_apps = _migrate(BEFORE)
        Old = old_apps.get_model("events", "WebhookEndpoint")
        rows = [
            Old.objects.create(owner_id=owner.pk, url="https://a.example.com/", secret=plain, previous_secret=previous),
            Old.objects.create(owner_id=owner.pk, url="https://b.example.com/", secret=previous, previous_secret=""),
        ]
        assert raw_secrets()[0][1:] == (plain, previous)

        _migrate(ENCRYPTED)
        [(_, secret, prev), (_, second, empty)] = raw_secrets()
        assert "whsec_" not in secret + prev + second and empty == ""
        assert [Fernet(KEY).decrypt(v.encode()).decode() for v in (secret, prev, second)] == [plain, previous, previous]
        first = WebhookEndpoint.objects.get(pk=rows[0].pk)
        assert (first.secret, first.previous_secret) == (plain, previous)
        assert WebhookEndpoint.objects.get(pk=rows[1].pk).previous_secret == ""

        _migrate(BEFORE)  # backwards: plain text again, fitting the 120 characters of before
        assert [row[1:] for row in raw_secrets()] == [(plain, previous), (previous, "")]
    finally:
        _migrate(ENCRYPTED)
    assert WebhookEndpoint.objects.get(pk=rows[0].pk).secret == plain


@pytest.mark.django_db
def test_the_migration_leaves_values_encrypted_already_as_they_are(settings):
    """A run cut short (MariaDB commits each statement of a migration) and started again encrypts nothing twice."""
    settings.FIELD_ENCRYPTION_KEYS = [KEY]
    endpoint = WebhookEndpoint.objects.create(owner=UserFactory(), url="https://a.example.com/", secret="whsec_x")
    [(_, token, _)] = raw_secrets(endpoint.pk)

    migration.encrypt_secrets(django_apps, SimpleNamespace(connection=connection))
    assert raw_secrets(endpoint.pk)[0][1] == token
    assert encrypted.decrypt(token) == "whsec_x"
