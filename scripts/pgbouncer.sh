#!/usr/bin/env bash
# PgBouncer in transaction pooling mode in front of the local cluster, for tests and for
# trying tsapi behind a pooler.
#
#   scripts/pgbouncer.sh start   install pgbouncer if missing (Debian), start it (idempotent)
#   scripts/pgbouncer.sh stop    stop it
#   scripts/pgbouncer.sh url     print the URL of the tsapi database through it
#
# Environment: TSAPI_PGBOUNCER_PORT (default 64329), TSAPI_PG_PORT (the cluster, 54329).
# Its files live in a temporary directory; it runs as `postgres` when started as root.
set -euo pipefail

PORT=${TSAPI_PGBOUNCER_PORT:-64329}
PG_PORT=${TSAPI_PG_PORT:-54329}
RUN_DIR=${TMPDIR:-/tmp}/tsapi-pgbouncer-$PORT
INI=$RUN_DIR/pgbouncer.ini
PID_FILE=$RUN_DIR/pgbouncer.pid

log() { printf 'pgbouncer.sh: %s\n' "$*" >&2; }
die() { log "error: $*"; exit 1; }

if [[ $EUID -eq 0 ]]; then RUN_AS=postgres; else RUN_AS=$(id -un); fi
as_owner() {
    if [[ $EUID -eq 0 ]]; then (cd / && runuser -u "$RUN_AS" -- "$@"); else "$@"; fi
}

url() { printf 'postgres://tsapi:tsapi@127.0.0.1:%s/tsapi\n' "$PORT"; }

running() { [[ -f $PID_FILE ]] && kill -0 "$(cat "$PID_FILE")" 2>/dev/null; }

install() {
    command -v pgbouncer >/dev/null && return
    [[ $EUID -eq 0 ]] || die "pgbouncer is missing; install it with: sudo apt-get install pgbouncer"
    log "installing pgbouncer (apt-get)"
    DEBIAN_FRONTEND=noninteractive apt-get update -q >/dev/null
    DEBIAN_FRONTEND=noninteractive apt-get install -y -q --no-install-recommends pgbouncer >/dev/null
    command -v pgbouncer >/dev/null || die "pgbouncer did not install"
}

start() {
    install
    if running; then log "already running on 127.0.0.1:$PORT"; return; fi
    mkdir -p "$RUN_DIR"
    # PgBouncer answers SCRAM itself and logs in to PostgreSQL with the same password.
    cat >"$RUN_DIR/userlist.txt" <<USERS
"tsapi" "tsapi"
USERS
    cat >"$INI" <<INI
[databases]
; Every database of the local cluster, under its own name. Transaction pooling drops the
; \`options\` startup parameter, so the statement timeout is set on each server connection.
* = host=127.0.0.1 port=$PG_PORT connect_query='SET statement_timeout = 30000'

[pgbouncer]
listen_addr = 127.0.0.1
listen_port = $PORT
unix_socket_dir =
auth_type = scram-sha-256
auth_file = $RUN_DIR/userlist.txt
pool_mode = transaction
default_pool_size = 4
max_client_conn = 400
ignore_startup_parameters = extra_float_digits
logfile = $RUN_DIR/pgbouncer.log
pidfile = $PID_FILE
INI
    if [[ $EUID -eq 0 ]]; then chown -R "$RUN_AS": "$RUN_DIR"; fi
    chmod 700 "$RUN_DIR"
    as_owner pgbouncer -d "$INI"
    for _ in $(seq 1 50); do
        running && { log "running on 127.0.0.1:$PORT (transaction pooling)"; return; }
        sleep 0.1
    done
    tail -n 20 "$RUN_DIR/pgbouncer.log" >&2 || true
    die "pgbouncer did not start"
}

stop() {
    if running; then
        kill "$(cat "$PID_FILE")"
        for _ in $(seq 1 50); do running || break; sleep 0.1; done
        log "stopped"
    fi
}

case ${1:-start} in
    start) start ;;
    stop) stop ;;
    url) url ;;
    *) die "usage: $0 start|stop|url" ;;
esac
