"""Single-client latencies of what a carrier-sales voice agent does during a call, against a running
server and the benchmark database (``make bench`` runs it after the peers' read latencies):

- verification served from the stored FMCSA answer (``GET carriers/verify/{mc}/``),
- an offer round countered (``POST loads/{id}/offers/`` above the ceiling),
- an offer round accepted, which books the load (at the posted rate),
- call logging (``POST calls/`` naming the carrier and the load).

    DSN=postgres://… PERF_TOKEN=… python bench/write_latency.py [-n 50] [--base http://127.0.0.1:8000]

N sequential requests each over one keep-alive connection, after a few untimed ones; any unexpected
status aborts. Each request works on its own carrier or load, so no round limit or booking gets in
the way: the loads are available ones outside the search benchmark's state (IL) that no negotiation
has touched, and the carriers' stored answers are dated an hour ago so that they are fresh.
"""

import argparse
import http.client
import json
import os
import statistics
import sys
import time
import uuid
from datetime import UTC, datetime
from decimal import Decimal
from urllib.parse import urlsplit

import psycopg


def pick(dsn: str, count: int) -> tuple[list[str], list[tuple[str, Decimal]]]:
    with psycopg.connect(dsn, autocommit=True) as conn:
        carriers = [
            mc
            for (mc,) in conn.execute(
                "UPDATE carriers_carrier SET verified_at = now() - interval '1 hour'"
                " WHERE id IN (SELECT id FROM carriers_carrier WHERE eligible AND deleted_at IS NULL"
                " ORDER BY random() LIMIT %s) RETURNING mc_number",
                (count,),
            )
        ]
        loads = conn.execute(
            "SELECT load_id, loadboard_rate FROM carriers_load l WHERE status = 'available' AND deleted_at IS NULL"
            " AND origin_state <> 'IL' AND pickup_datetime > now() + interval '1 day'"
            " AND NOT EXISTS (SELECT 1 FROM carriers_negotiation n WHERE n.load_id = l.id)"
            " ORDER BY random() LIMIT %s",
            (count * 3,),
        ).fetchall()
    if len(carriers) < count or len(loads) < count * 3:
        sys.exit("Not enough eligible carriers or untouched available loads in the benchmark database.")
    return carriers, loads


class Client:
    pause = 0.0

    def __init__(self, base: str, token: str):
        parts = urlsplit(base)
        self.host, self.port = parts.hostname, parts.port
        self.headers = {"Authorization": f"Token {token}", "Accept": "application/json"}
        self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)

    def __call__(self, method: str, path: str, body=None, expect=(200,)) -> tuple[float, dict]:
        headers = dict(self.headers)
        payload = None
        if body is not None:
            payload = json.dumps(body)
            headers["Content-Type"] = "application/json"
        if self.pause:
            time.sleep(self.pause)  # the agent's think time: work the last request left behind may finish
        start = time.perf_counter()
        self.conn.request(method, path, body=payload, headers=headers)
        response = self.conn.getresponse()
        data = response.read()
        elapsed = (time.perf_counter() - start) * 1000
        if response.status not in expect:
            sys.exit(f"{method} {path}: HTTP {response.status}: {data[:300]!r}")
        if response.getheader("Connection", "").lower() == "close":
            self.conn.close()
            self.conn = http.client.HTTPConnection(self.host, self.port, timeout=120)
        return elapsed, json.loads(data)


def report(label: str, times: list[float], warmup: int) -> None:
    times = sorted(times[warmup:])
    p95 = times[min(len(times) - 1, int(round(0.95 * len(times))) - 1)]
    print(
        f"{label}\tn={len(times)}\tmedian={statistics.median(times):.1f} ms\tp95={p95:.1f} ms"
        f"\tmin={times[0]:.1f}\tmax={times[-1]:.1f}"
    )


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("-n", type=int, default=50)
    parser.add_argument("--warmup", type=int, default=3)
    parser.add_argument("--base", default="http://127.0.0.1:8000")
    parser.add_argument(
        "--pause",
        type=float,
        default=0.0,
        help="seconds between requests (a voice agent's turns are seconds apart; 0: back to back)",
    )
    args = parser.parse_args()
    count = args.warmup + args.n
    carriers, loads = pick(os.environ["DSN"], count)
    client = Client(args.base, os.environ["PERF_TOKEN"])
    client.pause = args.pause
    api = "/api/v1"

    times = [client("GET", f"{api}/carriers/verify/{mc}/")[0] for mc in carriers]
    report("verification from the stored answer", times, args.warmup)

    countered, accepted = [], []
    for mc, (load_id, rate) in zip(carriers, loads[:count], strict=True):
        elapsed, answer = client("POST", f"{api}/loads/{load_id}/offers/", {"mc_number": mc, "amount": str(rate * 2)})
        assert answer["decision"] == "counter", answer
        countered.append(elapsed)
    for mc, (load_id, rate) in zip(carriers, loads[count : 2 * count], strict=True):
        elapsed, answer = client("POST", f"{api}/loads/{load_id}/offers/", {"mc_number": mc, "amount": str(rate)})
        assert answer["decision"] == "accept" and answer["load_status"] == "booked", answer
        accepted.append(elapsed)
    report("offer round, countered", countered, args.warmup)
    report("offer round, accepted (books the load)", accepted, args.warmup)

    logged = []
    for mc, (load_id, _) in zip(carriers, loads[2 * count :], strict=True):
        body = {
            "external_id": f"bench-{uuid.uuid4().hex}",
            "mc_number": mc,
            "load_id": load_id,
            "started_at": datetime.now(UTC).isoformat(),
            "duration_seconds": 240,
            "outcome": "rate_not_agreed",
            "sentiment": "neutral",
            "summary": "Carrier wanted more than the ceiling.",
            "extracted": {"equipment": "dry van", "asked": 2500},
        }
        logged.append(client("POST", f"{api}/calls/", body, expect=(201,))[0])
    report("call logging", logged, args.warmup)


if __name__ == "__main__":
    main()
