//! The latest bars kept in memory by the change feed: `/ticker` and `/v1/bars/latest` answer
//! from them, and a backfilled bar never passes for a symbol's latest.

mod common;

use common::TestDb;
use common::live::{LiveServer, Sse, record};
use serde_json::{Value, json};

async fn ticker(server: &LiveServer, symbol: &str) -> Value {
    server.get_json(&format!("/ticker?symbol={symbol}")).await[0].clone()
}

async fn latest(server: &LiveServer, symbols: &str) -> Vec<(String, String, f64)> {
    let body = server
        .get_json(&format!("/v1/bars/latest?symbols={symbols}"))
        .await;
    body["bars"]
        .as_array()
        .unwrap_or_else(|| panic!("{body}"))
        .iter()
        .map(|b| {
            (
                b["symbol"].as_str().unwrap().to_owned(),
                b["time"].as_str().unwrap().to_owned(),
                b["price_close"].as_f64().unwrap(),
            )
        })
        .collect()
}

/// A live server over `db`, its feed followed from the start, that has streamed `records`:
/// once they are seen on the feed, its memory holds them.
async fn live_after(db: &TestDb, records: Value) -> (LiveServer, Sse) {
    let server = LiveServer::start(&db.url, &[]).await;
    let mut sse = server.sse("?symbols=*", None).await;
    server.post_bars_seen(&mut sse, records).await;
    (server, sse)
}

#[tokio::test]
async fn a_backfill_never_passes_for_the_latest_bar() {
    let db = TestDb::new(common::Schema::Migrated).await;
    // OLD's latest bar is weeks older than the newest bar, so the feed's start (the day
    // before the newest bar) does not hold it.
    db.client()
        .await
        .batch_execute(
            "INSERT INTO stocks_intraday VALUES \
             ('2024-01-10 15:00Z', 'OLD', 1, 1, 1, 10, 1), \
             ('2024-03-01 15:00Z', 'NEW', 1, 1, 1, 20, 1)",
        )
        .await
        .unwrap();
    // A bar of last year for OLD: streamed, but OLD's latest stays the stored one.
    let (server, mut sse) =
        live_after(&db, json!([record("OLD", "2023-06-01T15:00:00Z", 5.0, 1)])).await;
    assert_eq!(ticker(&server, "OLD").await["time"], "2024-01-10T15:00:00Z");
    assert_eq!(
        latest(&server, "OLD,NEW").await,
        [
            ("NEW".into(), "2024-03-01T15:00:00Z".into(), 20.0),
            ("OLD".into(), "2024-01-10T15:00:00Z".into(), 10.0)
        ]
    );

    // A newer bar for each: both answers follow (ordered by symbol; GONE has no bars).
    server
        .post_bars_seen(
            &mut sse,
            json!([
                record("OLD", "2024-03-02T15:00:00Z", 12.0, 1),
                record("NEW", "2024-03-02T15:00:00Z", 21.0, 1),
            ]),
        )
        .await;
    assert_eq!(ticker(&server, "OLD").await["price_close"], 12.0);
    assert_eq!(
        latest(&server, "NEW,GONE,OLD").await,
        [
            ("NEW".into(), "2024-03-02T15:00:00Z".into(), 21.0),
            ("OLD".into(), "2024-03-02T15:00:00Z".into(), 12.0)
        ]
    );
}

#[tokio::test]
async fn latest_bars_come_from_memory_while_the_feed_is_live() {
    let db = TestDb::new(common::Schema::Migrated).await;
    let (server, _sse) = live_after(
        &db,
        json!([record("AAPL", "2024-03-01T14:30:00Z", 180.0, 1)]),
    )
    .await;
    // Deleted behind the feed's back (deletes are not streamed): memory still answers,
    // which shows where the answer came from.
    db.client()
        .await
        .batch_execute("DELETE FROM stocks_intraday")
        .await
        .unwrap();
    assert_eq!(
        latest(&server, "AAPL").await,
        [("AAPL".into(), "2024-03-01T14:30:00Z".into(), 180.0)]
    );
    assert_eq!(ticker(&server, "AAPL").await["price_close"], 180.0);
}
