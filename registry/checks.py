"""Active health checks: probe services' health check URLs over HTTP, concurrently, with a timeout.

Health check URLs are typed in by operators, so probes go through ``core.outbound``: an address
inside the network (unless ``OUTBOUND_ALLOWED_NETWORKS`` opens it) is refused without being
contacted and counts as a failing check. Details never carry exception text or addresses.

Probing only collects results; ``apply_results`` then records each one through
``services.service_record_health`` (the rule the health endpoint uses), in the calling thread.
"""

import time
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

from core import outbound

from .choices import ServiceStatus
from .models import Service
from .services import service_record_health

DEFAULT_TIMEOUT_SECONDS = 5.0
DEFAULT_CONCURRENCY = 20


@dataclass(frozen=True)
class ProbeResult:
    name: str
    url: str
    passing: bool
    response_time_ms: int | None
    detail: str


@dataclass(frozen=True)
class CheckOutcome:
    probe: ProbeResult
    service: Service

    @property
    def required_unhealthy(self) -> bool:
        return self.service.required and self.service.status == ServiceStatus.UNHEALTHY


def probe(client: outbound.GuardedClient, name: str, url: str) -> ProbeResult:
    """2xx passes; any other answer, none within the client's timeout, or a refused address fails."""
    started = time.perf_counter()
    try:
        response = client.get(url)
    except outbound.OutboundRefused as exc:
        return ProbeResult(name, url, False, None, f"refused: {exc.reason}")
    except outbound.OutboundTimeout:
        return ProbeResult(name, url, False, None, "timed out")
    except outbound.OutboundConnectError:
        return ProbeResult(name, url, False, None, "connection failed")
    except outbound.OutboundError:
        return ProbeResult(name, url, False, None, "request failed")
    elapsed_ms = round((time.perf_counter() - started) * 1000)
    passing = 200 <= response.status_code < 300
    return ProbeResult(name, url, passing, elapsed_ms, f"HTTP {response.status_code}")


def checkable_services(names=None):
    """Enabled live services with an http(s) health check URL."""
    services = Service.objects.filter(enabled=True).exclude(health_check_url="")
    if names:
        services = services.filter(name__in=names)
    return [s for s in services.order_by("name") if s.health_check_url.lower().startswith(("http://", "https://"))]


def probe_all(
    services, *, timeout: float = DEFAULT_TIMEOUT_SECONDS, concurrency: int = DEFAULT_CONCURRENCY
) -> list[ProbeResult]:
    targets = [(s.name, s.health_check_url) for s in services]
    if not targets:
        return []
    # The guarded client goes to the URL directly (never through an environment proxy) and does
    # not follow redirects: a 3xx is not a healthy answer.
    with (
        outbound.guarded_client(timeout=timeout) as client,
        ThreadPoolExecutor(max_workers=max(1, min(concurrency, len(targets)))) as pool,
    ):
        return list(pool.map(lambda target: probe(client, *target), targets))


def apply_results(services, results: list[ProbeResult]) -> list[CheckOutcome]:
    by_name = {s.name: s for s in services}
    outcomes = []
    for result in results:
        service = service_record_health(
            service=by_name[result.name], passing=result.passing, response_time_ms=result.response_time_ms
        )
        outcomes.append(CheckOutcome(result, service))
    return outcomes


def check_services(
    services, *, timeout: float = DEFAULT_TIMEOUT_SECONDS, concurrency: int = DEFAULT_CONCURRENCY
) -> list[CheckOutcome]:
    services = list(services)
    return apply_results(services, probe_all(services, timeout=timeout, concurrency=concurrency))
