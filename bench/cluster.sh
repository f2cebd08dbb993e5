# Shared by bench/fault.sh and bench/load.sh: a throwaway TimescaleDB cluster and a tsapi
# server over it. Source it; needs PostgreSQL 15 + TimescaleDB (scripts/db.sh setup).

PG_BIN=/usr/lib/postgresql/15/bin
REPO=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd -P)
if [[ $EUID -eq 0 ]]; then OWNER=postgres; else OWNER=$(id -un); fi
# The server binary; CI points this at the debug build it already has.
TSAPI_BIN=${TSAPI_BIN:-$REPO/target/release/tsapi}

as_owner() {
    if [[ $EUID -eq 0 ]]; then (cd / && runuser -u "$OWNER" -- "$@"); else (cd / && "$@"); fi
}

# cluster_init DIR PORT: a new cluster with user tsapi/tsapi and database tsapi, started.
cluster_init() {
    local dir=$1 port=$2
    mkdir -p "$dir"
    if [[ $EUID -eq 0 ]]; then chown "$OWNER": "$dir"; fi
    echo tsapi | as_owner tee "$dir/pw" >/dev/null
    as_owner "$PG_BIN/initdb" -D "$dir/data" -U tsapi --pwfile="$dir/pw" -A scram-sha-256 \
        --auth-local=trust >/dev/null
    as_owner tee -a "$dir/data/postgresql.conf" >/dev/null <<CONF
listen_addresses = '127.0.0.1'
port = $port
unix_socket_directories = '$dir'
shared_preload_libraries = 'timescaledb'
timescaledb.telemetry_level = off
max_connections = 100
CONF
    cluster_start "$dir"
    as_owner "$PG_BIN/psql" -h "$dir" -p "$port" -U tsapi -d postgres -q -c "CREATE DATABASE tsapi"
}

cluster_start() {
    local dir=$1
    for _ in $(seq 1 30); do
        as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -l "$dir/pg.log" -w -t 60 start >/dev/null && return
        sleep 1   # a killed cluster's backends may still be exiting
    done
    tail -n 20 "$dir/pg.log" >&2
    return 1
}

# cluster_kill DIR: SIGKILL to the postmaster and every one of its processes, by pid.
cluster_kill() {
    local dir=$1 pid
    pid=$(head -n 1 "$dir/data/postmaster.pid")
    local children
    children=$(ps -o pid= --ppid "$pid" || true)
    kill -KILL "$pid" $children 2>/dev/null || true
}

cluster_stop() {
    local dir=$1
    as_owner "$PG_BIN/pg_ctl" -D "$dir/data" -m immediate -w stop >/dev/null 2>&1 || true
}

# tsapi_start PORT DATABASE_URL [ENV=VALUE ...]: the server in the background; sets TSAPI_PID.
tsapi_start() {
    local port=$1 url=$2
    shift 2
    env DATABASE_URL="$url" TSAPI_LISTEN="127.0.0.1:$port" "$@" \
        "$TSAPI_BIN" serve >"$RUN_DIR/tsapi.log" 2>&1 &
    TSAPI_PID=$!
    for _ in $(seq 1 100); do
        curl -sf "http://127.0.0.1:$port/healthz" >/dev/null && return
        sleep 0.1
    done
    cat "$RUN_DIR/tsapi.log" >&2
    return 1
}
