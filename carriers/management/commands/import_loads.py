import csv
import multiprocessing
import os
import sys
import threading
import time
from concurrent.futures import ProcessPoolExecutor

import django
from django.core.management.base import CommandError
from django.db import connection, connections

from carriers import services
from carriers.api.serializers import LoadImportSerializer
from core.errors import Invalid
from core.fastpaths.rows import RowValidator
from core.management.base import ActingCommand

COLUMNS = (
    "load_id, origin_city, origin_state, destination_city, destination_state, pickup_datetime, delivery_datetime, "
    "equipment_type, loadboard_rate, weight; optional: max_rate, commodity_type, num_of_pieces, miles, dimensions, notes"
)


def _progress(label: str):
    def report(done: int, total: int) -> None:
        width = 30
        filled = width * done // max(total, 1)
        sys.stderr.write(f"\r{label} [{'#' * filled}{'.' * (width - filled)}] {done:,}/{total:,}")
        if done >= total:
            sys.stderr.write("\n")
        sys.stderr.flush()

    return report


# Below this many rows, starting worker processes costs more than it saves.
PARALLEL_MIN_ROWS = 10_000

# The file's validator in this process; it remembers the outcome of each distinct cell. A spawned
# worker makes its own, a forked one inherits it.
_validator: RowValidator | None = None


def file_validator(*, new: bool = False) -> RowValidator:
    global _validator
    if new or _validator is None:
        _validator = RowValidator(LoadImportSerializer())
    return _validator


def check_chunk(chunk: tuple[int, list[dict]]) -> tuple[list[tuple[int, dict]], dict[str, list[str]], int]:
    """Rows checked with the API's rules for a posted load (``LoadImportSerializer``'s, through
    ``RowValidator``): ``(line, fields)`` for each good one and the refusals keyed ``"line N"``."""
    start, rows = chunk
    validate = file_validator().validate
    checked, refused = [], {}
    for line, row in enumerate(rows, start + 2):  # the header is line 1
        fields, errors = validate(row)
        if errors:
            refused[f"line {line}"] = [f"{name}: {' '.join(map(str, messages))}" for name, messages in errors.items()]
        else:
            checked.append((line, fields))
    return checked, refused, len(rows)


def _fork_is_safe() -> bool:
    """A fork copies this process: safe while it holds no database connection (the copy would
    share its socket) and runs no other thread (a lock held there would stay held in the copy).
    The command first uses the database to write, after checking."""
    if "fork" not in multiprocessing.get_all_start_methods() or threading.active_count() > 1:
        return False
    return all(connection.connection is None for connection in connections.all(initialized_only=True))


def _release_connection() -> None:
    """Close the connection (and its pool's threads) that finding ``--as-user`` opened, so that
    checking may fork; writing connects again. Inside a transaction (a test's) it stays open."""
    if connection.in_atomic_block:
        return
    connection.close()
    if hasattr(connection, "close_pool"):  # PostgreSQL's pool
        connection.close_pool()


class Command(ActingCommand):
    help = (
        "Post the loads of a CSV file (header row of API field names: " + COLUMNS + "). Every row is checked "
        "with the API's rules first; if any is refused, the refusals are listed by line and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file, UTF-8, comma-separated, with a header row.")
        parser.add_argument(
            "--jobs",
            type=int,
            default=os.cpu_count() or 1,
            help="Processes checking rows at once for large files (default: one per CPU).",
        )

    def _check(self, chunks, jobs):
        """Each chunk's checked rows and refusals, in worker processes when the file is large:
        checking is pure Python work on the rows, so it scales with the CPUs."""
        rows = sum(len(chunk) for _, chunk in chunks)
        if jobs <= 1 or rows < PARALLEL_MIN_ROWS:
            yield from map(check_chunk, chunks)
            return
        if _fork_is_safe():
            # Forks start at once with the project loaded (and the validator made).
            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=multiprocessing.get_context("fork"))
        else:
            # Fresh interpreters, which set the project up again (about a second each) but share
            # nothing with this process.
            context = multiprocessing.get_context("spawn")
            pool = ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=django.setup)
        with pool:
            yield from pool.map(check_chunk, chunks)

    def handle(self, *args, path, **options):
        started = time.perf_counter()
        try:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                reader = csv.reader(handle)
                header = next(reader, [])
                # Empty cells are absent values (the API's serializer decides what is required), and
                # so are cells beyond the header's columns; blank lines are skipped.
                data = [
                    {name: value for name, value in zip(header, row, strict=False) if name and value}
                    for row in reader
                    if row
                ]
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        if not data:
            raise CommandError(f"{path} has no rows under its header.")
        # The serializer's rules on which fields a row may and must have, checked once for the file.
        refused = file_validator(new=True).check_columns(name for name in header if name)
        if refused:
            messages = [f"{name}: {' '.join(msgs)}" for name, msgs in refused.items()]
            self.stderr.write(f"line 1: {'; '.join(messages)}")
            raise CommandError(f"The header of {path} is refused; nothing was imported.")

        _release_connection()
        chunks = [
            (start, data[start : start + services.IMPORT_BATCH]) for start in range(0, len(data), services.IMPORT_BATCH)
        ]
        checked, refused = [], {}
        report = _progress("Checking")
        done = 0
        for chunk_checked, chunk_refused, size in self._check(chunks, options["jobs"]):
            checked += chunk_checked
            refused.update(chunk_refused)
            done += size
            report(done, len(data))
        if refused:
            self._refuse(refused, len(data))
        try:
            created = services.loads_import(loads=checked, progress=_progress("Importing"))
        except Invalid as exc:
            self._refuse(exc.fields, len(data), total=int(exc.message.split()[0]))
        self.stdout.write(
            self.style.SUCCESS(f"Imported {created:,} loads from {path} in {time.perf_counter() - started:.1f} s.")
        )

    def _refuse(self, refused: dict, rows: int, total: int | None = None):
        for line, messages in list(refused.items())[: services.IMPORT_ERRORS_SHOWN]:
            self.stderr.write(f"{line}: {'; '.join(messages)}")
        total = total if total is not None else len(refused)
        raise CommandError(f"{total} of {rows:,} rows refused; nothing was imported.")
