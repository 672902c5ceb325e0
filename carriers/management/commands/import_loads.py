import csv
import multiprocessing
import os
import sys
import time
from concurrent.futures import ProcessPoolExecutor

import django
from django.core.management.base import BaseCommand, CommandError

from carriers import services
from carriers.api.serializers import LoadImportSerializer
from core.errors import Invalid

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


def check_chunk(chunk: tuple[int, list[dict]]) -> tuple[list[tuple[int, dict]], dict[str, list[str]], int]:
    """Rows checked with the API's rules for a posted load (``LoadImportSerializer``):
    ``(line, fields)`` for each good one and the refusals keyed ``"line N"``."""
    start, rows = chunk
    serializer = LoadImportSerializer(data=rows, many=True)
    if serializer.is_valid():
        return [(start + offset + 2, fields) for offset, fields in enumerate(serializer.validated_data)], {}, len(rows)
    # Errors come keyed by the row's index in the chunk (a list on older DRF versions).
    errors = serializer.errors
    errors = errors if isinstance(errors, dict) else dict(enumerate(errors))
    refused = {
        f"line {start + offset + 2}": [
            f"{name}: {' '.join(map(str, messages))}" for name, messages in row_errors.items()
        ]
        for offset, row_errors in errors.items()
        if row_errors
    }  # the header is line 1
    return [], refused, len(rows)


class Command(BaseCommand):
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
        # Fresh interpreters (spawn), not forks: a fork would share this process's database
        # connection, and the workers never need one.
        context = multiprocessing.get_context("spawn")
        with ProcessPoolExecutor(max_workers=jobs, mp_context=context, initializer=django.setup) as pool:
            yield from pool.map(check_chunk, chunks)

    def handle(self, *args, path, **options):
        started = time.perf_counter()
        try:
            with open(path, newline="", encoding="utf-8-sig") as handle:
                rows = list(csv.DictReader(handle))
        except (OSError, UnicodeDecodeError, csv.Error) as exc:
            raise CommandError(f"Cannot read {path}: {exc}") from exc
        if not rows:
            raise CommandError(f"{path} has no rows under its header.")

        # Empty cells are absent values; the API's serializer decides what is required.
        data = [{key: value for key, value in row.items() if key and value not in ("", None)} for row in rows]
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
            self._refuse(refused, len(rows))
        try:
            created = services.loads_import(loads=checked, progress=_progress("Importing"))
        except Invalid as exc:
            self._refuse(exc.fields, len(rows), total=int(exc.message.split()[0]))
        self.stdout.write(
            self.style.SUCCESS(f"Imported {created:,} loads from {path} in {time.perf_counter() - started:.1f} s.")
        )

    def _refuse(self, refused: dict, rows: int, total: int | None = None):
        for line, messages in list(refused.items())[: services.IMPORT_ERRORS_SHOWN]:
            self.stderr.write(f"{line}: {'; '.join(messages)}")
        total = total if total is not None else len(refused)
        raise CommandError(f"{total} of {rows:,} rows refused; nothing was imported.")
