"""Reads one columnar answer with the readers DataFrame users use, and prints what each saw.

    python columnar.py arrow|parquet FILE [failures]

Prints one JSON document: for each reader (pyarrow, polars, duckdb), the column types as
that reader names them (in column order) and every row, with times as integer microseconds
since 1970 (exact for any year) and nulls as null; for pyarrow also the columns its schema
says are never null; for Parquet also the footer's key-value metadata. The Rust tests
compare this with the JSON answer of the same request. With `failures`, prints for each
reader the error it raised reading FILE, or null when it read the file.
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
    not_null = [field.name for field in table.schema if not field.nullable]
    return {"types": types, "rows": rows_of(columns), "not_null": not_null}


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


READERS = {"pyarrow": with_pyarrow, "polars": with_polars, "duckdb": with_duckdb}


def failures(kind, path):
    report = {}
    for name, reader in READERS.items():
        try:
            reader(kind, path)
            report[name] = None
        except Exception as e:  # any reader's own error type
            report[name] = f"{type(e).__name__}: {e}"
    return report


def main():
    kind, path = sys.argv[1], sys.argv[2]
    if sys.argv[3:] == ["failures"]:
        json.dump(failures(kind, path), sys.stdout)
        return
    report = {name: reader(kind, path) for name, reader in READERS.items()}
    if kind == "parquet":
        metadata = pq.read_metadata(path).metadata or {}
        report["metadata"] = {
            k.decode(): v.decode() for k, v in metadata.items() if not k.startswith(b"ARROW:")
        }
    json.dump(report, sys.stdout)


if __name__ == "__main__":
    main()
