//! The one route table, and the layers every request passes through.

use std::any::Any;
use std::sync::Arc;

use axum::Router;
use axum::extract::DefaultBodyLimit;
use axum::middleware;
use axum::middleware::from_fn_with_state;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use tower_http::catch_panic::CatchPanicLayer;

use crate::error::ApiError;
use crate::limits::Limits;
use crate::observe;
use crate::routes::{
    bars, chart, fallback, health, insert, market, metrics, symbols, ticker, write,
};
use crate::state::AppState;

/// Builds the whole HTTP API. `tsapi serve`, the Lambda runtime and the tests all use this.
pub fn router(state: AppState) -> Router {
    let body_limit = state.settings.body_limit;
    let limits = Arc::new(Limits::new(&state.settings));
    let auth = state.auth.clone();
    Router::new()
        // The tutorial's paths, kept by name.
        .route("/ticker", get(ticker::latest))
        .route("/ticker/daily", get(ticker::daily))
        .route("/insert", post(insert::insert))
        // Operations.
        .route("/healthz", get(health::healthz))
        .route("/readyz", get(health::readyz))
        .route("/metrics", get(metrics::metrics))
        // The versioned API and its description.
        .route("/v1/bars", get(bars::bars).post(write::write_bars))
        .route("/v1/bars/latest", get(bars::latest))
        .route("/v1/symbols", get(symbols::symbols))
        .route("/v1/snapshots", get(market::snapshots))
        .route("/v1/bars/grouped", get(market::grouped))
        .route("/v1/bars/previous", get(market::previous))
        // For people: a page with a chart.
        .route("/", get(chart::page))
        .route("/v1/bars/chart.svg", get(chart::chart))
        .route("/openapi.json", get(crate::openapi::serve))
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(DefaultBodyLimit::max(body_limit))
        .layer(from_fn_with_state(auth, crate::auth::require_key))
        .layer(from_fn_with_state(limits, crate::limits::enforce))
        .layer(CatchPanicLayer::custom(panic_response))
        // Outermost, so that it sees panics turned into 500s too.
        .layer(middleware::from_fn(observe::observe))
        .with_state(state)
}

/// A panic is a bug: log it, answer 500 problem+json, keep serving.
fn panic_response(panic: Box<dyn Any + Send + 'static>) -> Response {
    let what = panic
        .downcast_ref::<&str>()
        .map(|s| s.to_string())
        .or_else(|| panic.downcast_ref::<String>().cloned())
        .unwrap_or_else(|| "unknown panic".into());
    ApiError::Internal(format!("handler panicked: {what}")).into_response()
}
