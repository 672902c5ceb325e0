import time

from django.core.management.base import BaseCommand, CommandError
from django.db import DEFAULT_DB_ALIAS, connections
from django.db.utils import OperationalError


class Command(BaseCommand):
    help = "Wait until the database accepts connections, retrying with exponential backoff."

    def add_arguments(self, parser):
        parser.add_argument("--timeout", type=float, default=60.0, help="Give up after this many seconds.")
        parser.add_argument("--database", default=DEFAULT_DB_ALIAS)

    def handle(self, *args, timeout, database, **options):
        connection = connections[database]
        deadline = time.monotonic() + timeout
        delay = 0.25
        attempt = 0
        while True:
            attempt += 1
            try:
                connection.ensure_connection()
                with connection.cursor() as cursor:
                    cursor.execute("SELECT 1")
            except OperationalError as exc:
                remaining = deadline - time.monotonic()
                if remaining <= 0:
                    raise CommandError(
                        f"Database {database!r} still unreachable after {attempt} attempts "
                        f"({timeout:g}s): {type(exc).__name__}"
                    ) from None
                self.stderr.write(f"Database unavailable (attempt {attempt}); retrying in {delay:.2f}s")
                connection.close()
                time.sleep(min(delay, remaining))
                delay = min(delay * 2, 5.0)
                continue
            self.stdout.write(self.style.SUCCESS(f"Database {database!r} is available."))
            return
