"""Encrypt every ``EncryptedTextField`` value again under the first key in force (``core.db.encrypted``).

Run it after putting a new key first in ``FIELD_ENCRYPTION_KEYS`` (or after rotating ``SECRET_KEY`` with the old one
in ``SECRET_KEY_FALLBACKS``), before dropping the old key.

Rows are read and written through the ORM in batches of primary keys: the field decrypts each value with any key
(what ``MultiFernet.rotate`` does first) and ``bulk_update`` writes it back encrypted under the first key, one UPDATE
per batch. ``bulk_update`` rather than ``save(update_fields=...)``: a new ciphertext of the same value is not a change,
so no ``save()`` runs (no ``updated_at`` stamp, no version bump, no history entry, no signal), and a batch costs one
query rather than one per row. Each batch is read under its row locks (``lock_rows``) in its own transaction, so a secret rotated
meanwhile by its owner is never overwritten with the copy read before."""

from django.apps import apps
from django.core.management.base import BaseCommand
from django.db import DEFAULT_DB_ALIAS, transaction

from core.db.encrypted import EncryptedTextField
from core.db.locks import lock_rows


def encrypted_fields():
    """(model, [its EncryptedTextField names]) for every concrete model that has any, each table once."""
    for model in apps.get_models():
        meta = model._meta
        if meta.proxy or meta.swapped or not meta.managed:
            continue
        names = [field.name for field in meta.local_concrete_fields if isinstance(field, EncryptedTextField)]
        if names:
            yield model, names


class Command(BaseCommand):
    help = "Encrypt every encrypted field's value again under the first key of FIELD_ENCRYPTION_KEYS."

    def add_arguments(self, parser):
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)
        parser.add_argument("--batch-size", type=int, default=500, help="Rows per transaction (default 500).")

    def handle(self, *args, database, batch_size, **options):
        for model, names in encrypted_fields():
            rows = self.rotate_model(model, names, database, max(1, batch_size))
            self.stdout.write(f"{model._meta.label}: {rows} rows re-encrypted ({', '.join(names)})")

    @staticmethod
    def rotate_model(model, names, database, batch_size) -> int:
        manager = model._base_manager.using(database)
        pk_name = model._meta.pk.name
        done, last = 0, None
        while True:
            with transaction.atomic(using=database):
                batch = lock_rows(manager.order_by(pk_name).only(pk_name, *names))
                if last is not None:
                    batch = batch.filter(pk__gt=last)
                rows = list(batch[:batch_size])
                if rows:
                    manager.bulk_update(rows, names)
            done += len(rows)
            if len(rows) < batch_size:
                return done
            last = rows[-1].pk
