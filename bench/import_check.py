"""``manage.py import_loads``'s row check: ``core.fastpaths.rows.RowValidator`` (the command's
``check_chunk``) against a plain ``LoadImportSerializer(data=row).is_valid()`` per row, in the
command's own worker pool (``Command._check``: fork context, ``--jobs``, chunks of
``services.IMPORT_BATCH`` rows), then in one process (``--jobs 1``) for reference.

    createdb -h 127.0.0.1 -U postgres import_check
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/import_check .venv/bin/python manage.py migrate
    DATABASE_URL=postgres://postgres@127.0.0.1:5432/import_check [ROWS=100000] [JOBS=2] [ROUNDS=3] \\
        .venv/bin/python bench/import_check.py

The rows are bench/import_bench.py's CSV (its ``write_csv``), read as the command reads them, with
a few bad ones (bad state, negative rate, no load_id). The two variants alternate, round by round
and in alternating order, so that noise on a shared machine hits both: read the ratios more than
the absolute times. Both must accept and refuse the same rows with equal validated data and the
same messages. The database is only read from (no row is written); it is used to count the queries
``is_valid()`` makes per row (load_id uniqueness is the service's, for the whole file at once).
"""

import csv
import os
import resource
import statistics
import sys
import tempfile
import time
from pathlib import Path
from unittest import mock

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings.local")

import django  # noqa: E402

django.setup()

from django.db import connection  # noqa: E402
from django.test.utils import CaptureQueriesContext  # noqa: E402

from bench.import_bench import write_csv  # noqa: E402
from carriers import services  # noqa: E402
from carriers.api.serializers import LoadImportSerializer  # noqa: E402
from carriers.management.commands import import_loads  # noqa: E402

ROWS = int(os.environ.get("ROWS", 100_000))
JOBS = int(os.environ.get("JOBS", 2))
ROUNDS = int(os.environ.get("ROUNDS", 3))
# Rows made bad (0-based, in the data): what each one's refusal must name.
BAD = {
    7: ("origin_state", "ZZ"),
    ROWS // 2 + 3: ("loadboard_rate", "-5.00"),
    ROWS - 5: ("load_id", None),  # an empty cell: absent
}


def plain_chunk(chunk: tuple[int, list[dict]]) -> tuple[list[tuple[int, dict]], dict[str, list[str]], int]:
    """``import_loads.check_chunk`` with a serializer per row instead of ``RowValidator``."""
    start, rows = chunk
    checked, refused = [], {}
    for line, row in enumerate(rows, start + 2):  # the header is line 1
        serializer = LoadImportSerializer(data=row)
        if serializer.is_valid():
            checked.append((line, serializer.validated_data))
        else:
            refused[f"line {line}"] = [
                f"{name}: {' '.join(map(str, messages))}" for name, messages in serializer.errors.items()
            ]
    return checked, refused, len(rows)


VARIANTS = {"RowValidator": import_loads.check_chunk, "plain is_valid": plain_chunk}


def read_rows(path: Path) -> tuple[list[str], list[dict]]:
    """As ``import_loads.Command.handle`` reads the file."""
    with open(path, newline="", encoding="utf-8-sig") as handle:
        reader = csv.reader(handle)
        header = next(reader, [])
        data = [
            {name: value for name, value in zip(header, row, strict=False) if name and value} for row in reader if row
        ]
    return header, data


def cpu_seconds() -> float:
    """CPU time of this process and of its reaped children (the pool's workers, once shut down)."""
    own, children = resource.getrusage(resource.RUSAGE_SELF), resource.getrusage(resource.RUSAGE_CHILDREN)
    return own.ru_utime + own.ru_stime + children.ru_utime + children.ru_stime


def check(variant: str, header: list[str], chunks: list, jobs: int):
    """The command's check, from making the file's validator to the last chunk collected:
    wall seconds, CPU seconds (all processes), the checked rows and the refusals."""
    started, cpu = time.perf_counter(), cpu_seconds()
    if variant == "RowValidator":
        assert not import_loads.file_validator(new=True).check_columns(name for name in header if name)
    checked, refused = [], {}
    with mock.patch.object(import_loads, "check_chunk", VARIANTS[variant]):
        for chunk_checked, chunk_refused, _size in import_loads.Command()._check(chunks, jobs):
            checked += chunk_checked
            refused.update(chunk_refused)
    return time.perf_counter() - started, cpu_seconds() - cpu, checked, refused


def same(outcomes: dict) -> None:
    """Both variants: the same lines accepted with equal values (same keys, order, types and
    reprs), the same lines refused with the same messages."""
    (name_a, (checked_a, refused_a)), (name_b, (checked_b, refused_b)) = outcomes.items()
    assert refused_a == refused_b, (name_a, refused_a, name_b, refused_b)
    assert len(checked_a) == len(checked_b)
    for (line_a, fields_a), (line_b, fields_b) in zip(checked_a, checked_b, strict=True):
        assert line_a == line_b
        assert list(fields_a.items()) == list(fields_b.items()), (line_a, fields_a, fields_b)
        assert repr(list(fields_a.items())) == repr(list(fields_b.items())), (line_a, fields_a, fields_b)


def queries_per_row(data: list[dict], sample: int = 500) -> dict[str, float]:
    validator = import_loads.file_validator(new=True)
    counts = {}
    with CaptureQueriesContext(connection) as captured:
        for row in data[:sample]:
            LoadImportSerializer(data=row).is_valid()
    counts["plain is_valid"] = len(captured.captured_queries) / sample
    with CaptureQueriesContext(connection) as captured:
        for row in data[:sample]:
            validator.validate(row)
    counts["RowValidator"] = len(captured.captured_queries) / sample
    return counts


def bench(label: str, header: list[str], chunks: list, jobs: int) -> None:
    samples = {name: [] for name in VARIANTS}
    cpu = {name: [] for name in VARIANTS}
    ratios = []
    for round_ in range(ROUNDS):
        order = list(VARIANTS) if round_ % 2 == 0 else list(reversed(VARIANTS))
        outcomes = {}
        for name in order:
            elapsed, cpu_used, checked, refused = check(name, header, chunks, jobs)
            samples[name].append(elapsed)
            cpu[name].append(cpu_used)
            outcomes[name] = (checked, refused)
        same(outcomes)
        (_, refused), *_ = outcomes.values()
        assert sorted(refused) == sorted(f"line {index + 2}" for index in BAD), sorted(refused)
        for index, (field, _value) in BAD.items():
            assert any(message.startswith(f"{field}:") for message in refused[f"line {index + 2}"])
        ratios.append(samples["plain is_valid"][-1] / samples["RowValidator"][-1])
        print(
            f"  {label} round {round_ + 1}: "
            + "   ".join(f"{name} {samples[name][-1]:6.2f} s (CPU {cpu[name][-1]:6.2f} s)" for name in VARIANTS)
            + f"   ratio {ratios[-1]:.2f}",
            flush=True,
        )
    medians = {name: statistics.median(values) for name, values in samples.items()}
    print(
        f"{label}: "
        + "   ".join(
            f"{name} median {median:6.2f} s (min {min(samples[name]):6.2f})" for name, median in medians.items()
        )
        + f"   plain/RowValidator: {medians['plain is_valid'] / medians['RowValidator']:.2f} (of medians), "
        f"{statistics.median(ratios):.2f} (median of the rounds' ratios)",
        flush=True,
    )
    cpu_medians = {name: statistics.median(values) for name, values in cpu.items()}
    print(
        f"{label} CPU seconds, all processes: "
        + "   ".join(f"{name} median {median:6.2f} s" for name, median in cpu_medians.items())
        + f"   plain/RowValidator: {cpu_medians['plain is_valid'] / cpu_medians['RowValidator']:.2f}",
        flush=True,
    )


def main() -> None:
    with tempfile.TemporaryDirectory() as tmp:
        path = Path(tmp) / "loads.csv"
        write_csv(path, ROWS)
        header, data = read_rows(path)
    for index, (field, value) in BAD.items():
        if value is None:
            del data[index][field]
        else:
            data[index][field] = value
    chunks = [
        (start, data[start : start + services.IMPORT_BATCH]) for start in range(0, len(data), services.IMPORT_BATCH)
    ]

    counts = queries_per_row(data)
    print(
        f"queries per row ({connection.vendor}, first 500 rows): " + ", ".join(f"{k} {v:g}" for k, v in counts.items())
    )
    import_loads._release_connection()  # as the command does before checking, so that it may fork
    if JOBS > 1:
        assert ROWS >= import_loads.PARALLEL_MIN_ROWS, "fewer rows than the command checks in worker processes"
        assert import_loads._fork_is_safe(), "the command would spawn, not fork"

    print(f"{ROWS:,} rows in {len(chunks)} chunks of {services.IMPORT_BATCH:,}, {len(BAD)} bad; {ROUNDS} rounds")
    bench(f"jobs={JOBS}", header, chunks, JOBS)
    bench("jobs=1", header, chunks, 1)


if __name__ == "__main__":
    main()
