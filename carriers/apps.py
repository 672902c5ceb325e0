from django.apps import AppConfig


class CarriersConfig(AppConfig):
    name = "carriers"
    verbose_name = "Carrier sales"
    demo_fixtures = ("carriers_demo",)

    def ready(self):
        from core import runtime

        from . import services  # noqa: F401  (registers the delete rules of carriers and loads)

        runtime.define(
            "FMCSA_CACHE_HOURS",
            int,
            "Hours a stored FMCSA verification is reused before asking FMCSA again.",
            minimum=0,
            maximum=24 * 30,
        )
        runtime.define(
            "NEGOTIATION_MAX_ROUNDS",
            int,
            "Offers a carrier may make on one load; the last one is accepted or rejected.",
            minimum=1,
            maximum=10,
        )
        runtime.define(
            "NEGOTIATION_ACCEPT_MARGIN_PCT",
            float,
            "An ask up to this % above the posted rate is accepted at once (never above the ceiling).",
            minimum=0,
            maximum=50,
        )
        runtime.define(
            "NEGOTIATION_CEILING_PCT",
            float,
            "Ceiling for loads without max_rate: posted rate plus this %.",
            minimum=0,
            maximum=100,
        )
        runtime.define(
            "NEGOTIATION_COUNTER_STEP_PCT",
            float,
            "Each counter moves this % of the way from our last counter towards the ask.",
            minimum=1,
            maximum=100,
        )
