"""Summarise a bench/peers.sh run: throughput and latency per server (median over rounds), and the
project's ratios to the two peers, for the README.

    python bench/peers_report.py /tmp/perf/results-YYYYMMDD-HHMMSS

The runner marks a run DISTURBED when CPU outside the server, PostgreSQL and wrk exceeds 1 s, and
counts Redis there. The project keeps its token cache and throttle in Redis (the peers use none),
so its own runs can be marked disturbed by its own Redis. peers.sh records Redis's CPU time over
each search stage (``redis_cpu_s``); the report spreads it over the project's requests (warm-up
included, so the share is not overstated) and applies the runner's 1-s rule to the rest.
"""

import csv
import os
import statistics
import sys
from collections import Counter
from pathlib import Path

DISTURBED_OVER_S = 1.0  # the runner's own threshold


def _seconds(value: str) -> float:
    return float(value.rstrip("s"))


def load_runs(path: Path) -> list[dict]:
    if not path.exists():
        return []
    runs = []
    with path.open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            row["disturbed"] = bool(row.pop(None, None))
            runs.append(row)
    return runs


def attribute_redis(runs: list[dict], redis_cpu_s: float | None) -> float | None:
    """Give each project run its share of Redis's CPU and clear the runs that only Redis disturbed.
    Returns Redis's CPU per project request in ms (None when not recorded)."""
    project = [run for run in runs if run["server"].startswith("proj")]
    if redis_cpu_s is None or not project:
        return None
    warmup, duration = _seconds(os.environ.get("WARMUP", "5s")), _seconds(os.environ.get("DURATION", "15s"))
    served = sum(int(run["requests"]) for run in project) * (warmup + duration) / duration
    per_request = redis_cpu_s / served
    for run in project:
        run["redis_cpu_s"] = per_request * int(run["requests"])
        if run["disturbed"] and float(run["other_cpu_s"]) - run["redis_cpu_s"] <= DISTURBED_OVER_S:
            run["disturbed"], run["cleared"] = False, True
    return per_request * 1000


def median(runs: list[dict], column: str) -> float:
    return statistics.median(float(run[column]) for run in runs)


def table(title: str, stage: Path) -> list[str]:
    runs = load_runs(stage / "results.tsv")
    if not runs:
        return []
    redis_file = stage / "redis_cpu_s"
    redis_ms = attribute_redis(runs, float(redis_file.read_text()) if redis_file.exists() else None)
    by_server: dict[str, list[dict]] = {}
    for run in runs:
        if not run["disturbed"]:
            by_server.setdefault(run["server"], []).append(run)
    lines = [f"### {title}", "", "| server | req/s | p50 ms | p90 ms | p99 ms | server CPU ms/req | rounds |"]
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for server, kept in by_server.items():
        cleared = sum(1 for run in kept if run.get("cleared"))
        rounds = f"{len(kept)}" + (f" ({cleared} disturbed only by Redis)" if cleared else "")
        lines.append(
            f"| {server} | {median(kept, 'req_s'):.0f} | {median(kept, 'p50_ms'):.1f} | {median(kept, 'p90_ms'):.1f} "
            f"| {median(kept, 'p99_ms'):.1f} | {median(kept, 'server_cpu_ms_per_req'):.2f} | {rounds} |"
        )
    best = {server: median(kept, "req_s") for server, kept in by_server.items()}
    project = max((rate for server, rate in best.items() if server.startswith("proj")), default=None)
    raw = max((rate for server, rate in best.items() if server.startswith("raw")), default=None)
    fastapi = best.get("fastapi")
    lines.append("")
    if project and fastapi:
        lines.append(f"- project / FastAPI: **{project / fastapi:.2f}×**")
    if project and raw:
        lines.append(f"- project / raw psycopg: **{project / raw:.2f}×**")
    if redis_ms is not None:
        lines.append(f"- Redis (the project's token cache and throttle): {redis_ms:.2f} ms of CPU per project request")
    dropped = [run for run in runs if run["disturbed"]]
    if dropped:
        tries = Counter(f"{run['server']} round {run['round']}" for run in dropped)
        names = ", ".join(name + (f" (×{count})" if count > 1 else "") for name, count in tries.items())
        lines.append(f"- runs left out as disturbed: {names}")
    lines.append("")
    return lines


def main(out: str) -> None:
    out = Path(out)
    report = ["## Load search and latencies (bench/peers.sh)", ""]
    report += table("Load search (`origin_state=IL&equipment_type=reefer&status=available`, 20 rows)", out / "search")
    report += table("Same, every matching row carrying created_by/updated_by", out / "authored")
    report += table("Same, the project reading from a streaming replica (DATABASE_REPLICA_URLS)", out / "replica")
    standby = out / "replica" / "standby.txt"
    if standby.exists():
        report += [f"- {standby.read_text().strip()} (the project's reads)", ""]
    latency = out / "latency" / "latency.txt"
    if latency.exists():
        report += ["### Single client, 50 sequential requests", "", "```", latency.read_text().strip(), "```"]
    writes = out / "writes.txt"
    if writes.exists():
        report += ["", "### A voice agent's writes, single client", "", "```", writes.read_text().strip(), "```"]
    print("\n".join(report))


if __name__ == "__main__":
    main(sys.argv[1])
