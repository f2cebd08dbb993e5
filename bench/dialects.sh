#!/usr/bin/env bash
# The Alpaca dialect's cost: a 100,000-bar get_stock_bars (alpaca-py, pinned in
# tests/py/requirements.txt) against the same request on /v1/bars, over a fresh database
# of 105,300 demo minute bars (6 symbols, 45 days). Prints medians and ratios.
# Needs the local TimescaleDB cluster. Environment: TSAPI_TEST_DATABASE_URL, RUNS (default 5).
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN_URL=${TSAPI_TEST_DATABASE_URL:-postgres://tsapi:tsapi@127.0.0.1:${TSAPI_PG_PORT:-54329}/postgres}
RUNS=${RUNS:-5}
DB=tsapi_bench_dialects_$$
DB_URL="${ADMIN_URL%/*}/$DB"
PYTHON=$(scripts/py-clients.sh)

# PROFILE=debug measures the debug build (no release build needed; ratios only).
PROFILE=${PROFILE:-release}
if [[ $PROFILE == release ]]; then
    cargo build --quiet --release --bin tsapi
else
    cargo build --quiet --bin tsapi
fi
TSAPI=target/$PROFILE/tsapi

SERVER_PID=
cleanup() {
    if [[ -n $SERVER_PID ]]; then
        kill "$SERVER_PID" 2>/dev/null || true
        wait "$SERVER_PID" 2>/dev/null || true
    fi
    psql -q "$ADMIN_URL" -c "DROP DATABASE IF EXISTS $DB WITH (FORCE)" >/dev/null 2>&1 || true
}
trap cleanup EXIT

psql -q "$ADMIN_URL" -c "CREATE DATABASE $DB" >/dev/null
DATABASE_URL=$DB_URL "$TSAPI" migrate >/dev/null
DATABASE_URL=$DB_URL "$TSAPI" demo-data --days 45 >/dev/null

PORT=$("$PYTHON" -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
DATABASE_URL=$DB_URL TSAPI_LISTEN=127.0.0.1:$PORT TSAPI_AUTH=none RUST_LOG=warn "$TSAPI" serve &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
    sleep 0.1
done

"$PYTHON" bench/dialects.py "http://127.0.0.1:$PORT" AAPL,MSFT,FB,AMZN,GOOG,TSLA \
    2021-10-01T00:00:00Z 2022-01-01T00:00:00Z "$RUNS"
