"""Every FMCSA lookup (not a reuse of a fresh stored answer) is logged with its outcome and latency,
and the metrics' "verification failures by reason" are read from that log for the period."""

from datetime import timedelta

import pytest
from django.core.management import CommandError, call_command
from django.utils import timezone

from carriers.models import VerificationLookup
from tests.carriers.conftest import docket_body, qc_carrier

pytestmark = pytest.mark.django_db

VERIFY = "/api/v1/carriers/verify/{}/"
METRICS = "/api/v1/metrics/carrier-sales/"


def test_lookups_are_logged_but_reused_answers_are_not(fmcsa, sales_agent_client):
    fmcsa.on("123456", "json", (200, docket_body(qc_carrier())))
    fmcsa.on("222222", "json", (200, docket_body(qc_carrier(allowedToOperate="N", oosDate="2026-01-05"))))
    assert sales_agent_client.get(VERIFY.format("123456")).status_code == 200
    assert sales_agent_client.get(VERIFY.format("123456")).json()["source"] == "cache"
    sales_agent_client.get(VERIFY.format("222222"))
    sales_agent_client.get(VERIFY.format("333333"))  # FMCSA knows no such carrier

    log = {row.mc_number: row for row in VerificationLookup.objects.all()}
    assert set(log) == {"123456", "222222", "333333"}  # the cached second answer is not a lookup
    assert log["123456"].outcome == "eligible" and log["123456"].reasons == []
    assert log["222222"].outcome == "ineligible"
    assert set(log["222222"].reasons) >= {"not_allowed_to_operate", "out_of_service"}
    assert log["333333"].outcome == "ineligible" and log["333333"].reasons == ["not_found"]
    assert all(row.latency_ms >= 0 and row.looked_up_at <= timezone.now() for row in log.values())


def test_failed_lookups_are_logged_with_the_kind_of_failure(fmcsa, sales_agent_client):
    fmcsa.on("444444", "hang")
    fmcsa.on("555555", "html")
    assert sales_agent_client.get(VERIFY.format("444444")).status_code == 503
    assert sales_agent_client.get(VERIFY.format("555555")).status_code == 503
    log = {row.mc_number: row for row in VerificationLookup.objects.all()}
    assert (log["444444"].outcome, log["444444"].error) == ("unavailable", "timeout")
    assert (log["555555"].outcome, log["555555"].error) == ("unavailable", "bad_answer")
    assert log["444444"].latency_ms >= 400  # the 0.5 s timeout was waited out


def test_metrics_count_failures_by_reason_from_the_log_in_the_period(fmcsa, sales_agent_client, manager_client):
    fmcsa.on("222222", "json", (200, docket_body(qc_carrier(allowedToOperate="N"))))
    sales_agent_client.get(VERIFY.format("222222"))
    sales_agent_client.get(VERIFY.format("333333"))
    old = VerificationLookup.objects.create(
        mc_number="777777", outcome="ineligible", reasons=["inactive"], latency_ms=90
    )
    VerificationLookup.objects.filter(pk=old.pk).update(looked_up_at=timezone.now() - timedelta(days=40))

    today = timezone.localdate()
    recent = manager_client.get(METRICS, {"from": today - timedelta(days=6), "to": today}).json()
    assert recent["verification_failures"]["not_allowed_to_operate"] == 1
    assert recent["verification_failures"]["not_found"] == 1
    assert recent["verification_failures"]["inactive"] == 0  # 40 days ago: outside the period
    assert manager_client.get(METRICS).json()["verification_failures"]["inactive"] == 1


def test_prune_removes_only_old_lookups():
    keep = VerificationLookup.objects.create(mc_number="1", outcome="eligible", latency_ms=5)
    old = VerificationLookup.objects.create(mc_number="2", outcome="eligible", latency_ms=5)
    VerificationLookup.objects.filter(pk=old.pk).update(looked_up_at=timezone.now() - timedelta(days=400))
    call_command("prune_verification_log", "--older-than", "365d", verbosity=0)
    assert list(VerificationLookup.objects.values_list("pk", flat=True)) == [keep.pk]
    with pytest.raises(CommandError, match="365d"):
        call_command("prune_verification_log", "--older-than", "a year")
