"""``manage.py check_services`` against real HTTP servers on localhost."""

import socket
from io import StringIO

import pytest
from django.core.management import CommandError, call_command
from django.test import override_settings

from registry.checks import check_services
from registry.choices import ServiceStatus
from registry.models import Service

from .factories import ServiceFactory

pytestmark = pytest.mark.django_db

TIMEOUT = "0.5"


def run(*args):
    out = StringIO()
    try:
        call_command("check_services", "--timeout", TIMEOUT, *args, stdout=out)
    except CommandError as exc:
        return out.getvalue(), exc
    return out.getvalue(), None


def closed_port_url():
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return f"http://127.0.0.1:{sock.getsockname()[1]}/health"


@pytest.fixture
def fleet(health_server):
    return {
        "up": ServiceFactory(name="up", health_check_url=f"{health_server}/ok", required=True),
        "broken": ServiceFactory(name="broken", health_check_url=f"{health_server}/error", required=True),
        "stuck": ServiceFactory(name="stuck", health_check_url=f"{health_server}/hang"),
        "moved": ServiceFactory(name="moved", health_check_url=f"{health_server}/redirect"),
        "gone": ServiceFactory(name="gone", health_check_url=closed_port_url()),
        "stdio": ServiceFactory(name="stdio"),
        "off": ServiceFactory(
            name="off", health_check_url=f"{health_server}/error", enabled=False, status=ServiceStatus.DISABLED
        ),
    }


def statuses():
    return dict(Service.objects.values_list("name", "status"))


def test_checks_apply_the_flap_thresholds_and_fail_when_a_required_service_goes_unhealthy(fleet):
    output, error = run()
    assert error is None  # one failure is a blip, not an outage
    lines = output.splitlines()
    assert lines[0].split() == ["NAME", "CHECK", "STATUS", "RESPONSE", "REQUIRED", "DETAIL"]
    table = {line.split()[0]: line for line in lines[1:-1]}
    assert set(table) == {"broken", "gone", "moved", "stuck", "up"}  # enabled, with an http(s) URL
    assert "pass" in table["up"] and "HTTP 200" in table["up"] and " ms" in table["up"]
    assert "FAIL" in table["broken"] and "HTTP 500" in table["broken"]
    assert "timed out" in table["stuck"]
    assert "HTTP 302" in table["moved"]
    assert "connection failed" in table["gone"]  # no exception text in the detail
    assert lines[-1] == "5 checked, 1 passing, 4 failing."

    output, error = run()
    assert error is None
    assert statuses()["up"] == ServiceStatus.HEALTHY

    output, error = run()
    assert error is not None
    assert "broken" in str(error) and "up" not in str(error)
    after = statuses()
    assert after["broken"] == after["stuck"] == after["gone"] == ServiceStatus.UNHEALTHY
    assert after["stdio"] == ServiceStatus.UNKNOWN and after["off"] == ServiceStatus.DISABLED

    up = Service.objects.get(name="up")
    assert (up.success_count, up.failure_count, up.response_time_ms is not None) == (3, 0, True)
    stuck = Service.objects.get(name="stuck")
    assert stuck.response_time_ms is None and stuck.last_health_check is not None


def test_probes_run_concurrently_with_the_timeout(health_server):
    for i in range(6):
        ServiceFactory(name=f"stuck-{i}", health_check_url=f"{health_server}/hang")
    output, error = run()
    assert error is None
    assert output.count("timed out") == 6
    # Six probes in flight at once: each of these answers only when all six are waiting on it,
    # so one at a time, the first would time out.
    for i in range(6):
        ServiceFactory(name=f"together-{i}", health_check_url=f"{health_server}/gather/6")
    output, error = run(*[arg for i in range(6) for arg in ("--name", f"together-{i}")])
    assert error is None and "timed out" not in output
    together = Service.objects.filter(name__startswith="together-")
    assert [(s.success_count, s.failure_count) for s in together] == [(1, 0)] * 6
    output, _ = run("--concurrency", "1", "--name", "stuck-0", "--name", "stuck-1")
    assert output.count("timed out") == 2


def test_name_selects_services_and_unknown_names_are_an_error(fleet):
    output, error = run("--name", "up")
    assert error is None
    assert "2 checked" not in output and "1 checked, 1 passing" in output
    _, error = run("--name", "stdio")
    assert "stdio" in str(error)
    _, error = run("--timeout", "0")
    assert error is not None


def test_maintenance_services_are_probed_but_keep_their_status(health_server):
    ServiceFactory(
        name="paused", health_check_url=f"{health_server}/error", required=True, status=ServiceStatus.MAINTENANCE
    )
    for _ in range(3):
        _, error = run()
        assert error is None
    paused = Service.objects.get(name="paused")
    assert (paused.status, paused.failure_count) == (ServiceStatus.MAINTENANCE, 3)


def test_nothing_to_check():
    ServiceFactory(name="stdio")
    output, error = run()
    assert error is None and "No enabled service" in output


def test_a_probe_refuses_an_address_the_settings_no_longer_allow(health_server):
    # Saved while the network was open (the test settings allow loopback); then it is closed.
    service = ServiceFactory(name="db", health_check_url=f"{health_server}/ok")
    with override_settings(OUTBOUND_ALLOWED_NETWORKS=[]):
        [outcome] = check_services([service], timeout=0.5)
    assert (outcome.probe.passing, outcome.probe.detail, outcome.probe.response_time_ms) == (
        False,
        "refused: address not allowed",
        None,
    )
    assert health_server.requests == []  # never contacted
    service.refresh_from_db()
    assert (service.failure_count, service.success_count) == (1, 0)
    output, _ = run()
    assert "HTTP 200" in output and health_server.requests == ["/ok"]  # open again: reached


def test_a_probe_resolves_the_name_again_and_refuses_when_it_now_points_inside(health_server, fake_dns):
    fake_dns["status.example"] = ["93.184.216.34"]
    ServiceFactory(name="status", health_check_url="http://status.example:8080/health")
    fake_dns["status.example"] = ["169.254.169.254"]  # re-pointed after the save
    output, error = run()
    assert error is None
    [line] = [line for line in output.splitlines() if line.startswith("status")]
    assert "FAIL" in line and "refused: address not allowed" in line and "169.254" not in line
