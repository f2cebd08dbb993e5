//! A real `tsapi serve` process with an API key, and a reader of its Server-Sent Events.

use std::time::Duration;

use futures_util::StreamExt;
use serde_json::Value;

use super::answers::json_of;
use super::process::{ServerProcess, keygen};

/// A `tsapi serve` child process on a free port with a read+write key, killed on drop.
pub struct LiveServer {
    _process: ServerProcess,
    pub base: String,
    pub port: u16,
    /// A read+write key.
    pub key: String,
}

impl LiveServer {
    pub async fn start(database_url: &str, env: &[(&str, &str)]) -> Self {
        let (key, entry) = keygen("live", "read+write");
        let mut env = env.to_vec();
        env.extend([("TSAPI_API_KEYS", entry.as_str()), ("RUST_LOG", "warn")]);
        let process = ServerProcess::start_with(database_url, &env, |command| {
            command.stderr(std::process::Stdio::inherit());
        })
        .await;
        let port = process
            .base
            .rsplit_once(':')
            .and_then(|(_, port)| port.parse().ok())
            .expect("a port in the base URL");
        Self {
            base: process.base.clone(),
            port,
            _process: process,
            key,
        }
    }

    pub fn get(&self, path: &str) -> reqwest::RequestBuilder {
        reqwest::Client::new()
            .get(format!("{}{path}", self.base))
            .bearer_auth(&self.key)
    }

    /// The JSON body of a GET of `path`, whatever its status.
    pub async fn get_json(&self, path: &str) -> Value {
        json_of(self.get(path)).await
    }

    /// Posts JSON records to `/v1/bars`, which must store them all.
    pub async fn post_bars_ok(&self, records: Value) {
        let (status, body) = self.post_bars("", records).await;
        assert_eq!(status, 200, "{body}");
    }

    /// Posts JSON records to `/v1/bars`, which must store them all, and waits until `sse`
    /// has seen a bar event for each.
    pub async fn post_bars_seen(&self, sse: &mut Sse, records: Value) {
        let count = records.as_array().map_or(1, Vec::len);
        self.post_bars_ok(records).await;
        sse.bars(count).await;
    }

    /// Posts JSON records to `/v1/bars` (with `query`), returning status and body.
    pub async fn post_bars(&self, query: &str, records: Value) -> (u16, Value) {
        let r = reqwest::Client::new()
            .post(format!("{}/v1/bars{query}", self.base))
            .bearer_auth(&self.key)
            .json(&records)
            .send()
            .await
            .unwrap();
        let status = r.status().as_u16();
        (status, r.json().await.unwrap_or(Value::Null))
    }

    /// Opens `/v1/stream` with `query` (and `Last-Event-ID` when given).
    pub async fn sse(&self, query: &str, last_event_id: Option<i64>) -> Sse {
        let mut request = self.get(&format!("/v1/stream{query}"));
        if let Some(id) = last_event_id {
            request = request.header("Last-Event-ID", id.to_string());
        }
        let response = request.send().await.unwrap();
        assert_eq!(response.status(), 200, "{:?}", response.text().await);
        Sse {
            body: Box::pin(response.bytes_stream()),
            buffer: String::new(),
        }
    }
}

/// One Server-Sent Event.
#[derive(Debug, Clone)]
pub struct SseEvent {
    pub event: String,
    pub id: Option<i64>,
    pub data: Value,
}

type ByteStream =
    std::pin::Pin<Box<dyn futures_util::Stream<Item = reqwest::Result<bytes::Bytes>> + Send>>;

pub struct Sse {
    body: ByteStream,
    buffer: String,
}

impl Sse {
    /// The next event, or `None` after `wait` without one (or at the end of the stream).
    pub async fn next(&mut self, wait: Duration) -> Option<SseEvent> {
        let deadline = tokio::time::Instant::now() + wait;
        loop {
            if let Some(end) = self.buffer.find("\n\n") {
                let block: String = self.buffer.drain(..end + 2).collect();
                let mut event = SseEvent {
                    event: "message".into(),
                    id: None,
                    data: Value::Null,
                };
                let mut data = String::new();
                for line in block.lines() {
                    if let Some(v) = line.strip_prefix("event:") {
                        event.event = v.trim().to_owned();
                    } else if let Some(v) = line.strip_prefix("id:") {
                        event.id = v.trim().parse().ok();
                    } else if let Some(v) = line.strip_prefix("data:") {
                        data.push_str(v.trim());
                    }
                }
                if data.is_empty() {
                    continue; // a keep-alive comment
                }
                event.data = serde_json::from_str(&data).unwrap();
                return Some(event);
            }
            let chunk = tokio::time::timeout_at(deadline, self.body.next()).await;
            match chunk {
                Ok(Some(Ok(bytes))) => self.buffer.push_str(&String::from_utf8_lossy(&bytes)),
                _ => return None,
            }
        }
    }

    /// The next `n` bar events (`bar` or `updated_bar`), skipping status events.
    pub async fn bars(&mut self, n: usize) -> Vec<SseEvent> {
        let mut out = Vec::new();
        while out.len() < n {
            let Some(event) = self.next(Duration::from_secs(10)).await else {
                panic!(
                    "only {} of {n} bar events arrived; the last: {:?}",
                    out.len(),
                    out.last()
                );
            };
            if event.event == "bar" || event.event == "updated_bar" {
                out.push(event);
            }
        }
        out
    }
}

/// A bar record as posted.
pub fn record(symbol: &str, time: &str, close: f64, volume: i64) -> Value {
    serde_json::json!({
        "symbol": symbol, "time": time, "price_open": close - 1.0, "price_high": close + 1.0,
        "price_low": close - 2.0, "price_close": close, "trading_volume": volume,
        "trade_count": volume / 10, "vwap": close - 0.25,
    })
}
