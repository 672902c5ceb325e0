"""The negotiation rules, for any posted rate, ceiling, settings and sequence of asks."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carriers.choices import OfferDecision
from carriers.negotiation import Rules, decide

CENT = Decimal("0.01")

money = st.decimals(min_value=Decimal("100"), max_value=Decimal("20000"), places=2)
pct = st.floats(min_value=0, max_value=50, allow_nan=False).map(lambda x: round(x, 2))
asks = st.lists(st.decimals(min_value=Decimal("1"), max_value=Decimal("60000"), places=2), min_size=1, max_size=12)
rules_strategy = st.builds(
    Rules,
    max_rounds=st.integers(min_value=1, max_value=6),
    accept_margin_pct=pct,
    counter_step_pct=st.floats(min_value=1, max_value=100, allow_nan=False).map(lambda x: round(x, 2)),
)


@st.composite
def loads(draw):
    posted = draw(money)
    extra = draw(st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=2))
    return posted, posted + extra


def play(posted, ceiling, rules, asks_):
    """Run a negotiation the way the service does; returns the list of (ask, decision) rounds."""
    rounds, previous = [], None
    for number, ask in enumerate(asks_, start=1):
        if number > rules.max_rounds:
            break
        outcome = decide(
            posted=posted, ceiling=ceiling, previous_counter=previous, round_number=number, ask=ask, rules=rules
        )
        rounds.append((ask, previous, outcome))
        if outcome.closes:
            break
        previous = outcome.counter_amount
    return rounds


@settings(max_examples=400, deadline=None)
@given(load=loads(), rules=rules_strategy, asks_=asks)
def test_rules_hold_for_any_sequence_of_asks(load, rules, asks_):
    posted, ceiling = load
    rounds = play(posted, ceiling, rules, asks_)
    assert 1 <= len(rounds) <= rules.max_rounds
    for number, (ask, previous, outcome) in enumerate(rounds, start=1):
        if ask <= posted or (previous is not None and ask <= previous):
            assert outcome.decision == OfferDecision.ACCEPT and outcome.agreed_amount == ask
        if outcome.decision == OfferDecision.ACCEPT:
            # Nothing agreed above the ceiling, and the broker never pays more than asked.
            assert outcome.agreed_amount == ask <= ceiling
            assert outcome.counter_amount is None
        elif outcome.decision == OfferDecision.COUNTER:
            counter = outcome.counter_amount
            assert number < rules.max_rounds, "the last round never counters"
            assert posted <= counter < ask
            assert counter <= ceiling
            assert previous is None or counter >= previous
            assert counter == counter.quantize(CENT)
        else:
            assert outcome.decision == OfferDecision.REJECT
            assert outcome.counter_amount is None and outcome.agreed_amount is None
            assert ask > ceiling, "an ask within the ceiling is never rejected"
    last_number, (_, _, last) = len(rounds), rounds[-1]
    if last_number == rules.max_rounds:
        assert last.decision in (OfferDecision.ACCEPT, OfferDecision.REJECT)


@settings(max_examples=200, deadline=None)
@given(
    load=loads(), rules=rules_strategy, ask=st.decimals(min_value=Decimal("1"), max_value=Decimal("60000"), places=2)
)
def test_counters_never_reveal_a_ceiling_below_the_ask(load, rules, ask):
    posted, ceiling = load
    outcome = decide(posted=posted, ceiling=ceiling, previous_counter=None, round_number=1, ask=ask, rules=rules)
    if (
        outcome.decision == OfferDecision.COUNTER
        and ask > ceiling
        and ceiling > posted
        and rules.counter_step_pct < 100
    ):
        assert outcome.counter_amount < ceiling


RULES = Rules(max_rounds=3, accept_margin_pct=2.0, counter_step_pct=50.0)


def d(value):
    return Decimal(value)


@pytest.mark.parametrize(
    ("ask", "expected"),
    [
        ("1900.00", ("accept", None, "1900.00")),  # below posted: take it at the ask
        ("2000.00", ("accept", None, "2000.00")),  # at posted
        ("2040.00", ("accept", None, "2040.00")),  # within the 2 % margin
        ("2100.00", ("counter", "2050.00", None)),  # halfway from posted towards the ask
        ("3000.00", ("counter", "2100.00", None)),  # ask above the ceiling: halfway towards the ceiling
    ],
)
def test_first_round_examples(ask, expected):
    outcome = decide(
        posted=d("2000.00"), ceiling=d("2200.00"), previous_counter=None, round_number=1, ask=d(ask), rules=RULES
    )
    decision, counter, agreed = expected
    assert outcome.decision == decision
    assert outcome.counter_amount == (d(counter) if counter else None)
    assert outcome.agreed_amount == (d(agreed) if agreed else None)


def test_a_higher_ask_is_worse_for_the_broker_not_better():
    """The money direction: asking more than the posted rate never gets accepted outright beyond the margin."""
    low = decide(posted=d("2000"), ceiling=d("2200"), previous_counter=None, round_number=1, ask=d("2010"), rules=RULES)
    high = decide(
        posted=d("2000"), ceiling=d("2200"), previous_counter=None, round_number=1, ask=d("2150"), rules=RULES
    )
    assert low.decision == OfferDecision.ACCEPT
    assert high.decision == OfferDecision.COUNTER


def test_last_round_accepts_within_ceiling_and_rejects_above():
    kwargs = {
        "posted": d("2000"),
        "ceiling": d("2200"),
        "previous_counter": d("2100"),
        "round_number": 3,
        "rules": RULES,
    }
    assert decide(ask=d("2180"), **kwargs).decision == OfferDecision.ACCEPT
    assert decide(ask=d("2200.01"), **kwargs).decision == OfferDecision.REJECT


def test_ask_at_or_below_previous_counter_is_accepted():
    outcome = decide(
        posted=d("2000"), ceiling=d("2200"), previous_counter=d("2100"), round_number=2, ask=d("2100"), rules=RULES
    )
    assert outcome.decision == OfferDecision.ACCEPT and outcome.agreed_amount == d("2100")


def test_lowered_ceiling_still_bounds_everything():
    outcome = decide(
        posted=d("2000"), ceiling=d("2050"), previous_counter=d("2100"), round_number=2, ask=d("2080"), rules=RULES
    )
    assert outcome.decision == OfferDecision.COUNTER and outcome.counter_amount <= d("2050")
