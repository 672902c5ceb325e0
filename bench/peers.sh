#!/usr/bin/env bash
# The hot paths at a million rows, side by side with the peers in ../shared/bench-peers (read its README):
#   1. load search: this project vs a raw WSGI + psycopg server and a FastAPI stack, same table, same answer;
#   2. the same with every matching load carrying created_by/updated_by (rows written through the API);
#   3. single-client latencies: load detail and the sales metrics over 1,000,000 calls (all time, 30 days);
#   4. single-client latencies of a voice agent's writes: verification from the stored answer, offer rounds, call
#      logging (bench/write_latency.py; they add offers, bookings and calls to the benchmark database);
#   5. the load search again with a read replica configured (DATABASE_REPLICA_URLS): a streaming standby of this
#      PostgreSQL built by pg_basebackup on REPLICA_PORT (5439) as the postgres user; the project reads from it,
#      the peers from the primary. It allows replication connections from 127.0.0.1 in the server's pg_hba.conf.
#      NO_REPLICA=1 skips it.
#   6. the load search with the project on MariaDB (MARIADB_URL, mysql://root@127.0.0.1:3306): a copy of this
#      database there (bench/mariadb_copy.sh), the project pointed at it by bench/mariadb_shim, the peers still on
#      PostgreSQL (they read nothing else). NO_MARIADB=1 skips it, as does a MariaDB that does not answer.
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
# gunicorn reads the project's gunicorn.conf.py from its directory (warm-up, timeouts): "proj-sync" must stay
# sync workers there, so one thread unless the runner asks for gthread itself.
export GUNICORN_THREADS=${GUNICORN_THREADS:-1}
# Production settings refuse to start without a shared broker (no request serves a job in process).
export CELERY_BROKER_URL=${CELERY_BROKER_URL:-redis://127.0.0.1:6379/2}
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

# The project's cache and throttle live in Redis, which the peers do not use; the runner counts
# Redis as "other" CPU, so a project run can be marked disturbed by its own Redis. Each search
# stage records Redis's CPU time (when it runs on this machine) so the report can show that share.
ticks_of() {  # ticks_of NAME: user+system clock ticks of the oldest process named NAME (empty if none)
  local pid; pid=$(pgrep -xo "$1" || true)
  if [ -n "$pid" ]; then awk '{print $14 + $15}' "/proc/$pid/stat"; else echo ""; fi
}
redis_ticks() { ticks_of redis-server; }
mariadb_ticks() { local t; t=$(ticks_of mariadbd); [ -n "$t" ] || t=$(ticks_of mysqld); echo "$t"; }
cpu_seconds() {  # cpu_seconds BEFORE AFTER FILE: the ticks between as seconds in FILE, when both were read
  if [ -n "$1" ] && [ -n "$2" ]; then python3 -c "print(($2 - $1) / $(getconf CLK_TCK))" >"$3"; fi
}
search_stage() {  # search_stage DIR [env...]: the runner, with Redis's CPU seconds over it in DIR/redis_cpu_s
  local dir=$1; shift
  local before; before=$(redis_ticks)
  env "$@" OUT="$dir" bash "$PEERS/run_search_bench.sh"
  cpu_seconds "$before" "$(redis_ticks)" "$dir/redis_cpu_s"
}

echo "== 1. load search, rows without authors =="
search_stage "$OUT/search"

echo "== 2. load search, every matching row carrying created_by/updated_by =="
agent=$(psql "$DSN" -Atc "SELECT id FROM accounts_user WHERE username = 'perfagent'")
psql "$DSN" -qc "UPDATE carriers_load SET created_by_id = $agent, updated_by_id = $agent WHERE origin_state = 'IL'" \
  -c "VACUUM ANALYZE carriers_load"
search_stage "$OUT/authored" SERVERS="${AUTHORED_SERVERS:-proj-sync raw-sync fastapi}"
psql "$DSN" -qc "UPDATE carriers_load SET created_by_id = NULL, updated_by_id = NULL WHERE origin_state = 'IL'"

echo "== 3. single-client latencies =="
OUT=$OUT/latency bash "$PEERS/run_latency.sh"

echo "== 4. single-client latencies of a voice agent's writes =="
# Served as run_latency.sh serves the project: gunicorn, 2 sync workers, production settings, Redis cache.
(cd "$ROOT" && DJANGO_SETTINGS_MODULE=config.settings.production DATABASE_URL=$DSN \
   DJANGO_SECRET_KEY=${DJANGO_SECRET_KEY:-$(python3 -c "import secrets; print(secrets.token_urlsafe(60))")} \
   DJANGO_ALLOWED_HOSTS=127.0.0.1,localhost DJANGO_SECURE_SSL_REDIRECT=false \
   CACHE_URL=${CACHE_URL:-redis://127.0.0.1:6379/1} THROTTLE_USER_RATE=${THROTTLE_USER_RATE:-100000/s} \
   exec setsid "$PROJECT_VENV/bin/gunicorn" config.wsgi:application -b 127.0.0.1:8000 -w 2 --timeout 300 \
   </dev/null >"$OUT/writes.server.log" 2>&1) &
server=$!
for _ in $(seq 60); do curl -s -o /dev/null http://127.0.0.1:8000/health/live/ && break; sleep 0.5; done
"$PROJECT_VENV/bin/python" "$ROOT/bench/write_latency.py" | tee "$OUT/writes.txt" || true
kill -TERM "$server" 2>/dev/null; wait "$server" 2>/dev/null || true

PG_BIN=${PG_BIN:-/usr/lib/postgresql/15/bin}
if [ -z "${NO_REPLICA:-}" ] && [ -x "$PG_BIN/pg_basebackup" ]; then
  echo "== 5. load search with a read replica configured =="
  as_postgres() { if [ "$(id -u)" = 0 ]; then runuser -u postgres -- "$@"; else "$@"; fi; }
  hba=$(psql "$PGURL/postgres" -Atc "SHOW hba_file")
  if ! grep -q "^host replication all 127.0.0.1/32 trust" "$hba"; then
    echo "host replication all 127.0.0.1/32 trust" >>"$hba"
    psql "$PGURL/postgres" -qAtc "SELECT pg_reload_conf()" >/dev/null
  fi
  REPLICA_PORT=${REPLICA_PORT:-5439} REPLICA_DIR=$PERF_DIR/replica
  rm -rf "$REPLICA_DIR" && mkdir -p "$REPLICA_DIR"
  [ "$(id -u)" = 0 ] && chown postgres:postgres "$REPLICA_DIR"
  as_postgres "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p 5432 -U postgres -D "$REPLICA_DIR/data" -R -X stream --no-sync
  # Debian keeps the server's configuration outside its data directory: the standby gets its own.
  as_postgres sh -c "printf '%s\n' \"port = $REPLICA_PORT\" \"listen_addresses = '127.0.0.1'\" \
    \"unix_socket_directories = '$REPLICA_DIR'\" 'hot_standby = on' 'max_connections = 100' \
    >'$REPLICA_DIR/data/postgresql.conf' && printf 'local all all trust\nhost all all 127.0.0.1/32 trust\n' \
    >'$REPLICA_DIR/data/pg_hba.conf' && : >'$REPLICA_DIR/data/pg_ident.conf'"
  as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR/data" -l "$REPLICA_DIR/server.log" -w -t 300 start
  search_stage "$OUT/replica" SERVERS="${REPLICA_SERVERS:-proj-sync raw-sync fastapi}" \
    DATABASE_REPLICA_URLS="postgres://postgres@127.0.0.1:$REPLICA_PORT/$DB" DB_REPLICA_CHECK_SECONDS=1
  psql "postgres://postgres@127.0.0.1:$REPLICA_PORT/$DB" -Atc \
    "SELECT 'standby served ' || sum(xact_commit) || ' transactions' FROM pg_stat_database WHERE datname = '$DB'" \
    | tee "$OUT/replica/standby.txt"
  as_postgres "$PG_BIN/pg_ctl" -D "$REPLICA_DIR/data" -m fast -w stop
  rm -rf "$REPLICA_DIR"
fi

MARIADB_URL=${MARIADB_URL:-mysql://root@127.0.0.1:3306}
if [ -n "${NO_MARIADB:-}" ]; then
  echo "== 6. skipped (NO_MARIADB=1) =="
elif ! command -v mysql >/dev/null || ! "$PROJECT_VENV/bin/python" -c "import sys, MySQLdb
from urllib.parse import urlsplit
u = urlsplit(sys.argv[1]); MySQLdb.connect(host=u.hostname, port=u.port or 3306, user=u.username or 'root',
    password=u.password or '', connect_timeout=3).close()" "$MARIADB_URL" 2>/dev/null; then
  echo "== 6. skipped: MariaDB does not answer at $MARIADB_URL (or no mysql client / mysqlclient) =="
elif echo "== 6. load search, the project on MariaDB ==" &&
  # The same rows as here; a copy whose source is unchanged is reused (REBUILD=1 rebuilds both). A failed copy
  # skips the stage rather than the report of the others.
  ! MARIADB_URL=$MARIADB_URL bash "$ROOT/bench/mariadb_copy.sh"; then
  echo "== 6. skipped: the copy to MariaDB failed =="
else
  # The runner counts only postgres processes as the database, so mariadbd's CPU is recorded here, as Redis's is,
  # over the whole stage (the peers' runs leave it idle); peers_report.py spreads it over the project's requests.
  before=$(mariadb_ticks)
  search_stage "$OUT/mariadb" SERVERS="${MARIADB_SERVERS:-proj-sync raw-sync fastapi}" \
    PROJECT_VENV="$ROOT/bench/mariadb_shim" REAL_PROJECT_VENV="$PROJECT_VENV" MARIADB_DSN="$MARIADB_URL/$DB"
  cpu_seconds "$before" "$(mariadb_ticks)" "$OUT/mariadb/mariadb_cpu_s"
fi

"$PROJECT_VENV/bin/python" "$ROOT/bench/peers_report.py" "$OUT" | tee "$OUT/report.md"
