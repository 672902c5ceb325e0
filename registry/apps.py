from django.apps import AppConfig


class RegistryConfig(AppConfig):
    name = "registry"
    verbose_name = "Service registry"
    demo_fixtures = ("registry_demo",)

    def ready(self):
        from core import runtime

        from . import services  # noqa: F401  (registers the restore rule of services)

        runtime.define(
            "REGISTRY_FAILURES_BEFORE_UNHEALTHY",
            int,
            "Consecutive failing health checks before a service is marked unhealthy.",
            minimum=1,
            maximum=100,
        )
        runtime.define(
            "REGISTRY_SUCCESSES_BEFORE_HEALTHY",
            int,
            "Consecutive passing health checks before a service is marked healthy.",
            minimum=1,
            maximum=100,
        )
        runtime.define(
            "REGISTRY_STALE_MINUTES",
            int,
            "Minutes without a heartbeat after which an enabled service counts as stale.",
            minimum=1,
            maximum=525_600,
        )
