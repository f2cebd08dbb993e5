//! The official Alpaca client (alpaca-py's `StockDataStream`, pinned, from PyPI) receives
//! tsapi's bars over the Alpaca stream protocol at `/alpaca/v2/iex`, in MessagePack as it
//! asks. Needs python3 with venv; `scripts/alpaca-venv.sh` prepares target/alpaca-venv.

mod common;

use std::io::{BufRead, BufReader};
use std::process::{Command, Stdio};
use std::sync::mpsc;
use std::time::Duration;

use common::live::{LiveServer, record};
use serde_json::{Value, json};

fn venv_python() -> Option<String> {
    let root = env!("CARGO_MANIFEST_DIR");
    let out = Command::new(format!("{root}/scripts/alpaca-venv.sh"))
        .stderr(Stdio::inherit())
        .output()
        .ok()?;
    out.status
        .success()
        .then(|| format!("{root}/{}", String::from_utf8_lossy(&out.stdout).trim()))
}

#[tokio::test]
async fn alpaca_py_stock_data_stream_receives_bars_and_updated_bars() {
    let Some(python) = venv_python() else {
        assert!(std::env::var("CI").is_err(), "alpaca-py is required in CI");
        eprintln!("cannot prepare the alpaca-py venv; skipping");
        return;
    };
    let db = common::TestDb::new(common::Schema::Migrated).await;
    let server = LiveServer::start(&db.url, &[]).await;
    let url = format!("ws://127.0.0.1:{}/alpaca/v2/iex", server.port);
    let mut child = Command::new(python)
        .arg(concat!(
            env!("CARGO_MANIFEST_DIR"),
            "/tests/alpaca/stream_client.py"
        ))
        .args([&url, &server.key, "3"])
        .stdout(Stdio::piped())
        .stderr(Stdio::inherit())
        .spawn()
        .unwrap();
    let (lines_tx, lines) = mpsc::channel::<String>();
    let stdout = child.stdout.take().unwrap();
    std::thread::spawn(move || {
        for line in BufReader::new(stdout).lines().map_while(Result::ok) {
            let _ = lines_tx.send(line);
        }
    });
    let next = || {
        lines
            .recv_timeout(Duration::from_secs(60))
            .expect("a line from alpaca-py")
    };
    assert_eq!(next(), "READY");

    server
        .post_bars(
            "",
            json!([
                record("AAPL", "2024-03-01T14:30:00Z", 180.5, 1200),
                record("IBM", "2024-03-01T14:30:00Z", 190.0, 5),
                record("MSFT", "2024-03-01T14:30:00.250Z", 410.25, 300),
            ]),
        )
        .await;
    server
        .post_bars(
            "?on_conflict=update",
            json!([record("AAPL", "2024-03-01T14:30:00Z", 181.0, 1500)]),
        )
        .await;
    let got: Vec<Value> = (0..3)
        .map(|_| serde_json::from_str(&next()).unwrap())
        .collect();
    assert_eq!(
        got[0],
        json!({"kind": "bar", "symbol": "AAPL", "timestamp": "2024-03-01T14:30:00+00:00",
               "open": 179.5, "high": 181.5, "low": 178.5, "close": 180.5, "volume": 1200.0,
               "trade_count": 120.0, "vwap": 180.25})
    );
    assert_eq!(got[1]["symbol"], "MSFT");
    assert_eq!(got[1]["timestamp"], "2024-03-01T14:30:00.250000+00:00");
    assert_eq!(got[1]["close"], 410.25);
    assert_eq!(
        (
            got[2]["kind"].as_str(),
            got[2]["close"].as_f64(),
            got[2]["volume"].as_f64(),
            got[2]["trade_count"].as_f64(),
            got[2]["vwap"].as_f64()
        ),
        (
            Some("updated"),
            Some(181.0),
            Some(1500.0),
            Some(150.0),
            Some(180.75)
        )
    );
    let status = child.wait().unwrap();
    assert!(status.success(), "alpaca-py exited with {status}");
}

#[tokio::test]
async fn the_alpaca_stream_refuses_a_wrong_key_in_its_auth_message() {
    use futures_util::SinkExt;
    use tokio_tungstenite::tungstenite::Message;
    let db = common::TestDb::new(common::Schema::Migrated).await;
    let server = LiveServer::start(&db.url, &[]).await;
    let url = format!("ws://127.0.0.1:{}/alpaca/v2/sip", server.port);
    let (mut ws, _) = tokio_tungstenite::connect_async(url).await.unwrap();
    assert_eq!(
        next_text(&mut ws).await,
        json!([{"T": "success", "msg": "connected"}])
    );
    ws.send(Message::text(r#"{"action":"subscribe","bars":["AAPL"]}"#))
        .await
        .unwrap();
    let reply = next_text(&mut ws).await;
    assert_eq!(reply[0]["code"], 401);
    ws.send(Message::text(
        r#"{"action":"auth","key":"tsapi_wrong","secret":"x"}"#,
    ))
    .await
    .unwrap();
    let reply = next_text(&mut ws).await;
    assert_eq!(
        reply,
        json!([{"T": "error", "code": 402, "msg": "auth failed"}])
    );
}

async fn next_text(
    ws: &mut tokio_tungstenite::WebSocketStream<
        tokio_tungstenite::MaybeTlsStream<tokio::net::TcpStream>,
    >,
) -> Value {
    use futures_util::StreamExt;
    use tokio_tungstenite::tungstenite::Message;
    loop {
        let message = tokio::time::timeout(Duration::from_secs(10), ws.next())
            .await
            .unwrap()
            .unwrap()
            .unwrap();
        if let Message::Text(t) = message {
            return serde_json::from_str(&t).unwrap();
        }
    }
}
