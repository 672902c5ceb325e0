"""manage.py import_loads: every row checked with the API's rules, refusals listed by line,
all or nothing."""

import csv
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.db import connection, connections

from carriers.models import Load
from tests.carriers.factories import LoadFactory
from tests.factories import UserFactory

pytestmark = pytest.mark.django_db

HEADER = [
    "load_id",
    "origin_city",
    "origin_state",
    "destination_city",
    "destination_state",
    "pickup_datetime",
    "delivery_datetime",
    "equipment_type",
    "loadboard_rate",
    "max_rate",
    "weight",
    "miles",
    "notes",
]


def row(n, **overrides):
    values = {
        "load_id": f"IMP-{n}",
        "origin_city": "Chicago",
        "origin_state": "IL",
        "destination_city": "Dallas",
        "destination_state": "TX",
        "pickup_datetime": "2026-12-01T08:00:00Z",
        "delivery_datetime": "2026-12-02T20:00:00Z",
        "equipment_type": "Reefer",
        "loadboard_rate": "2100.00",
        "max_rate": "2300.00",
        "weight": "40000",
        "miles": "925",
        "notes": "",
    }
    values.update(overrides)
    return values


def write(tmp_path, rows):
    path = tmp_path / "loads.csv"
    with path.open("w", newline="") as handle:
        writer = csv.DictWriter(handle, fieldnames=HEADER)
        writer.writeheader()
        writer.writerows(rows)
    return str(path)


def test_a_good_file_is_imported_with_history(tmp_path):
    path = write(tmp_path, [row(n) for n in range(250)])
    out = StringIO()
    call_command("import_loads", path, stdout=out, stderr=StringIO())
    assert "Imported 250 loads" in out.getvalue()
    load = Load.objects.get(load_id="IMP-7")
    assert load.equipment_type == "reefer" and load.max_rate == 2300 and load.status == "available"
    entry = Load.history.get(load_id="IMP-7")
    assert entry.history_type == "+"
    for field in Load._meta.concrete_fields:  # the entry holds the row exactly as stored
        assert getattr(entry, field.attname) == getattr(load, field.attname), field.name


def test_bad_rows_are_listed_by_line_and_nothing_is_imported(tmp_path):
    LoadFactory(load_id="TAKEN-1")
    rows = [row(n) for n in range(10)]
    rows[2] = row(2, origin_state="ZZ")  # line 4
    rows[4] = row(4, delivery_datetime="2026-11-30T08:00:00Z")  # line 6: delivery before pickup
    rows[6] = row(6, load_id="IMP-1")  # line 8: twice in the file
    rows[8] = row(8, load_id="TAKEN-1")  # line 10: already posted
    rows[9] = row(9, loadboard_rate="0")  # line 11
    err = StringIO()
    with pytest.raises(CommandError, match="rows refused; nothing was imported"):
        call_command("import_loads", write(tmp_path, rows), stdout=StringIO(), stderr=err)
    report = err.getvalue()
    assert "line 4: origin_state" in report and "line 11: loadboard_rate" in report
    assert not Load.objects.filter(load_id__startswith="IMP-").exists()
    # Rows that pass the field checks are then held to the load rules and to load-ID uniqueness.
    rows[2], rows[9] = row(2), row(9)
    err = StringIO()
    with pytest.raises(CommandError, match="3 of 10 rows refused"):
        call_command("import_loads", write(tmp_path, rows), stdout=StringIO(), stderr=err)
    report = err.getvalue()
    assert "line 6: delivery_datetime" in report
    assert "line 8: load_id: IMP-1 is also on line 3" in report
    assert "line 10: load_id: A load with this load ID already exists." in report
    assert not Load.objects.filter(load_id__startswith="IMP-").exists()


def test_the_header_is_checked_once_for_the_whole_file(tmp_path):
    # A column the API does not know is refused even where its cells are empty: a misspelt
    # optional column is never silently ignored.
    path = tmp_path / "loads.csv"
    path.write_text(",".join([*HEADER, "colour"]) + "\n" + ",".join(row(1).values()) + ",\n")
    err = StringIO()
    with pytest.raises(CommandError, match="header of .* is refused; nothing was imported"):
        call_command("import_loads", str(path), stdout=StringIO(), stderr=err)
    assert "line 1: colour: This field is not known to this endpoint." in err.getvalue()
    path.write_text("load_id,origin_city\nIMP-1,Chicago\n")
    err = StringIO()
    with pytest.raises(CommandError, match="header of .* is refused"):
        call_command("import_loads", str(path), stdout=StringIO(), stderr=err)
    assert "origin_state: This field is required.; destination_city: This field is required." in err.getvalue()
    assert not Load.objects.exists()


def test_unreadable_files_are_refused(tmp_path):
    with pytest.raises(CommandError, match="Cannot read"):
        call_command("import_loads", str(tmp_path / "missing.csv"))
    empty = tmp_path / "empty.csv"
    empty.write_text(",".join(HEADER) + "\n")
    with pytest.raises(CommandError, match="no rows"):
        call_command("import_loads", str(empty))


@pytest.mark.slow
@pytest.mark.django_db(transaction=True)
@pytest.mark.parametrize("start", ["fork", "spawn"])
def test_large_files_are_checked_in_worker_processes_with_the_same_result(tmp_path, monkeypatch, start):
    from carriers.management.commands import import_loads

    monkeypatch.setattr(import_loads, "PARALLEL_MIN_ROWS", 100)
    if start == "fork":
        # As the command runs on its own: nothing connected yet (and so no pool thread either).
        connections.close_all()
        if hasattr(connection, "close_pool"):
            connection.close_pool()
        assert import_loads._fork_is_safe()
    else:
        monkeypatch.setattr(import_loads, "_fork_is_safe", lambda: False)
    rows = [row(n) for n in range(4500)]  # three chunks of up to 2,000 rows
    rows[10] = row(10, origin_state="ZZ")  # line 12, first chunk
    rows[4321] = row(4321, weight="-1")  # line 4323, last chunk
    err = StringIO()
    with pytest.raises(CommandError, match="2 of 4,500 rows refused"):
        call_command("import_loads", write(tmp_path, rows), "--jobs", "2", stdout=StringIO(), stderr=err)
    assert "line 12: origin_state" in err.getvalue() and "line 4323: weight" in err.getvalue()
    assert not Load.objects.exists()

    rows[10], rows[4321] = row(10), row(4321)
    out = StringIO()
    call_command("import_loads", write(tmp_path, rows), "--jobs", "2", stdout=out, stderr=StringIO())
    assert "Imported 4,500 loads" in out.getvalue()
    assert Load.objects.get(load_id="IMP-4321").equipment_type == "reefer"
    assert Load.history.count() == 4500


@pytest.mark.django_db(transaction=True)
def test_loads_imported_for_a_user_carry_them_as_author_and_checking_still_forks(tmp_path, monkeypatch):
    from carriers.management.commands import import_loads

    monkeypatch.setattr(import_loads, "PARALLEL_MIN_ROWS", 100)
    user = UserFactory(username="ops-lead")
    # As the command runs on its own: nothing connected yet. Finding the user connects; the
    # command lets that connection go before it forks its checkers.
    connections.close_all()
    if hasattr(connection, "close_pool"):
        connection.close_pool()
    fork_checks = []
    is_safe = import_loads._fork_is_safe
    monkeypatch.setattr(import_loads, "_fork_is_safe", lambda: fork_checks.append(is_safe()) or fork_checks[-1])
    out = StringIO()
    path = write(tmp_path, [row(n) for n in range(300)])
    call_command("import_loads", path, "--as-user", "ops-lead", "--jobs", "2", stdout=out, stderr=StringIO())
    assert "Imported 300 loads" in out.getvalue() and fork_checks == [True]
    load = Load.objects.get(load_id="IMP-3")
    assert (load.created_by, load.updated_by) == (user, user)
    assert Load.history.get(load_id="IMP-3").history_user == user


def test_an_unknown_or_inactive_user_is_refused_before_anything_is_read(tmp_path):
    UserFactory(username="gone", is_active=False)
    path = write(tmp_path, [row(1)])
    for name in ("nobody", "gone"):
        with pytest.raises(CommandError, match=f"No active user named '{name}'"):
            call_command("import_loads", path, "--as-user", name, stdout=StringIO(), stderr=StringIO())
    assert not Load.objects.exists()
