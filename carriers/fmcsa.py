"""HTTP client for FMCSA's QCMobile API (carrier lookup by MC/docket number).

Only an answer of the documented shape counts: anything else (a wrong key's 404 with a
string, the maintenance HTML page, a timeout) raises ``FMCSAUnavailable`` so callers can
say so instead of guessing. Repeated failures open a circuit breaker kept in Django's
cache (shared by every worker) so a down FMCSA is not hammered and callers fail fast; while the
cache is unreachable each process keeps the breaker's state itself, until the cache is back.
Requests go through ``core.outbound`` like every call to a configured address: no redirects,
no environment proxy, and an internal address only if ``OUTBOUND_ALLOWED_NETWORKS`` opens it.
"""

import json
import logging
import threading
import time
from dataclasses import dataclass, field
from datetime import date

from django.conf import settings
from django.core.cache import cache

from core import outbound
from core.fastpaths.cache import cache_degraded

from .choices import IneligibilityReason

logger = logging.getLogger(__name__)

CIRCUIT_FAILURES_KEY = "carriers:fmcsa:circuit:failures"
CIRCUIT_OPEN_UNTIL_KEY = "carriers:fmcsa:circuit:open-until"
BACKOFF_SECONDS = 0.2
REQUIRED_FIELDS = ("allowedToOperate", "statusCode", "dotNumber", "legalName")


class FMCSAError(Exception):
    """FMCSA cannot answer right now; ``code`` says why."""

    code = "fmcsa_unavailable"


class FMCSANotConfigured(FMCSAError):
    code = "fmcsa_not_configured"


class FMCSAUnavailable(FMCSAError):
    code = "fmcsa_unavailable"

    def __init__(self, message: str, *, cause: str = "bad_answer"):
        # What went wrong, for the verification log: timeout, unreachable, bad_answer, circuit_open.
        self.cause = cause
        super().__init__(message)


@dataclass(frozen=True)
class CarrierRecord:
    """The fields we read from a QCMobile ``carrier`` object."""

    dot_number: int
    legal_name: str
    dba_name: str
    allowed_to_operate: bool
    status_code: str
    out_of_service_date: date | None
    safety_rating: str
    phone: str
    city: str
    state: str
    raw: dict = field(repr=False)

    @property
    def reasons(self) -> list[str]:
        return ineligibility_reasons(self.raw)


def _flag(value) -> bool:
    return str(value).strip().upper() == "Y"


def _amount(value) -> float:
    try:
        return float(str(value).replace(",", "").strip())
    except (TypeError, ValueError):
        return 0.0


def ineligibility_reasons(carrier: dict) -> list[str]:
    """Each eligibility rule the carrier fails, as a reason code (empty list = eligible)."""
    reasons = []
    if not _flag(carrier.get("allowedToOperate")):
        reasons.append(IneligibilityReason.NOT_ALLOWED_TO_OPERATE.value)
    if str(carrier.get("statusCode") or "").strip().upper() != "A":
        reasons.append(IneligibilityReason.INACTIVE.value)
    if carrier.get("oosDate"):
        reasons.append(IneligibilityReason.OUT_OF_SERVICE.value)
    if str(carrier.get("safetyRating") or "").strip().upper() == "U":
        reasons.append(IneligibilityReason.UNSATISFACTORY_SAFETY_RATING.value)
    if _flag(carrier.get("bipdInsuranceRequired")):
        on_file = _amount(carrier.get("bipdInsuranceOnFile"))
        required = _amount(carrier.get("bipdRequiredAmount"))
        if on_file <= 0 or on_file < required:
            reasons.append(IneligibilityReason.INSURANCE_MISSING.value)
    return reasons


def _parse_date(value) -> date | None:
    if not value:
        return None
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def _record(carrier: dict) -> CarrierRecord:
    missing = [name for name in REQUIRED_FIELDS if name not in carrier]
    if missing:
        raise FMCSAUnavailable(f"FMCSA answered without {', '.join(missing)}.")
    try:
        dot_number = int(carrier["dotNumber"])
    except (TypeError, ValueError):
        raise FMCSAUnavailable("FMCSA answered with a USDOT number that is not a number.") from None
    return CarrierRecord(
        dot_number=dot_number,
        legal_name=str(carrier.get("legalName") or "")[:255],
        dba_name=str(carrier.get("dbaName") or "")[:255],
        allowed_to_operate=_flag(carrier.get("allowedToOperate")),
        status_code=str(carrier.get("statusCode") or "")[:1].upper(),
        out_of_service_date=_parse_date(carrier.get("oosDate")),
        safety_rating=str(carrier.get("safetyRating") or "")[:1].upper(),
        phone=str(carrier.get("telephone") or "")[:40],
        city=str(carrier.get("phyCity") or "")[:100],
        state=str(carrier.get("phyState") or "")[:2],
        raw=carrier,
    )


def parse_docket_response(status_code: int, content_type: str, body: bytes) -> CarrierRecord | None:
    """Read a ``/carriers/docket-number/{mc}`` answer: a record, ``None`` for "not found",
    or ``FMCSAUnavailable`` for anything not shaped like the documented JSON."""
    if status_code != 200:
        raise FMCSAUnavailable(f"FMCSA answered HTTP {status_code}.")
    if "json" not in content_type.lower():
        raise FMCSAUnavailable("FMCSA answered with something other than JSON (maintenance page?).")
    try:
        payload = json.loads(body)
    except ValueError:
        raise FMCSAUnavailable("FMCSA answered with malformed JSON.") from None
    if not isinstance(payload, dict) or not isinstance(payload.get("content"), list):
        raise FMCSAUnavailable("FMCSA answered with an unexpected shape.")
    content = payload["content"]
    if not content:
        return None
    first = content[0]
    if not isinstance(first, dict) or not isinstance(first.get("carrier"), dict):
        raise FMCSAUnavailable("FMCSA answered with an unexpected shape.")
    return _record(first["carrier"])


class _ProcessCircuit:
    """The breaker's state in this process, read while the shared cache is unreachable."""

    def __init__(self):
        self.lock = threading.Lock()
        self.failures = 0
        self.open_until = 0.0


class Circuit:
    """Consecutive-failure breaker; its state lives in the shared cache, and in this process while
    the cache is unreachable (a miss then says nothing about the breaker)."""

    process = _ProcessCircuit()

    @staticmethod
    def is_open() -> bool:
        open_until = cache.get(CIRCUIT_OPEN_UNTIL_KEY)
        if cache_degraded(cache):
            open_until = Circuit.process.open_until
        return open_until is not None and time.time() < open_until

    @staticmethod
    def record_success():
        cache.delete_many([CIRCUIT_FAILURES_KEY, CIRCUIT_OPEN_UNTIL_KEY])
        with Circuit.process.lock:
            Circuit.process.failures, Circuit.process.open_until = 0, 0.0

    @staticmethod
    def record_failure():
        reset_seconds = settings.FMCSA_CIRCUIT_RESET_SECONDS
        failures = Circuit._count_shared_failure(reset_seconds)
        process = Circuit.process
        with process.lock:
            if failures is None:  # the cache is unreachable: count in this process
                process.failures += 1
                failures = process.failures
            else:
                process.failures = 0
            open_until = time.time() + reset_seconds if failures >= settings.FMCSA_CIRCUIT_FAILURES else None
            if open_until is not None:
                # Kept here too, so the breaker stays open in this process if the cache goes.
                process.failures, process.open_until = 0, open_until
        if open_until is not None:
            # Half-open after the reset period: the next call is let through as a probe.
            cache.set(CIRCUIT_OPEN_UNTIL_KEY, open_until, timeout=reset_seconds)
            cache.set(CIRCUIT_FAILURES_KEY, 0, timeout=max(reset_seconds * 10, 600))
            logger.warning("FMCSA circuit opened for %s s after %s failures", reset_seconds, failures)

    @staticmethod
    def _count_shared_failure(reset_seconds) -> int | None:
        """The shared count of consecutive failures, this one included; None without the cache."""
        cache.add(CIRCUIT_FAILURES_KEY, 0, timeout=max(reset_seconds * 10, 600))
        try:
            failures = cache.incr(CIRCUIT_FAILURES_KEY)
        except ValueError:  # expired between add and incr, or the cache is unreachable
            cache.set(CIRCUIT_FAILURES_KEY, 1, timeout=max(reset_seconds * 10, 600))
            failures = 1
        return None if cache_degraded(cache) else failures


def lookup_by_mc(mc_number: str) -> CarrierRecord | None:
    """Ask FMCSA about an MC number (digits only). ``None`` when FMCSA does not know it."""
    web_key = settings.FMCSA_WEB_KEY
    if not web_key:
        raise FMCSANotConfigured("FMCSA verification is not configured (no FMCSA_WEB_KEY).")
    if Circuit.is_open():
        raise FMCSAUnavailable("FMCSA has been failing; lookups are paused for a short while.", cause="circuit_open")

    url = f"{settings.FMCSA_BASE_URL.rstrip('/')}/carriers/docket-number/{mc_number}"
    attempts = 1 + max(0, settings.FMCSA_RETRIES)
    last_error: FMCSAUnavailable | None = None
    with outbound.guarded_client(
        timeout=settings.FMCSA_TIMEOUT_SECONDS, headers={"Accept": "application/json"}
    ) as client:
        for attempt in range(attempts):
            if attempt:
                time.sleep(BACKOFF_SECONDS * 2 ** (attempt - 1))
            try:
                response = client.get(url, params={"webKey": web_key})
            except outbound.OutboundRefused:
                last_error = FMCSAUnavailable(
                    "FMCSA_BASE_URL points at an address outbound requests may not reach.", cause="unreachable"
                )
                break  # configuration, not a blip
            except outbound.OutboundTimeout:
                last_error = FMCSAUnavailable("FMCSA did not answer in time.", cause="timeout")
                continue
            except outbound.OutboundError as exc:
                last_error = FMCSAUnavailable(f"Could not reach FMCSA ({type(exc).__name__}).", cause="unreachable")
                continue
            try:
                record = parse_docket_response(
                    response.status_code, response.headers.get("content-type", ""), response.content
                )
            except FMCSAUnavailable as exc:
                last_error = exc
                if 400 <= response.status_code < 500:
                    break  # a wrong key or a bad request will not fix itself on retry
                continue
            Circuit.record_success()
            return record
    Circuit.record_failure()
    logger.warning("FMCSA lookup for MC %s failed: %s", mc_number, last_error)
    raise last_error
