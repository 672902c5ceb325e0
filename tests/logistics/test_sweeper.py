"""Jobs that survive their worker: the solve claims its decision atomically (two runs, one plan),
and the sweeper fails decisions whose worker stopped. The real worker being killed is in
test_worker_death.py."""

from datetime import datetime, timedelta

import pytest
from django.utils import timezone
from django_celery_beat.models import PeriodicTask

from config.celery import app
from logistics import planning, services
from logistics.choices import DecisionStatus
from logistics.models import Decision
from logistics.tasks import fail_stuck_decisions, solve_decision
from tests.concurrency import errors_of, run_at_once

GRACE = 30.0


@pytest.fixture(autouse=True)
def tunables(settings):
    settings.DECISION_STUCK_GRACE_SECONDS = GRACE
    settings.DECISION_QUEUE_TIMEOUT_SECONDS = 600.0
    return settings


@pytest.fixture
def queued(pending_orders, fleet, monkeypatch):
    """Create a decision whose solve message is queued but not yet taken by any worker."""
    monkeypatch.setattr(solve_decision, "delay", lambda *args, **kwargs: None)

    def _create(**kwargs):
        return services.decision_create(time_limit_seconds=1, **kwargs)

    return _create


def _proposals(decision) -> int:
    """How many times the decision's history records it becoming a proposal."""
    statuses = list(decision.history.order_by("history_date").values_list("status", flat=True))
    return sum(1 for before, after in zip(["", *statuses], statuses, strict=False) if after != before == "solving")


def test_running_the_solve_twice_keeps_one_plan(queued):
    decision = queued()
    assert solve_decision.apply_async((str(decision.pk),)).get() == DecisionStatus.PROPOSED
    decision.refresh_from_db()
    first = (decision.plan, decision.version)

    assert solve_decision.apply_async((str(decision.pk),)).get() == DecisionStatus.PROPOSED  # a redelivered message
    decision.refresh_from_db()
    assert (decision.plan, decision.version) == first
    assert _proposals(decision) == 1
    assert decision.solver_stats["claim"]["attempt"] == 1


@pytest.mark.django_db(transaction=True)
def test_two_runs_at_once_claim_the_decision_once(queued):
    decision = queued()
    results = run_at_once(
        [lambda i=i: services.decision_solve(decision_id=decision.pk, worker=f"w{i}@test") for i in (1, 2)]
    )
    assert errors_of(results) == []
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PROPOSED, decision.failure_reason
    assert _proposals(decision) == 1
    assert decision.solver_stats["claim"]["attempt"] == 1
    assert decision.solver_stats["claim"]["worker"] in ("w1@test", "w2@test")


def test_a_run_finding_a_live_claim_changes_nothing(queued):
    decision = queued()
    claimed = services.decision_claim(decision_id=decision.pk, worker="other@host")
    assert claimed is not None

    assert solve_decision.apply_async((str(decision.pk),)).get() == DecisionStatus.SOLVING
    decision.refresh_from_db()
    assert decision.version == claimed.version
    assert decision.plan == {}
    assert decision.solver_stats["claim"]["worker"] == "other@host"


def test_an_expired_claim_is_taken_over_as_the_next_attempt(queued):
    decision = queued()
    long_ago = timezone.now() - timedelta(seconds=1.5 * decision.time_limit_seconds + GRACE + 1)
    services.decision_claim(decision_id=decision.pk, worker="dead@host", now=long_ago)

    assert solve_decision.apply_async((str(decision.pk),)).get() == DecisionStatus.PROPOSED
    decision.refresh_from_db()
    assert decision.solver_stats["claim"]["attempt"] == 2
    assert _proposals(decision) == 1


def test_no_decision_is_claimed_once_it_left_solving(queued):
    decision = queued()
    services.decision_solve(decision_id=decision.pk)
    assert services.decision_claim(decision_id=decision.pk) is None


def test_the_sweeper_fails_a_decision_whose_worker_stopped(queued):
    decision = queued()
    claimed = services.decision_claim(decision_id=decision.pk, worker="celery@node-1")
    deadline = services.decision_stuck_after(claimed)
    claimed_at = datetime.fromisoformat(claimed.solver_stats["claim"]["at"])
    assert deadline == claimed_at + timedelta(seconds=1.5 * decision.time_limit_seconds + GRACE)

    assert services.decisions_fail_stuck(now=deadline - timedelta(seconds=1)) == []
    assert Decision.objects.get(pk=decision.pk).status == DecisionStatus.SOLVING

    [failed] = services.decisions_fail_stuck(now=deadline)
    assert failed.pk == decision.pk
    assert failed.status == DecisionStatus.FAILED
    assert failed.failure_reason.startswith("The worker running this job stopped: attempt 1 started at ")
    assert "celery@node-1" in failed.failure_reason and "request a new decision" in failed.failure_reason
    assert failed.plan == {}
    assert failed.history.first().history_change_reason == "stuck in solving"


def test_the_sweeper_fails_a_decision_no_worker_started_after_the_queue_timeout(queued, tunables):
    decision = queued()
    deadline = decision.created_at + timedelta(seconds=tunables.DECISION_QUEUE_TIMEOUT_SECONDS)
    assert services.decision_stuck_after(decision) == deadline
    assert services.decisions_fail_stuck(now=deadline - timedelta(seconds=1)) == []

    [failed] = services.decisions_fail_stuck(now=deadline)
    assert failed.status == DecisionStatus.FAILED
    assert failed.failure_reason.startswith("No worker started this job within 600 s")


def test_the_sweeper_leaves_decisions_that_are_not_solving_alone(queued):
    decision = queued()
    services.decision_solve(decision_id=decision.pk)
    decision.refresh_from_db()
    assert decision.status == DecisionStatus.PROPOSED
    assert services.decisions_fail_stuck(now=timezone.now() + timedelta(days=1)) == []
    assert Decision.objects.get(pk=decision.pk).version == decision.version


def test_a_result_arriving_after_the_sweeper_failed_the_decision_is_dropped(queued, monkeypatch):
    """The worker was only slow: the sweeper failed its decision mid-solve, so the plan it then
    stores would contradict the reason given; the decision stays failed, without a plan."""
    decision = queued()
    real_plan = planning.plan

    def sweeper_runs_meanwhile(*args, **kwargs):
        services.decisions_fail_stuck(now=timezone.now() + timedelta(days=1))
        return real_plan(*args, **kwargs)

    monkeypatch.setattr(planning, "plan", sweeper_runs_meanwhile)
    assert solve_decision.apply_async((str(decision.pk),)).get() == DecisionStatus.FAILED
    decision.refresh_from_db()
    assert decision.failure_reason.startswith("The worker running this job stopped")
    assert decision.plan == {} and decision.orders_routed == 0


def test_the_sweeper_runs_every_minute_on_beat(queued):
    job = PeriodicTask.objects.get(task="logistics.fail_stuck_decisions")
    assert job.enabled and job.interval.every == 1 and job.interval.period == "minutes"
    assert job.task in app.tasks

    decision = queued()
    services.decision_claim(
        decision_id=decision.pk, worker="gone@host", now=timezone.now() - timedelta(seconds=GRACE + 60)
    )
    assert fail_stuck_decisions.delay().get() == 1
    assert Decision.objects.get(pk=decision.pk).status == DecisionStatus.FAILED
