#!/usr/bin/env bash
# The load-search benchmark database on MariaDB: a copy of PostgreSQL's $DB (built by the peers' setup.sh) in
# MariaDB's $DB, for bench/peers.sh stage 6. The database is created and migrated by the project, then the rows the
# search and its authentication read are copied: every load and carrier, the users, their groups (matched by name,
# since each server's migrations number the groups) and their API tokens, so the same token works on both.
#
#   bash bench/mariadb_copy.sh        # MARIADB_URL (mysql://root@127.0.0.1:3306), PGURL, DB (perf_loads), PERF_DIR
#
# A copy whose source still matches (the fingerprint below) is reused; REBUILD=1 starts afresh. The other tables
# (calls, offers, rollups...) are not copied: the search does not read them.
set -euo pipefail
ROOT=$(cd "$(dirname "$0")/.." && pwd)
PGURL=${PGURL:-postgres://postgres@127.0.0.1:5432} DB=${DB:-perf_loads} PERF_DIR=${PERF_DIR:-/tmp/perf}
PROJECT_VENV=${PROJECT_VENV:-$ROOT/.venv} MARIADB_URL=${MARIADB_URL:-mysql://root@127.0.0.1:3306}
[[ $MARIADB_URL =~ ^mysql://([^@:/]+)@([^:/]+):?([0-9]*)/?$ ]] || { echo "MARIADB_URL: mysql://user@host:port" >&2; exit 1; }
MY_USER=${BASH_REMATCH[1]} MY_HOST=${BASH_REMATCH[2]} MY_PORT=${BASH_REMATCH[3]:-3306}
my() { mysql -h "$MY_HOST" -P "$MY_PORT" -u "$MY_USER" --local-infile=1 "$@"; }  # a password goes in MYSQL_PWD
DSN=$PGURL/$DB MY_DSN=$MARIADB_URL/$DB
TMP=$PERF_DIR/mariadb-copy
TABLES="accounts_user knox_authtoken accounts_tokeninfo carriers_carrier carriers_load"

# What the search answers from: all loads (count, versions, last change, authors) and the tokens. peers.sh's
# voice-agent stage (4) books loads outside IL, which changes the versions and the last change but not the search's
# answer; the copy is then redone all the same (~2 min), so it never lags behind its source.
fingerprint=$(psql "$DSN" -Atc "SELECT concat_ws(' ', count(*), sum(version), max(updated_at), count(created_by_id),
  (SELECT md5(string_agg(digest || user_id, ',' ORDER BY digest)) FROM knox_authtoken)) FROM carriers_load")
if [ -z "${REBUILD:-}" ] && [ "$(my -N "$DB" -e "SELECT fingerprint FROM bench_copy_source" 2>/dev/null)" = "$fingerprint" ]; then
  echo "MariaDB $DB is a current copy of PostgreSQL $DB; reusing it (REBUILD=1 rebuilds)"
  exit 0
fi

started=$(date +%s)
collation=${DB_COLLATION:-utf8mb4_uca1400_ai_ci}  # the project's default for MariaDB (config/settings/base.py)
my -e "DROP DATABASE IF EXISTS $DB; CREATE DATABASE $DB CHARACTER SET utf8mb4 COLLATE $collation"
(cd "$ROOT" && DATABASE_URL=$MY_DSN DJANGO_SETTINGS_MODULE=config.settings.local "$PROJECT_VENV/bin/python" \
  manage.py migrate --noinput >/dev/null)
echo "migrated in $(($(date +%s) - started)) s"

# Each column as MariaDB's LOAD DATA reads it from PostgreSQL's text COPY (tab-separated, \N for NULL, the same
# backslash escapes): timestamps in UTC without an offset, booleans 0/1, UUIDs and JSON as text. The column list
# is MariaDB's, less its generated columns (core.db.conditional_unique), which it computes itself.
select_list() {  # select_list TABLE: "<PostgreSQL select list>|<MariaDB column list>|<first column: the key>"
  local cols pgtypes col expr sel="" names=""
  cols=$(my -N -e "SELECT column_name FROM information_schema.columns WHERE table_schema = '$DB'
    AND table_name = '$1' AND extra NOT LIKE '%GENERATED%' ORDER BY ordinal_position")
  pgtypes=$(psql "$DSN" -AtF' ' -c "SELECT column_name, data_type FROM information_schema.columns
    WHERE table_schema = 'public' AND table_name = '$1'")
  for col in $cols; do
    case $(awk -v c="$col" '$1 == c { $1 = ""; print substr($0, 2) }' <<<"$pgtypes") in
      "timestamp with time zone") expr="to_char($col AT TIME ZONE 'UTC', 'YYYY-MM-DD HH24:MI:SS.US')";;
      boolean) expr="$col::int";;
      "") echo "$1.$col is not in PostgreSQL's $DB" >&2; return 1;;
      *) expr="$col::text";;
    esac
    sel+="${sel:+, }$expr"; names+="${names:+, }\`$col\`"
  done
  echo "$sel|$names|${cols%%$'\n'*}"
}

mkdir -p "$TMP"
for table in $TABLES; do
  t0=$(date +%s.%N)
  IFS='|' read -r sel names key < <(select_list "$table")
  # In primary-key order, so InnoDB appends to its clustered index instead of splitting pages.
  psql "$DSN" -qc "\\copy (SELECT $sel FROM $table ORDER BY $key) TO '$TMP/$table.tsv'"
  # The rows were checked by PostgreSQL under the same constraints: no need to check keys again row by row.
  my "$DB" -e "SET SESSION foreign_key_checks = 0, unique_checks = 0;
    LOAD DATA LOCAL INFILE '$TMP/$table.tsv' INTO TABLE $table CHARACTER SET utf8mb4 ($names);
    SET SESSION foreign_key_checks = 1, unique_checks = 1"
  rows=$(my -N "$DB" -e "SELECT count(*) FROM $table")
  [ "$rows" = "$(psql "$DSN" -Atc "SELECT count(*) FROM $table")" ] || { echo "$table: $rows rows copied, not all" >&2; exit 1; }
  rm -f "$TMP/$table.tsv"
  python3 -c "print(f'$table: $rows rows in {$(date +%s.%N) - $t0:.1f} s')"
done
# Group memberships by group name (each server's migrations gave the groups their own ids).
psql "$DSN" -At -c "SELECT format('INSERT INTO accounts_user_groups (user_id, group_id) SELECT %s, id FROM auth_group
  WHERE name = %L;', ug.user_id, g.name) FROM accounts_user_groups ug JOIN auth_group g ON g.id = ug.group_id" \
  | my "$DB"
rmdir "$TMP" 2>/dev/null || true
my "$DB" -N -e "ANALYZE TABLE $(echo "$TABLES accounts_user_groups" | sed 's/ /, /g')" >/dev/null
my "$DB" -e "CREATE TABLE bench_copy_source (fingerprint varchar(255) NOT NULL);
  INSERT INTO bench_copy_source VALUES ('$fingerprint')"
echo "MariaDB $DB copied from PostgreSQL $DB in $(($(date +%s) - started)) s"
