import threading
import time

from django.conf import settings
from django.core.management.base import CommandError

from core.errors import DomainError
from core.management.base import ActingCommand
from logistics import services
from logistics.choices import DecisionStatus, DecisionType


class Command(ActingCommand):
    help = (
        "Run a planning step now: snapshot the pending orders and available vehicles, solve, and print the "
        "proposal. With --commit the proposal is applied (the same re-checks as the API)."
    )

    def add_arguments(self, parser):
        parser.add_argument("--type", default=DecisionType.DAILY_ROUTE_PLANNING, choices=DecisionType.values)
        parser.add_argument("--time-limit", type=float, default=None, help="Seconds the solver may take.")
        parser.add_argument("--hub", default=None, help="Hub id (needed when orders leave from several hubs).")
        parser.add_argument("--commit", action="store_true", help="Apply the proposal.")

    def handle(self, *args, **options):
        try:
            # The solve is queued on commit of this step; with a broker a worker picks it up, without one
            # it runs here. Either way we wait for the decision to leave "solving".
            decision = services.decision_create(
                decision_type=options["type"], hub_id=options["hub"], time_limit_seconds=options["time_limit"]
            )
        except DomainError as exc:
            raise CommandError(getattr(exc, "fields", None) or exc.message) from exc
        snapshot = decision.state_snapshot
        self.stderr.write(
            f"solving: {len(snapshot['orders'])} orders, {len(snapshot['vehicles'])} vehicles, "
            f"time limit {decision.time_limit_seconds:g}s"
        )
        if settings.CELERY_TASK_ALWAYS_EAGER:
            services.decision_solve(decision_id=decision.pk)  # no broker: the job runs here (once)
        self._wait(decision)
        decision.refresh_from_db()
        if decision.status == DecisionStatus.FAILED:
            raise CommandError(f"Planning failed: {decision.failure_reason}")
        for route in decision.plan["routes"]:
            cities = " → ".join(dict.fromkeys(s["city"] for s in route["stops"]))
            self.stdout.write(
                f"{route['vehicle']:<10} {len(route['stops']):>3} stops  {route['distance_km']:>8.1f} km  "
                f"{route['duration_min'] / 60:>5.1f} h  KES {route['cost_kes']:>11,.0f}  {cities}"
            )
        for item in decision.left_out:
            self.stdout.write(f"left out {item['order']}: {item['reason_text']}")
        self.stdout.write(
            f"Decision {decision.pk}: {decision.orders_routed} orders on {len(decision.plan['routes'])} routes, "
            f"KES {decision.total_cost_kes:,}, {decision.computation_ms} ms."
        )
        if options["commit"]:
            try:
                services.decision_commit(decision=decision)
            except DomainError as exc:
                raise CommandError(exc.message) from exc
            self.stdout.write(self.style.SUCCESS("Committed."))

    def _wait(self, decision):
        started = time.monotonic()
        done = threading.Event()
        while not done.is_set():
            decision.refresh_from_db(fields=["status"])
            if decision.status != DecisionStatus.SOLVING:
                break
            limit = decision.time_limit_seconds
            elapsed = time.monotonic() - started
            self.stderr.write(f"\rsolving… {elapsed:5.1f}s of {limit:g}s", ending="")
            self.stderr.flush()
            if elapsed > limit * 3 + 60:
                raise CommandError("No answer from the planning job; is a Celery worker running?")
            done.wait(0.5)
        self.stderr.write("")
