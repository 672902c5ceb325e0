from django.apps import AppConfig


class CarriersConfig(AppConfig):
    name = "carriers"
    verbose_name = "Carrier sales"
    demo_fixtures = ("carriers_demo",)

    def ready(self):
        from core import runtime

        from . import services, signals  # noqa: F401 - delete rules of carriers and loads; fixtures in the sales totals

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
        runtime.define(
            "NEGOTIATION_CONCESSION_SCHEDULE_PCT",
            tuple,
            "The most a counter may be over the posted rate, in %, in round 1, 2, … (e.g. [3, 6, 9]; the last "
            "entry holds for later rounds). Counters never depend on the ceiling.",
            minimum=0,
            maximum=100,
        )
        runtime.define(
            "LANE_RATE_DAYS",
            int,
            "Days of the desk's bookings that lane rates and suggested ceilings are drawn from.",
            minimum=1,
            maximum=730,
        )
        runtime.define(
            "LANE_RATE_MIN_BOOKINGS",
            int,
            "Bookings a lane needs before its history suggests a ceiling (else posted + NEGOTIATION_CEILING_PCT).",
            minimum=1,
            maximum=1000,
        )
        runtime.define(
            "CEILING_AUTO_SUGGEST",
            bool,
            "Give a load posted without a ceiling the ceiling its lane's history suggests.",
        )
