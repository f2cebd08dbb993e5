"""Turns the raw figures of bench/run.sh into its section of bench/RESULTS.md.

Usage: report.py RESULTS.tsv ROWS RUNS SECONDS MACHINE VERSIONS RESULTS.md
Only the text between the ingest markers is replaced; other sections are kept.
"""

import statistics
import sys
from collections import defaultdict
from pathlib import Path

START = "<!-- ingest-bench:start -->"
END = "<!-- ingest-bench:end -->"


def main() -> None:
    raw, rows, runs, seconds, machine, versions, target = sys.argv[1:8]
    figures = defaultdict(list)
    for line in Path(raw).read_text().splitlines():
        name, value = line.split("\t")
        figures[name].append(float(value))
    median = {name: statistics.median(values) for name, values in figures.items()}

    def runs_of(name: str) -> str:
        return ", ".join(f"{v:,.0f}" for v in figures[name])

    copy = median["psql_copy"]
    ingest = [
        ("`psql \\copy` (text COPY, 1 session): the limit", "psql_copy", None),
        ("`tsapi load` (CSV file, binary COPY over 2 connections, 50,000-row commits)", "tsapi_load", 1.0),
        ("`POST /insert` JSON, 5,000-row requests, 1 client", "insert_c1", 0.8),
        ("`POST /insert` JSON, 5,000-row requests, 4 clients", "insert_c4", 0.8),
        ("`POST /v1/bars` NDJSON, 5,000-row requests, 1 client", "bars_c1", 0.8),
        ("`POST /v1/bars` NDJSON, 5,000-row requests, 4 clients", "bars_c4", 0.8),
    ]
    out = [
        START,
        "## Ingest and latest bar (`bench/run.sh`)",
        "",
        f"Machine: {machine}; {versions}. Other work shared the machine, so absolute",
        "figures are noise; the ratios, measured in the same run, are what count.",
        "",
        f"Data: {int(rows):,} one-minute bars from `tsapi demo-data --output` (the same rows as",
        "CSV for `psql \\copy` and `tsapi load`, as NDJSON for the HTTP clients). Each",
        "measurement starts from an empty table (`TRUNCATE`) with the unique (symbol, time)",
        f"index in place; {runs} alternating runs of every method; medians.",
        "",
        "| method | rows/s (median) | runs | × `psql \\copy` | goal |",
        "|---|---:|---|---:|---|",
    ]
    for label, name, goal in ingest:
        ratio = median[name] / copy
        verdict = "" if goal is None else f"≥ {goal}× {'met' if ratio >= goal else 'NOT met'}"
        out.append(
            f"| {label} | {median[name]:,.0f} | {runs_of(name)} | {ratio:.2f} | {verdict} |"
        )
    tps, rps = median["pgbench_tps"], median["ticker_rps"]
    p99_pg, p99_api = median["pgbench_p99_ms"], median["ticker_p99_ms"]
    rps1, p99_1 = median["ticker_one_worker_rps"], median["ticker_one_worker_p99_ms"]
    out += [
        "",
        f"Latest bar: `GET /ticker?symbol=S001` with `wrk -t2 -c16 -d{seconds}s --latency`",
        "against `pgbench -n -M prepared -c 16 -j 2 -T "
        f"{seconds} -f ticker.sql` running the statement",
        "tsapi runs (the symbol's newest bar above the start of the two newest chunks). tsapi",
        "pipelines these lookups over one shared connection (`TSAPI_PIPELINE_READS`):",
        "",
        "| | requests/s (median) | runs | p99 ms (median) | ratio | goal |",
        "|---|---:|---|---:|---:|---|",
        f"| pgbench (the limit) | {tps:,.0f} | {runs_of('pgbench_tps')} | {p99_pg:.2f} | | |",
        f"| tsapi `GET /ticker` | {rps:,.0f} | {runs_of('ticker_rps')} | {p99_api:.2f} "
        f"| {rps / tps:.2f}× TPS, {p99_api / p99_pg:.2f}× p99 "
        f"| ≥ 0.6× TPS {'met' if rps / tps >= 0.6 else 'NOT met'}, "
        f"p99 ≤ 2× {'met' if p99_api <= 2 * p99_pg else 'NOT met'} |",
        f"| the same, `TOKIO_WORKER_THREADS=1` | {rps1:,.0f} | {runs_of('ticker_one_worker_rps')} "
        f"| {p99_1:.2f} | {rps1 / tps:.2f}× TPS, {p99_1 / p99_pg:.2f}× p99 | |",
        "",
        f"Memory: one `POST /v1/bars` of {median['rss_rows']:,.0f} NDJSON rows "
        f"({median['rss_rows_per_s']:,.0f} rows/s): server peak RSS (VmHWM) "
        f"{median['rss_peak_kb'] / 1024:.1f} MB, {median['rss_before_kb'] / 1024:.1f} MB "
        f"before the request; goal < 100 MB "
        f"{'met' if median['rss_peak_kb'] < 100 * 1024 else 'NOT met'}.",
        END,
    ]
    section = "\n".join(out)
    path = Path(target)
    text = path.read_text() if path.exists() else "# Benchmark results\n"
    if START in text and END in text:
        before, rest = text.split(START, 1)
        _, after = rest.split(END, 1)
        text = before + section + after
    else:
        text = text.rstrip("\n") + "\n\n" + section + "\n"
    path.write_text(text)


if __name__ == "__main__":
    main()
