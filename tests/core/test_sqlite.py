import threading

import pytest
from django.db import connection, connections, transaction

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
    errors = []
    barrier = threading.Barrier(8)

    def bump():
        try:
            barrier.wait()
            for _ in range(10):
                with transaction.atomic():
                    current = Widget.objects.get(pk=widget.pk)
                    Widget.objects.filter(pk=widget.pk).update(size=current.size + 1)
        except Exception as exc:  # collected and asserted below
            errors.append(exc)
        finally:
            connections.close_all()

    threads = [threading.Thread(target=bump) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    # IMMEDIATE transactions serialise read-modify-write cycles: no update is lost.
    assert Widget.objects.get(pk=widget.pk).size == 80
