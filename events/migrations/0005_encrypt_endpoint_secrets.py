"""Webhook signing secrets encrypted at rest (core.db.encrypted.EncryptedTextField).

The columns become text (a Fernet token is longer than the 120 characters of before), then every stored secret is
encrypted in place. The raw column values are read and written through the schema editor's cursor, never through
the historical model, whose field would try to decrypt the plain text. Backwards, the secrets are decrypted before
the columns go back to 120 characters. The keys are those in force (FIELD_ENCRYPTION_KEYS, else derived from
SECRET_KEY): migrate with the settings the application runs with."""

from django.db import migrations

import core.db.encrypted
from core.db import encrypted

BATCH = 500
FIELDS = ("secret", "previous_secret")


def _rewrite(apps, schema_editor, change):
    """Every row's secrets through ``change`` (a value → the value to store, or None to leave it), in id order."""
    connection = schema_editor.connection
    qn = connection.ops.quote_name
    meta = apps.get_model("events", "WebhookEndpoint")._meta
    table, pk = qn(meta.db_table), qn(meta.pk.column)
    columns = [qn(meta.get_field(name).column) for name in FIELDS]
    select = f"SELECT {pk}, {', '.join(columns)} FROM {table} WHERE {pk} > %s ORDER BY {pk} LIMIT {BATCH}"
    last = -1
    with connection.cursor() as cursor:
        while True:
            cursor.execute(select, [last])
            rows = cursor.fetchall()
            for row_id, *values in rows:
                new = [change(value) for value in values]
                writes = [(column, value) for column, value in zip(columns, new, strict=True) if value is not None]
                if writes:
                    assignments = ", ".join(f"{column} = %s" for column, _ in writes)
                    cursor.execute(
                        f"UPDATE {table} SET {assignments} WHERE {pk} = %s", [*(value for _, value in writes), row_id]
                    )
            if len(rows) < BATCH:
                return
            last = rows[-1][0]


def _encrypted(value):
    if not value:
        return None
    try:
        encrypted.decrypt(value)
    except encrypted.FieldDecryptionError:
        return encrypted.encrypt(value)  # plain text, as every row was before
    return None  # encrypted already (a run cut short and started again)


def _decrypted(value):
    return encrypted.decrypt(value, what="A stored webhook secret") if value else None


def encrypt_secrets(apps, schema_editor):
    _rewrite(apps, schema_editor, _encrypted)


def decrypt_secrets(apps, schema_editor):
    _rewrite(apps, schema_editor, _decrypted)


class Migration(migrations.Migration):
    dependencies = [
        ("events", "0004_requeue_deliveries_job"),
    ]

    operations = [
        migrations.AlterField(
            model_name="webhookendpoint",
            name="previous_secret",
            field=core.db.encrypted.EncryptedTextField(blank=True, editable=False),
        ),
        migrations.AlterField(
            model_name="webhookendpoint",
            name="secret",
            field=core.db.encrypted.EncryptedTextField(editable=False),
        ),
        migrations.RunPython(encrypt_secrets, decrypt_secrets),
    ]
