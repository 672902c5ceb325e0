from django.core.management.base import BaseCommand

from carriers import rollups


class Command(BaseCommand):
    help = (
        "Recompute the daily totals behind the sales metrics from the calls and offers. Needed only after "
        "rows were written around the application (bulk SQL, a database restore); the API, the admin and "
        "loaddata keep them current by themselves."
    )

    def handle(self, *args, **options):
        counts = rollups.rebuild()
        self.stdout.write(
            self.style.SUCCESS(
                f"Rebuilt: {counts['call_days']} call rows, {counts['lane_days']} lane rows, "
                f"{counts['agreement_days']} agreement rows."
            )
        )
