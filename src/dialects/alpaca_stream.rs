//! The Alpaca market-data stream protocol (v2) at `/alpaca/v2/{feed}`, so that Alpaca's
//! own clients (`alpaca-py`'s `StockDataStream` with `url_override`) receive tsapi's bars.
//!
//! The session: the server greets with `[{"T":"success","msg":"connected"}]`; the client
//! sends `{"action":"auth","key":KEY,"secret":..}` where `key` is a tsapi API key with read
//! scope (`secret` is not checked); then `subscribe`/`unsubscribe` with `bars`,
//! `updatedBars`, `dailyBars` lists (`*` for all). Bars arrive as `{"T":"b"}` (new) and
//! `{"T":"u"}` (an upsert replaced a stored bar). Frames are MessagePack when the upgrade
//! request says `Content-Type: application/msgpack` (as alpaca-py does) or accepts it,
//! else JSON text. Other channels (trades, quotes, ...) are acknowledged with empty lists.

use std::collections::HashSet;

use axum::extract::ws::{Message, WebSocket, WebSocketUpgrade};
use axum::extract::{Path, State};
use axum::http::{HeaderMap, HeaderValue, Method};
use axum::response::Response;
use futures_util::FutureExt;
use serde::Serialize;
use serde_json::{Value, json};

use crate::auth::Auth;
use crate::error::ApiError;
use crate::feed::subscription::Next;
use crate::feed::{Feed, FeedEvent, Selection, Subscription};
use crate::routes::stream::feed_of;
use crate::state::AppState;

/// Largest client message, in bytes.
const MAX_MESSAGE: usize = 64 * 1024;
/// Most messages packed into one frame.
const PER_FRAME: usize = 1_000;

/// The Alpaca market-data stream.
///
/// `feed` is Alpaca's feed name (`iex`, `sip`, `delayed_sip`, `test`); every feed streams
/// the same bars. Authenticate with the auth message: `key` carries the tsapi API key.
#[utoipa::path(
    get,
    path = "/alpaca/v2/{feed}",
    tag = "alpaca",
    params(("feed" = String, Path, description = "Alpaca's feed name, e.g. `iex`")),
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket request, or this deployment does not \
            stream (Lambda); in Alpaca's error shape, as every answer under `/alpaca`",
            body = crate::dialects::alpaca::bars::AlpacaError),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    Path(_feed): Path<String>,
    headers: HeaderMap,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let feed = feed_of(&state)?.clone();
    let auth = state.auth.current();
    let wants = |name| {
        headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .is_some_and(|v| v.contains("application/msgpack"))
    };
    let codec = if wants(axum::http::header::CONTENT_TYPE) || wants(axum::http::header::ACCEPT) {
        Codec::MsgPack
    } else {
        Codec::Json
    };
    Ok(upgrade
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| Session::new(socket, feed, codec).run(auth)))
}

#[derive(Clone, Copy, PartialEq)]
enum Codec {
    Json,
    MsgPack,
}

/// Channel subscriptions, each a set of symbols (`*` for all).
#[derive(Default)]
struct Channels {
    bars: HashSet<String>,
    updated: HashSet<String>,
    daily: HashSet<String>,
}

fn wants(set: &HashSet<String>, symbol: &str) -> bool {
    set.contains("*") || set.contains(symbol)
}

struct Session {
    socket: WebSocket,
    feed: Feed,
    codec: Codec,
    channels: Channels,
    subscription: Option<Subscription>,
}

impl Session {
    fn new(socket: WebSocket, feed: Feed, codec: Codec) -> Self {
        Self {
            socket,
            feed,
            codec,
            channels: Channels::default(),
            subscription: None,
        }
    }

    async fn run(mut self, auth: std::sync::Arc<Auth>) {
        if !self
            .send_json(json!([{"T": "success", "msg": "connected"}]))
            .await
        {
            return;
        }
        let mut authenticated = false;
        loop {
            let next = async {
                match self.subscription.as_mut() {
                    Some(s) => s.next().await,
                    None => std::future::pending().await,
                }
            };
            tokio::select! {
                message = self.socket.recv() => {
                    let request = match message {
                        Some(Ok(Message::Text(text))) => serde_json::from_str::<Value>(&text).ok(),
                        Some(Ok(Message::Binary(bytes))) => rmp_serde::from_slice::<Value>(&bytes).ok(),
                        Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                        Some(Ok(_)) => continue,
                    };
                    let Some(request) = request else {
                        if !self.send_error(400, "invalid syntax").await { return; }
                        continue;
                    };
                    if !self.handle(&request, &auth, &mut authenticated).await {
                        return;
                    }
                }
                next = next => {
                    let Some(first) = next else { return };
                    if !self.forward(first).await {
                        return;
                    }
                }
            }
        }
    }

    /// Sends the bar (and any more already queued) in one frame; `false` to end.
    async fn forward(&mut self, first: Result<Next, crate::db::DbError>) -> bool {
        let mut out = Vec::new();
        let mut item = Some(first);
        while let Some(next) = item.take() {
            match next {
                Ok(Next::Bar(event)) => {
                    if let Some(message) = self.bar_message(&event) {
                        out.push(message);
                    }
                }
                Ok(Next::Status(_)) => {}
                Ok(Next::Lagged { .. }) => {
                    let _ = self.flush(&out).await;
                    let _ = self.send_error(407, "slow client").await;
                    return false;
                }
                Err(_) => {
                    let _ = self.send_error(500, "internal error").await;
                    return false;
                }
            }
            if out.len() >= PER_FRAME {
                break;
            }
            if let Some(s) = self.subscription.as_mut() {
                item = s.next().now_or_never().flatten();
            }
        }
        self.flush(&out).await
    }

    fn bar_message(&self, event: &FeedEvent) -> Option<AlpacaBar> {
        let bar = &event.bar.bar;
        let symbol = bar.symbol.as_str();
        let kind = if event.bar.updated { "u" } else { "b" };
        let wanted = match kind {
            "u" => wants(&self.channels.updated, symbol),
            _ => wants(&self.channels.bars, symbol),
        };
        if !wanted {
            return None;
        }
        AlpacaBar::new(kind, bar)
    }

    async fn flush(&mut self, bars: &[AlpacaBar]) -> bool {
        if bars.is_empty() {
            return true;
        }
        let message = match self.codec {
            Codec::MsgPack => rmp_serde::to_vec_named(bars).map(|b| Message::Binary(b.into())),
            Codec::Json => Ok(Message::text(
                serde_json::to_string(bars).unwrap_or_default(),
            )),
        };
        match message {
            Ok(m) => self.socket.send(m).await.is_ok(),
            Err(_) => false,
        }
    }

    /// Applies one client message; `false` to end the session.
    async fn handle(&mut self, request: &Value, auth: &Auth, authenticated: &mut bool) -> bool {
        match request.get("action").and_then(Value::as_str) {
            Some("auth") => {
                if *authenticated {
                    return self.send_error(403, "already authenticated").await;
                }
                let key = request
                    .get("key")
                    .and_then(Value::as_str)
                    .unwrap_or_default();
                if check_read_key(auth, key).is_err() {
                    let _ = self.send_error(402, "auth failed").await;
                    return false;
                }
                *authenticated = true;
                self.send_json(json!([{"T": "success", "msg": "authenticated"}]))
                    .await
            }
            Some(action @ ("subscribe" | "unsubscribe")) => {
                if !*authenticated {
                    return self.send_error(401, "not authenticated").await;
                }
                let adding = action == "subscribe";
                let lists = [
                    ("bars", &mut self.channels.bars),
                    ("updatedBars", &mut self.channels.updated),
                    ("dailyBars", &mut self.channels.daily),
                ];
                for (name, set) in lists {
                    for symbol in symbols_in(request, name) {
                        if adding {
                            set.insert(symbol);
                        } else {
                            set.remove(&symbol);
                        }
                    }
                }
                let all: HashSet<String> = self
                    .channels
                    .bars
                    .union(&self.channels.updated)
                    .cloned()
                    .collect();
                if all.len() > self.feed.limits.max_symbols {
                    return self.send_error(405, "symbol limit exceeded").await;
                }
                let selection = if all.contains("*") {
                    Selection::All
                } else {
                    Selection::Symbols(all)
                };
                match self.subscription.as_mut() {
                    Some(s) => s.reselect(selection),
                    None => match self.feed.subscribe(selection, None).await {
                        Ok(s) => self.subscription = Some(s),
                        Err(_) => {
                            let _ = self.send_error(406, "connection limit exceeded").await;
                            return false;
                        }
                    },
                }
                let list = |set: &HashSet<String>| {
                    let mut v: Vec<&String> = set.iter().collect();
                    v.sort();
                    json!(v)
                };
                let reply = json!([{
                    "T": "subscription", "trades": [], "quotes": [],
                    "bars": list(&self.channels.bars),
                    "updatedBars": list(&self.channels.updated),
                    "dailyBars": list(&self.channels.daily),
                    "statuses": [], "lulds": [], "corrections": [], "cancelErrors": [],
                }]);
                self.send_json(reply).await
            }
            _ => self.send_error(400, "invalid syntax").await,
        }
    }

    async fn send_error(&mut self, code: u16, msg: &str) -> bool {
        self.send_json(json!([{"T": "error", "code": code, "msg": msg}]))
            .await
    }

    async fn send_json(&mut self, value: Value) -> bool {
        let message = match self.codec {
            Codec::MsgPack => match rmp_serde::to_vec_named(&value) {
                Ok(bytes) => Message::Binary(bytes.into()),
                Err(_) => return false,
            },
            Codec::Json => Message::text(value.to_string()),
        };
        self.socket.send(message).await.is_ok()
    }
}

/// The symbols of one channel list in a subscribe message, at most a few thousand.
fn symbols_in(request: &Value, name: &str) -> Vec<String> {
    request
        .get(name)
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .take(10_000)
        .filter_map(Value::as_str)
        .filter(|s| *s == "*" || crate::domain::Symbol::parse(s).is_ok())
        .map(str::to_owned)
        .collect()
}

/// Whether `key` is a tsapi key that may read (or reads need none).
fn check_read_key(auth: &Auth, key: &str) -> Result<(), ApiError> {
    let mut headers = HeaderMap::new();
    if let Ok(value) = HeaderValue::from_str(key) {
        headers.insert("x-api-key", value);
    }
    auth.check(&Method::GET, &headers, None)
}

/// A bar as Alpaca's stream sends it.
#[derive(Serialize)]
struct AlpacaBar {
    #[serde(rename = "T")]
    kind: &'static str,
    #[serde(rename = "S")]
    symbol: String,
    o: f64,
    h: f64,
    l: f64,
    c: f64,
    v: i64,
    t: BarTime,
    /// Trade count and vwap: null where the table has none.
    n: Option<i64>,
    vw: Option<f64>,
}

impl AlpacaBar {
    /// The one mapping of a live bar into Alpaca's stream message (`kind` is `b` for a new
    /// bar, `u` for an updated one); `None` for a bar without all four prices, which
    /// Alpaca's clients cannot read.
    fn new(kind: &'static str, bar: &crate::domain::Bar) -> Option<Self> {
        Some(Self {
            kind,
            symbol: bar.symbol.as_str().to_owned(),
            o: bar.values.price_open?,
            h: bar.values.price_high?,
            l: bar.values.price_low?,
            c: bar.values.price_close?,
            v: bar.values.trading_volume.unwrap_or(0),
            t: BarTime(bar.time),
            n: bar.values.trade_count,
            vw: bar.values.vwap,
        })
    }
}

/// A time: RFC 3339 in JSON, MessagePack's timestamp extension (type -1) in MessagePack,
/// as Alpaca sends it.
struct BarTime(chrono::DateTime<chrono::Utc>);

impl Serialize for BarTime {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        if s.is_human_readable() {
            return s.serialize_str(&crate::render::rfc3339(self.0));
        }
        let mut bytes = [0u8; 12];
        bytes[..4].copy_from_slice(&self.0.timestamp_subsec_nanos().to_be_bytes());
        bytes[4..].copy_from_slice(&self.0.timestamp().to_be_bytes());
        s.serialize_newtype_struct(rmp_serde::MSGPACK_EXT_STRUCT_NAME, &(-1i8, Raw(&bytes)))
    }
}

struct Raw<'a>(&'a [u8]);

impl Serialize for Raw<'_> {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_bytes(self.0)
    }
}
