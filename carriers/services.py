"""Writes of the carrier sales desk. Each runs in one transaction; callers get either the
whole change or an exception (and no partial write)."""

import logging
import time
import uuid
from dataclasses import dataclass
from datetime import timedelta
from decimal import Decimal
from typing import NamedTuple

from django.db import IntegrityError, transaction
from django.db.models import F

from core import clock, runtime
from core.bulk import create_rows_with_history, existing_values
from core.context import get_current_user
from core.db.locks import lock_rows
from core.errors import Conflict, Forbidden, Invalid, NotFound, Unavailable
from core.fastpaths import prepared
from core.history import record_history, update_with_history
from core.services import model_create, model_update, on_delete
from events import payloads
from events.services import publish, publish_many

from . import fmcsa, lanes, rollups
from .choices import (
    LOAD_STATUS_TRANSITIONS,
    IneligibilityReason,
    LoadStatus,
    LookupOutcome,
    NegotiationStatus,
    OfferDecision,
    VerificationSource,
)
from .models import Call, Carrier, FollowUp, Load, Negotiation, Offer, VerificationLookup
from .negotiation import Rules, decide
from .normalize import InvalidMCNumber, normalize_mc_number

logger = logging.getLogger(__name__)

# An ask this many times the posted rate is a mistake (or a joke), not a negotiating position.
ABSURD_ASK_MULTIPLE = 5


# --- Verification -------------------------------------------------------------------------


@dataclass(frozen=True)
class Verification:
    carrier: Carrier
    source: str  # "fmcsa" when FMCSA answered just now, "cache" when a fresh stored answer was reused


def verification_is_fresh(carrier: Carrier, *, now=None) -> bool:
    """A stored FMCSA answer is reused for FMCSA_CACHE_HOURS; one dated in the future is not trusted."""
    if carrier.verified_at is None:
        return False
    now = now or clock.now()
    age = now - carrier.verified_at
    return timedelta(0) <= age < timedelta(hours=runtime.get("FMCSA_CACHE_HOURS"))


def _store_verification(mc_number: str, record: fmcsa.CarrierRecord | None) -> Carrier:
    now = clock.now()
    with transaction.atomic():
        carrier = Carrier.objects.select_for_update().filter(mc_number=mc_number).first()
        if carrier is None:
            try:
                with transaction.atomic():
                    carrier = Carrier.objects.create(mc_number=mc_number)
            except IntegrityError:  # verified by someone else at the same moment
                carrier = Carrier.objects.select_for_update().get(mc_number=mc_number)
        if record is None:
            carrier.allowed_to_operate = None
            carrier.status_code = ""
            carrier.out_of_service_date = None
            carrier.safety_rating = ""
            carrier.eligible = False
            carrier.ineligibility_reasons = [IneligibilityReason.NOT_FOUND.value]
            carrier.fmcsa_data = None
        else:
            carrier.dot_number = record.dot_number
            carrier.legal_name = record.legal_name
            carrier.dba_name = record.dba_name
            carrier.phone = record.phone or carrier.phone
            carrier.city = record.city or carrier.city
            carrier.state = record.state or carrier.state
            carrier.allowed_to_operate = record.allowed_to_operate
            carrier.status_code = record.status_code
            carrier.out_of_service_date = record.out_of_service_date
            carrier.safety_rating = record.safety_rating
            carrier.ineligibility_reasons = record.reasons
            carrier.eligible = not carrier.ineligibility_reasons
            carrier.fmcsa_data = record.raw
        carrier.verified_at = now
        carrier.verification_source = VerificationSource.FMCSA
        carrier.save()
    return carrier


def _log_lookup(mc_number: str, started: float, *, outcome: str, reasons=(), error: str = "") -> None:
    VerificationLookup.objects.create(
        mc_number=mc_number,
        outcome=outcome,
        reasons=list(reasons),
        error=error,
        latency_ms=round((time.perf_counter() - started) * 1000),
    )


def verification_log_prune(*, older_than: timedelta) -> int:
    """Delete verification lookups older than ``older_than``; returns how many."""
    deleted, _ = VerificationLookup.objects.filter(looked_up_at__lt=clock.now() - older_than).delete()
    return deleted


def carrier_verify(*, mc_number: str, force: bool = False) -> Verification:
    """Eligibility of a carrier: the stored FMCSA answer while fresh, else a new lookup.

    Raises ``Unavailable`` when FMCSA cannot answer and nothing fresh is stored: we never guess."""
    carrier = prepared.first(Carrier.objects, mc_number=mc_number)
    if carrier is not None and not force and verification_is_fresh(carrier):
        return Verification(carrier=carrier, source="cache")
    started = time.perf_counter()
    try:
        record = fmcsa.lookup_by_mc(mc_number)
    except fmcsa.FMCSANotConfigured as exc:
        raise Unavailable(str(exc), code=exc.code) from exc
    except fmcsa.FMCSAUnavailable as exc:
        _log_lookup(mc_number, started, outcome=LookupOutcome.UNAVAILABLE, error=exc.cause)
        raise Unavailable(
            f"FMCSA verification is unavailable right now: {exc} Try again shortly or hand over to a rep.",
            code=exc.code,
        ) from exc
    reasons = record.reasons if record is not None else [IneligibilityReason.NOT_FOUND.value]
    outcome = LookupOutcome.INELIGIBLE if reasons else LookupOutcome.ELIGIBLE
    _log_lookup(mc_number, started, outcome=outcome, reasons=reasons)
    return Verification(carrier=_store_verification(mc_number, record), source="fmcsa")


# --- Carriers -----------------------------------------------------------------------------

# Loads a carrier is hauling or about to: the booking must be ended by a status change
# (cancel, or set back to available), which the carrier is told about, not by a delete.
IN_PROGRESS_STATUSES = (LoadStatus.BOOKED, LoadStatus.IN_TRANSIT)

MC_TAKEN = "A carrier with this MC number already exists."
# What FMCSA said about a docket number; it does not carry over to another number.
VERIFICATION_FIELDS = {
    "allowed_to_operate": None,
    "status_code": "",
    "out_of_service_date": None,
    "safety_rating": "",
    "eligible": False,
    "ineligibility_reasons": list,
    "verified_at": None,
    "verification_source": "",
    "fmcsa_data": None,
}


def _mc(value) -> str:
    try:
        return normalize_mc_number(value)
    except InvalidMCNumber as exc:
        raise Invalid({"mc_number": [str(exc)]}) from None


@transaction.atomic
def carrier_create(*, mc_number: str, **fields) -> Carrier:
    """Register a carrier by hand; it is not eligible until FMCSA verifies it."""
    data = {"mc_number": _mc(mc_number), **fields}
    return model_create(model=Carrier, data=data, unique_messages={"mc_number": MC_TAKEN})


@transaction.atomic
def carrier_update(*, carrier: Carrier, **fields) -> Carrier:
    """Change a carrier's details. A new MC number is another docket: the stored FMCSA
    answer (and so eligibility) is dropped until it is verified again."""
    if "mc_number" in fields:
        fields["mc_number"] = _mc(fields["mc_number"])
        if fields["mc_number"] != carrier.mc_number:
            # VERIFICATION_FIELDS are not editable, so the caller's fields never name them.
            fields |= {name: empty() if callable(empty) else empty for name, empty in VERIFICATION_FIELDS.items()}
    model_update(instance=carrier, data=fields, unique_messages={"mc_number": MC_TAKEN})
    return carrier


@on_delete(Carrier)
def carrier_delete(*, instance: Carrier) -> None:
    """Soft-delete a carrier, unless it holds a load in progress (cancel that first)."""
    held = list(
        Load.objects.filter(booked_carrier=instance, status__in=IN_PROGRESS_STATUSES).values_list("load_id", flat=True)
    )
    if held:
        raise Conflict(
            f"MC{instance.mc_number} holds loads in progress ({', '.join(sorted(held))}); cancel them first.",
            code="carrier_holds_loads",
        )
    instance.delete()


# --- Loads --------------------------------------------------------------------------------


def _status_changes(load: Load, status: str) -> dict:
    """The columns a hand-made status change writes (none when the status stays)."""
    if status == load.status:
        return {}
    allowed = LOAD_STATUS_TRANSITIONS.get(load.status, set())
    if status not in allowed:
        raise Invalid({"status": [f"A {load.get_status_display().lower()} load cannot be set to {status} by hand."]})
    if status == LoadStatus.AVAILABLE:
        # Back on the board: the previous booking no longer holds.
        return {"status": status, "booked_carrier": None, "agreed_rate": None, "booked_at": None}
    return {"status": status}


LOAD_ID_TAKEN = "A load with this load ID already exists."


@transaction.atomic
def load_create(**fields) -> Load:
    fields.pop("status", None)  # a new load is always available
    if fields.get("max_rate") is None and runtime.get("CEILING_AUTO_SUGGEST"):
        fields["max_rate"] = lanes.suggest_ceiling(Load(**fields)).amount
    load = model_create(model=Load, data=fields, unique_messages={"load_id": LOAD_ID_TAKEN})
    publish("load.posted", obj=load, payload=payloads.load_posted(load))
    return load


@transaction.atomic
def load_update(*, load: Load, **fields) -> Load:
    """Change a load's details or status. Setting a carrier-held load back to available
    drops its booking (carrier, agreed rate) and reopens the negotiations the booking closed."""
    status = fields.pop("status", None)
    previous_status = load.status
    counted_by = {name: getattr(load, name) for name in (*rollups.LANE_FIELDS, *rollups.AGREEMENT_FIELDS)}
    if status is not None:
        fields |= _status_changes(load, status)
    model_update(instance=load, data=fields, unique_messages={"load_id": LOAD_ID_TAKEN})
    if load.status == LoadStatus.AVAILABLE and previous_status != LoadStatus.AVAILABLE:
        # Re-posted: the carrier who held it let it go; those who lost the race may try again.
        negotiations = Negotiation.objects.filter(load=load)
        reason = f"load {load.load_id} back on the board"
        update_with_history(
            negotiations.filter(status=NegotiationStatus.CLOSED), status=NegotiationStatus.OPEN, reason=reason
        )
        update_with_history(
            negotiations.filter(status=NegotiationStatus.BOOKED), status=NegotiationStatus.CLOSED, reason=reason
        )
    rollups.load_changed(load, [name for name, value in counted_by.items() if getattr(load, name) != value])
    if load.status != previous_status:
        mc_number = load.booked_carrier.mc_number if load.booked_carrier_id else None
        payload = payloads.load_status_changed(load, previous_status=previous_status, mc_number=mc_number)
        publish("load.status_changed", obj=load, payload=payload)
    return load


def load_cancel(*, load: Load) -> Load:
    return load_update(load=load, status=LoadStatus.CANCELLED)


@on_delete(Load)
def load_delete(*, instance: Load) -> None:
    """Soft-delete a load. Its negotiations stay as they were (a deleted load cannot be
    negotiated or booked) and come back with it on restore."""
    if instance.status in IN_PROGRESS_STATUSES:
        raise Conflict(
            f"Load {instance.load_id} is {instance.get_status_display().lower()}; cancel it before deleting it.",
            code="load_in_progress",
        )
    instance.delete()


# --- Negotiation --------------------------------------------------------------------------


def negotiation_rules() -> Rules:
    return Rules(
        max_rounds=runtime.get("NEGOTIATION_MAX_ROUNDS"),
        accept_margin_pct=runtime.get("NEGOTIATION_ACCEPT_MARGIN_PCT"),
        counter_step_pct=runtime.get("NEGOTIATION_COUNTER_STEP_PCT"),
        concession_schedule_pct=tuple(map(float, runtime.get("NEGOTIATION_CONCESSION_SCHEDULE_PCT"))),
    )


def load_ceiling(load: Load) -> Decimal:
    return load.ceiling(runtime.get("NEGOTIATION_CEILING_PCT"))


@dataclass(frozen=True)
class OfferResult:
    offer: Offer
    negotiation: Negotiation
    load: Load
    rounds_left: int


def _not_available(load: Load) -> Conflict:
    return Conflict(
        f"Load {load.load_id} is not available (it is {load.get_status_display().lower()}).",
        code="load_not_available",
    )


def _book(*, load: Load, carrier: Carrier, rate: Decimal) -> tuple[Load, list[Negotiation]]:
    """Book ``load`` for ``carrier`` at ``rate`` if it is still available; the conditional
    UPDATE's row count decides the winner when several carriers agree at the same moment.
    ``load`` is the row as read under its lock, so the booked row is known without reading it.
    Returns the load and the other carriers' negotiations the booking closed (for their events)."""
    now = clock.now()
    booked = {
        "status": LoadStatus.BOOKED,
        "booked_carrier": carrier,
        "agreed_rate": rate,
        "booked_at": now,
        "updated_at": now,
        "updated_by": get_current_user(),
    }
    # race-safe conditional write: only a load still available at this version is booked, by one carrier
    won = Load.objects.filter(pk=load.pk, status=LoadStatus.AVAILABLE, version=load.version).update(
        **booked, version=F("version") + 1
    )
    if not won:
        load.refresh_from_db()
        raise _not_available(load)
    for name, value in booked.items():
        setattr(load, name, value)
    load.version += 1
    record_history(load)
    # Everyone else negotiating this load is done. Under the load's lock no round opens another meanwhile,
    # so the ones read here are the ones closed (read first for their events; none read, nothing to update).
    others = list(
        Negotiation.objects.filter(load=load, status=NegotiationStatus.OPEN)
        .exclude(carrier=carrier)
        .select_related("carrier")
        .order_by("pk")
    )
    if others:
        update_with_history(
            Negotiation.objects.filter(pk__in=[other.pk for other in others], status=NegotiationStatus.OPEN),
            status=NegotiationStatus.CLOSED,
            reason=f"load {load.load_id} booked by another carrier",
        )
        for other in others:
            other.status = NegotiationStatus.CLOSED
    return load, others


def offer_make(*, load_id: str, mc_number: str, amount: Decimal, call_external_id: str = "") -> OfferResult:
    """One round of negotiation on ``load_id`` for the carrier ``mc_number`` asking ``amount``.

    Every rate comes from the load row, never from the caller. Accepting books the load."""
    load = prepared.first(Load.objects, load_id=load_id)
    if load is None:
        raise NotFound(f"No load with load ID {load_id}.", code="not_found")
    if load.status != LoadStatus.AVAILABLE:
        raise _not_available(load)
    if amount > load.loadboard_rate * ABSURD_ASK_MULTIPLE:
        raise Invalid(
            {"amount": [f"An ask of more than {ABSURD_ASK_MULTIPLE} times the posted rate is not a valid offer."]}
        )

    # Outside the transaction: an HTTP call must not hold row locks.
    carrier = carrier_verify(mc_number=mc_number).carrier
    if not carrier.eligible:
        reasons = ", ".join(carrier.ineligibility_reasons) or "not verified"
        raise Forbidden(
            f"Carrier MC{mc_number} is not eligible to book loads ({reasons}).", code="carrier_not_eligible"
        )

    rules = negotiation_rules()
    with transaction.atomic():
        # Rounds on one load run one at a time, the load locked first: a round that books it
        # closes the other carriers' negotiations, so locking a negotiation before the load
        # would let two simultaneous accepts wait on each other.
        load = prepared.first(Load.objects, lock=True, pk=load.pk)
        if load is None:
            raise NotFound(f"No load with load ID {load_id}.")
        # Under the load's lock no other round on this load runs: a negotiation absent here is
        # written once, with its first round. The row lock keeps out status changes made
        # outside a round (a load put back on the board).
        negotiation = prepared.first(Negotiation.objects, lock=True, load_id=load.pk, carrier_id=carrier.pk)
        if negotiation is None:
            negotiation = Negotiation(load=load, carrier=carrier)
        if load.status != LoadStatus.AVAILABLE:
            raise _not_available(load)
        if negotiation.status != NegotiationStatus.OPEN:
            raise Conflict(
                f"The negotiation on load {load_id} with this carrier is over ({negotiation.status}).",
                code="negotiation_closed",
            )
        if negotiation.rounds_used >= rules.max_rounds:
            raise Conflict(
                f"No rounds left: at most {rules.max_rounds} offers per carrier per load.",
                code="no_rounds_left",
            )
        round_number = negotiation.rounds_used + 1
        outcome = decide(
            posted=load.loadboard_rate,
            ceiling=load_ceiling(load),
            previous_counter=negotiation.last_counter,
            round_number=round_number,
            ask=amount,
            rules=rules,
        )
        closed_others: list[Negotiation] = []
        if outcome.decision == OfferDecision.ACCEPT:
            load, closed_others = _book(load=load, carrier=carrier, rate=outcome.agreed_amount)
            negotiation.status = NegotiationStatus.BOOKED
            negotiation.agreed_rate = outcome.agreed_amount
        elif outcome.decision == OfferDecision.REJECT:
            negotiation.status = NegotiationStatus.REJECTED
        else:
            negotiation.last_counter = outcome.counter_amount
        negotiation.rounds_used = round_number
        negotiation.save()
        call = Call.objects.filter(external_id=call_external_id).first() if call_external_id else None
        offer = Offer.objects.create(
            negotiation=negotiation,
            round=round_number,
            amount=amount,
            decision=outcome.decision,
            counter_amount=outcome.counter_amount,
            agreed_amount=outcome.agreed_amount,
            call_external_id=call_external_id,
            call=call,
        )
        rollups.count_offer(offer, posted=load.loadboard_rate)
        _publish_round(load=load, carrier=carrier, negotiation=negotiation, closed_others=closed_others)
    rounds_left = 0 if outcome.closes else max(0, rules.max_rounds - round_number)
    return OfferResult(offer=offer, negotiation=negotiation, load=load, rounds_left=rounds_left)


def _publish_round(*, load: Load, carrier: Carrier, negotiation: Negotiation, closed_others: list) -> None:
    """The events of a round that ended a negotiation, in its transaction: the booking (load booked, this
    negotiation and every other one on the load closed) or a refusal (this negotiation closed)."""
    if negotiation.status == NegotiationStatus.OPEN:
        return
    now = clock.now()
    if negotiation.status == NegotiationStatus.BOOKED:
        publish("load.booked", obj=load, payload=payloads.load_booked(load, carrier=carrier, negotiation=negotiation))
        now = load.booked_at
    closed = [(negotiation, carrier.mc_number), *((other, other.carrier.mc_number) for other in closed_others)]
    # One INSERT for this negotiation and the ones its booking closed.
    publish_many(
        "negotiation.closed",
        items=(
            (closed_one, payloads.negotiation_closed(closed_one, load=load, mc_number=mc_number, closed_at=now))
            for closed_one, mc_number in closed
        ),
    )


# --- Calls --------------------------------------------------------------------------------


class LoggedCall(NamedTuple):
    call: Call
    created: bool
    rounds_linked: int = 0


def call_log(
    *,
    external_id: str,
    started_at,
    duration_seconds: int,
    outcome: str,
    sentiment: str,
    mc_number: str = "",
    load_id: str = "",
    summary: str = "",
    transcript: str = "",
    extracted: dict | None = None,
    follow_up: dict | None = None,
) -> LoggedCall:
    """Record a finished call once. Returns ``(call, created, rounds_linked)``; logging the same
    ``external_id`` again returns the stored call unchanged (``created`` false), even under a race.
    Rounds negotiated during the call, before it was logged, are linked to it (``rounds_linked``).
    ``follow_up`` (due_at, reason, note, assigned_to) adds a follow-up to the new call."""
    existing = prepared.first(Call.objects, external_id=external_id)
    if existing is not None:
        return LoggedCall(existing, False)
    load = None
    if load_id:
        load = prepared.first(Load.objects, load_id=load_id)
        if load is None:
            raise Invalid({"load_id": [f"No load with load ID {load_id}."]})
    carrier = prepared.first(Carrier.objects, mc_number=mc_number) if mc_number else None
    try:
        with transaction.atomic():
            call = Call.objects.create(
                external_id=external_id,
                mc_number=mc_number,
                carrier=carrier,
                load=load,
                started_at=started_at,
                duration_seconds=duration_seconds,
                outcome=outcome,
                sentiment=sentiment,
                summary=summary,
                transcript=transcript,
                extracted=extracted or {},
            )
            linked = update_with_history(
                Offer.objects.filter(call_external_id=external_id, call__isnull=True),
                call=call,
                reason=f"call {external_id} logged",
            )
            rollups.count_call(call)
            follow_ups = [follow_up_create(call=call, **follow_up)] if follow_up else []
            publish(
                "call.logged",
                obj=call,
                payload=payloads.call_logged(call, rounds_linked=linked, follow_ups=follow_ups),
            )
    except IntegrityError:
        existing = Call.objects.filter(external_id=external_id).first()
        if existing is None:
            raise
        return LoggedCall(existing, False)
    return LoggedCall(call, True, linked)


# --- Follow-ups ---------------------------------------------------------------------------


def follow_up_create(*, call: Call, due_at, reason: str, note: str = "", assigned_to=None) -> FollowUp:
    return FollowUp.objects.create(call=call, due_at=due_at, reason=reason, note=note, assigned_to=assigned_to)


@transaction.atomic
def follow_up_update(*, follow_up: FollowUp, **fields) -> FollowUp:
    """Reschedule, reassign or re-word an open follow-up. Rescheduled, it is announced due again (``follow_up.due``)
    when its new time passes."""
    follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    if follow_up.is_done:
        raise Conflict("This follow-up is done; it can no longer be changed.", code="already_done")
    if "due_at" in fields and fields["due_at"] != follow_up.due_at:
        fields["due_announced_at"] = None
    model_update(instance=follow_up, data=fields)
    return follow_up


FOLLOW_UP_DUE_BATCH = 500


def follow_ups_announce_due(*, now=None, limit: int = FOLLOW_UP_DUE_BATCH) -> int:
    """Publish ``follow_up.due`` once for each open follow-up whose due time has passed (the beat job
    ``carriers.announce_due_follow_ups``, every minute). The rows are locked and marked announced in the
    transaction that publishes, so two sweeps at once announce each one once. Returns how many (at most
    ``limit``; the next run takes the rest)."""
    now = now or clock.now()
    with transaction.atomic():
        due = list(
            lock_rows(FollowUp.objects.filter(done_at__isnull=True, due_announced_at__isnull=True, due_at__lte=now))
            .order_by("due_at", "id")
            .values_list("pk", flat=True)[:limit]
        )
        if not due:
            return 0
        update_with_history(
            FollowUp.objects.filter(pk__in=due, due_announced_at__isnull=True),
            due_announced_at=now,
            reason="announced due",
        )
        announced = FollowUp.objects.filter(pk__in=due).select_related("call", "assigned_to").order_by("due_at", "id")
        publish_many(
            "follow_up.due",
            items=(
                (
                    follow_up,
                    payloads.follow_up_due(
                        follow_up,
                        call_external_id=follow_up.call.external_id,
                        assigned_to=follow_up.assigned_to.get_username() if follow_up.assigned_to else None,
                    ),
                )
                for follow_up in announced
            ),
        )
    return len(due)


@transaction.atomic
def follow_up_done(*, follow_up: FollowUp) -> FollowUp:
    """Mark a follow-up done by the current user. Done twice is a conflict, not a silent no-op."""
    follow_up = FollowUp.objects.select_for_update().get(pk=follow_up.pk)
    if follow_up.is_done:
        who = follow_up.done_by.get_username() if follow_up.done_by else "someone"
        raise Conflict(
            f"This follow-up was already done by {who} at {follow_up.done_at:%Y-%m-%d %H:%M}.",
            code="already_done",
        )
    model_update(instance=follow_up, data={"done_at": clock.now(), "done_by": get_current_user()})
    return follow_up


# --- Bulk import --------------------------------------------------------------------------

IMPORT_BATCH = 2000
IMPORT_ERRORS_SHOWN = 100


def loads_import(*, loads: list[tuple[int, dict]], progress=None) -> int:
    """Post many loads at once, all or none. ``loads`` pairs each load's fields (already checked
    as the API checks a body) with its line in the source file. The load rules and load-ID
    uniqueness (in the file and among live loads) are checked for every line before anything is
    written; any refusal raises ``Invalid`` keyed by line. Each load gets its history entry.

    The rules run on the values themselves (``Load.rule_errors``, what ``Load.clean`` applies)
    and the rows are written from them, without a model instance per load."""
    errors: dict[str, list[str]] = {}
    seen: dict[str, int] = {}
    rows = []
    for line, fields in loads:
        problems = Load.rule_errors(fields)
        if problems:
            errors[f"line {line}"] = [f"{name}: {' '.join(msgs)}" for name, msgs in problems.items()]
        load_id = fields["load_id"]
        if load_id in seen:
            errors.setdefault(f"line {line}", []).append(f"load_id: {load_id} is also on line {seen[load_id]}.")
        else:
            seen[load_id] = line
        rows.append(fields)
    for taken in existing_values(Load.objects, "load_id", list(seen), batch_size=IMPORT_BATCH):
        errors.setdefault(f"line {seen[taken]}", []).append(f"load_id: {LOAD_ID_TAKEN}")
    if errors:
        shown = dict(sorted(errors.items(), key=lambda item: int(item[0].split()[1]))[:IMPORT_ERRORS_SHOWN])
        raise Invalid(shown, f"{len(errors)} line(s) refused; nothing was imported.", code="import_refused")

    user = get_current_user()
    now = clock.now()
    fixed = {
        "status": LoadStatus.AVAILABLE,  # posted as available, whatever the file says
        "created_at": now,
        "updated_at": now,
        "created_by_id": user and user.pk,
        "updated_by_id": user and user.pk,
    }
    for fields in rows:
        fields.setdefault("id", uuid.uuid4())  # known before the write, for each load's event
    with transaction.atomic():
        create_rows_with_history(Load, rows, fixed=fixed, user=user, batch_size=IMPORT_BATCH, progress=progress)
        # One load.posted per load, written in batches in the import's transaction.
        publish_many(
            "load.posted",
            items=(((Load, fields["id"]), payloads.load_posted({**fields, **fixed})) for fields in rows),
            actor=user,
            batch_size=IMPORT_BATCH,
        )
    return len(rows)
