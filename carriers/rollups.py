"""Daily totals behind the sales metrics, so a period of a million calls is summed from a few
thousand rows instead of scanned.

The totals are exact, not sampled: the services add each call and each agreement to them in the
same transaction that writes it (``count_call`` / ``count_agreement``), a load edit that changes
what its calls are counted under recomputes the days concerned (``rebuild``), and
``manage.py rebuild_sales_rollups`` recomputes everything from the raw rows after data arrives
by another way (a bulk SQL import, a restore). ``tests/carriers/test_rollups.py`` checks the
metrics from the totals against the same aggregates computed over the raw rows.
"""

from collections.abc import Iterable
from datetime import date, datetime, time, timedelta
from decimal import Decimal

from django.db import connections, router, transaction
from django.db.models import Count, F, FloatField, Q, Sum
from django.db.models.functions import Cast, TruncDate
from django.utils import timezone

from .choices import CallOutcome, OfferDecision
from .models import AgreementDayTotal, Call, CallDayTotal, CallLaneDayTotal, Load, Offer, OfferDayTotal

# The load fields a call is counted under; changing one of them moves the load's calls.
LANE_FIELDS = ("origin_city", "origin_state", "destination_city", "destination_state", "equipment_type")
# The load fields an offer's and an agreement's figures depend on.
AGREEMENT_FIELDS = ("loadboard_rate",)


def _add(model, key: dict, **amounts) -> None:
    """Add ``amounts`` to the totals row ``key``, creating it if needed, in one statement:
    ``INSERT … ON CONFLICT (key) DO UPDATE`` adds to the row when it exists or a concurrent
    writer has just created it, so no addition is lost (PostgreSQL and SQLite alike; MySQL and
    MariaDB say ``ON DUPLICATE KEY UPDATE``). ``key`` names the columns of one of ``model``'s
    unique constraints (on MySQL, the only unique key of the table besides the primary key)."""
    connection = connections[router.db_for_write(model)]
    quote = connection.ops.quote_name
    table = quote(model._meta.db_table)
    fields = [model._meta.get_field(name) for name in (*key, *amounts)]
    values = [
        field.get_db_prep_save(value, connection)
        for field, value in zip(fields, (*key.values(), *amounts.values()), strict=True)
    ]
    columns = [quote(field.column) for field in fields]
    added = columns[len(key) :]
    insert = f"INSERT INTO {table} ({', '.join(columns)}) VALUES ({', '.join(['%s'] * len(columns))})"
    if connection.vendor == "mysql":  # MySQL and MariaDB: the same upsert, spelt their way
        additions = ", ".join(f"{column} = {column} + VALUES({column})" for column in added)
        sql = f"{insert} ON DUPLICATE KEY UPDATE {additions}"
    else:
        additions = ", ".join(f"{column} = {table}.{column} + EXCLUDED.{column}" for column in added)
        sql = f"{insert} ON CONFLICT ({', '.join(columns[: len(key)])}) DO UPDATE SET {additions}"
    with connection.cursor() as cursor:
        cursor.execute(sql, values)


def _lane_key(day: date, load: Load) -> dict:
    return {"day": day, **{name: getattr(load, name) for name in LANE_FIELDS}}


def premium_pct(*, agreed: Decimal, posted: Decimal) -> float:
    """Premium over the posted rate in %, with the same float arithmetic as the SQL aggregate."""
    return (float(agreed) - float(posted)) * 100.0 / float(posted)


def count_call(call: Call) -> None:
    day = timezone.localdate(call.started_at)
    _add(CallDayTotal, {"day": day, "outcome": call.outcome, "sentiment": call.sentiment}, calls=1)
    if call.load_id is not None:
        booked = 1 if call.outcome == CallOutcome.BOOKED else 0
        _add(CallLaneDayTotal, _lane_key(day, call.load), calls=1, booked=booked)


def count_offer(offer: Offer, *, posted: Decimal) -> None:
    """Every round of negotiation; an accepted one also counts as an agreement."""
    day = timezone.localdate(offer.created_at)
    _add(
        OfferDayTotal,
        {"day": day, "round": offer.round, "decision": offer.decision},
        offers=1,
        ask_premium_pct=premium_pct(agreed=offer.amount, posted=posted),
    )
    if offer.decision == OfferDecision.ACCEPT:
        count_agreement(offer, posted=posted)


def count_agreement(offer: Offer, *, posted: Decimal) -> None:
    _add(
        AgreementDayTotal,
        {"day": timezone.localdate(offer.created_at)},
        agreements=1,
        rounds=offer.round,
        premium_pct=premium_pct(agreed=offer.agreed_amount, posted=posted),
        agreed_value=offer.agreed_amount,
    )


def load_changed(load: Load, changed: Iterable[str]) -> None:
    """Recount the days of ``load``'s calls and agreements if a field they are counted by changed."""
    changed = set(changed)
    days = set()
    if changed & set(LANE_FIELDS):
        days |= {timezone.localdate(moment) for moment in load.calls.values_list("started_at", flat=True)}
    if changed & set(AGREEMENT_FIELDS):
        offers = Offer.objects.filter(negotiation__load=load)
        days |= {timezone.localdate(moment) for moment in offers.values_list("created_at", flat=True)}
    if days:
        rebuild(days=days)


def _within_days(field: str, days: Iterable[date] | None) -> Q:
    if days is None:
        return Q()
    tz = timezone.get_current_timezone()
    condition = Q(pk__in=[])
    for day in days:
        start = datetime.combine(day, time.min, tzinfo=tz)
        condition |= Q(**{f"{field}__gte": start, f"{field}__lt": start + timedelta(days=1)})
    return condition


TOTALS = ("CallDayTotal", "CallLaneDayTotal", "AgreementDayTotal", "OfferDayTotal")


@transaction.atomic
def rebuild(*, days: Iterable[date] | None = None, models=None, totals=TOTALS) -> dict[str, int]:
    """Recompute the totals from the raw rows: every day, or only ``days``. Returns the row counts.
    ``models`` maps model names to classes and ``totals`` names the tables to rebuild; a migration
    passes its historical models and the tables it creates."""
    m = models or {
        model.__name__: model
        for model in (Call, Offer, CallDayTotal, CallLaneDayTotal, AgreementDayTotal, OfferDayTotal)
    }
    days = None if days is None else sorted(set(days))
    for name in totals:
        rows = m[name].objects.all() if days is None else m[name].objects.filter(day__in=days)
        rows.delete()

    calls = m["Call"].objects.filter(_within_days("started_at", days)).order_by().annotate(day=TruncDate("started_at"))
    offers = (
        m["Offer"].objects.filter(_within_days("created_at", days)).order_by().annotate(day=TruncDate("created_at"))
    )
    posted = Cast("negotiation__load__loadboard_rate", FloatField())
    queries = {
        "CallDayTotal": calls.values("day", "outcome", "sentiment").annotate(calls=Count("id")),
        "CallLaneDayTotal": calls.filter(load__isnull=False)
        .values("day", **{name: F(f"load__{name}") for name in LANE_FIELDS})
        .annotate(calls=Count("id"), booked=Count("id", filter=Q(outcome=CallOutcome.BOOKED))),
        "AgreementDayTotal": offers.filter(decision=OfferDecision.ACCEPT)
        .values("day")
        .annotate(
            agreements=Count("id"),
            rounds=Sum("round"),
            premium_pct=Sum((Cast("agreed_amount", FloatField()) - posted) * 100.0 / posted),
            agreed_value=Sum("agreed_amount"),
        ),
        "OfferDayTotal": offers.values("day", "round", "decision").annotate(
            offers=Count("id"), ask_premium_pct=Sum((Cast("amount", FloatField()) - posted) * 100.0 / posted)
        ),
    }
    for name in totals:
        m[name].objects.bulk_create([m[name](**row) for row in queries[name].order_by()], batch_size=5000)
    return {name: m[name].objects.count() for name in totals}
