#!/usr/bin/env bash
# What the change feed costs ingest: psql \copy, and POST /v1/bars with the feed's log
# (announced) and without it (the feed's tables dropped: writes are not announced), on the
# same rows, alternating in one run; then both again on a table with the opt-in trigger for
# other tools' writes (`tsapi migrate --feed-trigger on`). Prints rows/s and the ratios to
# \copy without the trigger.
#
# Environment: BENCH_ADMIN_URL (admin URL of the cluster; default the local test cluster),
# BENCH_ROWS (default 300000), BENCH_RUNS (default 3), BENCH_CLIENTS (default 1).
set -euo pipefail
cd "$(dirname "$0")/.."
ADMIN=${BENCH_ADMIN_URL:-postgres://tsapi:tsapi@127.0.0.1:54329/postgres}
ROWS=${BENCH_ROWS:-300000}
RUNS=${BENCH_RUNS:-3}
CLIENTS=${BENCH_CLIENTS:-1}
COLUMNS_SQL="time, symbol, price_open, price_high, price_low, price_close, trading_volume"
# The columns of `tsapi demo-data`'s CSV.
CSV_COLUMNS_SQL="$COLUMNS_SQL, trade_count, vwap"
log() { printf 'feed_cost: %s\n' "$*" >&2; }

cargo build --release --quiet --bin tsapi --example ingest_bench
TSAPI=target/release/tsapi
CLIENT=target/release/examples/ingest_bench
WORK=$(mktemp -d)
PIDS=()
FEED_DB=tsapi_feedcost_on_$$ PLAIN_DB=tsapi_feedcost_off_$$ TRIGGER_DB=tsapi_feedcost_trigger_$$
cleanup() {
    for pid in "${PIDS[@]}"; do kill "$pid" 2>/dev/null || true; wait "$pid" 2>/dev/null || true; done
    psql "$ADMIN" -qc "DROP DATABASE IF EXISTS $FEED_DB WITH (FORCE)" \
        -c "DROP DATABASE IF EXISTS $PLAIN_DB WITH (FORCE)" \
        -c "DROP DATABASE IF EXISTS $TRIGGER_DB WITH (FORCE)" >/dev/null 2>&1 || true
    rm -rf "$WORK"
}
trap cleanup EXIT
url() { echo "${ADMIN%/*}/$1"; }
for db in $FEED_DB $PLAIN_DB $TRIGGER_DB; do
    psql "$ADMIN" -qc "CREATE DATABASE $db" >/dev/null
    DATABASE_URL=$(url "$db") "$TSAPI" migrate >/dev/null 2>&1
done
DATABASE_URL=$(url "$TRIGGER_DB") "$TSAPI" migrate --feed-trigger on >/dev/null 2>&1
psql "$(url "$PLAIN_DB")" -qc "DROP TABLE tsapi_feed, tsapi_feed_batch" >/dev/null

n_symbols=$(( (ROWS + 7799) / 7800 ))
SYMBOLS=$(seq -f 'S%03g' 1 "$n_symbols" | paste -sd, -)
for ext in csv ndjson; do
    "$TSAPI" demo-data --symbols "$SYMBOLS" --days 20 --output "$WORK/bars.$ext" 2>/dev/null
done
N=$(( $(wc -l <"$WORK/bars.csv") - 1 ))

start() { # db [VAR=value ...] -> prints the base URL
    local db=$1 port; shift
    port=$(python3 -c 'import socket; s=socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
    env "$@" RUST_LOG=warn DATABASE_URL="$(url "$db")" TSAPI_LISTEN=127.0.0.1:$port \
        TSAPI_AUTH=none "$TSAPI" serve 2>>"$WORK/server.log" &
    PIDS+=($!)
    for _ in $(seq 100); do
        curl -fs "http://127.0.0.1:$port/readyz" >/dev/null 2>&1 && break
        sleep 0.1
    done
    API_URL=http://127.0.0.1:$port
}
start "$FEED_DB"; FEED_API=$API_URL
start "$PLAIN_DB" TSAPI_STREAM=false; PLAIN_API=$API_URL
start "$TRIGGER_DB"; TRIGGER_API=$API_URL

now() { date +%s.%N; }
rate() { python3 -c "print(round($N / ($2 - $1)))"; }
empty() { psql "$(url "$1")" -qc "TRUNCATE stocks_intraday" >/dev/null; }
: >"$WORK/results.tsv"
copy_into() { # name db: \copy the CSV into an emptied db, recording rows/s
    empty "$2"; local t0; t0=$(now)
    psql "$(url "$2")" -qc "\\copy stocks_intraday ($CSV_COLUMNS_SQL) FROM '$WORK/bars.csv' WITH (FORMAT csv, HEADER true)"
    printf '%s\t%s\n' "$1" "$(rate "$t0" "$(now)")" >>"$WORK/results.tsv"
}
post_into() { # name db api: POST the NDJSON into an emptied db, recording rows/s
    empty "$2"
    local out; out=$("$CLIENT" "$3" "$WORK/bars.ndjson" bars "$CLIENTS" 5000)
    printf '%s\t%s\n' "$1" "${out##*rows_per_s=}" >>"$WORK/results.tsv"
}
for run in $(seq "$RUNS"); do
    log "run $run/$RUNS ($N rows)"
    copy_into psql_copy "$FEED_DB"
    post_into bars_without_feed "$PLAIN_DB" "$PLAIN_API"
    post_into bars_with_feed "$FEED_DB" "$FEED_API"
    copy_into psql_copy_trigger "$TRIGGER_DB"
    post_into bars_feed_trigger "$TRIGGER_DB" "$TRIGGER_API"
done
python3 - "$WORK/results.tsv" <<'PY'
import statistics, sys
rates = {}
for line in open(sys.argv[1]):
    name, value = line.split()
    rates.setdefault(name, []).append(float(value))
copy = statistics.median(rates["psql_copy"])
for name, values in rates.items():
    m = statistics.median(values)
    print(f"{name:20} median {m:10.0f} rows/s  ratio to \\copy {m / copy:.2f}  runs {values}")
PY
