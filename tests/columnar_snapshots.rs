//! `/v1/snapshots` as Arrow and Parquet, read back with pyarrow, polars and DuckDB and
//! compared value for value with the JSON answer: one flat row per symbol, the columns of
//! the CSV answer, nulls where a symbol has no bar today or no day before.

mod common;

use chrono::{DateTime, Utc};
use common::TestApp;
use common::readers::{READERS, read};
use serde_json::{Value, json};

const ARROW: &str = "application/vnd.apache.arrow.stream";
const PARQUET: &str = "application/vnd.apache.parquet";

/// AAPL: two old days (no bar today). LIVE: an old day and today. NEW: today only (no
/// previous day). HOLE: today, with null prices and volume.
async fn setup() -> TestApp {
    let app = TestApp::spawn().await;
    app.db
        .client()
        .await
        .batch_execute(
            "INSERT INTO stocks_intraday (time, symbol, price_open, price_high, price_low,
               price_close, trading_volume, trade_count, vwap) VALUES
               ('2021-11-01T15:00:00Z', 'AAPL', 148.5, 149.25, 148.0, 149.0, 1200, 40, 148.75),
               ('2021-11-03T15:00:00.000001Z', 'AAPL', 150.0, 151.5, 149.5, 151.0, 900, 30, 150.5),
               ('2021-11-03T16:00:00Z', 'LIVE', 10.0, 10.5, 9.5, 10.25, 5, 2, 10.125),
               (date_trunc('second', now()) - interval '2 seconds', 'LIVE', 11.0, 11.5, 10.5, 11.25, 7, 3, 11.25),
               (date_trunc('second', now()) - interval '1 second', 'LIVE', 11.25, 12.0, 11.0, 11.75, 3, 1, 11.5),
               (date_trunc('second', now()) - interval '1 second', 'NEW', 1.5, 2.0, 1.0, 1.75, 100, NULL, NULL),
               (date_trunc('second', now()) - interval '1 second', 'HOLE', NULL, NULL, NULL, NULL, NULL, NULL, NULL)",
        )
        .await
        .unwrap();
    app.db.refresh_catalog().await;
    app
}

/// The columns of the CSV answer, in order.
fn columns() -> Vec<String> {
    let header = "symbol,time,price_open,price_high,price_low,price_close,trading_volume,\
        trade_count,vwap,day_time,day_open,day_high,day_low,day_close,day_volume,\
        day_trade_count,day_vwap,day_count,prev_time,prev_open,prev_high,prev_low,prev_close,\
        prev_volume,prev_trade_count,prev_vwap,prev_count";
    header.split(',').map(str::to_owned).collect()
}

/// The type of `column` as reader `i` of [`READERS`] names it.
fn type_of(column: &str, i: usize) -> &'static str {
    let types = if column == "symbol" {
        ["string", "String", "VARCHAR"]
    } else if column.ends_with("time") {
        [
            "timestamp[us, tz=UTC]",
            "Datetime(time_unit='us', time_zone='UTC')",
            "TIMESTAMP WITH TIME ZONE",
        ]
    } else if column.ends_with("volume") || column.ends_with("count") {
        ["int64", "Int64", "BIGINT"]
    } else {
        ["double", "Float64", "DOUBLE"]
    };
    types[i]
}

fn micros(time: &Value) -> Value {
    match time.as_str() {
        Some(text) => json!(text.parse::<DateTime<Utc>>().unwrap().timestamp_micros()),
        None => Value::Null,
    }
}

/// The fields of a bar in the order of the CSV columns, after its time.
const BAR_FIELDS: [&str; 7] = [
    "price_open",
    "price_high",
    "price_low",
    "price_close",
    "trading_volume",
    "trade_count",
    "vwap",
];

/// A snapshot of the JSON answer as a flat row of [`columns`], times in microseconds.
fn flat(snapshot: &Value) -> Vec<Value> {
    let latest = &snapshot["latest_bar"];
    let mut row = vec![snapshot["symbol"].clone(), micros(&latest["time"])];
    row.extend(BAR_FIELDS.map(|field| latest[field].clone()));
    for day in ["day", "prev_day"] {
        let bar = &snapshot[day];
        row.push(micros(&bar["time"]));
        row.extend(BAR_FIELDS.iter().chain(&["count"]).map(|f| bar[*f].clone()));
    }
    row
}

/// Reads `/v1/snapshots?{query}` as Arrow and Parquet with every reader, checks the types
/// and the never-null columns, and compares every row with the JSON answer's.
async fn assert_columnar_equals_json(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, json) = app.get_json(&format!("/v1/snapshots?{query}")).await;
    assert_eq!(status, 200, "{json}");
    let snapshots = json["snapshots"].as_array().unwrap().clone();
    let expected: Vec<Vec<Value>> = snapshots.iter().map(flat).collect();
    for (kind, media_type) in [("arrow", ARROW), ("parquet", PARQUET)] {
        let response = app
            .get(&format!("/v1/snapshots?{query}&format={kind}"))
            .await;
        assert_eq!(response.status(), 200, "{kind} {query}");
        assert_eq!(response.headers()["content-type"], media_type);
        let report = read(kind, &response.bytes().await.unwrap());
        assert_eq!(report["pyarrow"]["not_null"], json!(["symbol", "time"]));
        for (i, reader) in READERS.iter().enumerate() {
            let seen = &report[reader];
            let want: Vec<Value> = columns()
                .iter()
                .map(|c| json!([c, type_of(c, i)]))
                .collect();
            assert_eq!(seen["types"], json!(want), "{reader} {kind} types");
            let rows = seen["rows"].as_array().unwrap();
            assert_eq!(rows.len(), expected.len(), "{reader} {kind} {query}");
            for (got, want) in rows.iter().zip(&expected) {
                assert_eq!(got, &json!(want), "{reader} {kind} {query}");
            }
        }
    }
    snapshots
}

#[tokio::test]
async fn snapshots_read_by_pyarrow_polars_and_duckdb_equal_the_json_answer() {
    let app = setup().await;
    let snapshots = assert_columnar_equals_json(&app, "symbols=NEW,AAPL,LIVE,HOLE").await;
    let by_symbol = |s: &str| {
        snapshots
            .iter()
            .find(|x| x["symbol"] == s)
            .unwrap_or_else(|| panic!("{s} in {snapshots:?}"))
            .clone()
    };
    // The nulls the comparison went through.
    assert!(by_symbol("AAPL")["day"].is_null());
    assert!(by_symbol("AAPL")["prev_day"].is_object());
    assert!(by_symbol("NEW")["prev_day"].is_null());
    assert!(by_symbol("NEW")["day"].is_object());
    assert_eq!(by_symbol("LIVE")["day"]["count"], 2);
    assert!(by_symbol("HOLE")["day"]["price_open"].is_null());
    // Every symbol, in another zone's days.
    let all = assert_columnar_equals_json(&app, "tz=Asia/Tokyo").await;
    assert_eq!(all.len(), 4);
}

#[tokio::test]
async fn no_snapshot_is_a_valid_file_with_the_columns_and_accept_chooses_the_format() {
    let app = setup().await;
    assert!(
        assert_columnar_equals_json(&app, "symbols=NOPE")
            .await
            .is_empty()
    );
    let response = app
        .http
        .get(app.url("/v1/snapshots?symbols=NEW"))
        .header("accept", PARQUET)
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["content-type"], PARQUET);
    let report = read("parquet", &response.bytes().await.unwrap());
    assert_eq!(report["duckdb"]["rows"][0][0], "NEW");
}
