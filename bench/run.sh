#!/usr/bin/env bash
# Ingest and latest-bar benchmark: tsapi against the limit (psql \copy, pgbench) on the
# same generated data, in one run, with alternating repetitions. Writes its section of
# bench/RESULTS.md.
#
#   bench/run.sh                   uses the local cluster of scripts/db.sh (set up if needed)
#
# Environment:
#   BENCH_ADMIN_URL   admin URL of another cluster (postgres://user:pass@host:port/postgres);
#                     when set, scripts/db.sh is not used
#   BENCH_ROWS        rows of the ingest data set (default 500000)
#   BENCH_RSS_ROWS    rows streamed in one request while measuring server memory (1000000)
#   BENCH_RUNS        repetitions of every measurement (default 3)
#   BENCH_SECONDS     duration of each pgbench / wrk run (default 10)
#   BENCH_DB          scratch database name (default tsapi_bench; dropped at the end)
set -euo pipefail
cd "$(dirname "$0")/.."
REPO=$(pwd -P)

ROWS=${BENCH_ROWS:-500000}
RSS_ROWS=${BENCH_RSS_ROWS:-1000000}
RUNS=${BENCH_RUNS:-3}
SECONDS_PER_RUN=${BENCH_SECONDS:-10}
DB=${BENCH_DB:-tsapi_bench}
COLUMNS_SQL="time, symbol, price_open, price_high, price_low, price_close, trading_volume"
# The columns of `tsapi demo-data`'s CSV.
CSV_COLUMNS_SQL="$COLUMNS_SQL, trade_count, vwap"

log() { printf 'bench: %s\n' "$*" >&2; }

# --- Database and tools -----------------------------------------------------------------
if [[ -n ${BENCH_ADMIN_URL:-} ]]; then
    ADMIN=$BENCH_ADMIN_URL
else
    bash scripts/db.sh setup
    ADMIN="$(bash scripts/db.sh url | sed 's#/[^/]*$#/postgres#')"
fi
URL="${ADMIN%/*}/$DB"

need_pkg() {
    command -v "$1" >/dev/null 2>&1 && return 0
    log "installing $2"
    local sudo=; [[ $EUID -eq 0 ]] || sudo=sudo
    $sudo apt-get update -qq && $sudo apt-get install -y -qq "$2" >/dev/null
}
need_pkg wrk wrk
need_pkg pgbench postgresql-15
need_pkg psql postgresql-client-15
need_pkg curl curl
need_pkg python3 python3

log "building (release)"
cargo build --release --quiet --bin tsapi --example ingest_bench
TSAPI=$REPO/target/release/tsapi
CLIENT=$REPO/target/release/examples/ingest_bench

WORK=$(mktemp -d)
SERVER_PID=
cleanup() {
    [[ -n $SERVER_PID ]] && kill "$SERVER_PID" 2>/dev/null && wait "$SERVER_PID" 2>/dev/null
    psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT

psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $DB WITH (FORCE)" -c "CREATE DATABASE $DB" >/dev/null
DATABASE_URL=$URL "$TSAPI" migrate 2>/dev/null

# --- Data: N rows as CSV and NDJSON (the same bars) ------------------------------------
symbols_for() { # rows -> a symbol list giving at least that many rows over 20 days
    local n=$(( ($1 + 7799) / 7800 ))
    seq -f 'S%03g' 1 "$n" | paste -sd, -
}
log "generating $ROWS rows"
DATABASE_URL=$URL "$TSAPI" demo-data --symbols "$(symbols_for "$ROWS")" --days 20 \
    --output "$WORK/bars.csv" 2>/dev/null
DATABASE_URL=$URL "$TSAPI" demo-data --symbols "$(symbols_for "$ROWS")" --days 20 \
    --output "$WORK/bars.ndjson" 2>/dev/null
N=$(( $(wc -l <"$WORK/bars.csv") - 1 ))

start_server() { # [VAR=value ...]: extra environment of the server
    local port
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    # The data path is measured; a key check adds one SHA-256 per request.
    env "$@" RUST_LOG=warn DATABASE_URL=$URL TSAPI_LISTEN=127.0.0.1:$port TSAPI_POOL_SIZE=16 \
        TSAPI_AUTH=none "$TSAPI" serve 2>"$WORK/server.log" &
    SERVER_PID=$!
    API=http://127.0.0.1:$port
    for _ in $(seq 100); do
        curl -fs "$API/readyz" >/dev/null 2>&1 && return 0
        sleep 0.1
    done
    log "server did not start"; cat "$WORK/server.log" >&2; exit 1
}
stop_server() { kill "$SERVER_PID"; wait "$SERVER_PID" 2>/dev/null || true; SERVER_PID=; }

empty_table() { psql "$URL" -qc "TRUNCATE stocks_intraday" >/dev/null; }
now() { date +%s.%N; }
rate() { python3 -c "print(round($N / ($2 - $1)))"; }

# --- Ingest: alternating runs ------------------------------------------------------------
RESULTS=$WORK/results.tsv
: >"$RESULTS"
start_server
for run in $(seq "$RUNS"); do
    log "ingest run $run/$RUNS"
    empty_table; t0=$(now)
    psql "$URL" -qc "\\copy stocks_intraday ($CSV_COLUMNS_SQL) FROM '$WORK/bars.csv' WITH (FORMAT csv, HEADER true)"
    printf 'psql_copy\t%s\n' "$(rate "$t0" "$(now)")" >>"$RESULTS"

    empty_table; t0=$(now)
    DATABASE_URL=$URL "$TSAPI" load "$WORK/bars.csv" 2>/dev/null
    printf 'tsapi_load\t%s\n' "$(rate "$t0" "$(now)")" >>"$RESULTS"

    for endpoint in insert bars; do
        for clients in 1 4; do
            empty_table
            out=$("$CLIENT" "$API" "$WORK/bars.ndjson" "$endpoint" "$clients" 5000)
            printf '%s_c%s\t%s\n' "$endpoint" "$clients" "${out##*rows_per_s=}" >>"$RESULTS"
        done
    done
done

# --- GET /ticker?symbol= against pgbench running the same SQL ----------------------------
# The data of the last run stays. tsapi first bounds the search to the newest two chunks
# (see src/db/ticker.rs); pgbench gets the same statement with the same bound.
BOUND=$(psql "$URL" -Atc "SELECT min(range_start) FROM (SELECT c.range_start FROM timescaledb_information.chunks c
    WHERE format('%I.%I', c.hypertable_schema, c.hypertable_name)::regclass = 'stocks_intraday'::regclass
    ORDER BY c.range_start DESC LIMIT 2) newest")
cat >"$WORK/ticker.sql" <<'SQL'
SELECT time, symbol, price_open::float8, price_high::float8, price_low::float8, price_close::float8, trading_volume::int8 FROM stocks_intraday WHERE symbol = :sym AND time >= :bound ORDER BY time DESC LIMIT 1;
SQL
psql "$URL" -qc "VACUUM ANALYZE stocks_intraday" >/dev/null
# The same server with one tokio worker thread, which leaves a core to PostgreSQL and wrk
# on a small machine. Both warm up: the pool opens its connections and prepares its
# statements (pgbench, too, reports its rate without connection time).
DEFAULT_PID=$SERVER_PID DEFAULT_API=$API
start_server TOKIO_WORKER_THREADS=1
ONE_WORKER_API=$API
for api in "$DEFAULT_API" "$ONE_WORKER_API"; do
    wrk -t2 -c16 -d2s "$api/ticker?symbol=S001" >/dev/null
done
wrk_ticker() { # name api: one wrk run, appended to the results as name_rps, name_p99_ms
    local out rps p99
    out=$(wrk -t2 -c16 -d"${SECONDS_PER_RUN}s" --latency "$2/ticker?symbol=S001")
    rps=$(awk '/^Requests\/sec:/ {print $2}' <<<"$out")
    p99=$(awk '$1 == "99%" {print $2}' <<<"$out" | python3 -c 'import sys
v=sys.stdin.read().strip()
unit={"us":0.001,"ms":1,"s":1000}
n=v.rstrip("usm"); u=v[len(n):]
print(float(n)*unit[u])')
    printf '%s_rps\t%s\n%s_p99_ms\t%s\n' "$1" "$rps" "$1" "$p99" >>"$RESULTS"
}
for run in $(seq "$RUNS"); do
    log "ticker run $run/$RUNS"
    rm -f "$WORK"/pgb*
    out=$(cd "$WORK" && pgbench -n -M prepared -c 16 -j 2 -T "$SECONDS_PER_RUN" -f ticker.sql \
        -D sym=S001 -D "bound=$BOUND" -l --log-prefix=pgb "$URL" 2>/dev/null)
    tps=$(sed -n 's/^tps = \([0-9.]*\) (without.*/\1/p' <<<"$out")
    p99=$(cat "$WORK"/pgb* | python3 -c 'import sys
l=sorted(int(x.split()[2]) for x in sys.stdin)
print(l[int(len(l)*0.99)]/1000)')
    printf 'pgbench_tps\t%s\npgbench_p99_ms\t%s\n' "$tps" "$p99" >>"$RESULTS"

    wrk_ticker ticker "$DEFAULT_API"
    wrk_ticker ticker_one_worker "$ONE_WORKER_API"
done
stop_server
SERVER_PID=$DEFAULT_PID
stop_server

# --- Server memory while streaming RSS_ROWS rows in one request --------------------------
log "memory: $RSS_ROWS rows in one NDJSON request"
DATABASE_URL=$URL "$TSAPI" demo-data --symbols "$(symbols_for "$RSS_ROWS")" --days 20 \
    --output "$WORK/big.ndjson" 2>/dev/null
RSS_N=$(wc -l <"$WORK/big.ndjson")
empty_table
start_server
before=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
t0=$(now)
answer=$(curl -fsS -X POST -T "$WORK/big.ndjson" -H 'content-type: application/x-ndjson' "$API/v1/bars")
t1=$(now)
peak=$(awk '/VmHWM/ {print $2}' "/proc/$SERVER_PID/status")
stop_server
printf 'rss_before_kb\t%s\nrss_peak_kb\t%s\nrss_rows\t%s\nrss_rows_per_s\t%s\n' \
    "$before" "$peak" "$RSS_N" "$(python3 -c "print(round($RSS_N / ($t1 - $t0)))")" >>"$RESULTS"
log "one request: $answer"

# --- Report ------------------------------------------------------------------------------
MACHINE="$(nproc) cores ($(sed -n 's/^model name\s*: //p' /proc/cpuinfo | head -1)), \
$(free -g | awk '/^Mem:/ {print $2}') GiB RAM, $(. /etc/os-release && echo "$PRETTY_NAME")"
VERSIONS=$(psql "$URL" -Atc "SELECT split_part(version(), ' ', 2) || ', TimescaleDB ' || extversion FROM pg_extension WHERE extname = 'timescaledb'")
python3 bench/report.py "$RESULTS" "$N" "$RUNS" "$SECONDS_PER_RUN" "$MACHINE" "PostgreSQL $VERSIONS" \
    bench/RESULTS.md
log "wrote bench/RESULTS.md"
