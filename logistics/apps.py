from django.apps import AppConfig


class LogisticsConfig(AppConfig):
    name = "logistics"
    verbose_name = "Dispatch"
    demo_fixtures = ("logistics_demo",)

    def ready(self):
        from . import services  # noqa: F401  (registers the delete rules)
