//! The tutorial's three requests, over real HTTP against a real TimescaleDB.

mod common;

use common::answers::symbols_and_times;
use common::bodies::bar_record;
use common::{Schema, TUTORIAL_PAYLOAD, TestApp, api_defaults};
use serde_json::{Value, json};

#[tokio::test]
async fn tutorial_payload_is_stored_by_field_name() {
    let app = TestApp::spawn().await;
    let response = app.post_json("/insert", TUTORIAL_PAYLOAD).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"inserted": 3})
    );

    // The tutorial's own code swaps price_high and price_close here; we must not.
    assert_eq!(
        app.db.rows().await,
        vec![
            "AAPL|2021-11-12T15:00:00Z|149.8|149.73|149.73|149.81|17291",
            "FB|2021-11-12T15:00:00Z|341.35|341.35|341.3|341.3|556",
            "MSFT|2021-11-12T15:00:00Z|337.15|337.15|337.15|337.15|562",
        ]
    );
}

#[tokio::test]
async fn ticker_returns_the_latest_bar_of_a_symbol() {
    let app = TestApp::spawn().await;
    app.insert(vec![
        bar_record("2021-11-12 15:00:00", "AAPL", [1.0, 2.0, 0.5, 1.5], 10),
        bar_record("2021-11-12T15:01:00Z", "AAPL", [1.5, 2.5, 1.0, 2.0], 20),
        bar_record("2021-11-12T15:02:00Z", "MSFT", [3.0, 3.0, 3.0, 3.0], 30),
    ])
    .await;
    let (status, body) = app.get_json("/ticker?symbol=AAPL").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!([{"time": "2021-11-12T15:01:00Z", "symbol": "AAPL", "price_open": 1.5,
                "price_high": 2.5, "price_low": 1.0, "price_close": 2.0, "trading_volume": 20}])
    );
    assert_eq!(app.get_json("/ticker?symbol=NOPE").await, (200, json!([])));
}

#[tokio::test]
async fn ticker_without_symbol_lists_the_latest_bar_of_every_symbol() {
    let app = TestApp::spawn().await;
    assert_eq!(app.get_json("/ticker").await, (200, json!([])));
    app.post_json("/insert", TUTORIAL_PAYLOAD).await;
    app.insert(vec![bar_record(
        "2021-11-12T16:00:00Z",
        "MSFT",
        [1.0; 4],
        1,
    )])
    .await;
    let (status, body) = app.get_json("/ticker").await;
    assert_eq!(status, 200);
    let summary = symbols_and_times(&body);
    assert_eq!(
        summary,
        vec![
            ("AAPL", "2021-11-12T15:00:00Z"),
            ("FB", "2021-11-12T15:00:00Z"),
            ("MSFT", "2021-11-12T16:00:00Z"),
        ]
    );
}

#[tokio::test]
async fn latest_bar_is_found_in_old_chunks_too() {
    // Hypertable chunks span 7 days: spread bars over a year so that OLD's last bar is far
    // behind the newest chunks, which the latest-bar search looks at first.
    let app = TestApp::spawn().await;
    let mut records = vec![];
    for week in 0..52 {
        let day =
            chrono::NaiveDate::from_ymd_opt(2021, 1, 4).unwrap() + chrono::Days::new(week * 7);
        records.push(bar_record(
            &format!("{day} 15:00:00"),
            "NEW",
            [1.0; 4],
            week as i64,
        ));
        if week < 10 {
            records.push(bar_record(
                &format!("{day} 15:00:00"),
                "OLD",
                [2.0; 4],
                week as i64,
            ));
        }
    }
    app.insert(records).await;
    let (_, new) = app.get_json("/ticker?symbol=NEW").await;
    assert_eq!(new[0]["time"], "2021-12-27T15:00:00Z");
    let (_, old) = app.get_json("/ticker?symbol=OLD").await;
    assert_eq!(old[0]["time"], "2021-03-08T15:00:00Z");
    assert_eq!(old[0]["trading_volume"], 9);
}

#[tokio::test]
async fn daily_aggregates_match_values_computed_here() {
    let app = TestApp::spawn().await;
    // (time, [open, high, low, close]) for two UTC days and one other symbol.
    let bars = [
        ("2021-11-11T14:30:00Z", [10.0, 12.0, 9.0, 11.0]),
        ("2021-11-11T20:59:00Z", [11.0, 15.0, 10.5, 14.0]),
        ("2021-11-11T23:59:59Z", [14.0, 14.5, 8.0, 9.0]),
        ("2021-11-12T00:00:00Z", [20.0, 21.0, 19.0, 20.5]),
        ("2021-11-12T15:00:00Z", [20.5, 22.0, 20.0, 21.5]),
    ];
    let mut records: Vec<Value> = bars
        .iter()
        .map(|(t, p)| bar_record(t, "AAPL", *p, 100))
        .collect();
    records.push(bar_record("2021-11-11T15:00:00Z", "MSFT", [99.0; 4], 1));
    app.insert(records).await;

    let expected = |day: &str, members: &[usize]| {
        let closes: Vec<f64> = members.iter().map(|&i| bars[i].1[3]).collect();
        let high = members
            .iter()
            .map(|&i| bars[i].1[1])
            .fold(f64::MIN, f64::max);
        let low = members
            .iter()
            .map(|&i| bars[i].1[2])
            .fold(f64::MAX, f64::min);
        json!({"bucket_day": day, "symbol": "AAPL",
               "avg_price": closes.iter().sum::<f64>() / closes.len() as f64,
               "max_price": high, "min_price": low})
    };
    let (status, body) = app.get_json("/ticker/daily?symbol=AAPL").await;
    assert_eq!(status, 200);
    assert_eq!(
        body,
        json!([
            expected("2021-11-11T00:00:00Z", &[0, 1, 2]),
            expected("2021-11-12T00:00:00Z", &[3, 4])
        ])
    );

    // start is inclusive, end exclusive; plain dates are midnight UTC.
    let (_, only_12th) = app
        .get_json("/ticker/daily?symbol=AAPL&start=2021-11-12&end=2021-11-13")
        .await;
    assert_eq!(
        only_12th,
        json!([expected("2021-11-12T00:00:00Z", &[3, 4])])
    );
    let (_, before_noon) = app
        .get_json("/ticker/daily?symbol=AAPL&start=2021-11-11T00:00:00Z&end=2021-11-11%2020:59:00")
        .await;
    assert_eq!(before_noon, json!([expected("2021-11-11T00:00:00Z", &[0])]));
    assert_eq!(
        app.get_json("/ticker/daily?symbol=NOPE").await,
        (200, json!([]))
    );
}

#[tokio::test]
async fn naive_times_are_read_in_the_configured_zone() {
    let mut api = api_defaults();
    api.timezone = chrono_tz::America::New_York;
    let app = TestApp::spawn_with(Schema::Migrated, api).await;
    app.insert(vec![
        bar_record("2021-11-12 10:00:00", "NY", [1.0; 4], 1),
        bar_record("2021-07-12T10:00:00+02:00", "OFF", [1.0; 4], 1),
    ])
    .await;
    let rows = app.db.rows().await;
    assert!(rows[0].starts_with("NY|2021-11-12T15:00:00Z"), "{rows:?}");
    assert!(rows[1].starts_with("OFF|2021-07-12T08:00:00Z"), "{rows:?}");
}

#[tokio::test]
async fn a_duplicate_bar_is_a_conflict_and_stores_nothing() {
    let app = TestApp::spawn().await;
    app.post_json("/insert", TUTORIAL_PAYLOAD).await;
    let again = app
        .post_json(
            "/insert",
            json!({"records": [bar_record("2021-11-13T15:00:00Z", "AAPL", [1.0; 4], 1),
                               bar_record("2021-11-12T15:00:00Z", "MSFT", [1.0; 4], 1)]})
            .to_string(),
        )
        .await;
    let problem = common::expect_problem(again, 409).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("MSFT"),
        "{problem}"
    );
    assert_eq!(app.db.count().await, 3);
}
