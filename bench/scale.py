"""Helper of bench/scale.sh.

    scale.py reads API DB_URL RUNS WORKDIR   times each whole-market read over HTTP and its
                                             hand-written SQL (pgbench), alternating; prints
                                             "name<TAB>value" lines
    scale.py report RESULTS.tsv MACHINE VERSIONS SYMBOLS DELISTED RUNS INGEST_RUNS RESULTS.md
"""

import http.client
import os
import statistics
import subprocess
import sys
import time
import urllib.parse

ZONE = "America/New_York"


def psql(url, sql):
    return subprocess.run(["psql", url, "-Atc", sql], check=True, capture_output=True,
                          text=True).stdout.strip()


def hand_sql(today_start, day_start, day_end):
    """What a user would write for each read; literal bounds where a user knows them."""
    day = (f"first(price_open, time) AS o, max(price_high) AS h, min(price_low) AS l, "
           f"last(price_close, time) AS c, sum(trading_volume) AS v, count(*) AS n")
    prev = (f"SELECT DISTINCT ON (symbol) * FROM ("
            f"SELECT symbol, time_bucket('1 day', time, '{ZONE}') AS day, {day} "
            f"FROM stocks_intraday WHERE time < '{today_start}' GROUP BY 1, 2) d "
            f"ORDER BY symbol, day DESC")
    latest = "SELECT DISTINCT ON (symbol) * FROM stocks_intraday ORDER BY symbol, time DESC"
    return {
        "symbols": "SELECT symbol, min(time), max(time) FROM stocks_intraday GROUP BY symbol "
                   "ORDER BY symbol",
        "latest": latest,
        "snapshots": f"WITH latest AS ({latest}), "
                     f"today AS (SELECT symbol, {day} FROM stocks_intraday "
                     f"WHERE time >= '{today_start}' GROUP BY symbol), prev AS ({prev}) "
                     f"SELECT * FROM latest LEFT JOIN today USING (symbol) "
                     f"LEFT JOIN prev USING (symbol)",
        "previous": prev,
        "grouped": f"SELECT symbol, {day} FROM stocks_intraday WHERE time >= '{day_start}' "
                   f"AND time < '{day_end}' GROUP BY symbol ORDER BY symbol",
    }


def reads(api, url, runs, work):
    today_start = psql(url, f"SELECT ((now() AT TIME ZONE '{ZONE}')::date::timestamp "
                            f"AT TIME ZONE '{ZONE}')")
    day = psql(url, f"SELECT max(day) FROM tsapi_daily "
                    f"WHERE day < (now() AT TIME ZONE '{ZONE}')::date")
    day_start, day_end = psql(url, f"SELECT '{day}'::date::timestamp AT TIME ZONE '{ZONE}', "
                                   f"('{day}'::date + 1)::timestamp AT TIME ZONE '{ZONE}'"
                              ).split("|")
    sql = hand_sql(today_start, day_start, day_end)
    # Whole-market answers are kept while the catalogue is unchanged: each is read right
    # after a change (`_changed`: the counter raised by hand, as any write raises it) and
    # again while nothing changed.
    paths = {
        "symbols": "/v1/symbols",
        "latest": "/v1/bars/latest",
        "ticker": "/ticker",
        "snapshots_changed": "/v1/snapshots",
        "snapshots": "/v1/snapshots",
        "snapshots_1000": None,
        "previous_changed": "/v1/bars/previous",
        "previous": "/v1/bars/previous",
        "grouped_changed": f"/v1/bars/grouped?date={day}",
        "grouped": f"/v1/bars/grouped?date={day}",
    }
    symbols = psql(url, "SELECT string_agg(symbol, ',') FROM (SELECT symbol FROM tsapi_catalog "
                        "ORDER BY symbol LIMIT 1000) s")
    paths["snapshots_1000"] = "/v1/snapshots?symbols=" + symbols
    sql_of = {"ticker": "latest", "snapshots_1000": None, "snapshots_changed": "snapshots",
              "previous_changed": "previous", "grouped_changed": "grouped"}
    target = urllib.parse.urlparse(api)
    conn = http.client.HTTPConnection(target.hostname, target.port, timeout=300)
    http_ms = {name: [] for name in paths}
    sql_ms = {name: [] for name in sql}
    sizes, counts = {}, {}
    for name, path in paths.items():  # warm up: connections, statements, caches
        get(conn, path)
    for _ in range(runs):
        for name, path in paths.items():
            if name.endswith("_changed"):
                psql(url, "UPDATE tsapi_catalog_version SET version = version + 1 "
                          "WHERE shard = 0 RETURNING version")
            t0 = time.perf_counter()
            body = get(conn, path)
            http_ms[name].append((time.perf_counter() - t0) * 1000)
            sizes[name] = len(body)
            counts[name] = body.count(b'"latest_bar"' if "snapshots" in name else b'"symbol"')
        for name, text in sql.items():
            sql_ms[name].append(pgbench(url, text, work))
    print(f"grouped_day\t{day}")
    for name in paths:
        print(f"http_{name}_ms\t{statistics.median(http_ms[name]):.1f}")
        print(f"http_{name}_bytes\t{sizes[name]}")
        print(f"http_{name}_symbols\t{counts[name]}")
        base = sql_of.get(name, name)
        if base:
            print(f"sql_{name}_ms\t{statistics.median(sql_ms[base]):.1f}")


def get(conn, path):
    conn.request("GET", path)
    response = conn.getresponse()
    body = response.read()
    if response.status != 200:
        raise SystemExit(f"{path}: {response.status} {body[:300]!r}")
    return body


def pgbench(url, text, work):
    """One execution of `text`; its latency from pgbench's per-transaction log (ms)."""
    script = os.path.join(work, "q.sql")
    with open(script, "w") as f:
        f.write(text + ";\n")
    for old in os.listdir(work):
        if old.startswith("pgb"):
            os.remove(os.path.join(work, old))
    subprocess.run(["pgbench", "-n", "-t", "1", "-f", script, "-l", "--log-prefix=pgb", url],
                   cwd=work, check=True, capture_output=True)
    log = [f for f in os.listdir(work) if f.startswith("pgb")][0]
    with open(os.path.join(work, log)) as f:
        return int(f.read().split()[2]) / 1000


def report(tsv, machine, versions, symbols, delisted, runs, ingest_runs, results_md):
    values = {}
    for line in open(tsv):
        key, value = line.rstrip("\n").split("\t")
        values.setdefault(key, []).append(value)
    one = lambda k: values[k][-1]
    med = lambda k: statistics.median(float(v) for v in values[k])
    reads = [
        ("symbols", "`GET /v1/symbols`", "`SELECT symbol, min(time), max(time) … GROUP BY symbol`"),
        ("latest", "`GET /v1/bars/latest` (every symbol)",
         "`SELECT DISTINCT ON (symbol) * … ORDER BY symbol, time DESC`"),
        ("ticker", "`GET /ticker` (every symbol)", "the same `DISTINCT ON`"),
        ("snapshots_changed", "`GET /v1/snapshots` (every symbol), first after a change",
         "`DISTINCT ON` latest + today's `GROUP BY symbol` above a literal bound + "
         "previous day: `DISTINCT ON` over daily `time_bucket` groups"),
        ("snapshots", "`GET /v1/snapshots` (every symbol), unchanged since", "the same"),
        ("previous_changed", "`GET /v1/bars/previous` (every symbol), first after a change",
         "the previous-day part of the snapshot SQL"),
        ("previous", "`GET /v1/bars/previous` (every symbol), unchanged since", "the same"),
        ("grouped_changed", f"`GET /v1/bars/grouped?date={one('grouped_day')}`, first after a change",
         "`GROUP BY symbol` over that day, literal bounds"),
        ("grouped", f"`GET /v1/bars/grouped?date={one('grouped_day')}`, unchanged since",
         "the same"),
        ("snapshots_1000", "`GET /v1/snapshots?symbols=<1,000 names>`", ""),
    ]
    lines = [
        "<!-- scale-bench:start -->",
        "## Whole market at once (`bench/scale.sh`)",
        "",
        f"Machine: {machine}; {versions}. The machine was shared with other builds and",
        "benchmarks while this ran: absolute times are noise, the ratios (same run, alternating)",
        "are what count.",
        "",
        f"Data: {int(symbols):,} symbols ({int(delisted):,} delisted three weeks before the "
        f"newest day), 7 hourly bars per weekday up to today: {int(one('rows')):,} rows in "
        f"{one('chunks')} chunks, generated by `generate_series` in {float(one('generate_s')):.0f} s; "
        f"`tsapi catalog refresh` (the exact rebuild of the catalogue) took "
        f"{float(one('rebuild_s')):.1f} s. Each read: {runs} alternating runs, HTTP over one "
        "keep-alive connection with the whole body read, the SQL through `pgbench -t 1` "
        "(per-transaction latency log); medians.",
        "",
        "| read | tsapi median ms | symbols | body bytes | hand-written SQL | SQL median ms | ratio | goal |",
        "|---|---:|---:|---:|---|---:|---:|---|",
    ]
    for key, what, sql in reads:
        http_ms = med(f"http_{key}_ms")
        row = f"| {what} | {http_ms:.1f} | {int(one(f'http_{key}_symbols')):,} | " \
              f"{int(one(f'http_{key}_bytes')):,} | "
        if f"sql_{key}_ms" in values:
            sql_ms = med(f"sql_{key}_ms")
            ratio = http_ms / sql_ms
            goal = "≤ 0.1 " + ("met" if ratio <= 0.1 else "**missed**")
            if key.startswith("snapshots"):
                goal += f"; ≤ 50 ms {'met' if http_ms <= 50 else '**missed**'}"
            row += f"{sql} | {sql_ms:.1f} | {ratio:.3f} | {goal} |"
        else:
            row += "| | | |"
        lines.append(row)
    lines += [
        "",
        "Whole-market answers (every symbol, raw prices, the catalogue's zone) are kept in "
        "memory while the catalogue is unchanged: \"first after a change\" is the first read "
        "after the catalogue's change counter rose (raised by hand here, as every write raises "
        "it), built from the catalogue; \"unchanged since\" is the same request again, served "
        "from memory after one read of the counter.",
        "",
        f"A write around tsapi (100 new symbols by `psql`) was listed by `/v1/symbols` after "
        f"{float(one('psql_visible_s')):.1f} s (`TSAPI_CATALOG_REFRESH=5s`); the refresh that "
        f"found it recomputed the {one('refresh_days')} days of the changed (newest) chunk in "
        f"{one('refresh_ms')} ms (tsapi writers wait at their catalogue step meanwhile): the "
        f"cost of a refresh each time writes made around tsapi change a chunk; tsapi's own "
        f"writes credit their row counts and cause none.",
        "",
        f"Ingest with and without the catalogue: {int(one('ingest_rows')):,} demo rows "
        f"(1-minute bars), empty table, {ingest_runs} alternating runs, medians (rows/s):",
        "",
        "| method | catalogue kept | no catalogue | × `psql \\copy` (kept / none) |",
        "|---|---:|---:|---:|",
    ]
    copy = med("psql_copy")
    lines.append(f"| `psql \\copy` (the limit) | {copy:,.0f} | | 1.00 |")
    for key, what in [("load", "`tsapi load` (CSV, 2 connections)"),
                      ("load_update", "`tsapi load --on-conflict update`"),
                      ("post", "`POST /v1/bars` NDJSON, 5,000-row requests, 1 client")]:
        on, off = med(f"{key}_on"), med(f"{key}_off")
        lines.append(f"| {what} | {on:,.0f} | {off:,.0f} | {on / copy:.2f} / {off / copy:.2f} |")
    lines.append("<!-- scale-bench:end -->")
    section = "\n".join(lines) + "\n"
    text = open(results_md).read() if os.path.exists(results_md) else "# Benchmark results\n"
    start, end = "<!-- scale-bench:start -->", "<!-- scale-bench:end -->\n"
    if start in text and end in text:
        text = text[:text.index(start)] + section + text[text.index(end) + len(end):]
    else:
        text = text.rstrip("\n") + "\n\n" + section
    open(results_md, "w").write(text)
    print(section)


if __name__ == "__main__":
    if sys.argv[1] == "reads":
        reads(sys.argv[2], sys.argv[3], int(sys.argv[4]), sys.argv[5])
    else:
        report(*sys.argv[2:])
