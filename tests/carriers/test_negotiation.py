"""The negotiation rules, for any posted rate, ceiling, settings and sequence of asks.

The ceiling is the broker's secret: counters are worked out without it, so two loads with the
same posted rate and asks get the same counters whatever their ceilings, and a counter never
sits at (or moves towards) a ceiling below the ask."""

from decimal import Decimal

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from carriers.choices import OfferDecision
from carriers.negotiation import Rules, counter_for, decide

CENT = Decimal("0.01")
# A ceiling no ask in these tests reaches: what a load without any ceiling would get.
NO_CEILING = Decimal("1000000000")

money = st.decimals(min_value=Decimal("100"), max_value=Decimal("20000"), places=2)
pct = st.floats(min_value=0, max_value=50, allow_nan=False).map(lambda x: round(x, 2))
asks = st.lists(st.decimals(min_value=Decimal("1"), max_value=Decimal("60000"), places=2), min_size=1, max_size=12)
rules_strategy = st.builds(
    Rules,
    max_rounds=st.integers(min_value=1, max_value=6),
    accept_margin_pct=pct,
    counter_step_pct=st.floats(min_value=1, max_value=100, allow_nan=False).map(lambda x: round(x, 2)),
    concession_schedule_pct=st.lists(pct, min_size=1, max_size=6).map(tuple),
)
extras = st.decimals(min_value=Decimal("0"), max_value=Decimal("5000"), places=2)


@st.composite
def loads(draw):
    posted = draw(money)
    return posted, posted + draw(extras)


def play(posted, ceiling, rules, asks_):
    """Run a negotiation the way the service does; returns the list of (ask, previous counter, outcome)."""
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
            assert counter < ceiling, "never a counter at the ceiling"
            assert previous is None or counter >= previous
            assert counter == counter.quantize(CENT)
            # Within the round's concession, unless holding our previous counter.
            most = posted * (1 + Decimal(str(rules.concession_pct(number))) / 100)
            assert counter <= most or counter == previous
        else:
            assert outcome.decision == OfferDecision.REJECT
            assert outcome.counter_amount is None and outcome.agreed_amount is None
            assert ask > ceiling, "an ask within the ceiling is never rejected"
            if number < rules.max_rounds:
                # Before the last round only the ceiling-free counter reaching the ceiling rejects.
                assert (
                    counter_for(posted=posted, previous_counter=previous, round_number=number, ask=ask, rules=rules)
                    >= ceiling
                )
    last_number, (_, _, last) = len(rounds), rounds[-1]
    if last_number == rules.max_rounds:
        assert last.decision in (OfferDecision.ACCEPT, OfferDecision.REJECT)


@settings(max_examples=400, deadline=None)
@given(posted=money, extra1=extras, extra2=extras, rules=rules_strategy, asks_=asks)
def test_counters_are_the_same_whatever_the_ceiling(posted, extra1, extra2, rules, asks_):
    """For any two ceilings, the same posted rate and asks get the same answers for as long as both
    sides counter; the first round where either does not is the first where they may differ. Both
    also counter exactly as a load without any ceiling would."""
    one, two, unbounded = (
        play(posted, ceiling, rules, asks_) for ceiling in (posted + extra1, posted + extra2, NO_CEILING)
    )
    for a, b in ((one, two), (one, unbounded), (two, unbounded)):
        for (_, _, first), (_, _, second) in zip(a, b, strict=False):
            if first.closes or second.closes:
                break  # the first round where either side does not counter: from here they may differ
            assert first == second


@settings(max_examples=400, deadline=None)
@given(
    load=loads(),
    rules=rules_strategy,
    round_number=st.integers(min_value=1, max_value=5),
    previous_extra=st.one_of(st.none(), extras),
    ask=st.decimals(min_value=Decimal("1"), max_value=Decimal("60000"), places=2),
    other_extra=extras,
)
def test_counters_never_reveal_a_ceiling_below_the_ask(load, rules, round_number, previous_extra, ask, other_extra):
    """A counter to an ask above the ceiling is not the ceiling, nor a step towards it: every other
    ceiling between the counter and the ask gets the very same counter, and one that admits the
    ask gets that counter or an accept, never another counter."""
    posted, ceiling = load
    previous = None if previous_extra is None else posted + previous_extra
    kwargs = {"posted": posted, "previous_counter": previous, "round_number": round_number, "ask": ask, "rules": rules}
    outcome = decide(ceiling=ceiling, **kwargs)
    if outcome.decision != OfferDecision.COUNTER:
        return
    counter = outcome.counter_amount
    assert counter == counter_for(**kwargs)
    if ask > ceiling:
        assert counter < ceiling
    for other in (counter + CENT, posted + other_extra, ceiling * 2, ask - CENT, ask, NO_CEILING):
        if other <= counter:
            continue
        answer = decide(ceiling=other, **kwargs)
        if other < ask:
            assert answer == outcome
        else:
            assert answer == outcome or answer.decision == OfferDecision.ACCEPT


RULES = Rules(max_rounds=3, accept_margin_pct=2.0, counter_step_pct=50.0, concession_schedule_pct=(3.0, 6.0, 9.0))


def d(value):
    return Decimal(value)


@pytest.mark.parametrize(
    ("ask", "expected"),
    [
        ("1900.00", ("accept", None, "1900.00")),  # below posted: take it at the ask
        ("2000.00", ("accept", None, "2000.00")),  # at posted
        ("2040.00", ("accept", None, "2040.00")),  # within the 2 % margin
        ("2100.00", ("counter", "2050.00", None)),  # halfway from posted towards the ask
        ("2200.00", ("counter", "2060.00", None)),  # halfway would be 2100: round 1 concedes at most 3 %
        ("3000.00", ("counter", "2060.00", None)),  # ask above the ceiling: the same 3 %, not the ceiling
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


@pytest.mark.parametrize("ceiling", ["2100.00", "2200.00", "2500.00", "9000.00"])
def test_an_absurd_ask_learns_nothing_about_the_ceiling(ceiling):
    """The old rule countered halfway to the ceiling, so one absurd ask gave it away
    (ceiling = posted + 2 × (counter − posted)). Now every ceiling gets the same answers."""
    first = decide(
        posted=d("2000"), ceiling=d(ceiling), previous_counter=None, round_number=1, ask=d("9999"), rules=RULES
    )
    assert first.decision == OfferDecision.COUNTER and first.counter_amount == d("2060.00")
    second = decide(
        posted=d("2000"), ceiling=d(ceiling), previous_counter=d("2060"), round_number=2, ask=d("9999"), rules=RULES
    )
    if d(ceiling) > d("2120.00"):
        assert second.decision == OfferDecision.COUNTER and second.counter_amount == d("2120.00")  # 6 % in round 2
    else:
        assert second.decision == OfferDecision.REJECT  # our next step would pass this ceiling


@pytest.mark.parametrize(
    ("ceiling", "decision", "counter"),
    [
        ("2050.00", "reject", None),  # the round-1 counter (2060) would pass the ceiling
        ("2060.00", "reject", None),  # nor is a counter ever made at the ceiling
        ("2060.01", "counter", "2060.00"),
        ("2000.00", "reject", None),  # a ceiling at the posted rate leaves nothing to concede
    ],
)
def test_a_ceiling_that_binds_before_the_last_round_rejects(ceiling, decision, counter):
    outcome = decide(
        posted=d("2000"), ceiling=d(ceiling), previous_counter=None, round_number=1, ask=d("3000"), rules=RULES
    )
    assert outcome.decision == decision
    assert outcome.counter_amount == (d(counter) if counter else None)


def test_rounds_past_the_schedule_take_its_last_entry():
    rules = Rules(max_rounds=6, accept_margin_pct=0, counter_step_pct=100, concession_schedule_pct=(1.0, 2.0))
    counters = [
        counter_for(posted=d("1000"), previous_counter=None, round_number=number, ask=d("5000"), rules=rules)
        for number in range(1, 6)
    ]
    assert counters == [d("1010.00"), d("1020.00"), d("1020.00"), d("1020.00"), d("1020.00")]


def test_a_counter_never_goes_below_our_previous_one():
    # A schedule lowered between rounds holds the counter where it was.
    rules = Rules(max_rounds=3, accept_margin_pct=0, counter_step_pct=50, concession_schedule_pct=(1.0,))
    outcome = decide(
        posted=d("2000"), ceiling=d("2500"), previous_counter=d("2100"), round_number=2, ask=d("2400"), rules=rules
    )
    assert outcome.decision == OfferDecision.COUNTER and outcome.counter_amount == d("2100")


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
    # We countered 2100, then the ceiling came down to 2050: taking our own counter would pass it.
    kwargs = {"posted": d("2000"), "ceiling": d("2050"), "previous_counter": d("2100"), "round_number": 2}
    assert decide(ask=d("2080"), rules=RULES, **kwargs).decision == OfferDecision.REJECT
    assert decide(ask=d("2300"), rules=RULES, **kwargs).decision == OfferDecision.REJECT
    assert decide(ask=d("2040"), rules=RULES, **kwargs) == decide(
        ask=d("2040"), rules=RULES, **{**kwargs, "ceiling": d("2200")}
    )
