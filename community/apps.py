from django.apps import AppConfig


class CommunityConfig(AppConfig):
    name = "community"
    verbose_name = "Community"
    demo_fixtures = ("community_demo",)

    def ready(self):
        from . import services  # noqa: F401  (registers the soft delete and restore rules)
