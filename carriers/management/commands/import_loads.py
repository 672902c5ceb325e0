import csv
import sys
import time

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


class Command(BaseCommand):
    help = (
        "Post the loads of a CSV file (header row of API field names: " + COLUMNS + "). Every row is checked "
        "with the API's rules first; if any is refused, the refusals are listed by line and nothing is imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("path", help="CSV file, UTF-8, comma-separated, with a header row.")

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
        checked, refused = [], {}
        report = _progress("Checking")
        for start in range(0, len(data), services.IMPORT_BATCH):
            chunk = data[start : start + services.IMPORT_BATCH]
            serializer = LoadImportSerializer(data=chunk, many=True)
            if serializer.is_valid():
                checked += [(start + offset + 2, fields) for offset, fields in enumerate(serializer.validated_data)]
            else:
                # Errors come keyed by the row's index in the chunk (a list on older DRF versions).
                errors = serializer.errors
                errors = errors if isinstance(errors, dict) else dict(enumerate(errors))
                for offset, row_errors in errors.items():
                    if row_errors:
                        line = start + offset + 2  # the header is line 1
                        refused[f"line {line}"] = [
                            f"{name}: {' '.join(map(str, messages))}" for name, messages in row_errors.items()
                        ]
            report(min(start + services.IMPORT_BATCH, len(data)), len(data))
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
