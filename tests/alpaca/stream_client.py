"""Alpaca's own StockDataStream against tsapi: prints READY once subscribed, then one JSON
line per bar it receives (new bars and updated bars), and exits after COUNT of them."""

import json
import logging
import sys
import threading

from alpaca.data.live import StockDataStream

url, key, count = sys.argv[1], sys.argv[2], int(sys.argv[3])
stream = StockDataStream(key, "not-checked", url_override=url)
received = []


class Ready(logging.Handler):
    def emit(self, record):
        if record.getMessage().startswith("subscribed to"):
            print("READY", flush=True)


logging.basicConfig(level=logging.INFO, stream=sys.stderr)
logging.getLogger("alpaca.data.live.websocket").addHandler(Ready())


async def on_bar(bar, kind):
    line = {
        "kind": kind,
        "symbol": bar.symbol,
        "timestamp": bar.timestamp.isoformat(),
        "open": bar.open,
        "high": bar.high,
        "low": bar.low,
        "close": bar.close,
        "volume": bar.volume,
        "trade_count": bar.trade_count,
        "vwap": bar.vwap,
    }
    print(json.dumps(line), flush=True)
    received.append(line)
    if len(received) >= count:
        await stream.stop_ws()


async def on_new(bar):
    await on_bar(bar, "bar")


async def on_updated(bar):
    await on_bar(bar, "updated")


stream.subscribe_bars(on_new, "AAPL", "MSFT")
stream.subscribe_updated_bars(on_updated, "AAPL")
# Give up rather than hang if bars never come.
threading.Timer(60, lambda: (print("TIMEOUT", flush=True), sys.exit(2))).start()
stream.run()
sys.exit(0 if len(received) >= count else 1)
