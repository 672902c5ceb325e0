#!/usr/bin/env bash
# The hot paths at a million rows, side by side with the peers in ../shared/bench-peers (read its README):
#   1. load search: this project vs a raw WSGI + psycopg server and a FastAPI stack, same table, same answer;
#   2. the same with every matching load carrying created_by/updated_by (rows written through the API);
#   3. single-client latencies: load detail and the sales metrics over 1,000,000 calls (all time, 30 days).
# One command: `make bench` (or `bash bench/peers.sh`). The first run builds the database (~4 min); later runs
# reuse it (REBUILD=1 starts afresh). Results land in $OUT; bench/peers_report.py prints the ratios.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PEERS=${PEERS_DIR:-$ROOT/../shared/bench-peers}
[ -d "$PEERS" ] || { echo "No peer benchmark at $PEERS (set PEERS_DIR)." >&2; exit 1; }
PEERS=$(cd "$PEERS" && pwd)
export PROJECT_DIR=$ROOT PROJECT_VENV=${PROJECT_VENV:-$ROOT/.venv}
export PERF_DIR=${PERF_DIR:-/tmp/perf} PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432} DB=${DB:-perf_loads}
export DSN=$PGURL/$DB PEERS_VENV=${PEERS_VENV:-$PERF_DIR/peers}
OUT=${OUT:-$PERF_DIR/results-$(date -u +%Y%m%d-%H%M%S)}
mkdir -p "$OUT"

exists=$(psql "$PGURL/postgres" -Atc "SELECT 1 FROM pg_database WHERE datname = '$DB'")
if [ -n "${REBUILD:-}" ] && [ -n "$exists" ]; then
  psql "$PGURL/postgres" -qc "DROP DATABASE $DB WITH (FORCE)"; exists=""
fi
[ -n "$exists" ] || bash "$PEERS/setup.sh"
# Bring an older benchmark database up to this code, and recount the sales totals that the SQL generator
# wrote around the application.
(cd "$ROOT" && DATABASE_URL=$DSN DJANGO_SETTINGS_MODULE=config.settings.local "$PROJECT_VENV/bin/python" manage.py migrate --noinput >/dev/null)
(cd "$ROOT" && DATABASE_URL=$DSN DJANGO_SETTINGS_MODULE=config.settings.local "$PROJECT_VENV/bin/python" manage.py rebuild_sales_rollups)
(cd "$ROOT" && DATABASE_URL=$DSN DJANGO_SETTINGS_MODULE=config.settings.local "$PROJECT_VENV/bin/python" manage.py collectstatic --noinput >/dev/null)
psql "$DSN" -qc "UPDATE carriers_load SET created_by_id = NULL, updated_by_id = NULL WHERE created_by_id IS NOT NULL" -c "VACUUM ANALYZE"
export PERF_TOKEN=${PERF_TOKEN:-$(cat "$PERF_DIR/agent_token")}

echo "== 1. load search, rows without authors =="
OUT=$OUT/search bash "$PEERS/run_search_bench.sh"

echo "== 2. load search, every matching row carrying created_by/updated_by =="
agent=$(psql "$DSN" -Atc "SELECT id FROM accounts_user WHERE username = 'perfagent'")
psql "$DSN" -qc "UPDATE carriers_load SET created_by_id = $agent, updated_by_id = $agent WHERE origin_state = 'IL'" \
  -c "VACUUM ANALYZE carriers_load"
SERVERS=${AUTHORED_SERVERS:-"proj-sync raw-sync fastapi"} OUT=$OUT/authored bash "$PEERS/run_search_bench.sh"
psql "$DSN" -qc "UPDATE carriers_load SET created_by_id = NULL, updated_by_id = NULL WHERE origin_state = 'IL'"

echo "== 3. single-client latencies =="
OUT=$OUT/latency bash "$PEERS/run_latency.sh"

"$PROJECT_VENV/bin/python" "$ROOT/bench/peers_report.py" "$OUT" | tee "$OUT/report.md"
