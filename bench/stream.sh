#!/usr/bin/env bash
# Live bars under load, then the latest bar from memory against pgbench, in one run.
#
#   bash bench/stream.sh
#
# 1. Makes a private database in the cluster (dropped at the end), migrates it and loads
#    demo bars with `psql \copy` (the table the /ticker comparison reads).
# 2. Starts two release `tsapi serve` instances on it and runs examples/stream_bench.rs:
#    STREAM_SUBS SSE subscribers over STREAM_SYMBOLS symbols, split over both instances,
#    while bars are posted (NDJSON, POST /v1/bars) to both at STREAM_RATE bars/s for
#    STREAM_SECONDS; one subscriber is cut off for STREAM_DROP_FOR s and resumes with
#    Last-Event-ID. Prints latency p50/p99 (from the POST's acknowledgement and from its
#    sending), bars lost and duplicated, and the servers' RSS.
#    With STREAM_RESTART_AT=S, the run uses a private cluster of its own (bench/cluster.sh)
#    and restarts PostgreSQL (immediate stop, then start) S seconds into the writes:
#    acknowledged bars must still arrive exactly once; the client also counts the
#    `reconnecting` status events and the bars of failed POSTs that were stored anyway.
# 3. Alternates `wrk -c16 GET /ticker?symbol=S001` and `pgbench -M prepared -c16` running
#    `SELECT * FROM stocks_intraday WHERE symbol = $1 ORDER BY time DESC LIMIT 1` on the
#    same table, BENCH_RUNS times each, and prints the medians and their ratio.
#
# Environment: BENCH_ADMIN_URL (default the local cluster at 127.0.0.1:54329),
# STREAM_SUBS (1000), STREAM_SYMBOLS (500), STREAM_PER_SUB (1), STREAM_RATE (10000),
# STREAM_BATCH (100), STREAM_SECONDS (30), STREAM_DROP_AFTER (10), STREAM_DROP_FOR (10),
# BENCH_DAYS (20: days of demo bars for 65 symbols), BENCH_RUNS (3), BENCH_SECONDS (10),
# STREAM_RESTART_AT (unset: no restart), SKIP_STREAM / SKIP_TICKER (1 to skip a part).
set -euo pipefail
cd "$(dirname "$0")/.."
ADMIN=${BENCH_ADMIN_URL:-postgres://tsapi:tsapi@127.0.0.1:54329/postgres}
RESTART_AT=${STREAM_RESTART_AT:-}
DB=tsapi_stream_$$
URL="${ADMIN%/*}/$DB"
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-10}
DAYS=${BENCH_DAYS:-20}
COLUMNS_SQL="time, symbol, price_open, price_high, price_low, price_close, trading_volume"
# The columns of `tsapi demo-data`'s CSV.
CSV_COLUMNS_SQL="$COLUMNS_SQL, trade_count, vwap"
log() { printf 'stream: %s\n' "$*" >&2; }

command -v wrk >/dev/null || { echo "wrk not found (Debian: wrk)" >&2; exit 1; }
command -v pgbench >/dev/null || { echo "pgbench not found (Debian: postgresql-15)" >&2; exit 1; }
nice -n 5 cargo build --release --quiet --bin tsapi --example stream_bench
TSAPI=target/release/tsapi
CLIENT=target/release/examples/stream_bench

WORK=$(mktemp -d)
PIDS=()
CLUSTER=
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    if [[ -n $CLUSTER ]]; then
        cluster_stop "$CLUSTER"
    else
        psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    fi
    rm -rf "$WORK"
}
trap cleanup EXIT
if [[ -n $RESTART_AT ]]; then
    # A restart must not touch anyone else's databases: a cluster of the run's own.
    source bench/cluster.sh
    chmod 755 "$WORK"   # the cluster runs as its own user
    CLUSTER=$WORK/cluster
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    cluster_init "$CLUSTER" "$port"
    ADMIN=postgres://tsapi:tsapi@127.0.0.1:$port/postgres
    URL="${ADMIN%/*}/$DB"
fi
psql "$ADMIN" -qc "CREATE DATABASE $DB" >/dev/null
DATABASE_URL=$URL "$TSAPI" migrate >/dev/null 2>&1

log "loading $DAYS days of demo bars"
"$TSAPI" demo-data --symbols "$(seq -f 'S%03g' 1 65 | paste -sd, -)" --days "$DAYS" \
    --output "$WORK/bars.csv" 2>/dev/null
psql "$URL" -qc "\\copy stocks_intraday ($CSV_COLUMNS_SQL) FROM '$WORK/bars.csv' WITH (FORMAT csv, HEADER true)"
psql "$URL" -qc "VACUUM ANALYZE stocks_intraday"
ROWS=$(psql -Atq "$URL" -c "SELECT count(*) FROM stocks_intraday")
CHUNKS=$(psql -Atq "$URL" -c "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'stocks_intraday'")

APIS=() SERVER_PIDS=()
start() { # [VAR=value ...]
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # The data path is measured; a key check adds one SHA-256 per request.
    env "$@" RUST_LOG=warn DATABASE_URL="$URL" TSAPI_LISTEN=127.0.0.1:$port TSAPI_POOL_SIZE=16 \
        TSAPI_AUTH=none "$TSAPI" serve 2>>"$WORK/server.log" &
    PIDS+=($!) SERVER_PIDS+=($!)
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    APIS+=("http://127.0.0.1:$port")
}
start
start
log "$ROWS rows in $CHUNKS chunks; servers ${APIS[*]}"

if [[ ${SKIP_STREAM:-0} != 1 ]]; then
    log "stream: ${STREAM_SUBS:-1000} subscribers, ${STREAM_RATE:-10000} bars/s for ${STREAM_SECONDS:-30} s"
    if [[ -n $RESTART_AT ]]; then
        # The client starts writing after its subscribers settle (subs / 200 s, at least 2).
        settle=$(( ${STREAM_SUBS:-1000} / 200 > 2 ? ${STREAM_SUBS:-1000} / 200 : 2 ))
        (
            sleep $(( settle + RESTART_AT ))
            log "restarting PostgreSQL (immediate stop)"
            cluster_stop "$CLUSTER"
            cluster_start "$CLUSTER"
            log "PostgreSQL is back"
        ) &
        PIDS+=($!)
    fi
    "$CLIENT" "apis=$(IFS=,; echo "${APIS[*]}")" "pids=$(IFS=,; echo "${SERVER_PIDS[*]}")" \
        "subs=${STREAM_SUBS:-1000}" "symbols=${STREAM_SYMBOLS:-500}" "per_sub=${STREAM_PER_SUB:-1}" \
        "rate=${STREAM_RATE:-10000}" "batch=${STREAM_BATCH:-100}" "seconds=${STREAM_SECONDS:-30}" \
        "drop_after=${STREAM_DROP_AFTER:-10}" "drop_for=${STREAM_DROP_FOR:-10}"
    grep -i "error\|panic" "$WORK/server.log" | head -5 >&2 || true
fi

if [[ ${SKIP_TICKER:-0} != 1 ]]; then
    API=${APIS[0]}
    cat >"$WORK/ticker.sql" <<'SQL'
SELECT * FROM stocks_intraday WHERE symbol = :sym ORDER BY time DESC LIMIT 1;
SQL
    [[ $(curl -fs "$API/ticker?symbol=S001") == *'"S001"'* ]] || { echo "/ticker has no S001" >&2; exit 1; }
    wrk -t2 -c16 -d2s "$API/ticker?symbol=S001" >/dev/null
    (cd "$WORK" && pgbench -n -M prepared -c 16 -j 2 -T 2 -f ticker.sql -D sym=S001 "$URL" >/dev/null 2>&1)
    T_HTTP=() T_SQL=()
    for run in $(seq "$RUNS"); do
        log "ticker run $run/$RUNS"
        out=$(wrk -t2 -c16 -d"${SECS}s" "$API/ticker?symbol=S001")
        grep -q "Non-2xx" <<<"$out" && { echo "non-2xx answers from /ticker" >&2; exit 1; }
        T_HTTP+=("$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")")
        out=$(cd "$WORK" && pgbench -n -M prepared -c 16 -j 2 -T "$SECS" -f ticker.sql -D sym=S001 "$URL" 2>/dev/null)
        T_SQL+=("$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' <<<"$out")")
    done
    median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }
    th=$(printf '%s\n' "${T_HTTP[@]}" | median)
    ts=$(printf '%s\n' "${T_SQL[@]}" | median)
    echo "ticker rows=$ROWS chunks=$CHUNKS runs=$RUNS seconds=$SECS"
    echo "ticker GET /ticker?symbol=S001 req/s: ${T_HTTP[*]} | pgbench tps: ${T_SQL[*]}"
    awk -v h="$th" -v s="$ts" 'BEGIN { printf "ticker median %.0f req/s vs pgbench %.0f tps -> ratio %.2f (goal >= 1.5)\n", h, s, h / s }'
fi
