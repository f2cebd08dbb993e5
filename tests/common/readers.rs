//! Columnar answers read back by the readers people use (pyarrow, polars, DuckDB, pinned in
//! tests/py/requirements.txt), and the JSON answers they must equal, value for value.

use std::process::Command;

use serde_json::Value;

use super::process::run_ok;

/// One row as every reader and the JSON answer can say it exactly: time in microseconds
/// since 1970, symbol, four prices, volume, trade count, vwap, count (aggregates only).
pub type Cells = (
    i64,
    String,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<f64>,
    Option<i64>,
    Option<i64>,
    Option<f64>,
    Option<i64>,
);

/// The venv's python, prepared by scripts/py-clients.sh.
pub fn python() -> String {
    let out = run_ok(&mut Command::new("scripts/py-clients.sh"));
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

/// What tests/py/columnar.py saw in `body` (`kind`: `arrow` or `parquet`).
pub fn read(kind: &str, body: &[u8]) -> Value {
    in_a_file(kind, body, |path| read_file(kind, path))
}

/// Each reader's error on `body`, or null where it read `body` as a whole answer.
pub fn failures(kind: &str, body: &[u8]) -> Value {
    in_a_file(kind, body, |path| run_reader(kind, path, &["failures"]))
}

/// `body` written to a file of its own while `f` reads it.
fn in_a_file(kind: &str, body: &[u8], f: impl FnOnce(&std::path::Path) -> Value) -> Value {
    let dir = std::env::temp_dir().join(format!("tsapi-columnar-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let path = dir.join(format!("answer.{kind}"));
    std::fs::write(&path, body).unwrap();
    let report = f(&path);
    let _ = std::fs::remove_dir_all(&dir);
    report
}

/// What tests/py/columnar.py saw in the file at `path`.
pub fn read_file(kind: &str, path: &std::path::Path) -> Value {
    run_reader(kind, path, &[])
}

fn run_reader(kind: &str, path: &std::path::Path, mode: &[&str]) -> Value {
    let out = run_ok(
        Command::new(python())
            .arg("tests/py/columnar.py")
            .arg(kind)
            .arg(path)
            .args(mode),
    );
    serde_json::from_slice(&out.stdout).expect("one JSON document")
}

pub const READERS: [&str; 3] = ["pyarrow", "polars", "duckdb"];

/// The column types each reader must see: `(column, pyarrow, polars, duckdb)`.
pub fn expected_types(aggregated: bool) -> Vec<(&'static str, [&'static str; 3])> {
    let float = ["double", "Float64", "DOUBLE"];
    let int = ["int64", "Int64", "BIGINT"];
    let mut columns = vec![
        (
            "time",
            [
                "timestamp[us, tz=UTC]",
                "Datetime(time_unit='us', time_zone='UTC')",
                "TIMESTAMP WITH TIME ZONE",
            ],
        ),
        (
            "symbol",
            [
                "dictionary<values=string, indices=int32, ordered=0>",
                "Categorical",
                "VARCHAR",
            ],
        ),
        ("price_open", float),
        ("price_high", float),
        ("price_low", float),
        ("price_close", float),
        ("trading_volume", int),
        ("trade_count", int),
        ("vwap", float),
    ];
    if aggregated {
        columns.push(("count", int));
    }
    columns
}

/// Checks every reader's types and returns the rows each read, in reader order.
pub fn rows_by_reader(report: &Value, aggregated: bool) -> Vec<(&'static str, Vec<Cells>)> {
    let expected = expected_types(aggregated);
    READERS
        .iter()
        .enumerate()
        .map(|(i, reader)| {
            let seen = &report[reader];
            let types: Vec<(String, String)> = seen["types"]
                .as_array()
                .unwrap_or_else(|| panic!("{reader}: no types in {report}"))
                .iter()
                .map(|pair| {
                    let text = |i: usize| pair[i].as_str().unwrap().to_owned();
                    (text(0), text(1))
                })
                .collect();
            let want: Vec<(String, String)> = expected
                .iter()
                .map(|(name, by_reader)| (name.to_string(), by_reader[i].to_string()))
                .collect();
            assert_eq!(types, want, "{reader} column types");
            let rows = seen["rows"]
                .as_array()
                .unwrap()
                .iter()
                .map(|row| cells(row.as_array().unwrap(), aggregated))
                .collect();
            (*reader, rows)
        })
        .collect()
}

fn cells(row: &[Value], aggregated: bool) -> Cells {
    let float = |v: &Value| v.as_f64();
    let int = |v: &Value| {
        assert!(v.is_null() || v.is_i64(), "{v} is not an integer");
        v.as_i64()
    };
    (
        row[0].as_i64().expect("time in microseconds"),
        row[1].as_str().expect("symbol").to_owned(),
        float(&row[2]),
        float(&row[3]),
        float(&row[4]),
        float(&row[5]),
        int(&row[6]),
        int(&row[7]),
        float(&row[8]),
        if aggregated { int(&row[9]) } else { None },
    )
}

/// A bar of a JSON answer (`/v1/bars`, latest, daily bars) as [`Cells`].
pub fn json_cells(bar: &Value) -> Cells {
    let time: chrono::DateTime<chrono::Utc> = bar["time"]
        .as_str()
        .expect("time")
        .parse()
        .expect("RFC 3339 time");
    let float = |k: &str| bar[k].as_f64();
    let int = |k: &str| bar[k].as_i64();
    (
        time.timestamp_micros(),
        bar["symbol"].as_str().expect("symbol").to_owned(),
        float("price_open"),
        float("price_high"),
        float("price_low"),
        float("price_close"),
        int("trading_volume"),
        int("trade_count"),
        float("vwap"),
        int("count"),
    )
}
