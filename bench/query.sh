#!/usr/bin/env bash
# Query benchmark: the API against the same SQL run by pgbench, in one run, on one machine.
#
#   bash bench/query.sh
#
# 1. Makes (once) a database of ~10M one-minute bars (bench/generate.sql) and migrates it.
# 2. Starts a release `tsapi serve` over it (pool of 16 connections).
# 3. For each case, alternates the HTTP load (wrk) and pgbench on the same statement
#    (prepared), BENCH_RUNS times, and prints the medians and their ratio:
#    - latest: GET /v1/bars/latest?symbols=X at 16 connections, throughput;
#    - aggregate: GET /v1/bars?interval=1d over one year of one symbol, one connection, latency.
# 4. Prints the EXPLAIN ANALYZE plans of the latest-bar and symbol-list statements.
#
# Needs the local cluster (scripts/db.sh setup), pgbench (postgresql-15), wrk (installed
# here from Debian when missing). Environment: TSAPI_TEST_DATABASE_URL (admin URL),
# BENCH_DB (default tsapi_bench), BENCH_RUNS (3), BENCH_SECONDS (10), BENCH_SYMBOL (SYM0050).
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN_URL=${TSAPI_TEST_DATABASE_URL:-postgres://tsapi:tsapi@127.0.0.1:${TSAPI_PG_PORT:-54329}/postgres}
DB=${BENCH_DB:-tsapi_bench}
DB_URL="${ADMIN_URL%/*}/$DB"
RUNS=${BENCH_RUNS:-3}
SECS=${BENCH_SECONDS:-10}
SYMBOL=${BENCH_SYMBOL:-SYM0050}

log() { printf '== %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get install -y -q wrk >/dev/null
fi
command -v pgbench >/dev/null || { echo "pgbench not found (Debian: postgresql-15)" >&2; exit 1; }

cargo build --release --quiet --bin tsapi
TSAPI=target/release/tsapi

if ! psql -Atq "$ADMIN_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB"
fi
DATABASE_URL=$DB_URL "$TSAPI" migrate
ROWS=$(psql -Atq "$DB_URL" -c "SELECT count(*) FROM stocks_intraday")
if (( ROWS < 10000000 )); then
    log "generating ~10M bars (a few minutes)"
    psql -q "$DB_URL" -f bench/generate.sql
    psql -q "$DB_URL" -c "VACUUM ANALYZE stocks_intraday"
    ROWS=$(psql -Atq "$DB_URL" -c "SELECT count(*) FROM stocks_intraday")
fi
CHUNKS=$(psql -Atq "$DB_URL" -c "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'stocks_intraday'")
log "$ROWS rows, $CHUNKS chunks"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The data path is measured; a key check adds one SHA-256 per request.
DATABASE_URL=$DB_URL TSAPI_LISTEN=127.0.0.1:$PORT TSAPI_POOL_SIZE=16 TSAPI_AUTH=none RUST_LOG=warn \
    "$TSAPI" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
    sleep 0.1
done
BASE=http://127.0.0.1:$PORT
SYMBOLS=$(curl -sf "$BASE/v1/symbols" | grep -o '"symbol"' | wc -l)

# wrk reports mean latency (µs), requests/s and non-2xx answers, which must be 0.
WRK_LUA=$(mktemp --suffix=.lua)
cat >"$WRK_LUA" <<'EOF'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.1f %.3f %d\n", summary.requests / (summary.duration / 1e6),
    latency.mean, summary.errors.status + summary.errors.connect + summary.errors.timeout))
end
EOF
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -f "$WRK_LUA"' EXIT

# http URL CONNECTIONS -> "rps mean_us"
http() {
    local out
    out=$(wrk -t"$(( $2 < 2 ? $2 : 2 ))" -c"$2" -d"${SECS}s" --timeout 60s -s "$WRK_LUA" "$1" | awk '/^RESULT/ {print $2, $3, $4}')
    [[ $(cut -d' ' -f3 <<<"$out") == 0 ]] || { echo "non-2xx answers from $1" >&2; exit 1; }
    cut -d' ' -f1,2 <<<"$out"
}
# sql SCRIPT CONNECTIONS VARS... -> "tps mean_us"
sql() {
    local script=$1 clients=$2
    shift 2
    pgbench -n -M prepared -c "$clients" -j "$(( clients < 2 ? clients : 2 ))" -T "$SECS" -f "$script" "$@" "$DB_URL" 2>/dev/null |
        awk '/^latency average/ {lat = $4 * 1000} /^tps/ {tps = $3} END {print tps, lat}'
}
median() { sort -g | awk '{v[NR] = $1} END {print v[int((NR + 1) / 2)]}'; }

# The bound the API uses: the start of the two newest chunks.
BOUND=$(psql -Atq "$DB_URL" -c "SELECT min(range_start) FROM (SELECT range_start FROM timescaledb_information.chunks WHERE hypertable_name = 'stocks_intraday' ORDER BY range_start DESC LIMIT 2) c")

LATEST_URL="$BASE/v1/bars/latest?symbols=$SYMBOL"
AGG_URL="$BASE/v1/bars?symbols=$SYMBOL&interval=1d&start=2021-01-01&end=2022-01-01"
# Warm up: the first requests plan the statements and read the pages into the cache.
for _ in 1 2 3; do curl -sf "$LATEST_URL" >/dev/null; curl -sf "$AGG_URL" >/dev/null; done
[[ $(curl -sf "$AGG_URL" | grep -o '"count"' | wc -l) -gt 200 ]] || { echo "aggregate returned too few days" >&2; exit 1; }

declare -a L_HTTP L_SQL A_HTTP A_SQL
for run in $(seq "$RUNS"); do
    log "run $run/$RUNS"
    L_HTTP+=("$(http "$LATEST_URL" 16 | cut -d' ' -f1)")
    L_SQL+=("$(sql bench/latest.sql 16 -D symbol="$SYMBOL" -D bound="$BOUND" | cut -d' ' -f1)")
    A_HTTP+=("$(http "$AGG_URL" 1 | cut -d' ' -f2)")
    A_SQL+=("$(sql bench/aggregate.sql 1 -D symbols="{$SYMBOL}" -D resumes='{NULL}' \
        -D start='2021-01-01 00:00:00+00' -D end='2022-01-01 00:00:00+00' -D zone=UTC \
        -D width='1 days' -D limit=1001 | cut -d' ' -f2)")
done

lh=$(printf '%s\n' "${L_HTTP[@]}" | median)
ls=$(printf '%s\n' "${L_SQL[@]}" | median)
ah=$(printf '%s\n' "${A_HTTP[@]}" | median)
as=$(printf '%s\n' "${A_SQL[@]}" | median)
echo
echo "rows=$ROWS symbols=$SYMBOLS chunks=$CHUNKS runs=$RUNS seconds=$SECS symbol=$SYMBOL"
echo "latest, 16 connections, requests/s: http ${L_HTTP[*]} | pgbench ${L_SQL[*]}"
echo "aggregate 1y/1d, 1 connection, mean latency us: http ${A_HTTP[*]} | pgbench ${A_SQL[*]}"
awk -v lh="$lh" -v ls="$ls" -v ah="$ah" -v as="$as" 'BEGIN {
    printf "latest: median http %.0f/s vs pgbench %.0f/s -> ratio %.2f (goal >= 0.6)\n", lh, ls, lh / ls
    printf "aggregate: median http %.0f us vs pgbench %.0f us -> ratio %.2f (goal <= 1.2)\n", ah, as, ah / as
}'

echo
echo "-- EXPLAIN latest (GET /v1/bars/latest?symbols=$SYMBOL)"
psql -Atq "$DB_URL" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON)
    SELECT time, symbol, price_open::float8, price_high::float8, price_low::float8, price_close::float8, trading_volume::int8
    FROM stocks_intraday WHERE symbol = '$SYMBOL' AND time >= '$BOUND' ORDER BY time DESC LIMIT 1"
echo
echo "-- EXPLAIN symbols (GET /v1/symbols)"
psql -Atq "$DB_URL" -c "EXPLAIN (ANALYZE, COSTS OFF, TIMING OFF, SUMMARY ON)
    WITH RECURSIVE symbols AS (
      (SELECT symbol FROM stocks_intraday ORDER BY symbol LIMIT 1)
      UNION ALL
      SELECT (SELECT t.symbol FROM stocks_intraday t WHERE t.symbol > s.symbol ORDER BY t.symbol LIMIT 1)
      FROM symbols s WHERE s.symbol IS NOT NULL)
    SELECT s.symbol,
      (SELECT t.time FROM stocks_intraday t WHERE t.symbol = s.symbol ORDER BY t.time ASC LIMIT 1),
      (SELECT t.time FROM stocks_intraday t WHERE t.symbol = s.symbol ORDER BY t.time DESC LIMIT 1)
    FROM symbols s WHERE s.symbol IS NOT NULL ORDER BY s.symbol COLLATE \"C\"" |
    awk '{print} /Index|Chunks|Seq Scan/ {n[$0 ~ /Seq Scan/ ? "seq" : "idx"]++}
         END {printf "(plan lines: %d index scans, %d sequential scans)\n", n["idx"], n["seq"]}'
echo
echo "-- GET /v1/symbols wall time"
curl -s -o /dev/null -w '%{time_total}s for %{size_download} bytes\n' "$BASE/v1/symbols"
