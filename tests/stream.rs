//! Live bars against a real server and database: every committed write reaches
//! subscribers (SSE and WebSocket) once, in commit order, across instances and reconnects;
//! rolled-back writes never do; slow subscribers are told they lagged.

mod common;

use std::time::Duration;

use common::live::{LiveServer, record};
use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio_tungstenite::tungstenite::Message;

const WAIT: Duration = Duration::from_secs(10);

#[tokio::test]
async fn sse_sends_committed_bars_once_and_resumes_after_a_disconnect() {
    let db = common::TestDb::new(common::Schema::Migrated).await;
    let server = LiveServer::start(&db.url, &[]).await;
    let mut sse = server.sse("?symbols=AAPL,MSFT", None).await;

    let at_the_open = json!([
        record("AAPL", "2024-03-01T14:30:00Z", 180.5, 100),
        record("IBM", "2024-03-01T14:30:00Z", 190.0, 5),
        record("MSFT", "2024-03-01T14:30:00Z", 410.25, 200),
    ]);
    server.post_bars_ok(at_the_open).await;
    // A rolled-back write (a duplicate refuses the whole request) is never announced.
    let duplicate = json!([
        record("AAPL", "2024-03-01T14:31:00Z", 1.0, 1),
        record("AAPL", "2024-03-01T14:30:00Z", 1.0, 1),
    ]);
    let (status, _) = server.post_bars("", duplicate).await;
    assert_eq!(status, 409);
    let (status, counts) = server
        .post_bars(
            "?on_conflict=update",
            json!([record("AAPL", "2024-03-01T14:30:00Z", 181.0, 150)]),
        )
        .await;
    assert_eq!((status, counts["updated"].as_u64()), (200, Some(1)));

    let got = sse.bars(3).await;
    let summary: Vec<(&str, &str, f64)> = got
        .iter()
        .map(|e| {
            (
                e.event.as_str(),
                e.data["symbol"].as_str().unwrap(),
                e.data["price_close"].as_f64().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        summary,
        [
            ("bar", "AAPL", 180.5),
            ("bar", "MSFT", 410.25),
            ("updated_bar", "AAPL", 181.0)
        ]
    );
    assert_eq!(got[0].data["trading_volume"], 100);
    // Trade count and vwap ride along, from the COPY path and from the upsert's merge.
    assert_eq!(
        (&got[0].data["trade_count"], &got[0].data["vwap"]),
        (&json!(10), &json!(180.25))
    );
    assert_eq!(
        (&got[2].data["trade_count"], &got[2].data["vwap"]),
        (&json!(15), &json!(180.75))
    );
    assert_eq!(got[0].data["time"], "2024-03-01T14:30:00Z");
    let ids: Vec<i64> = got.iter().map(|e| e.id.unwrap()).collect();
    assert!(ids.windows(2).all(|w| w[0] < w[1]), "{ids:?}");
    let last = ids[2];
    drop(sse);

    // Missed while away: a new bar and a backfill of an old time, both after `last`.
    server
        .post_bars_ok(json!([
            record("MSFT", "2024-03-01T14:31:00Z", 411.0, 1),
            record("AAPL", "2020-01-02T15:00:00Z", 75.0, 2),
        ]))
        .await;
    let mut resumed = server.sse("?symbols=AAPL,MSFT", Some(last)).await;
    server
        .post_bars_ok(json!([record("AAPL", "2024-03-01T14:32:00Z", 182.0, 3)]))
        .await;
    let again = resumed.bars(3).await;
    let times: Vec<&str> = again
        .iter()
        .map(|e| e.data["time"].as_str().unwrap())
        .collect();
    assert_eq!(
        times,
        [
            "2024-03-01T14:31:00Z",
            "2020-01-02T15:00:00Z",
            "2024-03-01T14:32:00Z"
        ]
    );
    assert!(again.iter().all(|e| e.id.unwrap() > last));
    // Nothing more: no duplicates of the replayed bars.
    let extra = resumed.next(Duration::from_millis(700)).await;
    assert!(extra.is_none(), "{extra:?}");
}

#[tokio::test]
async fn a_write_through_one_instance_reaches_subscribers_of_another() {
    let db = common::TestDb::new(common::Schema::Migrated).await;
    let a = LiveServer::start(&db.url, &[]).await;
    let b = LiveServer::start(&db.url, &[]).await;
    let mut on_b = b.sse("?symbols=*", None).await;
    a.post_bars(
        "",
        json!([record("NVDA", "2024-03-01T14:30:00Z", 900.0, 7)]),
    )
    .await;
    let got = on_b.bars(1).await;
    assert_eq!(got[0].data["symbol"], "NVDA");
    assert_eq!(got[0].data["price_close"], 900.0);
    // The latest bar is answered by b too once its feed has it.
    let (status, body) = (
        200,
        b.get("/ticker?symbol=NVDA")
            .send()
            .await
            .unwrap()
            .json::<Value>()
            .await
            .unwrap(),
    );
    assert_eq!(
        (status, body[0]["price_close"].as_f64()),
        (200, Some(900.0))
    );
}

#[tokio::test]
async fn tsapi_load_is_streamed_too() {
    let db = common::TestDb::new(common::Schema::Migrated).await;
    let server = LiveServer::start(&db.url, &[]).await;
    let mut sse = server.sse("?symbols=AMD", None).await;
    let file = std::env::temp_dir().join(format!("live-{}.csv", uuid::Uuid::new_v4()));
    std::fs::write(
        &file,
        "time,symbol,price_open,price_high,price_low,price_close,trading_volume\n\
         2024-03-01T14:30:00Z,AMD,1,2,0.5,1.5,10\n2024-03-01T14:31:00Z,AMD,1,2,0.5,1.75,11\n",
    )
    .unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tsapi"))
        .arg("load")
        .arg(&file)
        .env("DATABASE_URL", &db.url)
        .output()
        .unwrap();
    std::fs::remove_file(&file).unwrap();
    assert!(out.status.success(), "{out:?}");
    let got = sse.bars(2).await;
    assert_eq!(got[1].data["price_close"], 1.75);
}

#[tokio::test]
async fn the_stream_tells_of_a_lost_database_connection_and_catches_up() {
    let db = common::TestDb::new(common::Schema::Migrated).await;
    let server = LiveServer::start(&db.url, &[]).await;
    let mut sse = server.sse("?symbols=AAPL", None).await;
    let admin = common::connect(&common::admin_url()).await;
    let killed = admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND application_name = 'tsapi-feed'",
            &[&db.name],
        )
        .await
        .unwrap();
    assert_eq!(killed, 1);
    // Written while the listener is away (through the pool, which is unaffected).
    server
        .post_bars("", json!([record("AAPL", "2024-03-01T14:30:00Z", 1.0, 1)]))
        .await;
    let mut states = Vec::new();
    let mut bars = Vec::new();
    // Told of the loss, then the bars written meanwhile (caught up from the log), then live.
    while bars.is_empty() || states.len() < 2 {
        let event = sse.next(WAIT).await.expect("an event");
        match event.event.as_str() {
            "status" => states.push(event.data["state"].as_str().unwrap().to_owned()),
            "bar" => bars.push(event),
            other => panic!("unexpected {other}"),
        }
    }
    assert_eq!(states, ["reconnecting", "live"]);
    assert_eq!(bars[0].data["symbol"], "AAPL");
}

#[tokio::test]
async fn a_subscriber_that_falls_behind_is_told_and_can_resume() {
    let db = common::TestDb::new(common::Schema::Migrated).await;
    let server = LiveServer::start(&db.url, &[("TSAPI_STREAM_QUEUE", "4")]).await;
    let mut slow = server.sse("?symbols=*", None).await;
    let records: Vec<Value> = (0..50)
        .map(|i| {
            record(
                "AAPL",
                &format!("2024-03-01T14:{i:02}:00Z"),
                100.0 + i as f64,
                i,
            )
        })
        .collect();
    server.post_bars("", Value::Array(records)).await;
    let mut seen = Vec::new();
    let lagged = loop {
        let event = slow.next(WAIT).await.expect("events until lagged");
        match event.event.as_str() {
            "lagged" => break event,
            "bar" => seen.push(event.id.unwrap()),
            other => panic!("unexpected {other}"),
        }
    };
    assert!(seen.len() <= 4, "{seen:?}");
    let last = lagged.data["last_id"].as_i64().unwrap();
    if let Some(seen_last) = seen.last() {
        assert_eq!(last, *seen_last);
    }
    assert!(
        slow.next(Duration::from_millis(300)).await.is_none(),
        "closed after lagged"
    );
    // Resuming reads the rest from the log, in pages the queue is not involved in.
    let mut resumed = server.sse("?symbols=*", Some(last)).await;
    let rest = resumed.bars(50 - seen.len()).await;
    assert_eq!(rest.last().unwrap().data["trading_volume"], 49);
}

#[tokio::test]
async fn subscriptions_are_bounded_and_checked() {
    let db = common::TestDb::new(common::Schema::Migrated).await;
    let server = LiveServer::start(
        &db.url,
        &[
            ("TSAPI_STREAM_MAX_SUBSCRIBERS", "1"),
            ("TSAPI_STREAM_MAX_SYMBOLS", "2"),
        ],
    )
    .await;
    let status = |r: reqwest::Response| r.status().as_u16();
    let too_many = server.get("/v1/stream?symbols=A,B,C").send().await.unwrap();
    assert_eq!(status(too_many), 400);
    let bad_id = server
        .get("/v1/stream?symbols=A")
        .header("Last-Event-ID", "yesterday")
        .send()
        .await
        .unwrap();
    let problem: Value = bad_id.json().await.unwrap();
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("Last-Event-ID"),
        "{problem}"
    );
    let no_key = reqwest::get(format!("{}/v1/stream?symbols=A", server.base))
        .await
        .unwrap();
    assert_eq!(status(no_key), 401);
    let _first = server.sse("?symbols=A", None).await;
    let second = server.get("/v1/stream?symbols=B").send().await.unwrap();
    assert_eq!(status(second), 503);
}

#[tokio::test]
async fn without_a_feed_streams_answer_a_clear_400() {
    // As in Lambda: the router without a feed.
    let app = common::TestApp::spawn().await;
    let response = app.get("/v1/stream?symbols=AAPL").await;
    let problem = common::expect_problem(response, 400).await;
    assert!(
        problem["detail"].as_str().unwrap().contains("Lambda"),
        "{problem}"
    );
}

#[tokio::test]
async fn the_websocket_subscribes_and_unsubscribes_with_json_messages() {
    let db = common::TestDb::new(common::Schema::Migrated).await;
    let server = LiveServer::start(&db.url, &[]).await;
    let request =
        format!("ws://127.0.0.1:{}/v1/ws", server.port).into_client_request_with_key(&server.key);
    let (mut ws, _) = tokio_tungstenite::connect_async(request).await.unwrap();
    ws.send(Message::text(
        r#"{"action":"subscribe","symbols":["AAPL","TSLA"]}"#,
    ))
    .await
    .unwrap();
    let reply = next_json(&mut ws).await;
    assert_eq!(
        reply,
        json!({"type": "subscribed", "symbols": ["AAPL", "TSLA"]})
    );
    ws.send(Message::text(
        r#"{"action":"unsubscribe","symbols":["AAPL"]}"#,
    ))
    .await
    .unwrap();
    assert_eq!(next_json(&mut ws).await["symbols"], json!(["TSLA"]));
    ws.send(Message::text(r#"{"action":"dance"}"#))
        .await
        .unwrap();
    assert_eq!(next_json(&mut ws).await["type"], "error");
    server
        .post_bars(
            "",
            json!([
                record("AAPL", "2024-03-01T14:30:00Z", 1.0, 1),
                record("TSLA", "2024-03-01T14:30:00Z", 200.5, 9)
            ]),
        )
        .await;
    let bar = next_json(&mut ws).await;
    assert_eq!(bar["type"], "bar");
    assert_eq!(bar["bar"]["symbol"], "TSLA");
    assert_eq!(bar["bar"]["price_close"], 200.5);
    assert!(bar["id"].as_i64().unwrap() > 0);
}

type Ws =
    tokio_tungstenite::WebSocketStream<tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>>;

async fn next_json(ws: &mut Ws) -> Value {
    loop {
        let message = tokio::time::timeout(WAIT, ws.next())
            .await
            .expect("a message in time")
            .unwrap()
            .unwrap();
        if let Message::Text(text) = message {
            return serde_json::from_str(&text).unwrap();
        }
    }
}

trait WithKey {
    fn into_client_request_with_key(
        self,
        key: &str,
    ) -> tokio_tungstenite::tungstenite::handshake::client::Request;
}

impl WithKey for String {
    fn into_client_request_with_key(
        self,
        key: &str,
    ) -> tokio_tungstenite::tungstenite::handshake::client::Request {
        use tokio_tungstenite::tungstenite::client::IntoClientRequest;
        let mut request = self.into_client_request().unwrap();
        request
            .headers_mut()
            .insert("authorization", format!("Bearer {key}").parse().unwrap());
        request
    }
}
