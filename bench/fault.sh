#!/usr/bin/env bash
# Fault run: clients post numbered batches while PostgreSQL is killed with SIGKILL and
# restarted. Then every acknowledged batch must be stored whole, no batch partly, and the
# outage must have been answered with 503s (never a 500). Exits non-zero otherwise.
#
#   bash bench/fault.sh      (after `cargo build --release`; uses its own cluster)
#
# Environment: FAULT_PG_PORT (54369), FAULT_API_PORT (18369), FAULT_SECONDS (24).
set -euo pipefail
source "$(dirname "$0")/cluster.sh"

PG_PORT=${FAULT_PG_PORT:-54369}
API_PORT=${FAULT_API_PORT:-18369}
SECONDS_TOTAL=${FAULT_SECONDS:-24}
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tsapi-fault.XXXXXX")
chmod 755 "$RUN_DIR"
PG_DIR=$RUN_DIR/pg
URL=postgres://tsapi:tsapi@127.0.0.1:$PG_PORT/tsapi
API=http://127.0.0.1:$API_PORT
TSAPI_PID=

cleanup() {
    [[ -n $TSAPI_PID ]] && kill "$TSAPI_PID" 2>/dev/null || true
    cluster_stop "$PG_DIR"
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT

cluster_init "$PG_DIR" "$PG_PORT"
DATABASE_URL=$URL "$TSAPI_BIN" migrate 2>/dev/null
KEY_OUT=$("$TSAPI_BIN" keygen --name fault --scopes read+write 2>/dev/null)
KEY=$(sed -n 1p <<<"$KEY_OUT")
tsapi_start "$API_PORT" "$URL" TSAPI_API_KEYS="$(sed -n 2p <<<"$KEY_OUT")" \
    TSAPI_POOL_TIMEOUT=2s RUST_LOG=warn

python3 "$REPO/bench/client.py" fault --url "$API" --key "$KEY" --workers 8 \
    --seconds "$SECONDS_TOTAL" >"$RUN_DIR/client.json" &
CLIENT=$!

sleep $((SECONDS_TOTAL / 4))
echo "fault.sh: SIGKILL to PostgreSQL" >&2
cluster_kill "$PG_DIR"
sleep 1
READY_DOWN=$(curl -s -o /dev/null -w '%{http_code}' "$API/readyz")
sleep 3
echo "fault.sh: restarting PostgreSQL (crash recovery)" >&2
cluster_start "$PG_DIR"
wait "$CLIENT"
READY_UP=$(curl -s -o /dev/null -w '%{http_code}' "$API/readyz")

as_owner "$PG_BIN/psql" -h "$PG_DIR" -p "$PG_PORT" -U tsapi -d tsapi -Atq -c \
    "COPY (SELECT substr(symbol, 2)::int, count(*) FROM stocks_intraday GROUP BY symbol) TO STDOUT" \
    >"$RUN_DIR/stored.tsv"

python3 - "$RUN_DIR/client.json" "$RUN_DIR/stored.tsv" "$READY_DOWN" "$READY_UP" <<'PY'
import json, sys
client = json.load(open(sys.argv[1]))
stored = {int(n): int(c) for n, c in (l.split() for l in open(sys.argv[2]) if l.strip())}
rows = client["batch_rows"]
acked, failed = set(client["acknowledged"]), set(client["failed"])
lost = sorted(n for n in acked if stored.get(n, 0) != rows)
partial = sorted(n for n, c in stored.items() if c != rows)
failed_but_stored = sorted(n for n in failed if stored.get(n) == rows)
statuses = client["statuses"]
report = {
    "acknowledged": len(acked), "failed": len(failed),
    "stored": sum(1 for c in stored.values() if c == rows), "partial": len(partial),
    "acknowledged_but_missing": len(lost), "failed_but_stored": len(failed_but_stored),
    "statuses": statuses, "readyz_during_outage": sys.argv[3],
    "readyz_after": sys.argv[4], "slowest_answer_s": client["slowest_answer_s"],
}
print(json.dumps(report, indent=1))
problems = []
if lost: problems.append(f"acknowledged batches missing or incomplete: {lost[:10]}")
if partial: problems.append(f"partial batches: {partial[:10]}")
if "503" not in statuses: problems.append("the outage was not answered with 503")
if any(s.startswith("5") and s != "503" for s in statuses): problems.append("5xx other than 503")
if sys.argv[3] != "503": problems.append("/readyz did not report the outage")
if sys.argv[4] != "200": problems.append("/readyz not ready after recovery")
if not acked: problems.append("nothing acknowledged")
if "0" in statuses: problems.append("requests got no HTTP answer (connection dropped or hung)")
for p in problems: print("FAIL:", p)
sys.exit(1 if problems else 0)
PY
