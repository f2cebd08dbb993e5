//! `GET /v1/stream`: live bars as Server-Sent Events, resumable by event id.

use std::collections::HashSet;
use std::convert::Infallible;
use std::time::Duration;

use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::sse::{Event, KeepAlive, Sse};
use futures_util::Stream;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{ApiQuery, param};
use crate::error::ApiError;
use crate::feed::{Feed, Selection, Status, Subscription, subscription::Next};
use crate::openapi::Problem;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct StreamParams {
    /// Comma-separated symbols, or `*` for every symbol.
    #[param(example = "AAPL,MSFT")]
    symbols: String,
    /// Resume after this event id (the `Last-Event-ID` header wins when both are sent).
    since: Option<i64>,
}

/// Live bars as Server-Sent Events.
///
/// Events: `bar` (a newly stored bar) and `updated_bar` (an upsert replaced a stored bar),
/// each with the bar as JSON and an `id` in commit order across every writer; `status`
/// (`{"state":"reconnecting"}` while this server has lost the database: bars are delayed,
/// not lost; `{"state":"live"}` once caught up); `gap` (`{"after","resumed_before"}`: bars
/// with ids in between left the replay window and cannot be sent); `lagged` (this client
/// fell more than `TSAPI_STREAM_QUEUE` events behind and is disconnected: reconnect with
/// `Last-Event-ID`, which browsers do by themselves).
///
/// Resuming with `Last-Event-ID` (or `since`) sends every bar committed after that id
/// and still within `TSAPI_STREAM_REPLAY_WINDOW`, exactly once, then live bars. A bar is
/// "missed" by commit order, not by bar time: a backfilled bar of last year committed
/// while the client was away is sent on resume.
/// One Server-Sent Event as it is framed on the wire, for the OpenAPI document.
#[derive(utoipa::ToSchema)]
#[allow(dead_code)] // describes the wire format; never built
pub struct StreamEvent {
    /// `bar`, `updated_bar`, `status`, `gap`, `lagged` or `error`.
    event: String,
    /// The event id, for `Last-Event-ID` (bars only).
    id: Option<String>,
    /// JSON text: a bar, or what happened.
    data: String,
}

#[utoipa::path(
    get,
    path = "/v1/stream",
    tag = "v1",
    params(StreamParams, ("Last-Event-ID" = Option<String>, Header,
        description = "Resume after this event id")),
    responses(
        (status = 200, description = "An event stream: `bar` and `updated_bar` events carry a \
            bar as JSON in `data` and its event id in `id`; `status`, `gap`, `lagged` and \
            `error` events say what the stream could not do",
            content_type = "text/event-stream", body = StreamEvent),
        (status = 400, description = "A parameter is invalid, or this deployment does not \
            stream (Lambda)", body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "Too many subscribers on this server",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn stream(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<StreamParams>,
) -> Result<Sse<impl Stream<Item = Result<Event, Infallible>>>, ApiError> {
    let feed = feed_of(&state)?;
    let selection = param(
        "symbols",
        parse_selection(&params.symbols, feed.limits.max_symbols),
    )?;
    let since = match headers.get("last-event-id") {
        Some(value) => Some(param(
            "Last-Event-ID",
            value
                .to_str()
                .ok()
                .and_then(|v| v.trim().parse::<i64>().ok())
                .filter(|v| *v >= 0)
                .ok_or_else(|| "must be an event id (a non-negative integer)".to_owned()),
        )?),
        None => params.since,
    };
    if since.is_some_and(|s| s < 0) {
        return Err(ApiError::BadRequest(
            "parameter `since`: must be a non-negative event id".into(),
        ));
    }
    let subscription = feed
        .subscribe(selection, since)
        .await
        .map_err(|e| ApiError::Unavailable(e.to_string()))?;
    let events = futures_util::stream::unfold(Some(subscription), next_event);
    Ok(Sse::new(events).keep_alive(KeepAlive::new().interval(Duration::from_secs(15))))
}

/// The feed of this deployment, or a 400 where there is none (Lambda, TSAPI_STREAM=false).
pub fn feed_of(state: &AppState) -> Result<&Feed, ApiError> {
    state.feed.as_ref().ok_or_else(|| {
        ApiError::BadRequest(
            "this deployment does not stream live bars (Lambda, or TSAPI_STREAM=false): \
             connect to a `tsapi serve` instance"
                .into(),
        )
    })
}

/// `*`, or a comma-separated list of at most `max` symbols.
pub fn parse_selection(raw: &str, max: usize) -> Result<Selection, String> {
    if raw.trim() == "*" {
        return Ok(Selection::All);
    }
    let symbols = crate::domain::bars_query::parse_symbol_list(raw, max)?;
    Ok(Selection::Symbols(
        symbols
            .into_iter()
            .map(|s| s.as_str().to_owned())
            .collect::<HashSet<_>>(),
    ))
}

async fn next_event(
    subscription: Option<Subscription>,
) -> Option<(Result<Event, Infallible>, Option<Subscription>)> {
    let mut subscription = subscription?;
    let event = match subscription.next().await? {
        Ok(Next::Bar(event)) => Event::default()
            .event(if event.bar.updated {
                "updated_bar"
            } else {
                "bar"
            })
            .id(event.bar.id.to_string())
            .data(event.json()),
        Ok(Next::Status(Status::Gap {
            after,
            resumed_before,
        })) => Event::default().event("gap").data(
            serde_json::json!({"after": after, "resumed_before": resumed_before}).to_string(),
        ),
        Ok(Next::Status(status)) => {
            let state = if status == Status::Live {
                "live"
            } else {
                "reconnecting"
            };
            Event::default()
                .event("status")
                .data(serde_json::json!({ "state": state }).to_string())
        }
        Ok(Next::Lagged { last_id }) => {
            return Some((
                Ok(Event::default()
                    .event("lagged")
                    .id(last_id.to_string())
                    .data(serde_json::json!({ "last_id": last_id }).to_string())),
                None,
            ));
        }
        Err(e) => {
            tracing::warn!(error = %e, "a stream's replay failed");
            return Some((
                Ok(Event::default().event("error").data(
                    serde_json::json!({"detail": "the replay from the log failed; reconnect"})
                        .to_string(),
                )),
                None,
            ));
        }
    };
    Some((Ok(event), Some(subscription)))
}
