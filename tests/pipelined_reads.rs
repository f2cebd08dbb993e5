//! Latest-bar lookups share one pipelined connection: many at once must each get their
//! own answer, and a lost connection must be replaced without a restart.

mod common;

use std::time::Duration;

use common::TestApp;
use common::answers::texts;
use common::bodies::bar_record;
use futures_util::future::join_all;
use serde_json::Value;

const SYMBOLS: usize = 40;

/// Two bars per symbol; the later one's close encodes the symbol's number.
async fn seed(app: &TestApp) {
    let records: Vec<Value> = (0..SYMBOLS)
        .flat_map(|n| {
            ["2021-11-12T14:59:00Z", "2021-11-12T15:00:00Z"]
                .into_iter()
                .enumerate()
                .map(move |(minute, time)| {
                    let close = 100.0 + n as f64 + minute as f64 / 10.0;
                    bar_record(time, &format!("P{n:02}"), [close; 4], n as i64)
                })
        })
        .collect();
    app.insert(records).await;
}

#[tokio::test]
async fn concurrent_lookups_each_get_their_own_symbol() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let lookups = (0..10 * SYMBOLS).map(|i| {
        let n = i % SYMBOLS;
        let app = &app;
        async move { (n, app.get_json(&format!("/ticker?symbol=P{n:02}")).await) }
    });
    for (n, (status, body)) in join_all(lookups).await {
        assert_eq!(status, 200, "{body}");
        assert_eq!(body[0]["symbol"], format!("P{n:02}"));
        assert_eq!(body[0]["time"], "2021-11-12T15:00:00Z");
        assert_eq!(body[0]["price_close"], 100.0 + n as f64 + 0.1);
        assert_eq!(body[0]["trading_volume"], n);
    }

    // Many symbols in one request, asked in any order: every probe answered, by symbol.
    let asked: Vec<String> = (0..SYMBOLS).rev().map(|n| format!("P{n:02}")).collect();
    let (status, body) = app
        .get_json(&format!("/v1/bars/latest?symbols={}", asked.join(",")))
        .await;
    let wanted: Vec<String> = (0..SYMBOLS).map(|n| format!("P{n:02}")).collect();
    assert_eq!(status, 200, "{body}");
    assert_eq!(texts(&body["bars"], "symbol"), wanted);
}

#[tokio::test]
async fn a_lost_shared_connection_is_replaced() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    assert_eq!(app.get_json("/ticker?symbol=P07").await.0, 200);

    // The database ends every session of this database, the shared one included.
    let admin = common::connect(&common::admin_url()).await;
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE datname = $1",
            &[&app.db.name],
        )
        .await
        .unwrap();

    // At most a request or two may meet the dying connection (503, never 500); then
    // lookups succeed again on a new one.
    let mut failures = 0;
    loop {
        let (status, body) = app.get_json("/ticker?symbol=P07").await;
        if status == 200 {
            assert_eq!(body[0]["symbol"], "P07");
            break;
        }
        assert_eq!(status, 503, "{body}");
        failures += 1;
        assert!(failures < 20, "lookups did not recover: {body}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}
