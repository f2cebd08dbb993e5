#!/usr/bin/env bash
# A throwaway primary and its streaming replica (made with `pg_basebackup -R`), for the
# read-replica tests. Needs PostgreSQL 15 and TimescaleDB installed (scripts/db.sh setup).
#
#   scripts/replica.sh start           start both (initialising them if missing)
#   scripts/replica.sh stop            stop both and delete their files
#   scripts/replica.sh stop-replica    stop only the replica (the primary stays up)
#   scripts/replica.sh start-replica   start the replica again
#   scripts/replica.sh urls            print the primary's and the replica's URLs
#
# Environment: TSAPI_PRIMARY_PORT (default 54349), TSAPI_REPLICA_PORT (default 54359).
# Files live in a temporary directory; the clusters run as `postgres` when started as root.
set -euo pipefail

PG_BIN=/usr/lib/postgresql/15/bin
PRIMARY_PORT=${TSAPI_PRIMARY_PORT:-54349}
REPLICA_PORT=${TSAPI_REPLICA_PORT:-54359}
BASE=${TMPDIR:-/tmp}/tsapi-replica-$PRIMARY_PORT
PRIMARY=$BASE/primary
REPLICA=$BASE/replica

log() { printf 'replica.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ $EUID -eq 0 ]]; then OWNER=postgres; else OWNER=$(id -un); fi
as_owner() {
    if [[ $EUID -eq 0 ]]; then (cd / && runuser -u "$OWNER" -- "$@"); else (cd / && "$@"); fi
}

url() { printf 'postgres://tsapi:tsapi@127.0.0.1:%s/tsapi\n' "$1"; }

running() { as_owner "$PG_BIN/pg_ctl" -D "$1" status >/dev/null 2>&1; }

start_cluster() {
    running "$1" || as_owner "$PG_BIN/pg_ctl" -D "$1" -l "$1.log" -w -t 60 start >/dev/null \
        || { tail -n 20 "$1.log" >&2; die "cannot start $1"; }
}

stop_cluster() {
    if [[ -d $1 ]] && running "$1"; then
        as_owner "$PG_BIN/pg_ctl" -D "$1" -m fast -w stop >/dev/null
    fi
}

init_primary() {
    [[ -f $PRIMARY/PG_VERSION ]] && return
    [[ -x $PG_BIN/initdb ]] || die "PostgreSQL 15 is missing; run scripts/db.sh setup"
    mkdir -p "$BASE"
    if [[ $EUID -eq 0 ]]; then chown "$OWNER": "$BASE"; fi
    chmod 700 "$BASE"
    local pwfile=$BASE/pw
    echo tsapi >"$pwfile"
    if [[ $EUID -eq 0 ]]; then chown "$OWNER": "$pwfile"; fi
    as_owner "$PG_BIN/initdb" -D "$PRIMARY" -U tsapi --pwfile="$pwfile" -A scram-sha-256 \
        --auth-local=trust >/dev/null
    rm -f "$pwfile"
    as_owner tee -a "$PRIMARY/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $PRIMARY_PORT
unix_socket_directories = '$BASE'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
wal_level = replica
max_wal_senders = 4
hot_standby = on
fsync = off
CONF
    as_owner tee -a "$PRIMARY/pg_hba.conf" >/dev/null <<HBA
host replication tsapi 127.0.0.1/32 scram-sha-256
HBA
    start_cluster "$PRIMARY"
    as_owner "$PG_BIN/psql" -h "$BASE" -p "$PRIMARY_PORT" -U tsapi -d postgres -q \
        -c "CREATE DATABASE tsapi"
}

init_replica() {
    [[ -f $REPLICA/PG_VERSION ]] && return
    as_owner env PGPASSWORD=tsapi "$PG_BIN/pg_basebackup" -h 127.0.0.1 -p "$PRIMARY_PORT" \
        -U tsapi -D "$REPLICA" -R -X stream -c fast
    as_owner tee -a "$REPLICA/postgresql.conf" >/dev/null <<CONF
port = $REPLICA_PORT
CONF
}

case ${1:-start} in
    start)
        init_primary
        start_cluster "$PRIMARY"
        init_replica
        start_cluster "$REPLICA"
        log "primary on 127.0.0.1:$PRIMARY_PORT, streaming replica on 127.0.0.1:$REPLICA_PORT"
        ;;
    stop)
        stop_cluster "$REPLICA"
        stop_cluster "$PRIMARY"
        rm -rf "$BASE"
        ;;
    stop-replica) stop_cluster "$REPLICA" ;;
    start-replica) start_cluster "$REPLICA" ;;
    urls) url "$PRIMARY_PORT"; url "$REPLICA_PORT" ;;
    *) die "usage: $0 start|stop|stop-replica|start-replica|urls" ;;
esac
