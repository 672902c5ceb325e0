from django.core.management.base import BaseCommand, CommandError

from registry.checks import DEFAULT_CONCURRENCY, DEFAULT_TIMEOUT_SECONDS, check_services, checkable_services


class Command(BaseCommand):
    help = (
        "Probe the health check URL of every enabled service (2xx passes; anything else or no answer "
        "within the timeout fails), record the results with the same flap thresholds as the health "
        "endpoint, print a table, and exit with status 1 when a required service is unhealthy."
    )

    def add_arguments(self, parser):
        parser.add_argument("--name", action="append", default=[], help="Only this service (repeatable).")
        parser.add_argument("--timeout", type=float, default=DEFAULT_TIMEOUT_SECONDS, help="Seconds per probe.")
        parser.add_argument("--concurrency", type=int, default=DEFAULT_CONCURRENCY, help="Probes in flight.")

    def handle(self, *args, **options):
        if options["timeout"] <= 0:
            raise CommandError("--timeout must be positive.")
        if options["concurrency"] < 1:
            raise CommandError("--concurrency must be at least 1.")
        services = checkable_services(options["name"] or None)
        if options["name"]:
            missing = sorted(set(options["name"]) - {s.name for s in services})
            if missing:
                raise CommandError(f"No enabled service with a health check URL named: {', '.join(missing)}.")
        if not services:
            self.stdout.write("No enabled service has an http(s) health check URL.")
            return
        outcomes = check_services(services, timeout=options["timeout"], concurrency=options["concurrency"])
        rows = [
            (
                outcome.service.name,
                "pass" if outcome.probe.passing else "FAIL",
                outcome.service.status,
                "-" if outcome.probe.response_time_ms is None else f"{outcome.probe.response_time_ms} ms",
                ("yes" if outcome.service.required else ""),
                outcome.probe.detail,
            )
            for outcome in outcomes
        ]
        header = ("NAME", "CHECK", "STATUS", "RESPONSE", "REQUIRED", "DETAIL")
        widths = [max(len(str(row[i])) for row in [header, *rows]) for i in range(len(header))]
        for row in [header, *rows]:
            self.stdout.write(
                "  ".join(str(cell).ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            )
        failing = [o.service.name for o in outcomes if o.required_unhealthy]
        passed = sum(o.probe.passing for o in outcomes)
        self.stdout.write(f"{len(outcomes)} checked, {passed} passing, {len(outcomes) - passed} failing.")
        if failing:
            raise CommandError(f"Required services unhealthy: {', '.join(failing)}.")
