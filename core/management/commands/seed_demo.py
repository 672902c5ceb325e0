from django.apps import apps
from django.core.management import call_command
from django.core.management.base import BaseCommand
from django.db import transaction


def demo_fixtures() -> list[str]:
    """Fixture names each app declares as ``demo_fixtures`` on its AppConfig, in
    INSTALLED_APPS order (which is dependency order)."""
    names = []
    for config in apps.get_app_configs():
        names.extend(getattr(config, "demo_fixtures", ()))
    return names


class Command(BaseCommand):
    help = (
        "Load every app's demo fixtures. Idempotent: fixtures carry fixed primary keys, "
        "so a second run updates the same rows instead of adding new ones."
    )

    def handle(self, *args, **options):
        fixtures = demo_fixtures()
        if not fixtures:
            self.stdout.write("No demo fixtures declared.")
            return
        with transaction.atomic():
            call_command("loaddata", *fixtures, verbosity=options["verbosity"])
        self.stdout.write(self.style.SUCCESS(f"Demo data loaded: {', '.join(fixtures)}"))
