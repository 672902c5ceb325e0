from django.core.management.base import BaseCommand

from events.services import prune_events


class Command(BaseCommand):
    help = "Delete events (and their webhook deliveries) older than EVENTS_RETENTION_DAYS (or --days)."

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, help="Keep this many days instead of EVENTS_RETENTION_DAYS.")

    def handle(self, *args, days=None, **options):
        if days is not None and days < 0:
            self.stderr.write("--days must be 0 or more.")
            raise SystemExit(2)
        deleted = prune_events(older_than_days=days)
        self.stdout.write(f"Deleted {deleted} events.")
