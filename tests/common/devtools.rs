//! Headless Chromium driven over the DevTools protocol, for tests that watch a page change
//! in real time (a `--dump-dom` run only sees the page once, under virtual time).

use std::io::{BufRead, BufReader};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::Duration;

use futures_util::{SinkExt, StreamExt};
use serde_json::{Value, json};
use tokio::net::TcpStream;
use tokio_tungstenite::tungstenite::Message;
use tokio_tungstenite::{MaybeTlsStream, WebSocketStream};

/// The first Chromium binary found, if any.
pub fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| Path::new("/usr/bin").join(name))
        .find(|p| p.exists())
}

/// The flags every headless run here needs: the machine's network is closed, so Chromium's
/// background connections are turned off.
pub const HEADLESS: &[&str] = &[
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--hide-scrollbars",
    "--window-size=1100,820",
];

/// A headless Chromium with one page open, killed on drop.
pub struct Browser {
    child: Child,
    profile: PathBuf,
    page: WebSocketStream<MaybeTlsStream<TcpStream>>,
    next_id: u64,
}

impl Browser {
    /// Starts Chromium with a fresh profile and opens `url` in a page.
    pub async fn open(binary: &Path, url: &str) -> Self {
        let profile = std::env::temp_dir().join(format!("tsapi-devtools-{}", uuid::Uuid::new_v4()));
        let mut child = Command::new(binary)
            .args(HEADLESS)
            .arg("--remote-debugging-port=0")
            .arg(format!("--user-data-dir={}", profile.display()))
            .arg("about:blank")
            .stdout(Stdio::null())
            .stderr(Stdio::piped())
            .spawn()
            .expect("start chromium");
        // Chromium prints "DevTools listening on ws://127.0.0.1:PORT/devtools/browser/ID".
        let stderr = child.stderr.take().expect("piped stderr");
        let endpoint = tokio::task::spawn_blocking(move || {
            let mut lines = BufReader::new(stderr).lines();
            let found = lines.by_ref().map_while(Result::ok).find_map(|line| {
                line.split_once("DevTools listening on ws://")
                    .map(|(_, rest)| rest.split('/').next().unwrap_or_default().to_owned())
            });
            // Keep draining, so Chromium never blocks on a full pipe.
            std::thread::spawn(move || lines.for_each(drop));
            found
        })
        .await
        .unwrap()
        .expect("Chromium printed no DevTools address");

        let target: Value = reqwest::Client::new()
            .put(format!("http://{endpoint}/json/new?{url}"))
            .send()
            .await
            .expect("open a page")
            .json()
            .await
            .expect("target JSON");
        let socket = target["webSocketDebuggerUrl"]
            .as_str()
            .expect("page socket");
        let (page, _) = tokio_tungstenite::connect_async(socket)
            .await
            .expect("connect to the page");
        Self {
            child,
            profile,
            page,
            next_id: 0,
        }
    }

    /// The value of a JavaScript expression in the page (awaited when it is a promise).
    pub async fn eval(&mut self, expression: &str) -> Value {
        self.next_id += 1;
        let id = self.next_id;
        let call = json!({"id": id, "method": "Runtime.evaluate", "params": {
            "expression": expression, "returnByValue": true, "awaitPromise": true}});
        self.page
            .send(Message::text(call.to_string()))
            .await
            .expect("send to the page");
        while let Some(message) = self.page.next().await {
            let Ok(Message::Text(text)) = message else {
                continue;
            };
            let reply: Value = serde_json::from_str(&text).expect("DevTools JSON");
            if reply["id"] == id {
                assert!(reply["result"]["exceptionDetails"].is_null(), "{reply}");
                return reply["result"]["result"]["value"].clone();
            }
        }
        panic!("the page closed");
    }

    /// Polls `expression` until it is `true`; panics after `wait`, with `context()`.
    pub async fn wait_for(&mut self, expression: &str, wait: Duration, context: &str) {
        let deadline = tokio::time::Instant::now() + wait;
        while tokio::time::Instant::now() < deadline {
            if self.eval(expression).await == Value::Bool(true) {
                return;
            }
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let body = self.eval("document.body.outerHTML.slice(0, 2000)").await;
        panic!("{context}: `{expression}` stayed false for {wait:?}\n{body}");
    }
}

impl Drop for Browser {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
        let _ = std::fs::remove_dir_all(&self.profile);
    }
}
