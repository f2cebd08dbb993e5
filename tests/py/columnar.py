"""Reads one columnar answer with the readers DataFrame users use, and prints what each saw.

    python columnar.py arrow|parquet FILE

Prints one JSON document: for each reader (pyarrow, polars, duckdb), the column types as
that reader names them (in column order) and every row, with times as integer microseconds since 1970 (exact
for any year) and nulls as null; for Parquet also the footer's key-value metadata. The Rust
tests compare this with the JSON answer of the same request.
"""

import json
import sys

import duckdb
import polars as pl
import pyarrow as pa
import pyarrow.parquet as pq


def rows_of(columns):
    return [list(row) for row in zip(*columns)] if columns else []


def with_pyarrow(kind, path):
    if kind == "arrow":
        with pa.OSFile(path, "rb") as f:
            table = pa.ipc.open_stream(f).read_all()
    else:
        table = pq.read_table(path)
    types = [[field.name, str(field.type)] for field in table.schema]
    columns = []
    for field in table.schema:
        column = table.column(field.name)
        if pa.types.is_timestamp(field.type):
            column = column.cast(pa.int64())
        elif pa.types.is_dictionary(field.type):
            column = column.cast(pa.string())
        columns.append(column.to_pylist())
    return {"types": types, "rows": rows_of(columns)}


def with_polars(kind, path):
    frame = pl.read_ipc_stream(path) if kind == "arrow" else pl.read_parquet(path)
    types = [[name, str(dtype)] for name, dtype in frame.schema.items()]
    columns = []
    for name, dtype in frame.schema.items():
        series = frame[name]
        if isinstance(dtype, pl.Datetime):
            series = series.dt.epoch("us")
        elif dtype == pl.Categorical or isinstance(dtype, pl.Enum):
            series = series.cast(pl.String)
        columns.append(series.to_list())
    return {"types": types, "rows": rows_of(columns)}


def with_duckdb(kind, path):
    con = duckdb.connect()
    if kind == "arrow":
        # DuckDB scans an Arrow stream handed over by pyarrow (no extension to download).
        source = pa.ipc.open_stream(pa.OSFile(path, "rb"))
        relation = con.from_arrow(source)
    else:
        relation = con.read_parquet(path)
    names = relation.columns
    types = [[name, str(t)] for name, t in zip(names, relation.types)]
    select = ", ".join(
        f'epoch_us("{n}")' if t.startswith("TIMESTAMP") else f'"{n}"' for n, t in types
    )
    rows = [list(r) for r in relation.query("answer", f"SELECT {select} FROM answer").fetchall()]
    return {"types": types, "rows": rows}


def main():
    kind, path = sys.argv[1], sys.argv[2]
    report = {
        "pyarrow": with_pyarrow(kind, path),
        "polars": with_polars(kind, path),
        "duckdb": with_duckdb(kind, path),
    }
    if kind == "parquet":
        metadata = pq.read_metadata(path).metadata or {}
        report["metadata"] = {
            k.decode(): v.decode() for k, v in metadata.items() if not k.startswith(b"ARROW:")
        }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
