//! The one route table, and the layers every request passes through.
//!
//! Each route is registered once, with its OpenAPI entry (`routes!` reads the handler's
//! `#[utoipa::path]`), so the served document cannot drift from what is served. Who may
//! call a route is visible here too: routes sit in the `keyed` table (an API key with the
//! right scope) or the `public` one (anyone), and the document's security follows from that.

use std::any::Any;
use std::sync::Arc;

use axum::extract::DefaultBodyLimit;
use axum::middleware::{self, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use axum::{Extension, Router};
use tower::util::option_layer;
use tower_http::catch_panic::CatchPanicLayer;
use utoipa::OpenApi;
use utoipa_axum::router::OpenApiRouter;
use utoipa_axum::routes;

use crate::dialects::{alpaca, alpaca_stream, polygon};
use crate::error::ApiError;
use crate::limits::Limits;
use crate::openapi::{self, ApiDoc, OpenApiJson};
use crate::routes::{
    actions, bars, chart, fallback, health, insert, market, metrics, stream, symbols, ticker,
    write, ws,
};
use crate::state::AppState;
use crate::{auth, cors, observe};

/// Builds the whole HTTP API. `tsapi serve`, the Lambda runtime and the tests all use this.
pub fn router(state: AppState) -> Router {
    let (routes, document) = route_table(&state).split_for_parts();
    routes
        .fallback(fallback::not_found)
        .method_not_allowed_fallback(fallback::method_not_allowed)
        .layer(Extension(OpenApiJson::new(&document)))
        .layer(DefaultBodyLimit::max(state.settings.body_limit))
        .layer(middleware::from_fn(crate::limits::refuse_long_uris))
        .layer(middleware::from_fn(crate::error::problem_for_bare_errors))
        .layer(CatchPanicLayer::custom(panic_response))
        // Outside every other answer, so dialect clients get their own error shape always.
        .layer(middleware::from_fn(crate::dialects::dialect_errors))
        .layer(option_layer(cors::layer(&state.settings.cors_origins)))
        // Outermost, so that it sees panics turned into 500s and CORS answers too.
        .layer(middleware::from_fn(observe::observe))
        .with_state(state)
}

/// Every route with its OpenAPI entry: the document served at `/openapi.json` is this table.
pub fn route_table(state: &AppState) -> OpenApiRouter<AppState> {
    let keyed = OpenApiRouter::new()
        // The tutorial's paths, kept by name.
        .routes(routes!(ticker::latest))
        .routes(routes!(ticker::daily))
        .routes(routes!(insert::insert))
        // The versioned API.
        .routes(routes!(bars::bars, write::write_bars))
        .routes(routes!(bars::latest))
        .routes(routes!(actions::write_actions, actions::list_actions))
        .routes(routes!(symbols::symbols))
        // The whole market at once.
        .routes(routes!(market::snapshots))
        .routes(routes!(market::grouped))
        .routes(routes!(market::previous))
        .routes(routes!(chart::chart))
        .routes(routes!(chart::chart_link))
        // Live bars.
        .routes(routes!(stream::stream))
        .routes(routes!(ws::ws))
        // The Alpaca and Polygon dialects (translation over the same query core).
        .routes(routes!(alpaca::bars::bars))
        .routes(routes!(alpaca::bars::symbol_bars))
        .routes(routes!(alpaca::bars::latest_bars))
        .routes(routes!(alpaca::bars::symbol_latest_bar))
        .routes(routes!(alpaca::snapshots::snapshots))
        .routes(routes!(alpaca::snapshots::symbol_snapshot))
        .routes(routes!(polygon::aggs::aggs))
        .routes(routes!(polygon::market::previous_close))
        .routes(routes!(polygon::market::grouped))
        .routes(routes!(polygon::market::open_close))
        // Where `massive` sends a `next_url` (its base + the URL's path); not documented.
        .route(
            polygon::aggs::MASSIVE_NEXT_PATH,
            axum::routing::get(polygon::aggs::aggs),
        );
    // Protocols that carry their key in their own first message, checked by the handler.
    let key_in_protocol = OpenApiRouter::new().routes(routes!(alpaca_stream::stream));
    let public = OpenApiRouter::new()
        // For people: the page asks for a key itself before it reads anything.
        .routes(routes!(chart::page))
        // Operations and the API's own description.
        .routes(routes!(health::readyz))
        .routes(routes!(metrics::metrics))
        .routes(routes!(openapi::serve));
    // Liveness answers even when the server is at its limit of requests.
    let unlimited = OpenApiRouter::new().routes(routes!(health::healthz));
    let keyed = openapi::mark_keyed(keyed)
        .route_layer(from_fn_with_state(state.auth.clone(), auth::require_key))
        // Before the key check: a chart link's signature stands in for a key.
        .route_layer(from_fn_with_state(
            state.links.clone(),
            auth::admit_signed_links,
        ));
    let limits = Arc::new(Limits::new(&state.settings));
    let limited = keyed
        .merge(openapi::mark_public(public))
        .merge(openapi::mark_public(key_in_protocol))
        .route_layer(from_fn_with_state(limits, crate::limits::enforce));
    OpenApiRouter::with_openapi(ApiDoc::openapi())
        .merge(limited)
        .merge(openapi::mark_public(unlimited))
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
