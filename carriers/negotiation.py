"""The negotiation rules as one pure function, so they can be reasoned about and tested
without a database.

Money direction: the broker pays the carrier. The posted rate is what the broker offers;
a carrier's ask above it costs the broker more, so every concession moves *up* from the
posted rate towards the ask.

The ceiling is the broker's secret, and a counter must not give it away. So a counter is
worked out without it (``counter_for`` is not given the ceiling): from the posted rate, the
carrier's asks and the round, capped by the concession schedule. The ceiling only decides:
accept an ask at or below it, reject an ask above it in the last round, and reject when the
counter we would make reaches it (no counter is ever made at or above the ceiling). Two loads
with the same posted rate and asks therefore get the same counters whatever their ceilings,
until one of them answers with something other than a counter.
"""

from dataclasses import dataclass
from decimal import ROUND_DOWN, Decimal

from .choices import OfferDecision

CENT = Decimal("0.01")


@dataclass(frozen=True)
class Rules:
    max_rounds: int
    accept_margin_pct: float
    counter_step_pct: float
    # The most a counter may be over the posted rate, in %, by round (1, 2, …); rounds past the
    # end of the schedule take its last entry. Never decreasing.
    concession_schedule_pct: tuple[float, ...]

    def concession_pct(self, round_number: int) -> float:
        schedule = self.concession_schedule_pct
        return schedule[min(round_number, len(schedule)) - 1]


@dataclass(frozen=True)
class Decision:
    decision: OfferDecision
    counter_amount: Decimal | None = None
    agreed_amount: Decimal | None = None

    @property
    def closes(self) -> bool:
        return self.decision != OfferDecision.COUNTER


def _pct(value: float) -> Decimal:
    return Decimal(str(value)) / 100


def counter_for(
    *, posted: Decimal, previous_counter: Decimal | None, round_number: int, ask: Decimal, rules: Rules
) -> Decimal:
    """The counter to an ``ask`` above the posted rate in round ``round_number``, before the
    ceiling is looked at (it is deliberately not an argument): from our previous counter (or the
    posted rate) move ``counter_step_pct`` of the way towards the ask, at most the round's
    ``concession_schedule_pct`` over the posted rate, rounded down to the cent, never below our
    previous counter. It may meet or pass the ask; the caller turns that into an accept."""
    base = previous_counter if previous_counter is not None else posted
    towards_ask = base + (ask - base) * _pct(rules.counter_step_pct)
    most_this_round = posted * (1 + _pct(rules.concession_pct(round_number)))
    return max(base, min(towards_ask, most_this_round).quantize(CENT, rounding=ROUND_DOWN))


def decide(
    *,
    posted: Decimal,
    ceiling: Decimal,
    previous_counter: Decimal | None,
    round_number: int,
    ask: Decimal,
    rules: Rules,
) -> Decision:
    """Decide round ``round_number`` (1-based) given the carrier's ``ask``.

    * An ask at or below the posted rate is accepted; one at or below our previous counter is
      accepted if it is within the ceiling (a ceiling lowered since may refuse it).
    * An ask within ``accept_margin_pct`` of the posted rate and not above the ceiling is accepted.
    * On the last round the ask is accepted if it is not above the ceiling, else rejected.
    * Otherwise the counter is ``counter_for`` (which never sees the ceiling). If it meets the ask,
      the ask is accepted when within the ceiling; if it reaches the ceiling, the offer is
      rejected: we never counter at or above the ceiling, nor move a counter towards it.
    """
    if ceiling < posted:
        raise ValueError("The ceiling is below the posted rate.")
    if ask <= 0:
        raise ValueError("The ask must be positive.")

    def accept_within_ceiling():
        if ask <= ceiling:
            return Decision(OfferDecision.ACCEPT, agreed_amount=ask)
        return Decision(OfferDecision.REJECT)

    if ask <= posted:
        return accept_within_ceiling()  # the ceiling is never below the posted rate: an accept
    if previous_counter is not None and ask <= previous_counter:
        return accept_within_ceiling()
    if ask <= posted * (1 + _pct(rules.accept_margin_pct)) and ask <= ceiling:
        return accept_within_ceiling()
    if round_number >= rules.max_rounds:
        return accept_within_ceiling()

    counter = counter_for(
        posted=posted, previous_counter=previous_counter, round_number=round_number, ask=ask, rules=rules
    )
    if counter >= ask:
        # Meeting the ask in full is agreeing to it.
        return accept_within_ceiling()
    if counter >= ceiling:
        # The ceiling binds before the last round. A counter at the ceiling instead would tell
        # the carrier the ceiling; a reject tells only that our next step was more than we pay.
        return Decision(OfferDecision.REJECT)
    return Decision(OfferDecision.COUNTER, counter_amount=counter)
