#!/usr/bin/env bash
# Cost of adjusted reads: a 10-year daily /v1/bars of one symbol, adjustment=all against raw.
#
#   bash bench/actions.sh
#
# 1. Makes a database (BENCH_DB, default tsapi_actions_bench) with 10 years of daily bars of
#    one symbol (weekdays 2015-2024, stamped 21:00 UTC, default 7-day chunks) and the
#    actions of an AAPL-like history: 3 splits and 40 quarterly dividends.
# 2. Starts a release `tsapi serve` over it (no keys: the data path is measured).
# 3. For each case (stored daily bars; `interval=1w`), alternates `raw` and `all` with wrk
#    on one connection, BENCH_RUNS times BENCH_SECONDS each, and prints the median mean
#    latency of each, their ratio, and the median of the ratios of each pair of runs
#    (the steadier figure when other jobs load the machine).
# 4. Drops the database unless BENCH_KEEP=1.
#
# Needs the local cluster and wrk (installed from Debian when missing). Environment:
# TSAPI_TEST_DATABASE_URL (admin URL), BENCH_DB, BENCH_RUNS (15), BENCH_SECONDS (4).
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN_URL=${TSAPI_TEST_DATABASE_URL:-postgres://tsapi:tsapi@127.0.0.1:${TSAPI_PG_PORT:-54329}/postgres}
DB=${BENCH_DB:-tsapi_actions_bench}
DB_URL="${ADMIN_URL%/*}/$DB"
RUNS=${BENCH_RUNS:-15}
SECS=${BENCH_SECONDS:-4}

log() { printf '== %s\n' "$*" >&2; }

if ! command -v wrk >/dev/null; then
    log "installing wrk"
    apt-get install -y -q wrk >/dev/null
fi

cargo build --release --quiet --bin tsapi
TSAPI=target/release/tsapi

psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB"
DATABASE_URL=$DB_URL "$TSAPI" migrate
psql -q "$DB_URL" <<'SQL'
-- A deterministic walk around 100, one bar per weekday.
INSERT INTO stocks_intraday (time, symbol, price_open, price_high, price_low, price_close, trading_volume)
SELECT d + time '21:00', 'ADJ', p, p * 1.01, p * 0.99, p * (1 + 0.002 * sin(n)), 1000000 + (n % 977) * 1000
FROM (SELECT d, n, 100 + 20 * sin(n / 50.0) + n / 100.0 AS p
      FROM generate_series(date '2015-01-01', date '2024-12-31', interval '1 day') WITH ORDINALITY g(d, n)
      WHERE extract(isodow FROM d) < 6) s;
INSERT INTO tsapi_corporate_actions (symbol, ex_date, kind, split_from, split_to)
VALUES ('ADJ', '2017-05-01', 'split', 1, 2), ('ADJ', '2020-08-31', 'split', 1, 4),
       ('ADJ', '2022-06-06', 'split', 1, 3);
INSERT INTO tsapi_corporate_actions (symbol, ex_date, kind, cash_amount, currency)
SELECT 'ADJ', d::date, 'dividend', 0.2 + (n % 4) * 0.01, 'USD'
FROM generate_series(date '2015-02-05', date '2024-12-31', interval '3 months') WITH ORDINALITY g(d, n);
VACUUM ANALYZE stocks_intraday;
SQL
ROWS=$(psql -Atq "$DB_URL" -c "SELECT count(*) FROM stocks_intraday")
CHUNKS=$(psql -Atq "$DB_URL" -c "SELECT count(*) FROM timescaledb_information.chunks WHERE hypertable_name = 'stocks_intraday'")
ACTIONS=$(psql -Atq "$DB_URL" -c "SELECT string_agg(kind || ' ' || n, ', ') FROM (SELECT kind, count(*) n FROM tsapi_corporate_actions GROUP BY kind) k")
log "$ROWS bars in $CHUNKS chunks; actions: $ACTIONS"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATABASE_URL=$DB_URL TSAPI_LISTEN=127.0.0.1:$PORT TSAPI_AUTH=none RUST_LOG=warn "$TSAPI" serve &
SERVER=$!
WRK_LUA=$(mktemp --suffix=.lua)
cleanup() {
    kill $SERVER 2>/dev/null || true
    wait $SERVER 2>/dev/null || true
    rm -f "$WRK_LUA"
    [[ ${BENCH_KEEP:-0} == 1 ]] || psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)"
}
trap cleanup EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
    sleep 0.1
done
BASE=http://127.0.0.1:$PORT
cat >"$WRK_LUA" <<'EOF'
done = function(summary, latency, requests)
  io.write(string.format("RESULT %.3f %d\n", latency.mean,
    summary.errors.status + summary.errors.connect + summary.errors.timeout))
end
EOF

# Mean latency (µs) of URL on one connection.
latency() {
    local out
    out=$(wrk -t1 -c1 -d"${SECS}s" --timeout 60s -s "$WRK_LUA" "$1" | awk '/^RESULT/ {print $2, $3}')
    [[ $(cut -d' ' -f2 <<<"$out") == 0 ]] || { echo "non-2xx answers from $1" >&2; exit 1; }
    cut -d' ' -f1 <<<"$out"
}

median() { sort -n | awk '{a[NR] = $1} END {print (NR % 2) ? a[(NR + 1) / 2] : (a[NR / 2] + a[NR / 2 + 1]) / 2}'; }

for case in "stored daily bars|symbols=ADJ&start=2015-01-01&end=2025-01-01&limit=10000" \
            "weekly buckets|symbols=ADJ&start=2015-01-01&end=2025-01-01&limit=10000&interval=1w&tz=America/New_York"; do
    name=${case%%|*}
    query=${case#*|}
    bars=$(curl -sf "$BASE/v1/bars?$query" | grep -o '"time"' | wc -l)
    # Warm both statements on the connection wrk will use, then alternate.
    curl -sf "$BASE/v1/bars?$query&adjustment=all" >/dev/null
    raw=() all=() pairs=()
    for run in $(seq "$RUNS"); do
        raw+=("$(latency "$BASE/v1/bars?$query")")
        all+=("$(latency "$BASE/v1/bars?$query&adjustment=all")")
        pairs+=("$(awk -v a="${all[-1]}" -v r="${raw[-1]}" 'BEGIN {print a / r}')")
        log "$name run $run: raw ${raw[-1]} µs, all ${all[-1]} µs"
    done
    r=$(printf '%s\n' "${raw[@]}" | median)
    a=$(printf '%s\n' "${all[@]}" | median)
    p=$(printf '%s\n' "${pairs[@]}" | median)
    printf '%s (%s bars): raw %.0f µs, all %.0f µs, ratio of medians %.3f, median of pair ratios %.3f\n' \
        "$name" "$bars" "$r" "$a" "$(awk -v a="$a" -v r="$r" 'BEGIN {print a / r}')" "$p"
done
