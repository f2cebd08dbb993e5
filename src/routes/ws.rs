//! `GET /v1/ws`: live bars over a WebSocket, with JSON subscribe/unsubscribe messages.

use std::collections::HashSet;

use axum::extract::State;
use axum::extract::ws::{CloseFrame, Message, WebSocket, WebSocketUpgrade};
use axum::response::Response;
use serde::Deserialize;
use serde_json::json;

use super::stream::feed_of;
use crate::error::ApiError;
use crate::feed::subscription::Next;
use crate::feed::{Feed, Selection, Status, Subscription};
use crate::state::AppState;

/// Close code sent to a client that fell too far behind (resume with `since`).
pub const CLOSE_LAGGED: u16 = 4008;
/// Largest client message, in bytes.
const MAX_MESSAGE: usize = 64 * 1024;

/// Live bars over a WebSocket.
///
/// Send `{"action":"subscribe","symbols":["AAPL","MSFT"],"since":123}` (`"*"` for every
/// symbol; `since` optional, on the first subscribe only: resume after that event id) and
/// `{"action":"unsubscribe","symbols":[...]}`. Receive `{"type":"subscribed","symbols":[..]}`,
/// `{"type":"bar"|"updated_bar","id":N,"bar":{...}}`, `{"type":"status","state":..}`,
/// `{"type":"gap","after","resumed_before"}` and `{"type":"error","detail"}`. A client that
/// falls more than `TSAPI_STREAM_QUEUE` events behind is closed with code 4008 and a
/// reason naming its last id.
#[utoipa::path(
    get,
    path = "/v1/ws",
    tag = "v1",
    responses(
        (status = 101, description = "Switching to the WebSocket protocol"),
        (status = 400, description = "Not a WebSocket request, or this deployment does not \
            stream (Lambda)", body = crate::openapi::Problem,
            content_type = "application/problem+json"),
    )
)]
pub async fn ws(
    State(state): State<AppState>,
    upgrade: WebSocketUpgrade,
) -> Result<Response, ApiError> {
    let feed = feed_of(&state)?.clone();
    Ok(upgrade
        .max_message_size(MAX_MESSAGE)
        .on_upgrade(move |socket| session(socket, feed)))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
struct Request {
    action: String,
    #[serde(default)]
    symbols: Vec<String>,
    since: Option<i64>,
}

async fn session(mut socket: WebSocket, feed: Feed) {
    let mut wanted: Option<Selection> = None;
    let mut subscription: Option<Subscription> = None;
    loop {
        let next = async {
            match subscription.as_mut() {
                Some(s) => s.next().await,
                None => std::future::pending().await,
            }
        };
        tokio::select! {
            message = socket.recv() => {
                let text = match message {
                    Some(Ok(Message::Text(text))) => text,
                    Some(Ok(Message::Close(_))) | None | Some(Err(_)) => return,
                    Some(Ok(_)) => continue,
                };
                let reply = handle(&feed, &text, &mut wanted, &mut subscription).await;
                if socket.send(Message::text(reply.to_string())).await.is_err() {
                    return;
                }
            }
            next = next => {
                let out = match next {
                    Some(Ok(Next::Bar(event))) => json!({
                        "type": if event.bar.updated { "updated_bar" } else { "bar" },
                        "id": event.bar.id,
                        "bar": &event.bar.bar,
                    }),
                    Some(Ok(Next::Status(Status::Gap { after, resumed_before }))) => json!({
                        "type": "gap", "after": after, "resumed_before": resumed_before,
                    }),
                    Some(Ok(Next::Status(status))) => json!({
                        "type": "status",
                        "state": if status == Status::Live { "live" } else { "reconnecting" },
                    }),
                    Some(Ok(Next::Lagged { last_id })) => {
                        let _ = socket.send(Message::Close(Some(CloseFrame {
                            code: CLOSE_LAGGED,
                            reason: format!("lagged: resume with since={last_id}").into(),
                        }))).await;
                        return;
                    }
                    Some(Err(_)) | None => {
                        let _ = socket.send(Message::Close(Some(CloseFrame {
                            code: 1011,
                            reason: "the replay from the log failed; reconnect".into(),
                        }))).await;
                        return;
                    }
                };
                if socket.send(Message::text(out.to_string())).await.is_err() {
                    return;
                }
            }
        }
    }
}

/// Applies one client message; the reply to send.
async fn handle(
    feed: &Feed,
    text: &str,
    wanted: &mut Option<Selection>,
    subscription: &mut Option<Subscription>,
) -> serde_json::Value {
    let error = |detail: String| json!({"type": "error", "detail": detail});
    let request: Request = match serde_json::from_str(text) {
        Ok(r) => r,
        Err(e) => return error(format!("not a valid message: {e}")),
    };
    let list = request.symbols.join(",");
    let named = if request.symbols.is_empty() {
        return error("`symbols` must name at least one symbol, or \"*\"".into());
    } else {
        match super::stream::parse_selection(&list, feed.limits.max_symbols) {
            Ok(s) => s,
            Err(e) => return error(format!("`symbols`: {e}")),
        }
    };
    let next = match (request.action.as_str(), wanted.take(), named) {
        ("subscribe", _, Selection::All) | ("subscribe", Some(Selection::All), _) => Selection::All,
        ("subscribe", Some(Selection::Symbols(mut held)), Selection::Symbols(new)) => {
            held.extend(new);
            Selection::Symbols(held)
        }
        ("subscribe", None, named) => named,
        ("unsubscribe", Some(Selection::Symbols(mut held)), Selection::Symbols(gone)) => {
            held.retain(|s| !gone.contains(s));
            Selection::Symbols(held)
        }
        ("unsubscribe", _, _) => Selection::Symbols(HashSet::new()),
        (other, held, _) => {
            *wanted = held;
            return error(format!(
                "unknown action {other:?}: use subscribe or unsubscribe"
            ));
        }
    };
    if let Selection::Symbols(set) = &next
        && set.len() > feed.limits.max_symbols
    {
        return error(format!(
            "at most {} symbols per subscription",
            feed.limits.max_symbols
        ));
    }
    match subscription {
        Some(s) => s.reselect(next.clone()),
        None => match feed.subscribe(next.clone(), request.since).await {
            Ok(s) => *subscription = Some(s),
            Err(e) => return error(e.to_string()),
        },
    }
    let symbols: Vec<String> = match &next {
        Selection::All => vec!["*".into()],
        Selection::Symbols(set) => {
            let mut v: Vec<String> = set.iter().cloned().collect();
            v.sort();
            v
        }
    };
    *wanted = Some(next);
    json!({"type": "subscribed", "symbols": symbols})
}
