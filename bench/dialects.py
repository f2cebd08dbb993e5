"""The cost of the Alpaca dialect: a 100,000-bar request through alpaca-py against the same
request on /v1/bars (both followed page by page), median of RUNS runs each, interleaved.

Two figures: the HTTP pages alone (fetch + JSON decode; what the server adds) and the whole
client call (alpaca-py also builds a pydantic model per bar, which is the client's cost).
Usage: dialects.py BASE_URL SYMBOLS START END RUNS
"""

import statistics
import sys
import time

import requests


def pages(session, url, params, token_param, bars_of):
    count, token = 0, None
    while True:
        query = dict(params)
        if token:
            query[token_param] = token
        page = session.get(url, params=query).json()
        count += bars_of(page)
        token = page.get("next_page_token")
        if not token:
            return count


def main(base, symbols, start, end, runs):
    from alpaca.data.historical import StockHistoricalDataClient
    from alpaca.data.requests import StockBarsRequest
    from alpaca.data.timeframe import TimeFrame

    session = requests.Session()
    v1 = lambda: pages(session, base + "/v1/bars",
                       {"symbols": symbols, "interval": "1min", "tz": "America/New_York",
                        "start": start, "end": end, "limit": 10000},
                       "page_token", lambda p: len(p["bars"]))
    dialect = lambda: pages(session, base + "/alpaca/v2/stocks/bars",
                            {"symbols": symbols, "timeframe": "1Min", "start": start,
                             "end": end, "limit": 10000},
                            "page_token", lambda p: sum(len(b) for b in p["bars"].values()))
    client = StockHistoricalDataClient("bench", "bench", url_override=base + "/alpaca")
    request = StockBarsRequest(symbol_or_symbols=symbols.split(","), timeframe=TimeFrame.Minute,
                               start=start, end=end)
    whole = lambda: sum(len(v) for v in client.get_stock_bars(request).data.values())

    timings = {"v1 pages": [], "alpaca pages": [], "alpaca-py get_stock_bars": []}
    counts = {}
    for _ in range(runs):
        for name, run in (("v1 pages", v1), ("alpaca pages", dialect),
                          ("alpaca-py get_stock_bars", whole)):
            started = time.perf_counter()
            counts[name] = run()
            timings[name].append(time.perf_counter() - started)
    base_median = statistics.median(timings["v1 pages"])
    for name, values in timings.items():
        median = statistics.median(values)
        print(f"{name:26} bars={counts[name]:7} median={median * 1000:8.1f} ms "
              f"ratio to /v1 pages={median / base_median:5.2f}")


if __name__ == "__main__":
    base, symbols, start, end, runs = sys.argv[1:]
    main(base, symbols, start, end, int(runs))
