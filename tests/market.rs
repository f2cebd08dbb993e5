//! The whole market at once, against the SQL a user would write by hand on the same table:
//! `/v1/symbols`, `/ticker`, `/v1/bars/latest`, `/v1/snapshots`, `/v1/bars/grouped` and
//! `/v1/bars/previous`, through writes by tsapi (plain, backfill, upserts) and by psql
//! (inserts, deletes), on a migrated database and on a tutorial table. Trade counts and
//! vwaps are part of every comparison: summed and volume-weighted, with nulls among them.

mod common;

use std::time::{Duration, Instant};

use chrono::{DateTime, NaiveDate, SecondsFormat, TimeZone, Utc};
use chrono_tz::Tz;
use common::answers::ndjson_values;
use common::bodies::ndjson;
use common::{Schema, TestApp, api_defaults};
use serde_json::{Value, json};
use tokio_postgres::Client;

const NY: Tz = chrono_tz::America::New_York;

fn time(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(SecondsFormat::AutoSi, true)
}

/// A bar at `hour`:00 New York time on `day`, with values derived from its position.
fn bar(symbol: &str, day: NaiveDate, hour: u32, k: i64) -> Value {
    let at = NY
        .from_local_datetime(&day.and_hms_opt(hour, 0, 0).unwrap())
        .earliest()
        .unwrap()
        .with_timezone(&Utc);
    let open = 50.0 + (k % 97) as f64 / 4.0;
    let close = open + ((k * 7) % 11 - 5) as f64 / 8.0;
    // Quarters times whole volumes: the vwap's sums are exact in any order. Some bars lack
    // a vwap or a trade count, as bars of real feeds do.
    let vwap = (k % 13 != 4).then(|| (open + close) / 2.0 + (k % 3) as f64 / 4.0);
    let trade_count = (k % 17 != 6).then_some(1 + k % 50);
    json!({"time": time(at), "symbol": symbol, "price_open": open,
           "price_high": open.max(close) + (k % 3) as f64, "price_low": open.min(close) - 0.5,
           "price_close": close, "trading_volume": 100 + k % 1000,
           "trade_count": trade_count, "vwap": vwap})
}

/// `bar` without the fields a tutorial table has no columns for.
fn tutorial_bar(mut bar: Value) -> Value {
    let fields = bar.as_object_mut().unwrap();
    fields.remove("trade_count");
    fields.remove("vwap");
    bar
}

/// 300 symbols over the 12 New York days up to today, three bars a day. Every tenth
/// symbol was delisted 8 days ago; every seventh has not traded today.
fn market(today: NaiveDate) -> Vec<Value> {
    let mut bars = Vec::new();
    for s in 0..300i64 {
        let symbol = format!("S{s:03}");
        for back in 0..12i64 {
            if (s % 10 == 0 && back < 8) || (s % 7 == 0 && back == 0) {
                continue;
            }
            let day = today - chrono::Duration::days(back);
            for (i, hour) in [10, 12, 15].into_iter().enumerate() {
                bars.push(bar(&symbol, day, hour, s * 31 + back * 3 + i as i64));
            }
        }
    }
    bars
}

async fn post(app: &TestApp, bars: &[Value], on_conflict: &str) {
    let path = format!("/v1/bars?on_conflict={on_conflict}");
    let response = app
        .post_as(&path, "application/x-ndjson", ndjson(bars))
        .await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

const BAR: &str = "price_open::float8, price_high::float8, price_low::float8, \
                   price_close::float8, trading_volume::int8";

/// A bar's trade count and vwap, or nulls on a table without them (`stats` false).
fn stats_of(stats: bool) -> &'static str {
    match stats {
        true => "trade_count, vwap",
        false => "NULL::int8, NULL::float8",
    }
}

/// A day's trade count and vwap, by hand: summed counts, Σ(vwap × volume) / Σ volume over
/// the bars with both.
fn day_stats_of(stats: bool) -> &'static str {
    match stats {
        true => {
            "sum(trade_count)::int8, sum(vwap * trading_volume) \
             / (sum(trading_volume) FILTER (WHERE vwap IS NOT NULL AND trading_volume IS NOT NULL \
                AND trading_volume > 0))::float8"
        }
        false => "NULL::int8, NULL::float8",
    }
}

fn bar_json(
    symbol: &str,
    t: DateTime<Utc>,
    v: [Option<f64>; 4],
    volume: Option<i64>,
    (trade_count, vwap): (Option<i64>, Option<f64>),
) -> Value {
    json!({"time": time(t), "symbol": symbol, "price_open": v[0], "price_high": v[1],
           "price_low": v[2], "price_close": v[3], "trading_volume": volume,
           "trade_count": trade_count, "vwap": vwap})
}

/// The latest bar of every symbol: `DISTINCT ON`.
async fn hand_latest(db: &Client, stats: bool) -> Vec<Value> {
    let sql = format!(
        "SELECT DISTINCT ON (symbol) symbol, time, {BAR}, {} FROM stocks_intraday \
         WHERE symbol IS NOT NULL ORDER BY symbol, time DESC",
        stats_of(stats)
    );
    let mut rows: Vec<Value> = db
        .query(&sql, &[])
        .await
        .unwrap()
        .iter()
        .map(|r| {
            bar_json(
                r.get(0),
                r.get(1),
                [r.get(2), r.get(3), r.get(4), r.get(5)],
                r.get(6),
                (r.get(7), r.get(8)),
            )
        })
        .collect();
    rows.sort_by(|a, b| a["symbol"].as_str().cmp(&b["symbol"].as_str()));
    rows
}

/// Every symbol's first and last time: `GROUP BY`.
async fn hand_symbols(db: &Client) -> Value {
    let rows = db
        .query(
            "SELECT symbol, min(time), max(time) FROM stocks_intraday \
             WHERE symbol IS NOT NULL GROUP BY symbol ORDER BY symbol COLLATE \"C\"",
            &[],
        )
        .await
        .unwrap();
    let symbols: Vec<Value> = rows
        .iter()
        .map(|r| {
            json!({"symbol": r.get::<_, String>(0), "first_time": time(r.get(1)),
                   "last_time": time(r.get(2))})
        })
        .collect();
    json!({ "symbols": symbols })
}

/// Every (symbol, day) daily bar in `tz`, as `/v1/bars/grouped` rows, keyed by day.
async fn hand_days(db: &Client, tz: Tz, stats: bool) -> Vec<(NaiveDate, Value)> {
    let sql = format!(
        "SELECT symbol, day, day::timestamp AT TIME ZONE $1, o, h, l, c, v, n, tc, vw FROM ( \
           SELECT symbol, (time AT TIME ZONE $1)::date AS day, \
             first(price_open::float8, time) o, max(price_high)::float8 h, \
             min(price_low)::float8 l, last(price_close::float8, time) c, \
             sum(trading_volume)::int8 v, count(*) n, {} \
           FROM stocks_intraday WHERE symbol IS NOT NULL GROUP BY 1, 2) d(symbol, day, o, h, \
             l, c, v, n, tc, vw) \
         ORDER BY day, symbol COLLATE \"C\"",
        day_stats_of(stats)
    );
    let rows = db.query(&sql, &[&tz.name()]).await.unwrap();
    rows.iter()
        .map(|r| {
            let mut bar = bar_json(
                r.get(0),
                r.get(2),
                [r.get(3), r.get(4), r.get(5), r.get(6)],
                r.get(7),
                (r.get(9), r.get(10)),
            );
            bar["count"] = json!(r.get::<_, i64>(8));
            (r.get(1), bar)
        })
        .collect()
}

/// What `/v1/snapshots` must say, from the hand-written pieces above.
fn hand_snapshots(latest: &[Value], days: &[(NaiveDate, Value)], today: NaiveDate) -> Vec<Value> {
    latest
        .iter()
        .map(|l| {
            let symbol = &l["symbol"];
            let mut mine = days.iter().filter(|(_, b)| &b["symbol"] == symbol);
            let day = mine
                .clone()
                .find(|(d, _)| *d == today)
                .map(|(_, b)| b.clone());
            // Days are in ascending order: the previous day is the last one before today.
            let prev = mine.rfind(|(d, _)| *d < today).map(|(_, b)| b.clone());
            json!({"symbol": symbol, "latest_bar": l, "day": day, "prev_day": prev})
        })
        .collect()
}

/// Every endpoint compared with the hand-written SQL; the differences, by request.
async fn mismatches(app: &TestApp, stats: bool) -> Vec<String> {
    let db = app.db.client().await;
    let mut wrong = Vec::new();
    let mut check = |what: &str, got: &Value, want: &Value| {
        if got != want {
            wrong.push(format!("{what}:\n got  {got}\n want {want}"));
        }
    };
    let latest = hand_latest(&db, stats).await;
    check(
        "/v1/symbols",
        &app.get_json("/v1/symbols").await.1,
        &hand_symbols(&db).await,
    );
    // The tutorial's path keeps the tutorial's seven fields.
    let tutorial: Vec<Value> = latest.iter().cloned().map(tutorial_bar).collect();
    check(
        "/ticker",
        &app.get_json("/ticker").await.1,
        &json!(tutorial),
    );
    check(
        "/v1/bars/latest",
        &app.get_json("/v1/bars/latest").await.1["bars"],
        &json!(latest),
    );
    for tz in [NY, chrono_tz::UTC, chrono_tz::Asia::Tokyo] {
        let days = hand_days(&db, tz, stats).await;
        let (_, snap) = app
            .get_json(&format!("/v1/snapshots?tz={}", tz.name()))
            .await;
        let today: NaiveDate = snap["date"].as_str().unwrap_or("?").parse().unwrap();
        let want = hand_snapshots(&latest, &days, today);
        check(
            &format!("/v1/snapshots tz={tz}"),
            &snap["snapshots"],
            &json!(want),
        );
        let prev: Vec<&Value> = want
            .iter()
            .filter_map(|s| s.get("prev_day"))
            .filter(|p| !p.is_null())
            .collect();
        let (_, previous) = app
            .get_json(&format!("/v1/bars/previous?tz={}", tz.name()))
            .await;
        check(
            &format!("/v1/bars/previous tz={tz}"),
            &previous["bars"],
            &json!(prev),
        );
        for back in [0, 1, 5, 9, 30] {
            let date = today - chrono::Duration::days(back);
            let want: Vec<&Value> = days
                .iter()
                .filter(|(d, _)| *d == date)
                .map(|(_, b)| b)
                .collect();
            let path = format!("/v1/bars/grouped?date={date}&tz={}", tz.name());
            check(&path, &app.get_json(&path).await.1["bars"], &json!(want));
        }
    }
    wrong
}

async fn assert_exact(app: &TestApp, when: &str) {
    assert_exact_with(app, when, true).await;
}

async fn assert_exact_with(app: &TestApp, when: &str, stats: bool) {
    let wrong = mismatches(app, stats).await;
    assert!(wrong.is_empty(), "{when}: {}", wrong.join("\n"));
}

fn today_ny() -> NaiveDate {
    Utc::now().with_timezone(&NY).date_naive()
}

#[tokio::test]
async fn whole_market_reads_match_hand_written_sql_through_every_kind_of_write() {
    let app = TestApp::spawn().await;
    let today = today_ny();
    let bars = market(today);
    // Several requests, each of several COPY batches.
    for part in bars.chunks(1_500) {
        post(&app, part, "error").await;
    }
    assert_exact(&app, "after plain writes").await;

    // Backfills: older bars of a known symbol, and a new symbol whose bars are all old.
    let old = today - chrono::Duration::days(40);
    post(
        &app,
        &[
            bar("S001", old, 11, 1),
            bar("OLDCO", old, 10, 2),
            bar("OLDCO", old, 14, 3),
        ],
        "error",
    )
    .await;
    assert_exact(&app, "after backfills").await;

    // Upserts: one replaces S002's latest bar (lower high: the day's high must come down),
    // one skips a stored bar and adds a newer one.
    let mut replaced = bar("S002", today, 15, 5);
    replaced["price_high"] = json!(1.0);
    replaced["price_low"] = json!(0.5);
    replaced["trading_volume"] = json!(1);
    replaced["vwap"] = json!(0.75);
    replaced["trade_count"] = Value::Null;
    post(&app, &[replaced], "update").await;
    let stored = bar("S003", today, 15, 0);
    post(&app, &[stored, bar("S003", today, 16, 9)], "ignore").await;
    assert_exact(&app, "after upserts").await;

    // tsapi's writes credit their own row counts: the refresh finds no chunk to rescan,
    // before and after PostgreSQL publishes those counts (at the latest 10 s later).
    for wait in [0, 11] {
        tokio::time::sleep(Duration::from_secs(wait)).await;
        let mut client = app.db.client().await;
        let report = tsapi::db::refresh_catalog(&mut client).await.unwrap();
        assert_eq!(report.map(|r| r.chunks), Some(0), "after {wait} s");
    }

    // psql: a delete of S005's latest bars, all of S006, and of delisted S010's last day;
    // an insert of a new symbol. The periodic refresh finds them (within PostgreSQL's
    // statistics delay; polled here up to 30 s).
    let db = app.db.client().await;
    let yesterday = today - chrono::Duration::days(1);
    db.batch_execute(&format!(
        "DELETE FROM stocks_intraday WHERE symbol = 'S005' AND time >= '{}'; \
         DELETE FROM stocks_intraday WHERE symbol = 'S006'; \
         DELETE FROM stocks_intraday WHERE symbol = 'S010' AND time >= '{}'; \
         INSERT INTO stocks_intraday VALUES ('{}', 'PSQL', 1, 2, 0.5, 1.5, 10)",
        time(
            NY.from_local_datetime(&yesterday.and_hms_opt(0, 0, 0).unwrap())
                .earliest()
                .unwrap()
                .with_timezone(&Utc)
        ),
        time(
            NY.from_local_datetime(
                &(today - chrono::Duration::days(8))
                    .and_hms_opt(0, 0, 0)
                    .unwrap()
            )
            .earliest()
            .unwrap()
            .with_timezone(&Utc)
        ),
        time(Utc::now() - chrono::Duration::minutes(5)),
    ))
    .await
    .unwrap();
    drop(db);
    let started = Instant::now();
    loop {
        let mut client = app.db.client().await;
        tsapi::db::refresh_catalog(&mut client).await.unwrap();
        let wrong = mismatches(&app, true).await;
        if wrong.is_empty() {
            break;
        }
        assert!(
            started.elapsed() < Duration::from_secs(30),
            "the refresh did not catch up with psql writes: {}",
            wrong.join("\n")
        );
        tokio::time::sleep(Duration::from_millis(500)).await;
    }

    // psql again, then the exact command: no waiting for statistics.
    app.db
        .client()
        .await
        .batch_execute(&format!(
            "INSERT INTO stocks_intraday VALUES ('{}', 'S007', 9, 9, 9, 9, 9); \
             UPDATE stocks_intraday SET price_close = 42 WHERE symbol = 'S008' \
               AND time = (SELECT max(time) FROM stocks_intraday WHERE symbol = 'S008')",
            time(Utc::now())
        ))
        .await
        .unwrap();
    common::process::tsapi_ok(&["catalog", "refresh"], &app.db.url);
    assert_exact(&app, "after `tsapi catalog refresh`").await;
}

#[tokio::test]
async fn many_rows_come_as_csv_and_ndjson_and_bad_parameters_are_named() {
    let app = TestApp::spawn().await;
    let today = today_ny();
    post(&app, &market(today)[..3_000], "error").await;
    let (_, json) = app
        .get_json(&format!("/v1/bars/grouped?date={today}"))
        .await;
    let csv = app
        .get(&format!("/v1/bars/grouped?date={today}&format=csv"))
        .await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "time,symbol,price_open,price_high,price_low,price_close,trading_volume,trade_count,\
         vwap,count"
    );
    assert_eq!(lines.len() - 1, json["bars"].as_array().unwrap().len());
    assert!(lines[1].contains(json["bars"][0]["symbol"].as_str().unwrap()));

    let ndjson = app
        .get_with(
            "/v1/snapshots?symbols=S001,S002,NOPE",
            &[("accept", "application/x-ndjson")],
        )
        .await
        .text()
        .await
        .unwrap();
    let rows = ndjson_values(&ndjson);
    let (_, snap) = app.get_json("/v1/snapshots?symbols=S002,S001").await;
    assert_eq!(json!(rows), snap["snapshots"]);
    assert_eq!(rows.len(), 2);
    let csv = app.get_text("/v1/snapshots?format=csv").await;
    let header = csv.lines().next().unwrap().split(',').count();
    assert!(csv.lines().all(|l| l.split(',').count() == header), "{csv}");

    app.expect_bad_requests(&[
        ("/v1/bars/grouped", "date"),
        ("/v1/bars/grouped?date=2021-13-01", "date"),
        ("/v1/bars/grouped?date=2021-11-12&tz=Mars/Olympus", "tz"),
        ("/v1/snapshots?symbols=A%20B", "symbols"),
        ("/v1/snapshots?format=xml", "format"),
        ("/v1/bars/previous?symbol=A", "symbol"),
    ])
    .await;
}

#[tokio::test]
async fn a_tutorial_table_without_a_catalogue_is_read_by_scanning() {
    let app = TestApp::spawn_with(Schema::Empty, api_defaults()).await;
    app.db
        .client()
        .await
        .batch_execute(
            "CREATE TABLE stocks_intraday (\"time\" TIMESTAMPTZ NOT NULL, symbol TEXT NULL, \
               price_open DOUBLE PRECISION NULL, price_close DOUBLE PRECISION NULL, \
               price_low DOUBLE PRECISION NULL, price_high DOUBLE PRECISION NULL, \
               trading_volume INT NULL); \
             SELECT create_hypertable('stocks_intraday', 'time');",
        )
        .await
        .unwrap();
    let today = today_ny();
    let bars: Vec<Value> = market(today)
        .into_iter()
        .filter(|b| b["symbol"].as_str() < Some("S040"))
        .map(tutorial_bar)
        .collect();
    post(&app, &bars, "error").await;
    assert_exact_with(&app, "tutorial table", false).await;
}
