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
            self.style.SUCCESS("Rebuilt: " + ", ".join(f"{name} {count} rows" for name, count in counts.items()))
        )
