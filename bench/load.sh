#!/usr/bin/env bash
# Load run: 64 clients send mixed reads and writes for 60 s to a server over its own
# cluster (with the demo data). No 5xx but deliberate 503 backpressure is allowed; the
# server's resident memory is sampled every second. Exits non-zero on a failure.
#
#   bash bench/load.sh      (after `cargo build --release`)
#
# Environment: LOAD_PG_PORT (54379), LOAD_API_PORT (18379), LOAD_SECONDS (60),
# LOAD_WORKERS (64).
set -euo pipefail
source "$(dirname "$0")/cluster.sh"

PG_PORT=${LOAD_PG_PORT:-54379}
API_PORT=${LOAD_API_PORT:-18379}
SECONDS_TOTAL=${LOAD_SECONDS:-60}
WORKERS=${LOAD_WORKERS:-64}
RUN_DIR=$(mktemp -d "${TMPDIR:-/tmp}/tsapi-load.XXXXXX")
chmod 755 "$RUN_DIR"
PG_DIR=$RUN_DIR/pg
URL=postgres://tsapi:tsapi@127.0.0.1:$PG_PORT/tsapi
TSAPI_PID=

cleanup() {
    [[ -n $TSAPI_PID ]] && kill "$TSAPI_PID" 2>/dev/null || true
    cluster_stop "$PG_DIR"
    rm -rf "$RUN_DIR"
}
trap cleanup EXIT

cluster_init "$PG_DIR" "$PG_PORT"
DATABASE_URL=$URL "$TSAPI_BIN" migrate 2>/dev/null
DATABASE_URL=$URL "$TSAPI_BIN" demo-data 2>/dev/null
KEY_OUT=$("$TSAPI_BIN" keygen --name load --scopes read+write 2>/dev/null)
tsapi_start "$API_PORT" "$URL" TSAPI_API_KEYS="$(sed -n 2p <<<"$KEY_OUT")" RUST_LOG=warn

rss_kib() { awk '/^VmRSS/ {print $2}' "/proc/$TSAPI_PID/status"; }
RSS_START=$(rss_kib)
python3 "$REPO/bench/client.py" load --url "http://127.0.0.1:$API_PORT" \
    --key "$(sed -n 1p <<<"$KEY_OUT")" --workers "$WORKERS" --seconds "$SECONDS_TOTAL" \
    >"$RUN_DIR/client.json" &
CLIENT=$!
RSS_MAX=$RSS_START
while kill -0 "$CLIENT" 2>/dev/null; do
    RSS=$(rss_kib)
    ((RSS > RSS_MAX)) && RSS_MAX=$RSS
    sleep 1
done
wait "$CLIENT"
RSS_END=$(rss_kib)

python3 - "$RUN_DIR/client.json" "$RSS_START" "$RSS_MAX" "$RSS_END" <<'PY'
import json, sys
client = json.load(open(sys.argv[1]))
start, peak, end = (int(x) for x in sys.argv[2:5])
client.update(rss_kib_start=start, rss_kib_peak=peak, rss_kib_end=end,
              requests_per_s=round(client["requests"] / client["seconds"], 1))
print(json.dumps(client, indent=1))
bad = {s: n for s, n in client["statuses"].items() if s not in ("200", "503")}
if bad: print("FAIL: answers other than 200 and 503:", bad)
if peak > 512 * 1024: print("FAIL: resident memory above 512 MiB")
sys.exit(1 if bad or peak > 512 * 1024 else 0)
PY
