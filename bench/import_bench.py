"""``manage.py import_loads`` on a CSV of 100,000 loads, on PostgreSQL or MySQL/MariaDB: time to check every
row and to write them (with their history entries), into a scratch database that is dropped afterwards.

    DATABASE_URL=postgres://postgres@127.0.0.1:5432/postgres .venv/bin/python bench/import_bench.py [rows]
    DATABASE_URL=mysql://root@127.0.0.1:3306/mysql .venv/bin/python bench/import_bench.py [rows]

The database named in DATABASE_URL is only used to create and drop ``import_bench``. On PostgreSQL the rows go
in through COPY, elsewhere through ``bulk_create`` batches (``core.bulk``).
"""

import csv
import os
import random
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from pathlib import Path
from urllib.parse import unquote, urlsplit

ROOT = Path(__file__).resolve().parent.parent
ROWS = int(sys.argv[1]) if len(sys.argv) > 1 else 100_000
CITIES = [("Chicago", "IL"), ("Dallas", "TX"), ("Atlanta", "GA"), ("Los Angeles", "CA"), ("Newark", "NJ")]
EQUIPMENT = ["dry_van", "reefer", "flatbed", "Dry Van", "step-deck"]


def write_csv(path: Path, rows: int) -> None:
    rng = random.Random(1)
    start = datetime(2026, 12, 1, 8, tzinfo=UTC)
    with path.open("w", newline="") as handle:
        writer = csv.writer(handle)
        writer.writerow(
            ["load_id", "origin_city", "origin_state", "destination_city", "destination_state", "pickup_datetime",
             "delivery_datetime", "equipment_type", "loadboard_rate", "max_rate", "weight", "commodity_type", "miles"]
        )  # fmt: skip
        for n in range(rows):
            (oc, os_), (dc, ds) = rng.sample(CITIES, 2)
            pickup = start + timedelta(minutes=rng.randrange(60 * 24 * 60))
            rate = rng.randrange(800, 6000)
            writer.writerow(
                [f"IMP-{n:07d}", oc, os_, dc, ds, pickup.isoformat(), (pickup + timedelta(hours=30)).isoformat(),
                 rng.choice(EQUIPMENT), f"{rate}.00", f"{int(rate * 1.12)}.00", rng.randrange(1000, 45000),
                 "Packaged goods", rng.randrange(100, 2500)]
            )  # fmt: skip


def admin_sql(admin_url: str):
    """A function running one statement on the server of ``admin_url``, outside any transaction."""
    parts = urlsplit(admin_url)
    if not parts.scheme.startswith("mysql"):
        return lambda sql: subprocess.run(["psql", admin_url, "-qc", sql], check=True)
    import MySQLdb  # mysqlclient (requirements-mysql.txt): only for mysql:// URLs

    def run(sql: str) -> None:
        conn = MySQLdb.connect(
            host=parts.hostname or "127.0.0.1", port=parts.port or 3306, user=unquote(parts.username or "root"),
            password=unquote(parts.password or ""),
        )  # fmt: skip
        try:
            conn.cursor().execute(sql)
        finally:
            conn.close()

    return run


def main() -> None:
    admin_url = os.environ.get("DATABASE_URL", "postgres://postgres@127.0.0.1:5432/postgres")
    base = admin_url.rsplit("/", 1)[0]
    env = {**os.environ, "DATABASE_URL": f"{base}/import_bench", "DJANGO_SETTINGS_MODULE": "config.settings.local"}
    python = sys.executable
    run = admin_sql(admin_url)
    if urlsplit(admin_url).scheme.startswith("mysql"):
        # The character set and collation the project asks of its connections (config/settings/base.py).
        collation = os.environ.get("DB_COLLATION", "utf8mb4_uca1400_ai_ci")
        drop, create = (
            "DROP DATABASE IF EXISTS import_bench",
            f"CREATE DATABASE import_bench CHARACTER SET utf8mb4 COLLATE {collation}",
        )
        server = "MariaDB/MySQL"
    else:
        drop, create, server = (
            "DROP DATABASE IF EXISTS import_bench WITH (FORCE)",
            "CREATE DATABASE import_bench",
            "PostgreSQL",
        )
    run(drop)
    run(create)
    try:
        subprocess.run([python, "manage.py", "migrate", "-v0"], cwd=ROOT, env=env, check=True)
        with tempfile.TemporaryDirectory() as tmp:
            path = Path(tmp) / "loads.csv"
            write_csv(path, ROWS)
            started = time.perf_counter()
            subprocess.run([python, "manage.py", "import_loads", str(path)], cwd=ROOT, env=env, check=True)
            elapsed = time.perf_counter() - started
        print(f"import_loads on {server}, {ROWS:,} rows: {elapsed:.1f} s (target: 100,000 in under 15 s)")
    finally:
        run(drop)


if __name__ == "__main__":
    main()
