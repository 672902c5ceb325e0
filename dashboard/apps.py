from django.apps import AppConfig


class DashboardConfig(AppConfig):
    name = "dashboard"
    verbose_name = "Operations dashboard"

    def ready(self):
        # Each page module registers its area (overview tile, navigation entry, audience).
        from . import pages  # noqa: F401
