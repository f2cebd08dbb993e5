#!/usr/bin/env python3
"""HTTP clients for the fault and load runs (standard library only).

fault: workers post numbered batches (batch n = symbol Fn, BATCH bars) until told to stop,
       and record which batches were acknowledged (200) and what every answer was.
load:  workers send mixed reads and writes for a fixed time and count the answers.
Both print one JSON object with the counts.
"""
import argparse
import collections
import json
import threading
import time
import urllib.error
import urllib.request

BATCH = 50


def request(base, key, method, path, body=None, timeout=30):
    """(status, body) of one request; status 0 when no HTTP answer came."""
    req = urllib.request.Request(base + path, data=body, method=method)
    req.add_header("Authorization", "Bearer " + key)
    if body is not None:
        req.add_header("Content-Type", "application/json")
    started = time.monotonic()
    try:
        with urllib.request.urlopen(req, timeout=timeout) as resp:
            return resp.status, resp.read(), time.monotonic() - started
    except urllib.error.HTTPError as err:
        return err.code, err.read(), time.monotonic() - started
    except (urllib.error.URLError, OSError):
        return 0, b"", time.monotonic() - started


def batch_body(n):
    records = [
        {
            "time": f"2021-01-01T00:00:00Z",
            "symbol": f"F{n}",
            "price_close": float(i),
            "trading_volume": i,
        }
        for i in range(BATCH)
    ]
    # One bar per minute of the day.
    for i, r in enumerate(records):
        r["time"] = f"2021-01-01T{i // 60:02d}:{i % 60:02d}:00Z"
    return json.dumps({"records": records}).encode()


def fault(args):
    counter = iter(range(1, 10**9))
    lock = threading.Lock()
    acked, failed, statuses, slowest = [], [], collections.Counter(), [0.0]
    stop = time.monotonic() + args.seconds

    def worker():
        while time.monotonic() < stop:
            with lock:
                n = next(counter)
            status, _, took = request(args.url, args.key, "POST", "/insert", batch_body(n))
            with lock:
                statuses[status] += 1
                slowest[0] = max(slowest[0], took)
                (acked if status == 200 else failed).append(n)
                if status != 200:
                    time.sleep(0.05)

    threads = [threading.Thread(target=worker) for _ in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({
        "batch_rows": BATCH,
        "acknowledged": sorted(acked),
        "failed": sorted(failed),
        "statuses": {str(k): v for k, v in statuses.items()},
        "slowest_answer_s": round(slowest[0], 3),
    }))


def load(args):
    lock = threading.Lock()
    statuses, kinds = collections.Counter(), collections.Counter()
    stop = time.monotonic() + args.seconds
    symbols = ["AAPL", "MSFT", "FB", "AMZN", "GOOG", "TSLA"]

    def worker(w):
        i = 0
        while time.monotonic() < stop:
            i += 1
            sym = symbols[i % len(symbols)]
            if i % 5 == 0:
                kind = "insert"
                minute = i % 1440
                body = json.dumps({"records": [{
                    "time": f"2022-{1 + (i // 1440) % 12:02d}-{1 + w % 28:02d}T{minute // 60:02d}:{minute % 60:02d}:00Z",
                    "symbol": f"L{w}", "price_close": 1.0, "trading_volume": 1}]}).encode()
                status, _, _ = request(args.url, args.key, "POST", "/insert", body)
                if status == 409:  # a wrapped-around time: a conflict, not a failure
                    status = 200
            elif i % 5 in (1, 2):
                kind = "ticker"
                status, _, _ = request(args.url, args.key, "GET", f"/ticker?symbol={sym}")
            elif i % 5 == 3:
                kind = "daily"
                status, _, _ = request(
                    args.url, args.key, "GET",
                    f"/ticker/daily?symbol={sym}&start=2021-11-01&end=2021-11-06")
            else:
                kind = "all"
                status, _, _ = request(args.url, args.key, "GET", "/ticker")
            with lock:
                statuses[status] += 1
                kinds[kind] += 1

    threads = [threading.Thread(target=worker, args=(w,)) for w in range(args.workers)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    print(json.dumps({
        "requests": sum(statuses.values()),
        "statuses": {str(k): v for k, v in statuses.items()},
        "kinds": dict(kinds),
        "seconds": args.seconds,
        "workers": args.workers,
    }))


def main():
    p = argparse.ArgumentParser()
    p.add_argument("mode", choices=["fault", "load"])
    p.add_argument("--url", required=True)
    p.add_argument("--key", required=True)
    p.add_argument("--workers", type=int, default=8)
    p.add_argument("--seconds", type=float, default=20)
    args = p.parse_args()
    (fault if args.mode == "fault" else load)(args)


if __name__ == "__main__":
    main()
