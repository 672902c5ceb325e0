#!/bin/sh
# The streaming replica (compose.yaml db-replica): on first start, a base backup of the primary
# through the slot primary-init.sh made, then a hot standby that follows it.
set -eu
if [ ! -s "$PGDATA/PG_VERSION" ]; then
    pg_basebackup --host=db --username=replicator --pgdata="$PGDATA" --slot=replica1 \
        --wal-method=stream --write-recovery-conf --checkpoint=fast
    chmod 0700 "$PGDATA"
fi
exec postgres -c hot_standby=on
