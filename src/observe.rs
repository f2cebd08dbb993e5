//! What operators see: a request id on every request, one log line per request, and
//! Prometheus metrics.
//!
//! Metrics go through the `metrics` facade to a process-wide Prometheus recorder, the way
//! `tracing` works for logs: any module can count without threading a registry around.

use std::sync::OnceLock;
use std::time::{Duration, Instant};

use axum::extract::{MatchedPath, Request};
use axum::http::HeaderValue;
use axum::middleware::Next;
use axum::response::Response;
use metrics_exporter_prometheus::{Matcher, PrometheusBuilder, PrometheusHandle};
use tracing::Instrument;

use crate::db::{PgPool, SharedConnection};
use crate::error::DatabaseFailure;
use crate::state::AppState;

/// The header that carries the request id, in and out.
pub const REQUEST_ID: &str = "x-request-id";

/// Latency buckets in seconds: from a cached read to a large bulk insert.
const LATENCY_BUCKETS: &[f64] = &[
    0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0,
];

/// How often recorded latencies are folded into the histograms' buckets.
const UPKEEP_EVERY: Duration = Duration::from_secs(5);

/// The process's Prometheus recorder, installed on first use.
///
/// The recorder keeps each latency sample until upkeep folds it into the buckets; without
/// a scrape to trigger that, samples would pile up for as long as the server runs, so a
/// thread of its own does it on a timer.
pub fn prometheus() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let handle = PrometheusBuilder::new()
            .set_buckets_for_metric(
                Matcher::Full("tsapi_http_request_duration_seconds".into()),
                LATENCY_BUCKETS,
            )
            .expect("buckets are not empty")
            .install_recorder()
            .expect("only this function installs a recorder");
        let upkeep = handle.clone();
        let spawned = std::thread::Builder::new()
            .name("metrics-upkeep".into())
            .spawn(move || {
                loop {
                    std::thread::sleep(UPKEEP_EVERY);
                    upkeep.run_upkeep();
                }
            });
        if let Err(e) = spawned {
            tracing::warn!(error = %e, "no metrics upkeep thread; histograms fold at scrapes only");
        }
        handle
    })
}

/// The metrics page: pool gauges are read at scrape time, everything else accumulates.
pub fn render_metrics(state: &AppState) -> String {
    let handle = prometheus();
    pool_gauges("primary", &state.pool, &state.point_reads);
    if let Some(replica) = &state.replica {
        pool_gauges("replica", replica.pool(), replica.shared());
    }
    handle.run_upkeep();
    handle.render()
}

/// The gauges of one pool and of its connection for pipelined point reads.
fn pool_gauges(name: &'static str, pool: &PgPool, shared: &SharedConnection) {
    let status = pool.status();
    let label = [("pool", name)];
    metrics::gauge!("tsapi_db_pool_max_connections", &label).set(status.max_size as f64);
    metrics::gauge!("tsapi_db_pool_connections", &label).set(status.size as f64);
    metrics::gauge!("tsapi_db_pool_connections_in_use", &label)
        .set(status.size.saturating_sub(status.available) as f64);
    metrics::gauge!("tsapi_db_pool_waiting", &label).set(status.waiting as f64);
    metrics::gauge!("tsapi_db_shared_connection_open", &label).set(if shared.is_open() {
        1.0
    } else {
        0.0
    });
}

/// Middleware: gives the request an id, runs it inside a span carrying that id, then logs
/// and counts the outcome under the route's template (`/ticker/daily`, not the raw URI).
pub async fn observe(mut request: Request, next: Next) -> Response {
    prometheus();
    let id = request_id(&request);
    let header = HeaderValue::from_str(&id).expect("request ids are visible ASCII");
    request.headers_mut().insert(REQUEST_ID, header.clone());
    let method = request.method().clone();
    let route = request
        .extensions()
        .get::<MatchedPath>()
        .map_or("unmatched", MatchedPath::as_str)
        .to_owned();
    let span = tracing::info_span!("request", id = %id, method = %method, route = %route);
    let started = Instant::now();
    let mut response = next.run(request).instrument(span.clone()).await;
    let seconds = started.elapsed().as_secs_f64();
    let status = response.status().as_u16();
    span.in_scope(|| {
        let latency_ms = (seconds * 1_000_000.0).round() / 1000.0;
        tracing::info!(status, latency_ms, "request finished");
    });
    let labels = [
        ("method", method.to_string()),
        ("route", route),
        ("status", status.to_string()),
    ];
    if let Some(failure) = response.extensions().get::<DatabaseFailure>() {
        span.in_scope(|| log_database_failure(failure, status));
    }
    metrics::counter!("tsapi_http_requests_total", &labels).increment(1);
    metrics::histogram!("tsapi_http_request_duration_seconds", &labels).record(seconds);
    response.headers_mut().insert(REQUEST_ID, header);
    response
}

/// Counts a database failure by kind, and logs it at the level its answer deserves: the
/// server's fault loudly, a refused request (a duplicate, a bad value) quietly.
fn log_database_failure(failure: &DatabaseFailure, status: u16) {
    let DatabaseFailure { kind, cause } = failure;
    metrics::counter!("tsapi_db_errors_total", "kind" => *kind).increment(1);
    match status {
        503 => tracing::warn!(error = %cause, kind, "database unavailable"),
        // Logged with its cause where it became an internal error.
        500.. => {}
        _ => tracing::info!(error = %cause, kind, "database refused the request"),
    }
}

/// The caller's `X-Request-Id` when it is a sane token, else the Lambda invocation's id,
/// else a new UUID.
fn request_id(request: &Request) -> String {
    request
        .headers()
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .filter(|id| is_sane_id(id))
        .map(str::to_owned)
        .or_else(|| {
            let lambda = request.extensions().get::<lambda_runtime::Context>()?;
            Some(lambda.request_id.clone()).filter(|id| is_sane_id(id))
        })
        .unwrap_or_else(|| uuid::Uuid::new_v4().to_string())
}

/// At most 128 characters of letters, digits and `-_.:/+=@`: enough for UUIDs, trace ids and
/// Lambda request ids, and nothing that could forge a log line.
fn is_sane_id(id: &str) -> bool {
    !id.is_empty()
        && id.len() <= 128
        && id
            .chars()
            .all(|c| c.is_ascii_alphanumeric() || "-_.:/+=@".contains(c))
}

#[cfg(test)]
mod tests {
    #[test]
    fn keeps_sane_ids_and_refuses_the_rest() {
        assert!(super::is_sane_id("0b6f3c1e-2f1d-4a53-9a57-3f3c5b0f7d11"));
        assert!(super::is_sane_id(
            "Root=1-5759e988-bd862e3fe1be46a994272793"
        ));
        assert!(!super::is_sane_id(""));
        assert!(!super::is_sane_id("a b"));
        assert!(!super::is_sane_id("line\nbreak"));
        assert!(!super::is_sane_id(&"x".repeat(129)));
    }
}
