"""core.db.encrypted: values encrypted in the column and plain in Python, keys rotated in through
FIELD_ENCRYPTION_KEYS or SECRET_KEY_FALLBACKS, ``rotate_encrypted_fields``, and a clear error (never ciphertext)
when no key opens a value. Exercised on the one model that has such fields, events.WebhookEndpoint."""

import io

import pytest
from cryptography.fernet import Fernet, InvalidToken
from django.core.exceptions import FieldError, ImproperlyConfigured
from django.core.management import call_command
from django.db import connection

from core.db import encrypted
from core.db.encrypted import EncryptedTextField, FieldDecryptionError
from events import webhooks
from events.models import WebhookEndpoint
from tests.factories import UserFactory

OLD, NEW = Fernet.generate_key().decode(), Fernet.generate_key().decode()


def raw(endpoint, field="secret"):
    """The column's value as the database holds it, read past the ORM."""
    meta = WebhookEndpoint._meta
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT {qn(meta.get_field(field).column)} FROM {qn(meta.db_table)} WHERE {qn(meta.pk.column)} = %s",
            [endpoint.pk],
        )
        return cursor.fetchone()[0]


def make_endpoint(**fields):
    data = {"owner": UserFactory(), "url": "https://hooks.example.com/x", "secret": webhooks.new_secret()}
    return WebhookEndpoint.objects.create(**(data | fields))


def reread(endpoint):
    return WebhookEndpoint.objects.get(pk=endpoint.pk)


# --- Without a database -----------------------------------------------------------------------------------------


def test_a_value_round_trips_and_each_encryption_differs(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    first, second = encrypted.encrypt("whsec_abc"), encrypted.encrypt("whsec_abc")
    assert first != second and "whsec_" not in first
    assert Fernet(OLD).decrypt(first.encode()) == b"whsec_abc"
    assert encrypted.decrypt(second) == "whsec_abc"


def test_keys_come_from_the_setting_as_a_list_or_a_comma_separated_string(settings):
    settings.FIELD_ENCRYPTION_KEYS = f" {NEW} , {OLD} ,"
    token = encrypted.encrypt("x")
    assert Fernet(NEW).decrypt(token.encode()) == b"x"
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    assert encrypted.decrypt(Fernet(OLD).encrypt(b"y").decode()) == "y"


def test_without_keys_they_are_derived_from_secret_key_and_its_fallbacks(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "first-secret-key", []
    token = encrypted.encrypt("whsec_abc")
    assert Fernet(encrypted._derived_key("first-secret-key")).decrypt(token.encode()) == b"whsec_abc"
    settings.SECRET_KEY = "second-secret-key"
    with pytest.raises(FieldDecryptionError):
        encrypted.decrypt(token)
    settings.SECRET_KEY_FALLBACKS = ["first-secret-key"]
    assert encrypted.decrypt(token) == "whsec_abc"


def test_a_key_that_is_not_a_fernet_key_is_refused_naming_the_setting(settings):
    settings.FIELD_ENCRYPTION_KEYS = [NEW, "not-a-key"]
    with pytest.raises(ImproperlyConfigured, match="FIELD_ENCRYPTION_KEYS: key 2 is not a Fernet key"):
        encrypted.encrypt("x")


def test_the_field_deconstructs_to_its_module():
    path, args, kwargs = EncryptedTextField(blank=True, editable=False).deconstruct()[1:]
    assert path == "core.db.encrypted.EncryptedTextField"
    assert kwargs == {"blank": True, "editable": False}


# --- In the database --------------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_the_column_holds_a_token_and_the_attribute_the_plain_value(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    endpoint = make_endpoint(previous_secret="")
    stored = raw(endpoint)
    assert stored != endpoint.secret and "whsec_" not in stored
    assert Fernet(OLD).decrypt(stored.encode()).decode() == endpoint.secret
    assert raw(endpoint, "previous_secret") == ""  # "no previous secret" stays as it is
    again = reread(endpoint)
    assert (again.secret, again.previous_secret) == (endpoint.secret, "")
    assert WebhookEndpoint.objects.values_list("secret", flat=True).get(pk=endpoint.pk) == endpoint.secret


@pytest.mark.django_db
def test_update_and_bulk_update_encrypt_too(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    first, second = make_endpoint(), make_endpoint()
    WebhookEndpoint.objects.filter(pk=first.pk).update(previous_secret="whsec_updated")
    second.previous_secret = "whsec_bulk"
    WebhookEndpoint.objects.bulk_update([second], ["previous_secret"])
    for endpoint, value in ((first, "whsec_updated"), (second, "whsec_bulk")):
        assert Fernet(OLD).decrypt(raw(endpoint, "previous_secret").encode()).decode() == value
        assert reread(endpoint).previous_secret == value


@pytest.mark.django_db
def test_only_isnull_and_comparisons_with_empty_are_allowed():
    with_previous = make_endpoint(previous_secret="whsec_old")
    without = make_endpoint(previous_secret="")
    assert list(WebhookEndpoint.objects.filter(previous_secret="")) == [without]
    assert list(WebhookEndpoint.objects.exclude(previous_secret="")) == [with_previous]
    assert WebhookEndpoint.objects.filter(secret__isnull=False).count() == 2
    with pytest.raises(FieldError, match="encrypted"):
        WebhookEndpoint.objects.filter(secret=with_previous.secret).exists()
    for lookup in ("icontains", "startswith", "in", "gt"):
        with pytest.raises(FieldError, match="Unsupported lookup"):
            WebhookEndpoint.objects.filter(**{f"secret__{lookup}": "whsec_"}).exists()


@pytest.mark.django_db
def test_a_new_key_put_first_reads_old_values_and_the_command_moves_them_to_it(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    endpoints = [make_endpoint(previous_secret=webhooks.new_secret()) for _ in range(5)]
    endpoints.append(make_endpoint(previous_secret=""))
    plain = {e.pk: (e.secret, e.previous_secret) for e in endpoints}

    settings.FIELD_ENCRYPTION_KEYS = [NEW, OLD]
    assert {e.pk: (e.secret, e.previous_secret) for e in WebhookEndpoint.objects.all()} == plain
    out = io.StringIO()
    call_command("rotate_encrypted_fields", batch_size=2, stdout=out)
    assert "events.WebhookEndpoint: 6 rows re-encrypted (secret, previous_secret)" in out.getvalue()

    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    assert {e.pk: (e.secret, e.previous_secret) for e in WebhookEndpoint.objects.all()} == plain
    for endpoint in endpoints[:5]:
        with pytest.raises(InvalidToken):
            Fernet(OLD).decrypt(raw(endpoint).encode())
    assert raw(endpoints[5], "previous_secret") == ""


@pytest.mark.django_db
def test_a_secret_key_rotated_into_the_fallbacks_keeps_reading_and_the_command_moves_values(settings):
    settings.FIELD_ENCRYPTION_KEYS = []
    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "old-secret-key-" + "x" * 40, []
    endpoint = make_endpoint()

    settings.SECRET_KEY, settings.SECRET_KEY_FALLBACKS = "new-secret-key-" + "y" * 40, ["old-secret-key-" + "x" * 40]
    assert reread(endpoint).secret == endpoint.secret
    call_command("rotate_encrypted_fields", stdout=io.StringIO())

    settings.SECRET_KEY_FALLBACKS = []
    assert reread(endpoint).secret == endpoint.secret


@pytest.mark.django_db
def test_a_value_no_key_opens_is_a_clear_error_never_the_ciphertext(settings):
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    endpoint = make_endpoint()
    stored = raw(endpoint)

    settings.FIELD_ENCRYPTION_KEYS = [NEW]
    with pytest.raises(FieldDecryptionError, match="events.WebhookEndpoint.secret .*FIELD_ENCRYPTION_KEYS") as caught:
        reread(endpoint)
    assert isinstance(caught.value, ImproperlyConfigured)
    assert stored not in str(caught.value)
    with pytest.raises(FieldDecryptionError):
        call_command("rotate_encrypted_fields", stdout=io.StringIO())
    settings.FIELD_ENCRYPTION_KEYS = [OLD]
    assert raw(endpoint) == stored  # the failed rotation changed nothing


@pytest.mark.django_db
def test_plain_text_left_in_the_column_is_an_error_too():
    endpoint = make_endpoint()
    WebhookEndpoint.objects.filter(pk=endpoint.pk).update(secret="placeholder")
    meta = WebhookEndpoint._meta
    qn = connection.ops.quote_name
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {qn(meta.db_table)} SET {qn('secret')} = %s WHERE {qn(meta.pk.column)} = %s",
            ["whsec_plain", endpoint.pk],
        )
    with pytest.raises(FieldDecryptionError):
        reread(endpoint)
