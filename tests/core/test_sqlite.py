import pytest
from django.db import connection, transaction

from tests.concurrency import errors_of, run_at_once
from tests.core.testapp.models import Widget

sqlite_only = pytest.mark.skipif(connection.vendor != "sqlite", reason="SQLite settings")


@sqlite_only
@pytest.mark.django_db
def test_sqlite_runs_in_wal_mode_with_a_busy_timeout():
    with connection.cursor() as cursor:
        cursor.execute("PRAGMA journal_mode")
        assert cursor.fetchone()[0] == "wal"
        cursor.execute("PRAGMA busy_timeout")
        assert cursor.fetchone()[0] >= 5000


@sqlite_only
@pytest.mark.django_db(transaction=True)
def test_concurrent_sqlite_writers_wait_instead_of_failing():
    widget = Widget.objects.create(name="counter", size=0)

    def bump():
        for _ in range(10):
            with transaction.atomic():
                current = Widget.objects.get(pk=widget.pk)
                Widget.objects.filter(pk=widget.pk).update(size=current.size + 1)

    errors = errors_of(run_at_once([bump] * 8))
    assert errors == []
    # IMMEDIATE transactions serialise read-modify-write cycles: no update is lost.
    assert Widget.objects.get(pk=widget.pk).size == 80
