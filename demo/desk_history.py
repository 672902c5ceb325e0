"""Demo desk history: weeks of the carrier sales desk on a handful of lanes, so that every sales-desk
view (lane rates, ceiling suggestions, the sales metrics and dashboard, negotiations, carrier history,
follow-ups) has something to show on a fresh demo database. ``manage.py seed_desk_history`` runs it.

The history is replayed through the desk's own services (``load_create``, ``carrier_verify``,
``offer_make``, ``call_log``, ``follow_up_done``, ``load_update``), each at the moment it happened:
``core.clock.frozen_at`` holds the write path's clock there, so the timestamps, change history and daily
totals are the ones a real desk would have left. Nothing is written around the services, except by ``desk_history_remove``.
The replay ends at the present with the desk mid-negotiation: the last loads were posted in the past
hours and the carriers who called about them are still weighing our counters.

Verification: the demo carriers' stored answers come from a fixture, not from FMCSA
(``verification_source = "fixture"``). A booking needs a fresh stored answer, so during the replay
those answers are dated at each replayed moment, and each carrier's own ``verified_at`` is put back at
the end: in the running demo they are stale again and a live offer still needs a real FMCSA lookup.
Carriers whose answer came from FMCSA are left out and never touched. Nothing is added to the
verification log: it records questions really put to FMCSA, and the replay asks none.

The held clock is the replay's own (a context variable); the process's clock keeps running, and nothing
else in the process sees the held moment.
"""

import heapq
import itertools
import random
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from decimal import Decimal

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from carriers import rollups, services
from carriers.choices import (
    CallOutcome,
    EquipmentType,
    FollowUpReason,
    LoadStatus,
    NegotiationStatus,
    OfferDecision,
    Sentiment,
    VerificationSource,
)
from carriers.models import Call, Carrier, FollowUp, Load, Negotiation, Offer
from core import clock, runtime
from core.context import acting_as

LOAD_PREFIX = "DEMO-"
CALL_PREFIX = "demo-call-"
DEFAULT_DAYS = 90
DEFAULT_SEED = 2026
# The fixture carriers' answer date; the carriers added here get the same stale one.
STALE_VERIFIED_AT = datetime(2025, 6, 1, 15, tzinfo=UTC)
# Events are replayed up to this long before the real present, so that no call ends after it.
CALL_SLACK = timedelta(minutes=15)
OPENING_HOUR, CLOSING_HOUR = 7, 19  # the desk's hours, in the site's time zone
WHOLE_DOLLAR = Decimal("1")


@dataclass(frozen=True)
class Lane:
    origin_city: str
    origin_state: str
    destination_city: str
    destination_state: str
    equipment_type: str
    miles: int
    rate_per_mile: Decimal  # the going posted rate on the first day
    drift_pct: float  # how far that rate has moved by the last day (the season)
    commodity: str

    @property
    def key(self) -> tuple[str, str, str]:
        return (self.origin_state, self.destination_state, self.equipment_type)


LANES = (
    Lane("Chicago", "IL", "Dallas", "TX", EquipmentType.REEFER, 925, Decimal("2.80"), 4.0, "Frozen poultry"),
    Lane("Los Angeles", "CA", "Phoenix", "AZ", EquipmentType.DRY_VAN, 372, Decimal("3.10"), -2.0, "Consumer goods"),
    Lane("Atlanta", "GA", "Orlando", "FL", EquipmentType.FLATBED, 438, Decimal("2.95"), 1.5, "Lumber"),
    # The backhaul pays less than the headhaul: trucks want to get back to Chicago anyway.
    Lane("Dallas", "TX", "Chicago", "IL", EquipmentType.REEFER, 925, Decimal("2.30"), 3.0, "Fresh produce"),
    Lane("Philadelphia", "PA", "Columbus", "OH", EquipmentType.DRY_VAN, 470, Decimal("2.55"), 0.0, "Paper products"),
)
# Weight range (lb) and trailer by equipment.
TRAILERS = {
    EquipmentType.REEFER: ((30000, 43000), "53 ft reefer"),
    EquipmentType.DRY_VAN: ((18000, 42000), "53 ft trailer"),
    EquipmentType.FLATBED: ((40000, 46000), "48 ft x 8.5 ft"),
}
# Lanes carriers ask for that the desk does not serve.
UNSERVED_LANES = (
    ("NV", "UT", EquipmentType.DRY_VAN),
    ("WA", "OR", EquipmentType.REEFER),
    ("MN", "WI", EquipmentType.FLATBED),
    ("NC", "VA", EquipmentType.DRY_VAN),
)
LOAD_NOTES = ("", "Appointment required at delivery.", "FCFS pickup 06:00-14:00.", "No touch freight.")


@dataclass(frozen=True)
class DemoCarrier:
    mc_number: str
    legal_name: str
    dba_name: str
    phone: str
    city: str
    state: str


# Added next to the fixture's carriers. Eight-digit MC numbers lie beyond the dockets FMCSA has
# issued and 555-01xx numbers are fictional, so none of them can be mistaken for a real carrier.
EXTRA_CARRIERS = (
    DemoCarrier("99000101", "Heartland Cold Chain Inc", "", "(217) 555-0131", "Springfield", "IL"),
    DemoCarrier("99000102", "Sunbelt Flatbed Co", "Sunbelt", "(478) 555-0177", "Macon", "GA"),
    DemoCarrier("99000103", "Keystone Dry Freight LLC", "", "(717) 555-0123", "Harrisburg", "PA"),
    DemoCarrier("99000104", "Saguaro Express Inc", "", "(602) 555-0188", "Phoenix", "AZ"),
    DemoCarrier("99000105", "Gulf Coast Reefer Partners LLC", "GCR", "(713) 555-0164", "Houston", "TX"),
)
FIXTURE_MC_NUMBERS = ("123456", "789012", "999999")
# What each carrier hauls (unlisted: anything).
EQUIPMENT = {
    "123456": {EquipmentType.DRY_VAN, EquipmentType.REEFER},
    "789012": {EquipmentType.REEFER},
    "99000101": {EquipmentType.REEFER},
    "99000102": {EquipmentType.FLATBED},
    "99000103": {EquipmentType.DRY_VAN},
    "99000104": {EquipmentType.DRY_VAN, EquipmentType.FLATBED},
    "99000105": {EquipmentType.REEFER, EquipmentType.DRY_VAN},
}
# How hard each carrier bargains, 0 easy to 1 tough (unlisted: 0.5).
TOUGHNESS = {"123456": 0.3, "789012": 0.8, "99000101": 0.5, "99000102": 0.4, "99000103": 0.2, "99000104": 0.6}


class DemoError(Exception):
    """The demo history cannot be written (or removed) here; the message says why."""


# --- What is there ----------------------------------------------------------------------------


def demo_loads():
    return Load.all_objects.filter(load_id__startswith=LOAD_PREFIX)


def demo_calls():
    return Call.objects.filter(external_id__startswith=CALL_PREFIX)


def desk_history_exists() -> bool:
    return demo_loads().exists() or demo_calls().exists()


@dataclass(frozen=True)
class Summary:
    loads: int
    calls: int
    negotiations: int
    bookings: int
    follow_ups: int
    open_follow_ups: int
    overdue_follow_ups: int

    def __str__(self):
        return (
            f"{self.loads} loads, {self.calls} calls, {self.negotiations} negotiations, {self.bookings} bookings, "
            f"{self.follow_ups} follow-ups ({self.open_follow_ups} open, {self.overdue_follow_ups} overdue)"
        )


def desk_history_summary() -> Summary:
    follow_ups = FollowUp.objects.filter(call__external_id__startswith=CALL_PREFIX)
    open_follow_ups = follow_ups.filter(done_at__isnull=True)
    return Summary(
        loads=demo_loads().count(),
        calls=demo_calls().count(),
        negotiations=Negotiation.objects.filter(load__load_id__startswith=LOAD_PREFIX).count(),
        bookings=demo_loads().filter(booked_at__isnull=False).count(),
        follow_ups=follow_ups.count(),
        open_follow_ups=open_follow_ups.count(),
        overdue_follow_ups=open_follow_ups.filter(due_at__lt=timezone.now()).count(),
    )


@transaction.atomic
def desk_history_remove() -> Summary:
    """Delete the demo history for good (its loads, calls and what hangs off them, with their change
    history) and recount the daily totals of the days it touched. This goes around the services on
    purpose: calls and offers are append-only and a deleted load stays counted in the lane rates, so
    the desk has no way to unwrite them; only rows carrying the demo prefixes are removed."""
    before = desk_history_summary()
    loads = list(demo_loads().values_list("pk", flat=True))
    calls = list(demo_calls().values_list("pk", flat=True))
    foreign = Call.objects.filter(load__in=loads).exclude(pk__in=calls)
    if foreign.exists():
        raise DemoError(f"{foreign.count()} call(s) not from the demo history refer to its loads; not removing it.")
    negotiations = list(Negotiation.objects.filter(load__in=loads).values_list("pk", flat=True))
    offers = Offer.objects.filter(negotiation__in=negotiations)
    follow_ups = FollowUp.objects.filter(call__in=calls)
    days = {
        timezone.localdate(moment) for moment in Call.objects.filter(pk__in=calls).values_list("started_at", flat=True)
    }
    days |= {timezone.localdate(moment) for moment in offers.values_list("created_at", flat=True)}
    removed = {
        FollowUp: list(follow_ups.values_list("pk", flat=True)),
        Offer: list(offers.values_list("pk", flat=True)),
        Negotiation: negotiations,
        Call: calls,
    }
    for model, pks in removed.items():
        model.objects.filter(pk__in=pks).delete()
    Load.all_objects.filter(pk__in=loads).hard_delete()
    for model, pks in (*removed.items(), (Load, loads)):
        model.history.filter(id__in=pks).delete()
    rollups.rebuild(days=days)
    return before


# --- The fixture answers ----------------------------------------------------------------------


@contextmanager
def fixture_answers_dated(carriers: list[Carrier]) -> Iterator[Callable[[datetime], None]]:
    """Yield ``date(moment)``, which dates the stored fixture answers of ``carriers`` at ``moment``;
    on the way out each one's own ``verified_at`` is put back. FMCSA answers are refused. The
    writes are plain updates, without change history or a new version: the carriers end as they began."""
    refused = [carrier for carrier in carriers if carrier.verification_source != VerificationSource.FIXTURE]
    if refused:
        names = ", ".join(f"MC{carrier.mc_number}" for carrier in refused)
        raise DemoError(f"Only demo fixture answers may be dated; {names} have answers from FMCSA or none.")
    original = {carrier.pk: carrier.verified_at for carrier in carriers}
    # The filter on the source is the guard of last resort: an FMCSA answer is never redated.
    answers = Carrier.all_objects.filter(pk__in=original, verification_source=VerificationSource.FIXTURE)

    def date_at(moment: datetime) -> None:
        answers.update(verified_at=moment)

    try:
        yield date_at
    finally:
        for pk, verified_at in original.items():
            answers.filter(pk=pk).update(verified_at=verified_at)


def _demo_carriers(notes: list[str]) -> list[Carrier]:
    """The fixture's carriers and the extra ones (created if missing, with a demo fixture answer),
    less any that FMCSA has answered for."""
    for extra in EXTRA_CARRIERS:
        if Carrier.objects.filter(mc_number=extra.mc_number).exists():
            continue
        carrier = services.carrier_create(
            mc_number=extra.mc_number,
            legal_name=extra.legal_name,
            dba_name=extra.dba_name,
            phone=extra.phone,
            city=extra.city,
            state=extra.state,
        )
        # The demo's answer, marked as such; FMCSA's answer fields stay empty.
        carrier.allowed_to_operate = True
        carrier.status_code = "A"
        carrier.eligible = True
        carrier.ineligibility_reasons = []
        carrier.verified_at = STALE_VERIFIED_AT
        carrier.verification_source = VerificationSource.FIXTURE
        carrier.save()
    numbers = (*FIXTURE_MC_NUMBERS, *(extra.mc_number for extra in EXTRA_CARRIERS))
    carriers = list(Carrier.objects.filter(mc_number__in=numbers).order_by("mc_number"))
    cast = [carrier for carrier in carriers if carrier.verification_source == VerificationSource.FIXTURE]
    for carrier in carriers:
        if carrier not in cast:
            notes.append(f"MC{carrier.mc_number} has an FMCSA answer; left out of the demo history.")
    return cast


# --- The replay -------------------------------------------------------------------------------


class _Replay:
    """Events (postings, calls, callbacks, pickups...) in time order, each handled at its moment."""

    def __init__(self, *, rng: random.Random, until: datetime, carriers: list[Carrier], date_answers, assignee):
        self.rng = rng
        self.until = until
        self.date_answers = date_answers
        self.assignee = assignee
        self.eligible = [carrier.mc_number for carrier in carriers if carrier.eligible]
        self.ineligible = [carrier.mc_number for carrier in carriers if not carrier.eligible]
        self.tz = timezone.get_current_timezone()
        self.events: list = []
        self.order = itertools.count()
        self.load_numbers = itertools.count(1)
        self.call_numbers = itertools.count(1)

    # Time

    def at(self, moment: datetime, handler, *args) -> None:
        heapq.heappush(self.events, (moment, next(self.order), handler, args))

    def run(self) -> None:
        while self.events and self.events[0][0] + CALL_SLACK <= self.until:
            moment, _, handler, args = heapq.heappop(self.events)
            handler(moment, *args)

    @contextmanager
    def moment(self, when: datetime):
        with clock.frozen_at(when):
            yield

    def local(self, day: date, hour: int, minute: int = 0) -> datetime:
        return datetime.combine(day, time(hour, minute), tzinfo=self.tz)

    def business(self, when: datetime) -> datetime:
        """``when``, or the next opening of the desk if it is closed then."""
        local = timezone.localtime(when, self.tz)
        if local.hour < OPENING_HOUR:
            return self.local(local.date(), OPENING_HOUR, self.rng.randrange(60))
        if local.hour >= CLOSING_HOUR:
            return self.local(local.date() + timedelta(days=1), OPENING_HOUR, self.rng.randrange(60))
        return when

    def last_open(self, moment: datetime) -> datetime:
        """The last moment, at or before ``moment``, of a desk day that had at least three hours open."""
        local = timezone.localtime(moment, self.tz)
        if local.hour >= CLOSING_HOUR:
            return self.local(local.date(), CLOSING_HOUR)
        if local.hour < OPENING_HOUR + 3:
            return self.local(local.date() - timedelta(days=1), CLOSING_HOUR)
        return moment

    def seconds(self, low: int, high: int) -> timedelta:
        return timedelta(seconds=self.rng.randint(low, high))

    def hours(self, low: float, high: float) -> timedelta:
        return timedelta(minutes=round(self.rng.uniform(low, high) * 60))

    # The plan

    def plan(self, days: list[date]) -> None:
        for index, day in enumerate(days):
            weekday = day.weekday() < 5
            progress = index / max(len(days) - 1, 1)
            # A few loads a day; the desk's own lanes are tendered every day, other calls thin out at weekends.
            for lane in LANES:
                for _ in range(self.rng.choice((0, 1))):
                    self.at(self.local(day, self.rng.randint(7, 11), self.rng.randrange(60)), self.post, lane, progress)
            for _ in range(self.rng.choice((0, 1, 1, 2) if weekday else (0, 0, 1))):
                self.at(self.local(day, self.rng.randint(8, 17), self.rng.randrange(60)), self.unserved_call)
            if self.ineligible and self.rng.random() < (0.3 if weekday else 0.1):
                self.at(self.local(day, self.rng.randint(8, 17), self.rng.randrange(60)), self.ineligible_call)
            if self.rng.random() < (0.4 if weekday else 0.15):
                self.at(self.local(day, self.rng.randint(7, 18), self.rng.randrange(60)), self.abandoned_call)
        # The desk as it is now: the last loads were posted in the past hours, and the carriers who called
        # about them are still weighing our counters (open negotiations, one call-back already overdue).
        end = self.last_open(self.until - CALL_SLACK)
        for index, lane in enumerate(self.rng.sample(LANES, 3)):
            self.at(end - timedelta(minutes=self.rng.randint(60, 170)), self.post, lane, 1.0, index)

    # Loads

    def post(self, when: datetime, lane: Lane, progress: float, present: int | None = None) -> None:
        """Post a load on ``lane`` and schedule the carriers who will call about it; ``present`` numbers
        the loads of the present, whose callers hang up to think our counter over."""
        rng = self.rng
        per_mile = lane.rate_per_mile * Decimal(
            str(round((1 + lane.drift_pct / 100 * progress) * rng.uniform(0.95, 1.05), 4))
        )
        posted = (per_mile * lane.miles).quantize(WHOLE_DOLLAR)
        # Half the loads carry the broker's own ceiling; the others take posted + NEGOTIATION_CEILING_PCT.
        max_rate = (
            (posted * Decimal(str(round(rng.uniform(1.05, 1.12), 3)))).quantize(WHOLE_DOLLAR)
            if rng.random() < 0.5
            else None
        )
        days_ahead = rng.choice((1, 2, 2, 3) if present is None else (2, 3))
        pickup_day = timezone.localtime(when, self.tz).date() + timedelta(days=days_ahead)
        pickup = self.local(pickup_day, rng.randint(6, 14))
        delivery = pickup + timedelta(hours=round(lane.miles / 47) + rng.randint(2, 6))
        load_id = f"{LOAD_PREFIX}{next(self.load_numbers):04d}"
        weights, dimensions = TRAILERS[lane.equipment_type]
        with self.moment(when):
            services.load_create(
                load_id=load_id,
                origin_city=lane.origin_city,
                origin_state=lane.origin_state,
                destination_city=lane.destination_city,
                destination_state=lane.destination_state,
                pickup_datetime=pickup,
                delivery_datetime=delivery,
                equipment_type=lane.equipment_type,
                loadboard_rate=posted,
                max_rate=max_rate,
                weight=rng.randrange(weights[0], weights[1] + 1, 500),
                commodity_type=lane.commodity,
                num_of_pieces=rng.choice((1, 18, 22, 24, 26)),
                miles=lane.miles,
                dimensions=dimensions,
                notes=rng.choice(LOAD_NOTES),
            )
        haulers = [mc for mc in self.eligible if lane.equipment_type in EQUIPMENT.get(mc, {lane.equipment_type})]
        if present is not None:
            for order, mc in enumerate(rng.sample(haulers, min(len(haulers), 2))):
                busy = present == 0 and order == 0  # asked for a call back in minutes; the rep is late
                hesitant = FollowUpReason.CARRIER_BUSY if busy else FollowUpReason.BETTER_RATE
                self.at(when + timedelta(minutes=rng.randint(5, 40)), self.load_call, load_id, mc, hesitant)
        else:
            latest = pickup - timedelta(hours=8)
            for mc in rng.sample(haulers, min(len(haulers), rng.choice((1, 2, 2, 3, 3, 4)))):
                # Most carriers call within hours of the posting; a few come back to the board the next day.
                delay = rng.randint(10, 240) if rng.random() < 0.7 else rng.randint(240, 30 * 60)
                call_at = self.business(when + timedelta(minutes=delay))
                if call_at <= latest:
                    self.at(call_at, self.load_call, load_id, mc)
        self.at(pickup, self.pickup, load_id)
        self.at(delivery, self.deliver, load_id)

    def pickup(self, when: datetime, load_id: str) -> None:
        load = Load.objects.get(load_id=load_id)
        status = {LoadStatus.BOOKED: LoadStatus.IN_TRANSIT, LoadStatus.AVAILABLE: LoadStatus.EXPIRED}.get(load.status)
        if status:
            with self.moment(when):
                services.load_update(load=load, status=status)

    def deliver(self, when: datetime, load_id: str) -> None:
        load = Load.objects.get(load_id=load_id)
        if load.status == LoadStatus.IN_TRANSIT:
            with self.moment(when):
                services.load_update(load=load, status=LoadStatus.DELIVERED)

    # Calls

    def log(self, started: datetime, ended: datetime, *, outcome, sentiment, mc="", load_id="", **fields) -> Call:
        follow_up = fields.pop("follow_up", None)
        if follow_up is not None:
            follow_up.setdefault("assigned_to", self.assignee if self.rng.random() < 0.6 else None)
        with self.moment(ended):
            call = services.call_log(
                external_id=fields.pop("external_id", None) or self.call_id(),
                started_at=started,
                duration_seconds=round((ended - started).total_seconds()),
                outcome=outcome,
                sentiment=sentiment,
                mc_number=mc,
                load_id=load_id,
                follow_up=follow_up,
                **fields,
            ).call
        return call

    def call_id(self) -> str:
        return f"{CALL_PREFIX}{next(self.call_numbers):05d}"

    def verified(self, when: datetime, mc: str):
        """The carrier as the voice agent sees it first: its stored answer, dated fresh for the demo."""
        self.date_answers(when)
        with self.moment(when):
            return services.carrier_verify(mc_number=mc).carrier

    def load_call(self, when: datetime, load_id: str, mc: str, hesitant: str | None = None) -> None:
        asked = Load.objects.get(load_id=load_id)
        load = asked
        if asked.status != LoadStatus.AVAILABLE or asked.negotiations.filter(carrier__mc_number=mc).exists():
            # Taken, gone or already talked about: the agent offers the next load on the same lane.
            load = (
                demo_loads()
                .filter(
                    deleted_at__isnull=True,
                    status=LoadStatus.AVAILABLE,
                    origin_state=asked.origin_state,
                    destination_state=asked.destination_state,
                    equipment_type=asked.equipment_type,
                    pickup_datetime__gt=when + timedelta(hours=8),
                )
                .exclude(negotiations__carrier__mc_number=mc)
                .order_by("pickup_datetime")
                .first()
            )
        if load is None:
            # Most carriers see the load is gone from the board and do not call; some still ask for the lane.
            if self.rng.random() < 0.25:
                self.unserved_call(when, mc, (asked.origin_state, asked.destination_state, asked.equipment_type))
            return
        self.verified(when, mc)
        self.negotiate(when, load, mc, hesitant=hesitant)

    def negotiate(
        self, when: datetime, load: Load, mc: str, *, resumed: Negotiation | None = None, hesitant: str | None = None
    ) -> datetime:
        """One call of rounds on ``load``; a carrier may hang up after a counter to think it over (a
        ``hesitant`` one does, for that follow-up reason), and a resumed negotiation (the rep's call back)
        is always concluded. Returns the call's end."""
        rng = self.rng
        toughness = TOUGHNESS.get(mc, 0.5)
        posted = load.loadboard_rate
        call_id = self.call_id()
        moment = when + self.seconds(40, 100)  # verification and load search
        if resumed is None and hesitant is None and rng.random() < 0.07:
            ended = moment + self.seconds(20, 60)
            self.log(
                when,
                ended,
                outcome=CallOutcome.CARRIER_DECLINED,
                sentiment=Sentiment.NEUTRAL,
                mc=mc,
                load_id=load.load_id,
                external_id=call_id,
                summary="Carrier not interested in the pickup window.",
            )
            return ended
        if resumed is None:
            draw = rng.random()
            if hesitant:
                premium = rng.uniform(4, 9)
            elif draw < 0.3 - 0.2 * toughness:
                premium = rng.uniform(-1, 2)
            elif draw < 0.72 - 0.1 * toughness:
                premium = rng.uniform(3, 9)
            else:
                premium = rng.uniform(11, 24)
            ask = (posted * Decimal(str(round(1 + premium / 100, 4)))).quantize(WHOLE_DOLLAR)
            first_ask = ask
        else:
            last = resumed.offers.order_by("-round").first()
            first_ask = resumed.offers.order_by("round").first().amount
            ask = self.answer(last.amount, resumed.last_counter, toughness, resuming=True)

        walked = None
        while True:
            with self.moment(moment):
                result = services.offer_make(load_id=load.load_id, mc_number=mc, amount=ask, call_external_id=call_id)
            decision, counter = result.offer.decision, result.offer.counter_amount
            if decision != OfferDecision.COUNTER:
                break
            moment += self.seconds(30, 80)
            if resumed is None and (walked := self.walks_away(moment, load, hesitant)):
                break
            ask = self.answer(ask, counter, toughness)
        ended = moment + self.seconds(20, 60)

        fields = {
            "mc": mc,
            "load_id": load.load_id,
            "external_id": call_id,
            "extracted": {"asked_rate": str(first_ask)},
        }
        if decision == OfferDecision.ACCEPT:
            rounds = result.offer.round
            summary = f"Verified; agreed at ${result.offer.agreed_amount:,} in round {rounds}; load booked."
            sentiment = Sentiment.POSITIVE if rounds == 1 or rng.random() < 0.6 else Sentiment.NEUTRAL
            follow_up = None
            if rng.random() < 0.25:
                due = self.business(ended + self.hours(2, 8))
                follow_up = {
                    "due_at": due,
                    "reason": FollowUpReason.DOCUMENTS,
                    "note": "Rate confirmation sent; waiting for the signed copy and the certificate of insurance.",
                }
            call = self.log(
                when,
                ended,
                outcome=CallOutcome.BOOKED,
                sentiment=sentiment,
                summary=summary,
                follow_up=follow_up,
                **fields,
            )
            if follow_up:
                self.rep_later(call, due, forgotten=0.05)
        elif decision == OfferDecision.REJECT:
            summary = f"Carrier held at ${ask:,}, above what we can pay; no agreement."
            sentiment = Sentiment.NEGATIVE if rng.random() < 0.7 else Sentiment.NEUTRAL
            self.log(when, ended, outcome=CallOutcome.RATE_NOT_AGREED, sentiment=sentiment, summary=summary, **fields)
        else:
            reason, outcome, due, callback = walked
            notes = {
                FollowUpReason.BETTER_RATE: f"Carrier is weighing our counter of ${counter:,}; call back.",
                FollowUpReason.CARRIER_BUSY: "Carrier had to take another call; asked us to call back.",
                FollowUpReason.OTHER: "Carrier asked a rep about detention pay before committing.",
            }
            summary = {
                CallOutcome.RATE_NOT_AGREED: f"Countered at ${counter:,}; carrier will think it over.",
                CallOutcome.TRANSFERRED_TO_REP: "Carrier asked for a rep about detention pay.",
            }[outcome]
            call = self.log(
                when,
                ended,
                outcome=outcome,
                sentiment=Sentiment.NEUTRAL,
                summary=summary,
                follow_up={"due_at": due, "reason": reason, "note": notes[reason]},
                **fields,
            )
            if callback is not None:
                self.at(callback, self.call_back, call.follow_ups.get().pk, load.load_id, mc)
        return ended

    def answer(self, ask: Decimal, counter: Decimal, toughness: float, *, resuming: bool = False) -> Decimal:
        """The carrier's next ask after our ``counter``: take it, split the difference, or hold."""
        draw = self.rng.random()
        take = (0.5 if resuming else 0.4) - 0.25 * toughness
        if draw < take:
            return counter
        if draw < take + 0.35:
            split = (counter + (ask - counter) * Decimal(str(round(self.rng.uniform(0.3, 0.6), 2)))).quantize(
                WHOLE_DOLLAR
            )
            return max(split, counter)
        return ask

    def walks_away(self, moment: datetime, load: Load, hesitant: str | None):
        """Whether the carrier hangs up to think our counter over: ``(follow-up reason, call outcome, due,
        call-back time)``, or None when it answers at once. The desk calls back before pickup, so there must
        be time for it; a ``hesitant`` carrier of the present always hangs up, and is not yet called back."""
        if hesitant is None and self.rng.random() >= 0.2:
            return None
        reason = hesitant or self.rng.choice(
            (FollowUpReason.BETTER_RATE, FollowUpReason.BETTER_RATE, FollowUpReason.CARRIER_BUSY, FollowUpReason.OTHER)
        )
        outcome = CallOutcome.TRANSFERRED_TO_REP if reason == FollowUpReason.OTHER else CallOutcome.RATE_NOT_AGREED
        if reason == FollowUpReason.CARRIER_BUSY:
            due = moment + (timedelta(minutes=5) if hesitant else self.hours(1, 4))
        else:  # sleeps on it: the rep calls back the next morning
            next_day = timezone.localtime(moment, self.tz).date() + timedelta(days=1)
            due = self.local(next_day, self.rng.randint(8, 10), self.rng.randrange(60))
        if hesitant:
            return reason, outcome, due, None
        callback = self.business(due + self.hours(0, 1.5))
        if callback > load.pickup_datetime - timedelta(hours=3):
            return None  # no time to call back before pickup: the carrier answers now
        return reason, outcome, due, callback

    def call_back(self, when: datetime, follow_up_id, load_id: str, mc: str) -> None:
        """The rep calls the carrier back and the negotiation is concluded, unless another carrier
        booked the load meanwhile; either way the follow-up is done."""
        ended = when
        negotiation = (
            Negotiation.objects.filter(load__load_id=load_id, carrier__mc_number=mc).select_related("load").first()
        )
        if negotiation.status == NegotiationStatus.OPEN and negotiation.load.status == LoadStatus.AVAILABLE:
            self.verified(when, mc)
            ended = self.negotiate(when, negotiation.load, mc, resumed=negotiation)
        with self.moment(ended + self.seconds(30, 300)):
            services.follow_up_done(follow_up=FollowUp.objects.get(pk=follow_up_id))

    def rep_later(self, call: Call, due: datetime, *, forgotten: float) -> None:
        """The rep does the follow-up some time after it is due, or (now and then) never does."""
        if self.rng.random() >= forgotten:
            self.at(self.business(due + self.hours(0.2, 26)), self.rep_done, call.follow_ups.get().pk)

    def rep_done(self, when: datetime, follow_up_id) -> None:
        with self.moment(when):
            services.follow_up_done(follow_up=FollowUp.objects.get(pk=follow_up_id))

    def unserved_call(self, when: datetime, mc: str | None = None, lane: tuple | None = None) -> None:
        mc = mc or self.rng.choice(self.eligible)
        origin, destination, equipment = lane or self.rng.choice(UNSERVED_LANES)
        self.verified(when, mc)
        ended = when + self.seconds(60, 200)
        follow_up = None
        if self.rng.random() < 0.4:
            due = self.business(ended + self.hours(20, 72))
            follow_up = {
                "due_at": due,
                "reason": FollowUpReason.LANE_OPENS,
                "note": f"Call when we post {origin} → {destination} ({equipment}).",
            }
        call = self.log(
            when,
            ended,
            outcome=CallOutcome.NO_MATCHING_LOAD,
            sentiment=Sentiment.NEUTRAL,
            mc=mc,
            summary="No load on the requested lane.",
            follow_up=follow_up,
            extracted={
                "requested_lane": {
                    "origin_state": origin,
                    "destination_state": destination,
                    "equipment_type": equipment,
                }
            },
        )
        if follow_up:
            self.rep_later(call, due, forgotten=0.15)

    def ineligible_call(self, when: datetime) -> None:
        mc = self.rng.choice(self.ineligible)
        carrier = self.verified(when, mc)
        reasons = ", ".join(carrier.ineligibility_reasons) or "not verified"
        self.log(
            when,
            when + self.seconds(60, 150),
            outcome=CallOutcome.CARRIER_NOT_ELIGIBLE,
            sentiment=Sentiment.NEGATIVE,
            mc=mc,
            summary=f"Carrier not eligible ({reasons}).",
        )

    def abandoned_call(self, when: datetime) -> None:
        mc = self.rng.choice(self.eligible) if self.rng.random() < 0.4 else ""
        sentiment = self.rng.choice((Sentiment.NEUTRAL, Sentiment.NEGATIVE))
        self.log(
            when,
            when + self.seconds(15, 70),
            outcome=CallOutcome.ABANDONED,
            sentiment=sentiment,
            mc=mc,
            summary="Call dropped before verification.",
        )


def desk_history_seed(
    *, days: int = DEFAULT_DAYS, seed: int = DEFAULT_SEED, assignee: str = ""
) -> tuple[Summary, list[str]]:
    """Replay ``days`` days of desk history ending now, all or nothing. Most follow-ups go to the user
    ``assignee`` (when it exists), the others to nobody. Returns the summary and notes for the operator."""
    if days < 1:
        raise DemoError("At least one day of history is needed.")
    if runtime.get("FMCSA_CACHE_HOURS") < 1:
        # With no reuse of stored answers every offer would ask FMCSA about the demo's carriers.
        raise DemoError("FMCSA_CACHE_HOURS is 0: stored answers are never reused, so the demo cannot book.")
    until = timezone.now()
    today = timezone.localdate(until)
    period = [today - timedelta(days=offset) for offset in range(days - 1, -1, -1)]
    notes: list[str] = []
    user = get_user_model().objects.filter(username=assignee).first() if assignee else None
    # The desk's writes are the assignee's (created_by, done_by, history), as a rep's would be.
    with transaction.atomic(), acting_as(user):
        with clock.frozen_at(datetime.combine(period[0] - timedelta(days=1), time(9), tzinfo=UTC)):
            carriers = _demo_carriers(notes)
        if not any(carrier.eligible for carrier in carriers):
            raise DemoError("No demo carrier with a fixture answer is eligible; nothing to replay.")
        with fixture_answers_dated(carriers) as date_answers:
            replay = _Replay(
                rng=random.Random(seed), until=until, carriers=carriers, date_answers=date_answers, assignee=user
            )
            replay.plan(period)
            replay.run()
    return desk_history_summary(), notes
