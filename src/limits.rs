//! Backpressure: a cap on requests served at once, and a deadline for each request.
//!
//! Past the cap a request waits briefly for a turn and is then shed with a 503, so a
//! burst cannot pile up unbounded work (and memory) behind the database pool.

use std::sync::Arc;
use std::time::Duration;

use axum::extract::{Request, State};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use tokio::sync::Semaphore;

use crate::config::ApiArgs;
use crate::error::ApiError;

/// How long a request over the cap waits for a turn before it is shed.
const QUEUE_WAIT: Duration = Duration::from_millis(500);

/// Liveness answers even when the server is saturated.
const EXEMPT_PATHS: [&str; 1] = ["/healthz"];

#[derive(Debug)]
pub struct Limits {
    permits: Arc<Semaphore>,
    max_concurrent: usize,
    request_timeout: Duration,
}

impl Limits {
    pub fn new(settings: &ApiArgs) -> Self {
        let max_concurrent = settings.max_concurrent_requests.max(1);
        Self {
            permits: Arc::new(Semaphore::new(max_concurrent)),
            max_concurrent,
            request_timeout: settings.request_timeout,
        }
    }
}

/// The middleware: take a turn (or shed), then run the request under its deadline.
pub async fn enforce(State(limits): State<Arc<Limits>>, request: Request, next: Next) -> Response {
    if EXEMPT_PATHS.contains(&request.uri().path()) {
        return next.run(request).await;
    }
    let wait = QUEUE_WAIT.min(limits.request_timeout);
    let Ok(Ok(_permit)) = tokio::time::timeout(wait, limits.permits.clone().acquire_owned()).await
    else {
        return ApiError::Unavailable(format!(
            "the server is answering its limit of {} requests at once; retry shortly",
            limits.max_concurrent
        ))
        .into_response();
    };
    match tokio::time::timeout(limits.request_timeout, next.run(request)).await {
        Ok(response) => response,
        Err(_) => ApiError::Unavailable(format!(
            "the request took longer than {}; retry later or ask for less",
            humantime::format_duration(limits.request_timeout)
        ))
        .into_response(),
    }
}

/// Longest request target (path and query) served. Far above any sane query (1,000
/// symbols fit in 12 KiB), and below the HTTP layer's own limit (64 KiB), whose refusal
/// could not be a problem+json answer.
pub const MAX_URI_BYTES: usize = 32 * 1024;

/// Middleware: a request target over [`MAX_URI_BYTES`] is a 414, before any work.
pub async fn refuse_long_uris(request: Request, next: Next) -> Response {
    let length = request
        .uri()
        .path_and_query()
        .map_or(0, |target| target.as_str().len());
    if length > MAX_URI_BYTES {
        return ApiError::UriTooLong(format!(
            "the request target is {length} bytes; at most {MAX_URI_BYTES} are read. \
             Ask for fewer symbols per request"
        ))
        .into_response();
    }
    next.run(request).await
}
