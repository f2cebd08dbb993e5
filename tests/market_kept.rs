//! Whole-market answers are kept in memory while the catalogue is unchanged, and never
//! served once anything changed it: a tsapi write, SQL straight into the catalogue. Alone in
//! its test binary: it reads the process-wide metrics.

mod common;

use chrono::{Duration, SecondsFormat, Utc};
use common::TestApp;
use common::bodies::{bar_record, ndjson};
use serde_json::Value;

/// The value of the sample whose name-and-labels part is exactly `series` (0 when absent).
async fn sample(app: &TestApp, series: &str) -> f64 {
    let page = app.get_text("/metrics").await;
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
        .unwrap_or(0.0)
}

async fn counts(app: &TestApp) -> (f64, f64) {
    (
        sample(app, "tsapi_market_answers_total{source=\"built\"}").await,
        sample(app, "tsapi_market_answers_total{source=\"kept\"}").await,
    )
}

async fn post(app: &TestApp, bars: &[Value]) {
    let body = ndjson(bars);
    let response = app
        .http
        .post(app.url("/v1/bars"))
        .header("content-type", "application/x-ndjson")
        .body(body)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
}

fn bar(symbol: &str, hours_ago: i64, close: f64) -> Value {
    let time = (Utc::now() - Duration::hours(hours_ago)).to_rfc3339_opts(SecondsFormat::Secs, true);
    bar_record(&time, symbol, [10.0, 50.0, 1.0, close], 100)
}

/// Each symbol's latest close in a `/v1/snapshots` answer.
fn closes(snapshots: &Value) -> Vec<(String, f64)> {
    snapshots["snapshots"]
        .as_array()
        .unwrap()
        .iter()
        .map(|s| {
            (
                s["symbol"].as_str().unwrap().to_owned(),
                s["latest_bar"]["price_close"].as_f64().unwrap(),
            )
        })
        .collect()
}

#[tokio::test]
async fn whole_market_answers_are_served_again_only_while_nothing_changed() {
    let app = TestApp::spawn().await;
    post(
        &app,
        &[
            bar("AAA", 30, 11.0),
            bar("AAA", 2, 12.0),
            bar("BBB", 3, 21.0),
        ],
    )
    .await;

    // Built once, then served again, byte for byte.
    let first = app.get_text("/v1/snapshots").await;
    let again = app.get_text("/v1/snapshots").await;
    assert_eq!(first, again);
    assert_eq!(counts(&app).await, (1.0, 1.0));
    let snapshots: Value = serde_json::from_str(&again).unwrap();
    assert_eq!(
        closes(&snapshots),
        [("AAA".into(), 12.0), ("BBB".into(), 21.0)]
    );

    // A write through tsapi: the next request sees it.
    post(&app, &[bar("AAA", 1, 13.0)]).await;
    let (_, snapshots) = app.get_json("/v1/snapshots").await;
    assert_eq!(
        closes(&snapshots),
        [("AAA".into(), 13.0), ("BBB".into(), 21.0)]
    );
    assert_eq!(counts(&app).await, (2.0, 1.0));

    // A change made by hand in the catalogue's own table is seen too; one rolled back is
    // not a change, so the answer is served again.
    let db = app.db.client().await;
    db.batch_execute(
        "BEGIN; UPDATE tsapi_catalog SET price_close = 0 WHERE symbol = 'BBB'; ROLLBACK;",
    )
    .await
    .unwrap();
    let (_, snapshots) = app.get_json("/v1/snapshots").await;
    assert_eq!(closes(&snapshots)[1], ("BBB".into(), 21.0));
    assert_eq!(counts(&app).await, (2.0, 2.0));
    db.batch_execute("UPDATE tsapi_catalog SET price_close = 99 WHERE symbol = 'BBB'")
        .await
        .unwrap();
    let (_, snapshots) = app.get_json("/v1/snapshots").await;
    assert_eq!(closes(&snapshots)[1], ("BBB".into(), 99.0));
    assert_eq!(counts(&app).await, (3.0, 2.0));

    // Each format is its own answer, kept with its own content type.
    let csv = app.get("/v1/snapshots?format=csv").await;
    assert_eq!(csv.headers()["content-type"], "text/csv; charset=utf-8");
    let csv = csv.text().await.unwrap();
    let kept = app.get("/v1/snapshots?format=csv").await;
    assert_eq!(kept.headers()["content-type"], "text/csv; charset=utf-8");
    assert_eq!(kept.text().await.unwrap(), csv);
    assert_eq!(counts(&app).await, (4.0, 3.0));

    // Grouped days: kept per day.
    let day = snapshots["date"].as_str().unwrap().to_owned();
    let path = format!("/v1/bars/grouped?date={day}");
    let grouped = app.get_text(&path).await;
    assert_eq!(app.get_text(&path).await, grouped);
    assert_eq!(counts(&app).await, (5.0, 4.0));

    // Answers that depend on more than the catalogue are never kept: some symbols, adjusted
    // prices, another zone.
    for path in [
        "/v1/snapshots?symbols=AAA",
        "/v1/snapshots?adjustment=all",
        "/v1/snapshots?tz=UTC",
    ] {
        let (status, _) = app.get_json(path).await;
        assert_eq!(status, 200, "{path}");
    }
    assert_eq!(counts(&app).await, (5.0, 4.0));
}
