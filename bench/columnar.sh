#!/usr/bin/env bash
# Columnar export benchmark: ~10M bars out of the API as Arrow, Parquet, NDJSON and CSV,
# against the same rows by `psql \copy (...) TO STDOUT CSV` (the database's own limit).
#
#   bash bench/columnar.sh
#
# 1. Makes (once) a database of ~10M one-minute bars (bench/generate.sql: 102 symbols over
#    2021) and migrates it.
# 2. Starts a release `tsapi serve` over it.
# 3. BENCH_RUNS times, alternating the methods: GET /v1/bars?symbols=<the 102>&format=F
#    with curl (rows/s, bytes, time to the first byte), the server's RSS growth (its peak
#    during the request, VmHWM after resetting it, minus its RSS when idle after a small
#    warm-up request), and psql \copy of the served statement to CSV. Medians are printed
#    as a Markdown table; the RSS growth is the largest of the runs.
# 4. pandas: the time to a DataFrame from each format, on a 1M-row answer (10 symbols;
#    pd.read_json of 10M lines would measure the machine's swap, not the format).
#
# Needs the local cluster, psql, curl, and the Python venv of scripts/py-clients.sh.
# Environment: TSAPI_TEST_DATABASE_URL (admin URL), BENCH_DB (default tsapi_bench),
# BENCH_RUNS (3), BENCH_KEEP_FILES (unset: the answers are deleted at the end).
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN_URL=${TSAPI_TEST_DATABASE_URL:-postgres://tsapi:tsapi@127.0.0.1:${TSAPI_PG_PORT:-54329}/postgres}
DB=${BENCH_DB:-tsapi_bench}
DB_URL="${ADMIN_URL%/*}/$DB"
RUNS=${BENCH_RUNS:-3}
OUT=$(mktemp -d)
PY=$(scripts/py-clients.sh)

log() { printf '== %s\n' "$*" >&2; }

cargo build --release --quiet --bin tsapi
TSAPI=target/release/tsapi

if ! psql -Atq "$ADMIN_URL" -c "SELECT 1 FROM pg_database WHERE datname = '$DB'" | grep -q 1; then
    psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB"
fi
DATABASE_URL=$DB_URL "$TSAPI" migrate
ROWS=$(psql -Atq "$DB_URL" -c "SELECT count(*) FROM stocks_intraday WHERE symbol LIKE 'SYM%'")
if (( ROWS < 10000000 )); then
    log "generating ~10M bars (a few minutes)"
    psql -q "$DB_URL" -f bench/generate.sql
    psql -q "$DB_URL" -c "VACUUM ANALYZE stocks_intraday"
    DATABASE_URL=$DB_URL "$TSAPI" catalog refresh
    ROWS=$(psql -Atq "$DB_URL" -c "SELECT count(*) FROM stocks_intraday WHERE symbol LIKE 'SYM%'")
fi
SYMBOLS=$(psql -Atq "$DB_URL" -c "SELECT string_agg(symbol, ',' ORDER BY symbol) FROM (SELECT DISTINCT symbol FROM stocks_intraday WHERE symbol LIKE 'SYM%') s")
SOME=$(echo "$SYMBOLS" | cut -d, -f1-10)
log "$ROWS rows of $(echo "$SYMBOLS" | tr ',' '\n' | wc -l) symbols"

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATABASE_URL=$DB_URL TSAPI_LISTEN=127.0.0.1:$PORT TSAPI_AUTH=none RUST_LOG=warn \
    TSAPI_REQUEST_TIMEOUT=1h TSAPI_STATEMENT_TIMEOUT=1h TSAPI_MAX_PARQUET_ROWS=100000000 \
    "$TSAPI" serve &
SERVER=$!
trap 'kill $SERVER 2>/dev/null || true; wait $SERVER 2>/dev/null || true; rm -rf "$OUT"' EXIT
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
    sleep 0.1
done
BASE="http://127.0.0.1:$PORT/v1/bars?symbols=$SYMBOLS"

# The statement tsapi serves for stored bars (src/db/query.rs), with its parameters written
# in and only the seven columns of the CSV answer.
ARRAY="ARRAY['$(echo "$SYMBOLS" | sed "s/,/','/g")']"
COPY_SQL="SELECT b.time, b.symbol, b.price_open, b.price_high, b.price_low, b.price_close, b.trading_volume \
FROM unnest($ARRAY::text[], array_fill(NULL::timestamptz, ARRAY[cardinality($ARRAY)])) \
WITH ORDINALITY AS k(symbol, resume, ord) CROSS JOIN LATERAL ( \
SELECT t.time, t.symbol, t.price_open::float8, t.price_high::float8, t.price_low::float8, \
t.price_close::float8, t.trading_volume::int8 FROM stocks_intraday t \
WHERE t.symbol = k.symbol AND t.time >= coalesce(greatest(NULL::timestamptz, k.resume), '-infinity') \
AND t.time < coalesce(NULL::timestamptz, 'infinity') ORDER BY t.time ASC LIMIT NULL) b LIMIT NULL"

status() { awk -v k="$2:" '$1 == k { print $2 }' "/proc/$1/status"; }

# One API run: prints "seconds bytes first_byte_seconds rss_growth_kb".
api_run() {
    local format=$1
    echo 5 > "/proc/$SERVER/clear_refs" # VmHWM := VmRSS
    local timing
    timing=$(curl -s -o "$OUT/answer.$format" -w '%{time_total} %{size_download} %{time_starttransfer}' \
        "$BASE&format=$format")
    echo "$timing $(( $(status $SERVER VmHWM) - IDLE_KB ))"
}

copy_run() {
    local start end bytes
    start=$(date +%s.%N)
    # With the server's session settings (no JIT), so both run the same plan alike.
    bytes=$(PGOPTIONS='-c jit=off' psql -Atq "$DB_URL" -c "\\copy ($COPY_SQL) TO STDOUT CSV HEADER" | wc -c)
    end=$(date +%s.%N)
    echo "$(echo "$end - $start" | bc) $bytes 0 0"
}

RESULTS="$OUT/results.txt"
: > "$RESULTS"
curl -s -o /dev/null "$BASE&format=arrow&limit=10" # warm the statement cache
IDLE_KB=$(status $SERVER VmRSS)
for run in $(seq "$RUNS"); do
    for method in copy arrow parquet ndjson csv; do
        if [[ $method == copy ]]; then
            line=$(copy_run)
        else
            line=$(api_run "$method")
        fi
        log "run $run $method: $line"
        echo "$method $line" >> "$RESULTS"
    done
done

log "pandas load times (1M-row answers, ${RUNS} runs)"
for format in arrow parquet ndjson csv; do
    curl -s -o "$OUT/some.$format" "http://127.0.0.1:$PORT/v1/bars?symbols=$SOME&format=$format"
done
SOME_ROWS=$(( $(wc -l < "$OUT/some.csv") - 1 ))
"$PY" - "$OUT" "$RUNS" > "$OUT/pandas.txt" <<'PYEOF'
import statistics, sys, time
import pandas as pd, pyarrow as pa, pyarrow.parquet as pq
out, runs = sys.argv[1], int(sys.argv[2])
loaders = {
    "arrow": ("pyarrow IPC stream → pandas", lambda p: pa.ipc.open_stream(pa.OSFile(p, "rb")).read_all().to_pandas()),
    "parquet": ("pyarrow Parquet → pandas", lambda p: pq.read_table(p).to_pandas()),
    "ndjson": ("pd.read_json(lines=True)", lambda p: pd.read_json(p, lines=True)),
    "csv": ("pd.read_csv", lambda p: pd.read_csv(p)),
}
for name, (how, load) in loaders.items():
    times = []
    for _ in range(runs):
        t = time.perf_counter()
        frame = load(f"{out}/some.{name}")
        times.append(time.perf_counter() - t)
    print(name, how.replace(" ", "~"), statistics.median(times), len(frame))
PYEOF

"$PY" - "$RESULTS" "$OUT/pandas.txt" "$ROWS" "$SOME_ROWS" <<'PYEOF'
import statistics, sys
results, pandas_file, rows, some_rows = sys.argv[1], sys.argv[2], int(sys.argv[3]), int(sys.argv[4])
runs = {}
for line in open(results):
    method, secs, size, first, rss = line.split()
    runs.setdefault(method, []).append((float(secs), int(size), float(first), int(rss)))
med = lambda xs: statistics.median(xs)
copy_rate = rows / med([r[0] for r in runs["copy"]])
csv_bytes = med([r[1] for r in runs["csv"]])
names = {
    "copy": "`psql \\copy (…) TO STDOUT CSV`: the limit",
    "arrow": "`GET /v1/bars?format=arrow`",
    "parquet": "`GET /v1/bars?format=parquet`",
    "ndjson": "`GET /v1/bars?format=ndjson`",
    "csv": "`GET /v1/bars?format=csv`",
}
print(f"{rows:,} rows (102 symbols, one-minute bars of 2021); medians of {len(runs['copy'])} runs.\n")
print("| method | rows/s (median) | runs (rows/s) | × `psql \\copy` | bytes | × CSV bytes | first byte ms | server RSS growth MB |")
print("|---|---:|---|---:|---:|---:|---:|---:|")
for method in ["copy", "arrow", "parquet", "ndjson", "csv"]:
    r = runs[method]
    rates = [rows / x[0] for x in r]
    rate = rows / med([x[0] for x in r])
    size = med([x[1] for x in r])
    api = method != "copy"
    first = f"{med([x[2] for x in r]) * 1000:.0f}" if api else ""
    rss = f"{max(x[3] for x in r) / 1024:.1f}" if api else ""
    print(f"| {names[method]} | {rate:,.0f} | {', '.join(f'{x:,.0f}' for x in rates)} | "
          f"{rate / copy_rate:.2f} | {size:,.0f} | {size / csv_bytes:.2f} | {first} | {rss} |")
print(f"\npandas, {some_rows:,} rows (10 symbols), median seconds to a DataFrame:\n")
print("| format | how | seconds | × Arrow |")
print("|---|---|---:|---:|")
lines = [l.split() for l in open(pandas_file)]
arrow = float(lines[0][2])
for name, how, secs, n in lines:
    print(f"| {name} | {how.replace('~', ' ')} | {float(secs):.2f} | {float(secs) / arrow:.1f} |")
PYEOF
