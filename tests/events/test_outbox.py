"""The outbox: events are written in the change's transaction, and numbered in commit order."""

import threading

import pytest
from django.core.management import call_command
from django.db import connection, transaction
from django.test.utils import CaptureQueriesContext

from accounts import roles
from core import clock
from core.models import RuntimeSetting
from events import services
from events.models import Event
from events.selectors import events_after, last_sequence
from events.types import TYPES, readable_types
from tests.factories import UserFactory


@pytest.fixture
def thing(db):
    """Any saved object stands for the changed one here; the apps' own events are tested with their services."""
    return RuntimeSetting.objects.create(key="events.test", value=1)


def test_publish_belongs_inside_the_change_transaction(thing):
    # pytest-django wraps each test in a transaction: leave it to show the refusal.
    with pytest.raises(ValueError, match="Unknown event type"), transaction.atomic():
        services.publish("load.exploded", obj=thing, payload={})


@pytest.mark.django_db(transaction=True)
def test_publish_outside_a_transaction_is_refused():
    thing = RuntimeSetting.objects.create(key="events.test", value=1)
    with pytest.raises(transaction.TransactionManagementError):
        services.publish("load.posted", obj=thing, payload={})
    assert not Event.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_a_rolled_back_change_leaves_no_event():
    class Refused(Exception):
        pass

    with pytest.raises(Refused), transaction.atomic():
        thing = RuntimeSetting.objects.create(key="events.test", value=1)
        services.publish("load.posted", obj=thing, payload={"load_id": "L-1"})
        raise Refused
    assert not Event.objects.exists()
    assert not RuntimeSetting.objects.filter(key="events.test").exists()


@pytest.mark.django_db(transaction=True)
def test_a_committed_change_has_its_event_numbered_after_commit():
    user = UserFactory(roles=[roles.MANAGER])
    with transaction.atomic():
        thing = RuntimeSetting.objects.create(key="events.test", value=1)
        event = services.publish("load.posted", obj=thing, payload={"load_id": "L-1"}, actor=user)
        assert Event.objects.get(pk=event.pk).sequence is None  # not before commit
    event.refresh_from_db()
    assert event.sequence == 1
    assert (event.object_type, event.object_id, event.actor) == ("core.runtimesetting", str(thing.pk), user)
    assert [e.pk for e in events_after(user, after=0)] == [event.pk]
    assert last_sequence() == 1


def _sequencer_runs(queries) -> int:
    return sum(1 for query in queries if "IS NULL" in query["sql"] and "sequence" in query["sql"])


@pytest.mark.django_db(transaction=True)
def test_a_transaction_that_publishes_several_events_runs_the_sequencer_once():
    thing = RuntimeSetting.objects.create(key="events.test", value=1)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        for n in range(3):
            services.publish("load.posted", obj=thing, payload={"n": n})
    assert _sequencer_runs(queries.captured_queries) == 1
    assert sorted(Event.objects.values_list("sequence", flat=True)) == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_a_sequencer_dropped_with_a_savepoint_is_registered_again():
    thing = RuntimeSetting.objects.create(key="events.test", value=1)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        try:
            with transaction.atomic():
                services.publish("load.posted", obj=thing, payload={"n": 1})
                raise RuntimeError("the inner change is refused")
        except RuntimeError:
            pass
        services.publish("load.posted", obj=thing, payload={"n": 2})
    assert _sequencer_runs(queries.captured_queries) == 1
    assert [(e.payload["n"], e.sequence) for e in Event.objects.all()] == [(2, 1)]


@pytest.fixture
def sequencer_thread(settings):
    """Production's way: the process's sequencer thread numbers committed events (EVENTS_SEQUENCER_THREAD)."""
    from events.sequencer import sequencer

    settings.EVENTS_SEQUENCER_THREAD = True
    yield sequencer
    assert sequencer.wait_idle(10), "the sequencer thread did not finish"


@pytest.mark.django_db(transaction=True)
def test_the_sequencer_thread_numbers_a_commit_without_the_request_waiting_for_it(sequencer_thread):
    thing = RuntimeSetting.objects.create(key="events.test", value=1)
    with CaptureQueriesContext(connection) as queries, transaction.atomic():
        event = services.publish("load.posted", obj=thing, payload={"load_id": "L-1"})
    assert _sequencer_runs(queries.captured_queries) == 0  # none on the request's connection
    assert sequencer_thread.wait_idle(10)
    event.refresh_from_db()
    assert event.sequence == 1
    assert sequencer_thread.thread.name == "events-sequencer"


@pytest.mark.django_db(transaction=True)
def test_the_sequencer_thread_numbers_commits_in_order_and_survives_a_failed_run(sequencer_thread, monkeypatch):
    thing = RuntimeSetting.objects.create(key="events.test", value=1)
    failures = []
    real = services.assign_sequences

    def flaky(*args, **kwargs):
        if not failures:  # the database fails once: the thread logs it and tries again
            failures.append(1)
            from django.db import OperationalError

            raise OperationalError("server closed the connection unexpectedly")
        return real(*args, **kwargs)

    monkeypatch.setattr(services, "assign_sequences", flaky)
    for n in range(3):
        with transaction.atomic():
            services.publish("load.posted", obj=thing, payload={"n": n})
    assert sequencer_thread.wait_idle(10)
    assert failures == [1]
    assert [e.payload["n"] for e in Event.objects.order_by("sequence")] == [0, 1, 2]
    assert sorted(Event.objects.values_list("sequence", flat=True)) == [1, 2, 3]


@pytest.mark.django_db(transaction=True)
def test_an_exiting_process_numbers_and_announces_what_is_due(sequencer_thread):
    from events import notify

    thing = RuntimeSetting.objects.create(key="events.test", value=1)
    heard = notify.mark()
    with transaction.atomic():
        event = services.publish("load.posted", obj=thing, payload={})
    sequencer_thread.flush()  # atexit's call: returns once the thread has numbered and announced
    event.refresh_from_db()
    assert event.sequence == 1
    assert notify.mark() > heard  # announced before the process could end


@pytest.mark.django_db(transaction=True)
def test_the_beat_job_announces_the_highest_number_again_when_nothing_is_new():
    # An announcement lost on its way (a process killed between commit and announcement) reaches watchers here.
    from events import notify
    from events.tasks import assign_sequences

    thing = RuntimeSetting.objects.create(key="events.test", value=1)
    with transaction.atomic():
        event = services.publish("load.posted", obj=thing, payload={})
    event.refresh_from_db()
    heard = notify.mark()
    assert assign_sequences() == 0
    assert notify.mark() == heard + 1 and notify.latest() >= event.sequence == 1


@pytest.mark.django_db(transaction=True)
@pytest.mark.skipif(connection.vendor == "sqlite", reason="SQLite admits one writer at a time: no commit can overtake")
def test_a_transaction_that_commits_late_is_numbered_after_the_ones_already_read():
    """T1 publishes first (smaller id) and commits last. A reader that followed the feed past T2's event must
    still get T1's: it is numbered after, not skipped."""
    user = UserFactory(roles=[roles.MANAGER])
    thing = RuntimeSetting.objects.create(key="events.test", value=1)
    t1_published, t2_committed = threading.Event(), threading.Event()
    errors = []

    def slow():
        try:
            with transaction.atomic():
                services.publish("load.posted", obj=thing, payload={"n": 1})
                t1_published.set()
                assert t2_committed.wait(30)
        except Exception as exc:  # handed to the test
            errors.append(exc)
        finally:
            connection.close()

    def fast():
        try:
            assert t1_published.wait(30)
            with transaction.atomic():
                services.publish("load.posted", obj=thing, payload={"n": 2})
        except Exception as exc:
            errors.append(exc)
        finally:
            t2_committed.set()
            connection.close()

    threads = [threading.Thread(target=slow), threading.Thread(target=fast)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert errors == []
    first, second = Event.objects.order_by("id")
    assert first.payload == {"n": 1} and first.id < second.id
    assert (second.sequence, first.sequence) == (1, 2)  # numbered in commit order
    seen = [e.payload["n"] for e in events_after(user, after=0)]
    assert seen == [2, 1]
    assert [e.payload["n"] for e in events_after(user, after=1)] == [1]


@pytest.mark.django_db(transaction=True)
def test_the_backstop_numbers_events_whose_sequencer_did_not_run(monkeypatch):
    thing = RuntimeSetting.objects.create(key="events.test", value=1)
    monkeypatch.setattr(services, "_sequence_after_commit", lambda: None)  # as if the process died at commit
    with transaction.atomic():
        services.publish("load.posted", obj=thing, payload={})
        services.publish("load.booked", obj=thing, payload={})
    assert list(Event.objects.values_list("sequence", flat=True)) == [None, None]
    from events.tasks import assign_sequences

    assert assign_sequences() == 2
    assert sorted(Event.objects.values_list("sequence", flat=True)) == [1, 2]


def test_each_role_reads_only_its_types(db):
    agent = UserFactory(roles=[roles.SALES_AGENT])
    dispatcher = UserFactory(roles=[roles.DISPATCHER])
    member = UserFactory(roles=[roles.MEMBER])
    assert "load.booked" in readable_types(agent) and "decision.committed" not in readable_types(agent)
    assert "decision.committed" in readable_types(dispatcher) and "call.logged" not in readable_types(dispatcher)
    assert readable_types(member) == ["community.reply.created", "community.best_answer.chosen"]
    assert set(readable_types(UserFactory(is_superuser=True))) == set(TYPES)


@pytest.mark.django_db(transaction=True)
def test_prune_deletes_only_events_past_retention(settings):
    settings.EVENTS_RETENTION_DAYS = 30
    thing = RuntimeSetting.objects.create(key="events.test", value=1)
    with clock.frozen_at(clock.now().replace(year=2020)), transaction.atomic():
        services.publish("load.posted", obj=thing, payload={"old": True})
    with transaction.atomic():
        services.publish("load.posted", obj=thing, payload={"old": False})
    call_command("prune_events")
    assert list(Event.objects.values_list("payload", flat=True)) == [{"old": False}]
