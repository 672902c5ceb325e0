"""Reads the operations dashboard needs beyond the dispatch metrics the API publishes.

The calibration figures use the same rows, the same period rule and the same error measure
(mean absolute percentage error) as ``selectors.logistics_metrics``, split by the planning
policy of the decision each outcome belongs to, so the two line up.
"""

from collections import defaultdict
from datetime import date, datetime, time, timedelta

from django.db.models import Prefetch
from django.utils import timezone

from .choices import RouteStatus
from .models import OperationalOutcome, Route, RouteStop
from .selectors import _in, _mape

MEASURES = ("cost", "duration", "distance")


def error_by_policy(*, start: datetime | None = None, end: datetime | None = None) -> list[dict]:
    """Per planning policy: its outcomes, its mean absolute percentage errors over the period
    and the same by day (local days, oldest first). One query."""
    rows = (
        OperationalOutcome.objects.filter(_in(start, end, "created_at"))
        .order_by("created_at")
        .values_list("decision__policy", "created_at", "cost_error_pct", "duration_error_pct", "distance_error_pct")
    )
    by_policy: dict[str, dict[str, list[list[float]]]] = defaultdict(lambda: defaultdict(lambda: [[], [], []]))
    for policy, created, *errors in rows:
        bucket = by_policy[policy][timezone.localtime(created).date().isoformat()]
        for values, error in zip(bucket, errors, strict=True):
            values.append(error)
    answer = []
    for policy in sorted(by_policy):
        days = by_policy[policy]
        every = [[error for bucket in days.values() for error in bucket[i]] for i in range(len(MEASURES))]
        answer.append(
            {
                "policy": policy,
                "outcomes": len(every[0]),
                "mape": {measure: _mape(every[i]) for i, measure in enumerate(MEASURES)},
                "by_day": [
                    {
                        "day": day,
                        "outcomes": len(bucket[0]),
                        **{measure: _mape(bucket[i]) for i, measure in enumerate(MEASURES)},
                    }
                    for day, bucket in sorted(days.items())
                ],
            }
        )
    return answer


def day_bounds(day: date) -> tuple[datetime, datetime]:
    """The local day as [start, next day's start)."""
    tz = timezone.get_current_timezone()
    return datetime.combine(day, time.min, tzinfo=tz), datetime.combine(day + timedelta(days=1), time.min, tzinfo=tz)


def routes_of_day(*, day: date | None = None) -> list[Route]:
    """The routes planned to start on ``day`` (today by default; cancelled ones left out), each
    with its vehicle, the vehicle's home hub and its stops in order. Two queries."""
    lower, upper = day_bounds(day or timezone.localdate())
    return list(
        Route.objects.filter(planned_start__gte=lower, planned_start__lt=upper)
        .exclude(status=RouteStatus.CANCELLED)
        .select_related("vehicle__home_hub")
        .prefetch_related(Prefetch("stops", queryset=RouteStop.objects.select_related("order").order_by("sequence")))
        .order_by("planned_start", "reference")
    )
