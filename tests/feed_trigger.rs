//! `tsapi migrate --feed-trigger on`: bars that other tools write straight into the table
//! reach live subscribers once, in commit order, beside tsapi's own writes; rolled-back
//! writes never do, and `off` removes the trigger.

mod common;

use std::time::Duration;

use common::live::{LiveServer, Sse, record};
use common::process::tsapi_ok;
use serde_json::json;

fn migrate(url: &str, feed_trigger: &str) {
    tsapi_ok(&["migrate", "--feed-trigger", feed_trigger], url);
}

/// One AAPL bar written through tsapi's API, which announces its own writes.
async fn write_one_bar_through_tsapi(server: &LiveServer) {
    server
        .post_bars_ok(json!([record("AAPL", "2024-03-01T14:30:00Z", 180.5, 100)]))
        .await;
}

/// Every event id of `events` follows the previous one: none lost, none twice.
fn assert_consecutive(events: &[common::live::SseEvent]) {
    for pair in events.windows(2) {
        assert_eq!(pair[1].id, pair[0].id.map(|id| id + 1), "{:?}", &pair);
    }
}

async fn expect_no_bar(sse: &mut Sse) {
    while let Some(event) = sse.next(Duration::from_millis(1500)).await {
        assert!(
            event.event != "bar" && event.event != "updated_bar",
            "unexpected {event:?}"
        );
    }
}

#[tokio::test]
async fn writes_by_other_tools_are_streamed_once_in_commit_order() {
    let db = common::TestDb::new(common::Schema::Migrated).await;
    migrate(&db.url, "on");
    // A queue that holds the whole bulk write, read after it commits.
    let server = LiveServer::start(&db.url, &[("TSAPI_STREAM_QUEUE", "16384")]).await;
    let mut sse = server.sse("?symbols=*", None).await;
    let client = db.client().await;

    // A bulk write of 12,000 bars in one statement: staged in parts of 5,000.
    client
        .batch_execute(
            "INSERT INTO stocks_intraday \
             SELECT '2024-01-02 14:30Z'::timestamptz + i * interval '1 minute', 'BULK', \
                    1, 2, 0.5, i, i, i % 7, 1 + i / 4.0 FROM generate_series(0, 11999) i",
        )
        .await
        .unwrap();
    let bulk = sse.bars(12_000).await;
    assert_consecutive(&bulk);
    assert!(bulk.iter().all(|e| e.event == "bar"));
    assert_eq!(bulk[0].data["price_close"], 0.0);
    assert_eq!(bulk[11_999].data["trading_volume"], 11_999);
    // The trigger captures trade counts and vwaps too.
    assert_eq!(
        (
            &bulk[11_999].data["trade_count"],
            &bulk[11_999].data["vwap"]
        ),
        (&json!(11_999 % 7), &json!(1.0 + 11_999.0 / 4.0))
    );
    // 11,999 minutes after 2024-01-02 14:30 is 8 days 7:59 later.
    assert_eq!(bulk[11_999].data["time"], "2024-01-10T22:29:00Z");

    // A rolled-back write is never announced; an upsert by hand is an `updated_bar`.
    client
        .batch_execute(
            "BEGIN; \
             INSERT INTO stocks_intraday VALUES ('2024-03-01 14:30Z', 'GONE', 1, 1, 1, 1, 1); \
             ROLLBACK; \
             INSERT INTO stocks_intraday VALUES ('2024-01-02 14:30Z', 'BULK', 1, 2, 0.5, 7.5, 70) \
             ON CONFLICT (symbol, time) DO UPDATE SET price_close = EXCLUDED.price_close",
        )
        .await
        .unwrap();
    // tsapi's own write (which announces itself) comes once, not twice.
    write_one_bar_through_tsapi(&server).await;
    let next = sse.bars(2).await;
    assert_eq!(next[0].id, bulk[11_999].id.map(|id| id + 1));
    assert_consecutive(&next);
    assert_eq!(
        (next[0].event.as_str(), next[0].data["symbol"].as_str()),
        ("updated_bar", Some("BULK"))
    );
    assert_eq!(next[0].data["price_close"], 7.5);
    assert_eq!(next[0].data["trading_volume"], 0);
    assert_eq!(
        (next[1].event.as_str(), next[1].data["symbol"].as_str()),
        ("bar", Some("AAPL"))
    );
    expect_no_bar(&mut sse).await;

    // The latest bar kept in memory follows the other tool's write too.
    client
        .batch_execute(
            "INSERT INTO stocks_intraday VALUES ('2024-03-01 14:31Z', 'AAPL', 1, 2, 0.5, 181.25, 5)",
        )
        .await
        .unwrap();
    sse.bars(1).await;
    let latest = server.get_json("/ticker?symbol=AAPL").await;
    assert_eq!(latest[0]["price_close"], 181.25, "{latest}");

    // A write at a stricter isolation is stored but cannot be ordered: not streamed.
    client
        .batch_execute(
            "BEGIN ISOLATION LEVEL REPEATABLE READ; \
             INSERT INTO stocks_intraday VALUES ('2024-03-01 14:35Z', 'RR', 1, 1, 1, 1, 1); \
             COMMIT",
        )
        .await
        .unwrap();
    let stored: i64 = client
        .query_one(
            "SELECT count(*) FROM stocks_intraday WHERE symbol = 'RR'",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert_eq!(stored, 1);
    expect_no_bar(&mut sse).await;
}

#[tokio::test]
async fn feed_trigger_off_removes_it() {
    let db = common::TestDb::new(common::Schema::Migrated).await;
    migrate(&db.url, "on");
    migrate(&db.url, "off");
    let server = LiveServer::start(&db.url, &[]).await;
    let mut sse = server.sse("?symbols=*", None).await;
    db.client()
        .await
        .batch_execute(
            "INSERT INTO stocks_intraday VALUES ('2024-03-01 14:30Z', 'MSFT', 1, 1, 1, 1, 1)",
        )
        .await
        .unwrap();
    write_one_bar_through_tsapi(&server).await;
    // Ids follow commit order, so the direct write would have come first.
    let first = sse.bars(1).await;
    assert_eq!(first[0].data["symbol"], "AAPL");
    assert_eq!(first[0].id, Some(1));
}
