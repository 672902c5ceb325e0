import time

from django.core.management.base import BaseCommand, CommandError
from django.db import transaction

from demo import desk_history


class Command(BaseCommand):
    help = (
        "Replay weeks of carrier sales desk history on the demo lanes (loads, calls, negotiations, bookings, "
        "follow-ups), ending now, through the desk's services. Run after seed_demo. Does nothing if the demo "
        "history is already there; --reset removes it and replays it up to today. For demo databases only."
    )

    def add_arguments(self, parser):
        parser.add_argument("--days", type=int, default=desk_history.DEFAULT_DAYS, help="Days of history (default 90).")
        parser.add_argument(
            "--seed", type=int, default=desk_history.DEFAULT_SEED, help="Random seed: same seed, same history."
        )
        parser.add_argument("--reset", action="store_true", help="Remove the previous demo history first.")
        parser.add_argument(
            "--assign-to", default="admin", help="Username the follow-ups go to when it exists (default admin)."
        )

    def handle(self, *args, days, seed, reset, assign_to, **options):
        started = time.perf_counter()
        try:
            with transaction.atomic():  # a reset whose replay fails keeps the previous history
                if desk_history.desk_history_exists() and not reset:
                    self.stdout.write(
                        f"Desk history already there ({desk_history.desk_history_summary()}); nothing to do. "
                        "--reset replays it up to today."
                    )
                    return
                if desk_history.desk_history_exists():
                    self.stdout.write(f"Removed the previous desk history: {desk_history.desk_history_remove()}.")
                summary, notes = desk_history.desk_history_seed(days=days, seed=seed, assignee=assign_to)
        except desk_history.DemoError as exc:
            raise CommandError(str(exc)) from exc
        for note in notes:
            self.stderr.write(note)
        self.stdout.write(
            self.style.SUCCESS(f"Desk history of {days} days: {summary}, in {time.perf_counter() - started:.1f} s.")
        )
