"""The negotiation rules as one pure function, so they can be reasoned about and tested
without a database.

Money direction: the broker pays the carrier. The posted rate is what the broker offers;
a carrier's ask above it costs the broker more, so every concession moves *up* from the
posted rate towards the ask and stops below the ceiling.
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

    * An ask at or below the posted rate, or at or below our previous counter, is accepted.
    * An ask within ``accept_margin_pct`` of the posted rate (and not above the ceiling) is accepted.
    * On the last round the ask is accepted if it is not above the ceiling, else rejected.
    * Otherwise we counter: from our previous counter (or the posted rate) we move
      ``counter_step_pct`` of the way towards the ask, or towards the ceiling when the ask is
      above it, so the counter never reaches an ask above the ceiling nor goes below our last one.
    """
    if ceiling < posted:
        raise ValueError("The ceiling is below the posted rate.")
    if ask <= 0:
        raise ValueError("The ask must be positive.")

    if previous_counter is not None and previous_counter > ceiling:
        # The ceiling was lowered after we countered; it still bounds every amount.
        previous_counter = ceiling

    def accept():
        return Decision(OfferDecision.ACCEPT, agreed_amount=ask)

    if ask <= posted:
        return accept()
    if previous_counter is not None and ask <= previous_counter:
        return accept()
    margin_limit = posted * (1 + _pct(rules.accept_margin_pct))
    if ask <= margin_limit and ask <= ceiling:
        return accept()
    if round_number >= rules.max_rounds:
        return accept() if ask <= ceiling else Decision(OfferDecision.REJECT)

    base = previous_counter if previous_counter is not None else posted
    target = ask if ask <= ceiling else ceiling
    raw = base + (target - base) * _pct(rules.counter_step_pct)
    counter = max(base, raw.quantize(CENT, rounding=ROUND_DOWN))
    if counter >= ask:
        # Meeting the ask in full is agreeing to it.
        return accept()
    return Decision(OfferDecision.COUNTER, counter_amount=counter)
