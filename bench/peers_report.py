"""Summarise a bench/peers.sh run: throughput and latency per server (median over rounds), and the
project's ratios to the two peers, for the README.

    python bench/peers_report.py /tmp/perf/results-YYYYMMDD-HHMMSS

The runner marks a run DISTURBED when CPU outside the server, PostgreSQL and wrk exceeds 1 s, and
counts Redis there. The project keeps its token cache and throttle in Redis (the peers use none),
so its own runs can be marked disturbed by its own Redis. peers.sh records Redis's CPU time over
each search stage (``redis_cpu_s``); the report spreads it over the project's requests (warm-up
included, so the share is not overstated) and applies the runner's 1-s rule to the rest.

The MariaDB stage (``mariadb``: the project on MariaDB, the peers on PostgreSQL) is read the same
way: the runner counts only ``postgres`` processes as the database, so peers.sh records mariadbd's
CPU over the stage (``mariadb_cpu_s``), which is spread over the project's requests like Redis's.
Its ratios are given against the project on PostgreSQL in the first stage (``search``) as well.
"""

import csv
import os
import statistics
import sys
from collections import Counter
from pathlib import Path

DISTURBED_OVER_S = 1.0  # the runner's own threshold
# KEEP_DISTURBED=1 keeps every run: on a machine that other work keeps busy, every run is disturbed (the runner
# tries each three times) and the ratios within one sitting are all there is.
KEEP_DISTURBED = bool(os.environ.get("KEEP_DISTURBED"))


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


def attribute(runs: list[dict], cpu_s: dict[str, float]) -> dict[str, float]:
    """Give each project run its share of the CPU of the processes that serve only the project (Redis,
    and mariadbd when it reads MariaDB) and clear the runs that only they disturbed. Returns each
    one's CPU per project request in ms."""
    project = [run for run in runs if run["server"].startswith("proj")]
    if not cpu_s or not project:
        return {}
    warmup, duration = _seconds(os.environ.get("WARMUP", "5s")), _seconds(os.environ.get("DURATION", "15s"))
    served = sum(int(run["requests"]) for run in project) * (warmup + duration) / duration
    per_request = {name: seconds / served for name, seconds in cpu_s.items()}
    for run in project:
        run["side_cpu_s"] = sum(per_request.values()) * int(run["requests"])
        if run["disturbed"] and float(run["other_cpu_s"]) - run["side_cpu_s"] <= DISTURBED_OVER_S:
            run["disturbed"], run["cleared"] = False, True
    return {name: value * 1000 for name, value in per_request.items()}


def side_cpu(stage: Path) -> dict[str, float]:
    """The CPU seconds peers.sh recorded over a stage: ``redis`` always, ``mariadb`` in the MariaDB stage."""
    found = {}
    for name in ("redis", "mariadb"):
        path = stage / f"{name}_cpu_s"
        if path.exists():
            found[name] = float(path.read_text())
    return found


def kept_runs(stage: Path) -> tuple[list[dict], dict[str, list[dict]], dict[str, float]]:
    """All runs, the undisturbed ones by server, and the side processes' CPU per project request (ms)."""
    runs = load_runs(stage / "results.tsv")
    side_ms = attribute(runs, side_cpu(stage))
    by_server: dict[str, list[dict]] = {}
    for run in runs:
        if KEEP_DISTURBED or not run["disturbed"]:
            by_server.setdefault(run["server"], []).append(run)
    return runs, by_server, side_ms


def median(runs: list[dict], column: str) -> float:
    return statistics.median(float(run[column]) for run in runs)


def table(title: str, stage: Path) -> list[str]:
    runs, by_server, side_ms = kept_runs(stage)
    if not runs:
        return []
    redis_ms = side_ms.get("redis")
    lines = [f"### {title}", "", "| server | req/s | p50 ms | p90 ms | p99 ms | server CPU ms/req | rounds |"]
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for server, kept in by_server.items():
        cleared = sum(1 for run in kept if run.get("cleared"))
        who = "Redis and mariadbd" if "mariadb" in side_ms else "Redis"
        rounds = f"{len(kept)}" + (f" ({cleared} disturbed only by {who})" if cleared else "")
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
    if "mariadb" in side_ms:
        lines.append(
            f"- mariadbd (the project's database here): {side_ms['mariadb']:.2f} ms of CPU per project request"
        )
    dropped = [run for run in runs if run["disturbed"]]
    if dropped and KEEP_DISTURBED:
        lines.append(f"- kept though disturbed (KEEP_DISTURBED=1): {len(dropped)} of {len(runs)} runs")
    elif dropped:
        tries = Counter(f"{run['server']} round {run['round']}" for run in dropped)
        names = ", ".join(name + (f" (×{count})" if count > 1 else "") for name, count in tries.items())
        lines.append(f"- runs left out as disturbed: {names}")
    lines.append("")
    return lines


def mariadb_table(out: Path) -> list[str]:
    """The MariaDB stage: its own table, then the project on MariaDB against the project on PostgreSQL
    (the first stage's proj-sync: same server, same workers), throughput and CPU per request."""
    lines = table("Same, the project on MariaDB (a copy of the same rows; the peers on PostgreSQL)", out / "mariadb")
    _, on_mariadb, side_ms = kept_runs(out / "mariadb")
    _, on_postgres, pg_side_ms = kept_runs(out / "search")
    mdb, pg = on_mariadb.get("proj-sync"), on_postgres.get("proj-sync")
    if not (lines and mdb and pg and "mariadb" in side_ms):
        return lines

    def cpu(runs: list[dict], database_ms: float, redis_ms: float | None) -> tuple[float, float, float]:
        server = median(runs, "server_cpu_ms_per_req")
        return server, database_ms, server + database_ms + (redis_ms or 0.0)

    m_server, m_db, m_total = cpu(mdb, side_ms["mariadb"], side_ms.get("redis"))
    p_server, p_db, p_total = cpu(pg, median(pg, "pg_cpu_ms_per_req"), pg_side_ms.get("redis"))
    lines += [
        "| proj-sync | req/s | p50 ms | server CPU ms/req | database CPU ms/req | all CPU ms/req | database share |",
        "| --- | --- | --- | --- | --- | --- | --- |",
        f"| on PostgreSQL (first stage) | {median(pg, 'req_s'):.0f} | {median(pg, 'p50_ms'):.1f} | {p_server:.2f} "
        f"| {p_db:.2f} (postgres) | {p_total:.2f} | {p_db / p_total:.0%} |",
        f"| on MariaDB | {median(mdb, 'req_s'):.0f} | {median(mdb, 'p50_ms'):.1f} | {m_server:.2f} "
        f"| {m_db:.2f} (mariadbd) | {m_total:.2f} | {m_db / m_total:.0%} |",
        "",
        f"- project on MariaDB / project on PostgreSQL: **{median(mdb, 'req_s') / median(pg, 'req_s'):.2f}×** "
        f"the requests per second, {m_total / p_total:.2f}× the CPU per request (server, database and Redis)",
        "",
    ]
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
    report += mariadb_table(out)
    latency = out / "latency" / "latency.txt"
    if latency.exists():
        report += ["### Single client, 50 sequential requests", "", "```", latency.read_text().strip(), "```"]
    writes = out / "writes.txt"
    if writes.exists():
        report += ["", "### A voice agent's writes, single client", "", "```", writes.read_text().strip(), "```"]
    print("\n".join(report))


if __name__ == "__main__":
    main(sys.argv[1])
