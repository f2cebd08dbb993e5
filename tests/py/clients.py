"""Runs the official Alpaca and Polygon (Massive) clients against a tsapi server.

Usage: clients.py COMMAND BASE_URL KEY [ARGS...]; prints one JSON document on stdout (what
the client returned, as plain values) and a transcript of the HTTP requests on stderr.
The Rust tests (tests/dialects.rs) compare the documents with /v1 answers.
"""

import json
import math
import sys
from datetime import datetime, timezone


def num(value):
    """A DataFrame cell as JSON: NaN (a null in the answer) becomes None."""
    if value is None:
        return None
    value = float(value)
    return None if math.isnan(value) else value


def iso(ts):
    return ts.astimezone(timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def when(text):
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def traced(client, method, params_name, label):
    """Makes `client.method(path, params)` print each request (`label GET path params`) to
    stderr, where the tests count the pages a client asked for."""
    original = getattr(client, method)

    def get(path, *args, **kwargs):
        params = args[0] if args else kwargs.get(params_name)
        shown = {k: v for k, v in (params or {}).items() if v is not None}
        print(f"{label} GET {path} {shown}", file=sys.stderr)
        return original(path, *args, **kwargs)

    setattr(client, method, get)
    return client


def alpaca_client(base, key):
    from alpaca.data.historical import StockHistoricalDataClient

    # The key may go in either header; the id here is just a label.
    client = StockHistoricalDataClient("tsapi-tests", key, url_override=base + "/alpaca")
    return traced(client, "get", "data", "alpaca-py")


def alpaca_bars(base, key, symbols, timeframe, start, end, *rest):
    from alpaca.common.exceptions import APIError
    from alpaca.data.requests import StockBarsRequest

    client = alpaca_client(base, key)
    options = dict(arg.split("=", 1) for arg in rest)
    request = StockBarsRequest(
        symbol_or_symbols=symbols.split(","),
        timeframe=parse_timeframe(timeframe),
        start=when(start),
        end=when(end),
        **options,
    )
    try:
        frame = client.get_stock_bars(request).df
    except APIError as e:
        return {"error": type(e).__name__, "status": e.status_code, "code": e.code,
                "message": e.message}
    rows = []
    for (symbol, ts), row in frame.iterrows():
        rows.append([symbol, iso(ts), num(row["open"]), num(row["high"]), num(row["low"]),
                     num(row["close"]), num(row["volume"]), num(row.get("trade_count")),
                     num(row.get("vwap"))])
    return {"rows": rows}


def parse_timeframe(text):
    from alpaca.data.timeframe import TimeFrame, TimeFrameUnit

    digits = "".join(c for c in text if c.isdigit())
    unit = {"Min": TimeFrameUnit.Minute, "Hour": TimeFrameUnit.Hour, "Day": TimeFrameUnit.Day,
            "Week": TimeFrameUnit.Week, "Month": TimeFrameUnit.Month}[text[len(digits):]]
    return TimeFrame(int(digits), unit)


def alpaca_latest(base, key, symbols):
    from alpaca.data.requests import StockLatestBarRequest

    client = alpaca_client(base, key)
    latest = client.get_stock_latest_bar(
        StockLatestBarRequest(symbol_or_symbols=symbols.split(",")))
    return {symbol: [iso(bar.timestamp), bar.open, bar.high, bar.low, bar.close, bar.volume,
                     bar.trade_count, bar.vwap]
            for symbol, bar in sorted(latest.items())}


def alpaca_snapshots(base, key, symbols):
    from alpaca.data.requests import StockSnapshotRequest

    client = alpaca_client(base, key)
    snaps = client.get_stock_snapshot(StockSnapshotRequest(symbol_or_symbols=symbols.split(",")))

    def bar(b):
        if b is None:
            return None
        return [iso(b.timestamp), b.open, b.high, b.low, b.close, b.volume, b.trade_count,
                b.vwap]

    return {symbol: {"minute": bar(s.minute_bar), "daily": bar(s.daily_bar),
                     "prev": bar(s.previous_daily_bar),
                     "trade": s.latest_trade, "quote": s.latest_quote}
            for symbol, s in sorted(snaps.items())}


def massive_client(base, key):
    from massive import RESTClient

    client = RESTClient(api_key=key, base=base + "/polygon", retries=0)
    return traced(client, "_get", "params", "massive")


def massive_aggs(base, key, ticker, multiplier, timespan, start, end, *rest):
    from massive.exceptions import BadResponse

    client = massive_client(base, key)
    options = dict(arg.split("=", 1) for arg in rest)
    if "limit" in options:
        options["limit"] = int(options["limit"])
    try:
        aggs = list(client.list_aggs(ticker, int(multiplier), timespan, start, end, **options))
    except BadResponse as e:
        return {"error": type(e).__name__, "body": json.loads(str(e))}
    return {"rows": [[a.timestamp, a.open, a.high, a.low, a.close, a.volume, a.vwap,
                      getattr(a, "transactions", None)] for a in aggs]}


def massive_day(base, key, what, *args):
    from massive.exceptions import BadResponse

    client = massive_client(base, key)
    try:
        if what == "prev":
            aggs = client.get_previous_close_agg(args[0])
        elif what == "grouped":
            aggs = client.get_grouped_daily_aggs(args[0])
        else:
            d = client.get_daily_open_close_agg(args[0], args[1])
            return {"symbol": d.symbol, "from": d.from_, "row": [d.open, d.high, d.low, d.close,
                                                                d.volume]}
    except BadResponse as e:
        return {"error": type(e).__name__, "body": json.loads(str(e))}
    return {"rows": [[a.ticker, a.timestamp, a.open, a.high, a.low, a.close, a.volume, a.vwap,
                      getattr(a, "transactions", None)] for a in aggs]}


COMMANDS = {
    "alpaca-snapshots": alpaca_snapshots,
    "massive-day": massive_day,
    "alpaca-bars": alpaca_bars,
    "alpaca-latest": alpaca_latest,
    "massive-aggs": massive_aggs,
}

if __name__ == "__main__":
    command, *args = sys.argv[1:]
    print(json.dumps(COMMANDS[command](*args)))
