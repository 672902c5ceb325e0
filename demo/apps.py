from django.apps import AppConfig


class DemoConfig(AppConfig):
    """The demo's sales-desk history (``manage.py seed_desk_history``). Installed by the local and test
    settings only: production has neither the command nor the replay."""

    name = "demo"
    verbose_name = "Demo data"
