#!/usr/bin/env bash
# Property-based API test: runs schemathesis against a real `tsapi serve` over a freshly
# migrated database with two days of demo data, with every check but one: any 5xx, a
# response, status, header or content type the OpenAPI document (served at /openapi.json)
# does not declare, schema-invalid input accepted, a route that ignores its key, a wrong
# 405. Left out: "positive data acceptance", which expects every schema-valid request to
# succeed; no JSON Schema can say which strings are page tokens this server signed or which
# digits are a real calendar date, so those requests are rightly refused.
#
# Needs the local TimescaleDB cluster (scripts/db.sh setup) and python3 with venv.
# Environment: TSAPI_TEST_DATABASE_URL (admin URL of the cluster, default as the tests use),
# SCHEMATHESIS_MAX_EXAMPLES (per operation, default 60).
set -euo pipefail
cd "$(dirname "$0")/.."

ADMIN_URL=${TSAPI_TEST_DATABASE_URL:-postgres://tsapi:tsapi@127.0.0.1:${TSAPI_PG_PORT:-54329}/postgres}
MAX_EXAMPLES=${SCHEMATHESIS_MAX_EXAMPLES:-60}
VERSION=4.32.5
VENV=target/schemathesis-venv
DB=tsapi_schemathesis_$$
DB_URL="${ADMIN_URL%/*}/$DB"

log() { printf 'schemathesis.sh: %s\n' "$*" >&2; }

if ! "$VENV/bin/st" --version 2>/dev/null | grep -q "$VERSION"; then
    log "installing schemathesis $VERSION into $VENV"
    python3 -m venv "$VENV"
    "$VENV/bin/pip" install --quiet "schemathesis==$VERSION"
fi

cargo build --quiet --bin tsapi
TSAPI=target/debug/tsapi

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
DATABASE_URL=$DB_URL "$TSAPI" migrate
DATABASE_URL=$DB_URL "$TSAPI" demo-data --days 2

PORT=$(python3 -c 'import socket; s = socket.socket(); s.bind(("127.0.0.1", 0)); print(s.getsockname()[1])')
# The server runs as deployed: API keys on, with one read+write key for schemathesis.
KEY_OUT=$("$TSAPI" keygen --name schemathesis --scopes read+write)
KEY=$(sed -n 1p <<<"$KEY_OUT")
DATABASE_URL=$DB_URL TSAPI_LISTEN=127.0.0.1:$PORT TSAPI_API_KEYS="$(sed -n 2p <<<"$KEY_OUT")" \
    RUST_LOG=warn "$TSAPI" serve &
SERVER_PID=$!
for _ in $(seq 100); do
    curl -sf "http://127.0.0.1:$PORT/readyz" >/dev/null && break
    sleep 0.1
done

log "running schemathesis against 127.0.0.1:$PORT ($MAX_EXAMPLES examples per operation)"
SCHEMATHESIS_HOOKS=scripts/schemathesis_hooks.py "$VENV/bin/st" run "http://127.0.0.1:$PORT/openapi.json" \
    --checks all \
    --exclude-checks positive_data_acceptance \
    --max-examples "$MAX_EXAMPLES" \
    --seed 1 \
    --header "Authorization: Bearer $KEY" \
    --no-color
