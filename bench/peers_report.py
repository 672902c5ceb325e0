"""Summarise a bench/peers.sh run: throughput and latency per server (median over rounds), and the
project's ratios to the two peers, for the README.

    python bench/peers_report.py /tmp/perf/results-YYYYMMDD-HHMMSS
"""

import csv
import statistics
import sys
from pathlib import Path


def rows(path: Path) -> dict[str, list[dict]]:
    by_server: dict[str, list[dict]] = {}
    if not path.exists():
        return by_server
    with path.open() as handle:
        for row in csv.DictReader(handle, delimiter="\t"):
            if row.get(None):  # a DISTURBED run, repeated by the runner
                continue
            by_server.setdefault(row["server"], []).append(row)
    return by_server


def median(runs: list[dict], column: str) -> float:
    return statistics.median(float(run[column]) for run in runs)


def table(title: str, path: Path) -> list[str]:
    by_server = rows(path)
    if not by_server:
        return []
    lines = [f"### {title}", "", "| server | req/s | p50 ms | p90 ms | p99 ms | server CPU ms/req | rounds |"]
    lines.append("| --- | --- | --- | --- | --- | --- | --- |")
    for server, runs in by_server.items():
        lines.append(
            f"| {server} | {median(runs, 'req_s'):.0f} | {median(runs, 'p50_ms'):.1f} | {median(runs, 'p90_ms'):.1f} "
            f"| {median(runs, 'p99_ms'):.1f} | {median(runs, 'server_cpu_ms_per_req'):.2f} | {len(runs)} |"
        )
    best = {server: median(runs, "req_s") for server, runs in by_server.items()}
    project = max((rate for server, rate in best.items() if server.startswith("proj")), default=None)
    raw = max((rate for server, rate in best.items() if server.startswith("raw")), default=None)
    fastapi = best.get("fastapi")
    lines.append("")
    if project and fastapi:
        lines.append(f"- project / FastAPI: **{project / fastapi:.2f}×**")
    if project and raw:
        lines.append(f"- project / raw psycopg: **{project / raw:.2f}×**")
    lines.append("")
    return lines


def main(out: str) -> None:
    out = Path(out)
    report = ["## Load search and latencies (bench/peers.sh)", ""]
    report += table(
        "Load search (`origin_state=IL&equipment_type=reefer&status=available`, 20 rows)",
        out / "search" / "results.tsv",
    )
    report += table("Same, every matching row carrying created_by/updated_by", out / "authored" / "results.tsv")
    latency = out / "latency" / "latency.txt"
    if latency.exists():
        report += ["### Single client, 50 sequential requests", "", "```", latency.read_text().strip(), "```"]
    writes = out / "writes.txt"
    if writes.exists():
        report += ["", "### A voice agent's writes, single client", "", "```", writes.read_text().strip(), "```"]
    print("\n".join(report))


if __name__ == "__main__":
    main(sys.argv[1])
