//! Known bars, stored straight into the table, and what the API should answer for them.

use chrono::{DateTime, Duration, Utc};
use serde_json::Value;

use super::{TestApp, TestDb};

/// One stored bar, as the tests build and expect them.
#[derive(Debug, Clone, PartialEq)]
pub struct Row {
    pub symbol: String,
    pub time: DateTime<Utc>,
    pub open: f64,
    pub high: f64,
    pub low: f64,
    pub close: f64,
    pub volume: i64,
    pub trade_count: i64,
    pub vwap: f64,
}

pub fn utc(s: &str) -> DateTime<Utc> {
    s.parse().expect("RFC 3339 time")
}

/// `count` bars of `symbol`, `step` apart from `first`, with varied but known values.
pub fn series(symbol: &str, first: DateTime<Utc>, step: Duration, count: i64) -> Vec<Row> {
    let seed = symbol.bytes().map(i64::from).sum::<i64>();
    (0..count)
        .map(|i| {
            let k = (i * 37 + seed * 11) % 101;
            let open = 100.0 + k as f64 / 4.0;
            let close = open + ((i * 13 + seed) % 9 - 4) as f64 / 2.0;
            let volume = (i * 7919 + seed) % 1000 + 1;
            Row {
                symbol: symbol.to_owned(),
                time: first + step * i as i32,
                open,
                high: open.max(close) + (i % 5) as f64,
                low: open.min(close) - (i % 3) as f64,
                close,
                volume,
                trade_count: volume / 8 + i % 3,
                // Quarters: exact in binary, so sums in any order agree.
                vwap: (open + close) / 2.0 + (i % 4) as f64 / 4.0,
            }
        })
        .collect()
}

/// Stores `rows` with one statement, then brings the symbol catalogue up to date.
pub async fn store(db: &TestDb, rows: &[Row]) {
    store_with(&db.client().await, rows).await;
    db.refresh_catalog().await;
}

/// Stores `rows` over `client`.
pub async fn store_with(client: &tokio_postgres::Client, rows: &[Row]) {
    let col = |f: fn(&Row) -> f64| rows.iter().map(f).collect::<Vec<f64>>();
    let symbols: Vec<&str> = rows.iter().map(|r| r.symbol.as_str()).collect();
    let times: Vec<DateTime<Utc>> = rows.iter().map(|r| r.time).collect();
    let volumes: Vec<i64> = rows.iter().map(|r| r.volume).collect();
    let trade_counts: Vec<i64> = rows.iter().map(|r| r.trade_count).collect();
    client
        .execute(
            "INSERT INTO stocks_intraday (time, symbol, price_open, price_high, price_low, \
               price_close, trading_volume, trade_count, vwap) \
             SELECT * FROM unnest($1::timestamptz[], $2::text[], $3::float8[], $4::float8[], \
                                  $5::float8[], $6::float8[], $7::int8[], $8::int8[], $9::float8[])",
            &[
                &times,
                &symbols,
                &col(|r| r.open),
                &col(|r| r.high),
                &col(|r| r.low),
                &col(|r| r.close),
                &volumes,
                &trade_counts,
                &col(|r| r.vwap),
            ],
        )
        .await
        .expect("store bars");
}

/// A stored bar as `/v1/bars` returns it.
pub fn bar_json(row: &Row) -> Value {
    serde_json::json!({
        "time": row.time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "symbol": row.symbol, "price_open": row.open, "price_high": row.high,
        "price_low": row.low, "price_close": row.close, "trading_volume": row.volume,
        "trade_count": row.trade_count, "vwap": row.vwap,
    })
}

/// The vwap of `rows` as the API computes it: Σ(vwap × volume) / Σ volume.
pub fn vwap_of(rows: &[&Row]) -> f64 {
    let notional: f64 = rows.iter().map(|r| r.vwap * r.volume as f64).sum();
    notional / rows.iter().map(|r| r.volume).sum::<i64>() as f64
}

/// The aggregate of `rows` (ordered by time) as `/v1/bars?interval=` returns it.
pub fn aggregate_json(bucket: DateTime<Utc>, rows: &[&Row]) -> Value {
    serde_json::json!({
        "time": bucket.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true),
        "symbol": rows[0].symbol,
        "price_open": rows[0].open,
        "price_high": rows.iter().map(|r| r.high).fold(f64::MIN, f64::max),
        "price_low": rows.iter().map(|r| r.low).fold(f64::MAX, f64::min),
        "price_close": rows[rows.len() - 1].close,
        "trading_volume": rows.iter().map(|r| r.volume).sum::<i64>(),
        "trade_count": rows.iter().map(|r| r.trade_count).sum::<i64>(),
        "vwap": vwap_of(rows),
        "count": rows.len(),
    })
}

/// Groups `rows` by symbol and `bucket(time)`, in symbol then bucket order, as aggregates.
pub fn expected_aggregates(
    rows: &[Row],
    bucket: impl Fn(DateTime<Utc>) -> DateTime<Utc>,
) -> Vec<Value> {
    let mut sorted: Vec<&Row> = rows.iter().collect();
    sorted.sort_by(|a, b| (&a.symbol, a.time).cmp(&(&b.symbol, b.time)));
    let mut groups: Vec<(String, DateTime<Utc>, Vec<&Row>)> = vec![];
    for row in sorted {
        let start = bucket(row.time);
        match groups.last_mut() {
            Some((s, b, members)) if *s == row.symbol && *b == start => members.push(row),
            _ => groups.push((row.symbol.clone(), start, vec![row])),
        }
    }
    groups
        .iter()
        .map(|(_, start, members)| aggregate_json(*start, members))
        .collect()
}

/// Stores several [`series`] one after another (see [`store`]), each
/// `(symbol, first time, step, count)`, and returns their rows.
pub async fn store_series_of(db: &TestDb, specs: &[(&str, &str, Duration, i64)]) -> Vec<Row> {
    let rows: Vec<Row> = specs
        .iter()
        .flat_map(|&(symbol, first, step, count)| series(symbol, utc(first), step, count))
        .collect();
    store(db, &rows).await;
    rows
}

/// Stores one [`series`] (see [`store`]) and returns its rows.
pub async fn store_series(
    db: &TestDb,
    symbol: &str,
    first: &str,
    step: Duration,
    count: i64,
) -> Vec<Row> {
    store_series_of(db, &[(symbol, first, step, count)]).await
}

impl TestApp {
    /// A server whose table holds `count` minute bars of `symbol` from `first`.
    pub async fn with_minute_bars(symbol: &str, first: &str, count: i64) -> Self {
        let app = Self::spawn().await;
        store_series(&app.db, symbol, first, Duration::minutes(1), count).await;
        app
    }
}
