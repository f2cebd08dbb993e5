//! `GET /v1/bars`: ranges, aggregates, time zones and gap filling, against a real TimescaleDB.

mod common;

use chrono::{DateTime, Datelike, Duration, NaiveTime, TimeZone, Utc};
use chrono_tz::America::New_York;
use common::TestApp;
use common::bars::{Row, bar_json, expected_aggregates, series, store, store_series_of, utc};
use serde_json::{Value, json};

async fn bars(app: &TestApp, query: &str) -> Value {
    let (status, body) = app.get_json(&format!("/v1/bars?{query}")).await;
    assert_eq!(status, 200, "{query}: {body}");
    body
}

#[tokio::test]
async fn stored_bars_come_sorted_by_symbol_then_time_within_the_range() {
    let app = TestApp::spawn().await;
    let first = utc("2021-11-12T15:00:00Z");
    let rows: Vec<Row> = ["MSFT", "AAPL", "FB"]
        .iter()
        .flat_map(|symbol| series(symbol, first, Duration::minutes(1), 5))
        .collect();
    store(&app.db, &rows).await;

    // start inclusive, end exclusive; symbols in any order, duplicates ignored.
    let body = bars(
        &app,
        "symbols=MSFT,AAPL,MSFT&start=2021-11-12T15:01:00Z&end=2021-11-12T15:04:00Z",
    )
    .await;
    let in_range = |symbol: &str| -> Vec<Value> {
        rows.iter()
            .filter(|r| r.symbol == symbol)
            .filter(|r| r.time >= utc("2021-11-12T15:01:00Z"))
            .filter(|r| r.time < utc("2021-11-12T15:04:00Z"))
            .map(bar_json)
            .collect()
    };
    let expected: Vec<Value> = [in_range("AAPL"), in_range("MSFT")].concat();
    assert_eq!(expected.len(), 6);
    assert_eq!(body, json!({"bars": expected, "next_page_token": null}));

    let body = bars(
        &app,
        "symbols=MSFT,AAPL&order=desc&start=2021-11-12T15:01:00Z",
    )
    .await;
    let desc = |symbol: &str| {
        let mut v: Vec<Value> = rows
            .iter()
            .filter(|r| r.symbol == symbol && r.time >= utc("2021-11-12T15:01:00Z"))
            .map(bar_json)
            .collect();
        v.reverse();
        v
    };
    let expected: Vec<Value> = desc("AAPL").into_iter().chain(desc("MSFT")).collect();
    assert_eq!(body["bars"], json!(expected));

    let body = bars(&app, "symbols=NOPE").await;
    assert_eq!(body, json!({"bars": [], "next_page_token": null}));
}

#[tokio::test]
async fn aggregates_match_values_computed_from_the_bars() {
    let app = TestApp::spawn().await;
    // Three days of minute bars for two symbols, one of them starting mid-hour.
    let rows = store_series_of(
        &app.db,
        &[
            (
                "AAPL",
                "2021-11-10T14:30:00Z",
                Duration::minutes(1),
                3 * 1440,
            ),
            ("MSFT", "2021-11-10T14:47:00Z", Duration::minutes(7), 600),
        ],
    )
    .await;

    let floor = |width: i64| {
        move |t: DateTime<Utc>| {
            DateTime::from_timestamp(t.timestamp().div_euclid(width) * width, 0).unwrap()
        }
    };
    for (interval, width) in [
        ("15min", 900),
        ("1h", 3600),
        ("4h", 4 * 3600),
        ("1d", 86400),
    ] {
        let body = bars(
            &app,
            &format!("symbols=AAPL,MSFT&interval={interval}&limit=10000"),
        )
        .await;
        assert_eq!(
            body["bars"],
            json!(expected_aggregates(&rows, floor(width))),
            "{interval}"
        );
    }

    // Months in UTC, and a range that cuts buckets: only bars inside the range count.
    let body = bars(&app, "symbols=AAPL&interval=1mo").await;
    let aapl: Vec<Row> = rows
        .iter()
        .filter(|r| r.symbol == "AAPL")
        .cloned()
        .collect();
    let month = |t: DateTime<Utc>| {
        Utc.with_ymd_and_hms(t.year(), t.month(), 1, 0, 0, 0)
            .unwrap()
    };
    assert_eq!(body["bars"], json!(expected_aggregates(&aapl, month)));

    let start = utc("2021-11-11T10:20:00Z");
    let end = utc("2021-11-11T13:00:00Z");
    let body = bars(
        &app,
        "symbols=AAPL&interval=1h&start=2021-11-11T10:20:00Z&end=2021-11-11T13:00:00Z&order=desc",
    )
    .await;
    let cut: Vec<Row> = aapl
        .iter()
        .filter(|r| r.time >= start && r.time < end)
        .cloned()
        .collect();
    let mut expected = expected_aggregates(&cut, floor(3600));
    expected.reverse();
    assert_eq!(expected.len(), 3);
    assert_eq!(expected[2]["count"], 40);
    assert_eq!(body["bars"], json!(expected));
}

/// Local midnight of the New York day of `t`.
fn ny_midnight(t: DateTime<Utc>) -> DateTime<Utc> {
    let day = t.with_timezone(&New_York).date_naive();
    New_York
        .from_local_datetime(&day.and_time(NaiveTime::MIN))
        .single()
        .unwrap()
        .with_timezone(&Utc)
}

#[tokio::test]
async fn days_and_weeks_follow_new_york_across_the_end_of_daylight_saving() {
    let app = TestApp::spawn().await;
    // Hourly bars from Monday 2021-11-01 to 2021-11-16; clocks went back on Sunday 2021-11-07.
    let rows = series(
        "SPY",
        utc("2021-11-01T00:00:00Z"),
        Duration::hours(1),
        15 * 24,
    );
    store(&app.db, &rows).await;
    let week = "symbols=SPY&tz=America/New_York&start=2021-11-01&end=2021-11-15";

    let body = bars(&app, &format!("{week}&interval=1d")).await;
    let days = body["bars"].as_array().unwrap();
    let in_week: Vec<Row> = rows
        .iter()
        .filter(|r| r.time >= utc("2021-11-01T04:00:00Z") && r.time < utc("2021-11-15T05:00:00Z"))
        .cloned()
        .collect();
    assert_eq!(
        body["bars"],
        json!(expected_aggregates(&in_week, ny_midnight))
    );
    let by_day: Vec<(&str, &Value)> = days
        .iter()
        .map(|d| (d["time"].as_str().unwrap(), &d["count"]))
        .collect();
    // Midnight is 04:00Z in EDT and 05:00Z in EST; the day the clocks change has 25 hours.
    assert_eq!(by_day[5], ("2021-11-06T04:00:00Z", &json!(24)));
    assert_eq!(by_day[6], ("2021-11-07T04:00:00Z", &json!(25)));
    assert_eq!(by_day[7], ("2021-11-08T05:00:00Z", &json!(24)));
    assert_eq!(days.len(), 14);

    // Weeks start on Monday at local midnight.
    let body = bars(&app, &format!("{week}&interval=1w")).await;
    let monday = |t: DateTime<Utc>| {
        let day = ny_midnight(t);
        let back = day
            .with_timezone(&New_York)
            .weekday()
            .num_days_from_monday();
        ny_midnight(day - Duration::days(back.into()) + Duration::hours(12))
    };
    assert_eq!(body["bars"], json!(expected_aggregates(&in_week, monday)));
    let weeks: Vec<(&str, &Value)> = body["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|w| (w["time"].as_str().unwrap(), &w["count"]))
        .collect();
    assert_eq!(
        weeks,
        [
            ("2021-11-01T04:00:00Z", &json!(7 * 24 + 1)),
            ("2021-11-08T05:00:00Z", &json!(7 * 24))
        ]
    );

    // The same days in UTC start at 00:00Z.
    let body = bars(
        &app,
        "symbols=SPY&interval=1d&start=2021-11-07&end=2021-11-08",
    )
    .await;
    assert_eq!(body["bars"][0]["time"], "2021-11-07T00:00:00Z");
    assert_eq!(body["bars"][0]["count"], 24);
}

#[tokio::test]
async fn gaps_are_left_out_filled_with_nulls_or_with_the_previous_close() {
    let app = TestApp::spawn().await;
    // Bars at hours 1, 2 and 5 of the day; hours 0, 3, 4, 6 and 7 are empty.
    let rows = store_series_of(
        &app.db,
        &[
            ("GAP", "2021-11-12T01:00:00Z", Duration::minutes(30), 4),
            ("GAP", "2021-11-12T05:10:00Z", Duration::minutes(20), 2),
        ],
    )
    .await;
    let range = "symbols=GAP&interval=1h&start=2021-11-12T00:00:00Z&end=2021-11-12T08:00:00Z";
    let hour = |h: u32| format!("2021-11-12T{h:02}:00:00Z");
    let filled = expected_aggregates(&rows, |t| {
        DateTime::from_timestamp(t.timestamp() / 3600 * 3600, 0).unwrap()
    });
    assert_eq!(filled.len(), 3);

    let none = bars(&app, range).await;
    assert_eq!(none["bars"], json!(filled));

    let nulls = bars(&app, &format!("{range}&fill=null")).await;
    let empty = |h: u32| {
        json!({"time": hour(h), "symbol": "GAP", "price_open": null, "price_high": null,
               "price_low": null, "price_close": null, "trading_volume": null,
               "trade_count": null, "vwap": null, "count": 0})
    };
    assert_eq!(
        nulls["bars"],
        json!([
            empty(0),
            filled[0],
            filled[1],
            empty(3),
            empty(4),
            filled[2],
            empty(6),
            empty(7)
        ])
    );

    let previous = bars(&app, &format!("{range}&fill=previous")).await;
    let carried = |h: u32, from: &Value| {
        let close = &from["price_close"];
        json!({"time": hour(h), "symbol": "GAP", "price_open": close, "price_high": close,
               "price_low": close, "price_close": close, "trading_volume": 0,
               "trade_count": null, "vwap": null, "count": 0})
    };
    // Before the first bar there is no close to carry.
    let mut nothing = empty(0);
    nothing["trading_volume"] = json!(0);
    let expected = json!([
        nothing,
        filled[0],
        filled[1],
        carried(3, &filled[1]),
        carried(4, &filled[1]),
        filled[2],
        carried(6, &filled[2]),
        carried(7, &filled[2])
    ]);
    assert_eq!(previous["bars"], expected);

    // Filled pages, newest first, three buckets at a time, still carry the right closes.
    let (pages, _) = app
        .all_pages(&format!("{range}&fill=previous&order=desc&limit=3"))
        .await;
    let mut reversed = expected.as_array().unwrap().clone();
    reversed.reverse();
    assert_eq!(pages, reversed);
}

#[tokio::test]
async fn bad_parameters_are_400_naming_the_parameter() {
    let app = TestApp::with_minute_bars("AAPL", "2021-11-12T15:00:00Z", 3).await;
    for (query, param) in [
        ("", "symbols"),
        ("symbols=", "symbols"),
        ("symbols=%20", "symbols"),
        ("symbols=AAPL,", "symbols"),
        ("symbols=A%20B", "symbols"),
        ("symbols=AAPL&start=yesterday", "start"),
        ("symbols=AAPL&end=2021-02-30", "end"),
        ("symbols=AAPL&start=2021-11-12&end=2021-11-12", "end"),
        ("symbols=AAPL&start=2021-11-13&end=2021-11-12", "end"),
        ("symbols=AAPL&interval=1fortnight", "interval"),
        ("symbols=AAPL&interval=0min", "interval"),
        ("symbols=AAPL&interval=1d&tz=Europe/Atlantis", "tz"),
        ("symbols=AAPL&format=xml", "format"),
        ("symbols=AAPL&limit=0", "limit"),
        ("symbols=AAPL&limit=10001", "limit"),
        ("symbols=AAPL&limit=ten", "limit"),
        ("symbols=AAPL&order=sideways", "order"),
        ("symbols=AAPL&fill=zero&interval=1h", "fill"),
        ("symbols=AAPL&fill=null", "fill"),
        ("symbols=AAPL&page_token=bm90LWEtdG9rZW4", "page_token"),
    ] {
        let response = app.get(&format!("/v1/bars?{query}")).await;
        let problem = common::expect_problem(response, 400).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains(&format!("`{param}`")),
            "{query}: {detail} should name {param}"
        );
    }
    let response = app.get("/v1/bars?symbols=AAPL&colour=red").await;
    let problem = common::expect_problem(response, 400).await;
    assert!(problem["detail"].as_str().unwrap().contains("colour"));
}
