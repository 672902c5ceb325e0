"""``core.clock``: the write path's time is the real time, except inside ``frozen_at``, where every stamp
(audit fields, change history, bulk updates, soft deletes) is the held moment."""

from datetime import UTC, datetime, timedelta

import pytest
from django.utils import timezone

from core import clock
from core.history import update_with_history
from tests.core.testapp.models import Widget

THEN = datetime(2026, 3, 2, 9, 15, tzinfo=UTC)


def test_the_clock_runs_unless_held():
    assert clock.frozen() is None
    assert abs(clock.now() - timezone.now()) < timedelta(seconds=1)
    with clock.frozen_at(THEN):
        assert clock.now() == THEN and clock.frozen() == THEN
        with clock.frozen_at(THEN + timedelta(hours=1)):
            assert clock.now() == THEN + timedelta(hours=1)
        assert clock.now() == THEN
    assert clock.frozen() is None


def test_a_naive_moment_is_refused():
    with pytest.raises(ValueError), clock.frozen_at(datetime(2026, 3, 2, 9, 15)):
        pass


@pytest.mark.django_db
def test_writes_inside_frozen_at_are_stamped_at_the_held_moment():
    with clock.frozen_at(THEN):
        widget = Widget.objects.create(name="a")
    assert widget.created_at == widget.updated_at == THEN
    assert widget.history.get().history_date == THEN

    later = THEN + timedelta(days=1)
    with clock.frozen_at(later):
        widget.size = 2
        widget.save()
    widget.refresh_from_db()
    assert (widget.created_at, widget.updated_at) == (THEN, later)
    assert widget.history.latest().history_date == later

    even_later = later + timedelta(days=1)
    with clock.frozen_at(even_later):
        update_with_history(Widget.objects.filter(pk=widget.pk), size=3)
        widget.refresh_from_db()
        widget.delete()
    widget.refresh_from_db()
    assert widget.updated_at == widget.deleted_at == even_later
    assert set(widget.history.values_list("history_date", flat=True)) == {THEN, later, even_later}


@pytest.mark.django_db
def test_writes_outside_frozen_at_keep_the_real_time():
    before = timezone.now()
    widget = Widget.objects.create(name="b")
    after = timezone.now()
    assert before <= widget.created_at <= widget.updated_at <= after
    assert before <= widget.history.get().history_date <= after
