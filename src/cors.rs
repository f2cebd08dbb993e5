//! Cross-origin access for browser apps (`TSAPI_CORS_ORIGINS`).
//!
//! Off unless origins are configured. A preflight (`OPTIONS` with
//! `Access-Control-Request-Method`) is answered here, before the key check, since browsers
//! send it without credentials; the real request that follows still needs its key.

use axum::http::{HeaderName, HeaderValue, Method, header};
use tower_http::cors::{AllowOrigin, Any, CorsLayer};

/// How long a browser may cache a preflight answer.
const PREFLIGHT_MAX_AGE: std::time::Duration = std::time::Duration::from_secs(600);

/// The CORS layer for the configured origins (a list, or `*` for any); none configured:
/// no layer, so answers carry no CORS headers and browsers keep other origins out.
pub fn layer(origins: &[String]) -> Option<CorsLayer> {
    let origins: Vec<&str> = origins
        .iter()
        .map(|o| o.trim())
        .filter(|o| !o.is_empty())
        .collect();
    if origins.is_empty() {
        return None;
    }
    let allow_origin = if origins.contains(&"*") {
        AllowOrigin::from(Any)
    } else {
        AllowOrigin::list(origins.iter().filter_map(|origin| {
            let value = HeaderValue::from_str(origin.trim_end_matches('/'));
            if value.is_err() {
                tracing::warn!(origin, "TSAPI_CORS_ORIGINS: not a valid origin; ignored");
            }
            value.ok()
        }))
    };
    let layer = CorsLayer::new()
        .allow_origin(allow_origin)
        .allow_methods([Method::GET, Method::HEAD, Method::POST])
        .allow_headers([
            header::AUTHORIZATION,
            header::CONTENT_TYPE,
            header::CONTENT_ENCODING,
            header::ACCEPT,
            HeaderName::from_static("x-api-key"),
            HeaderName::from_static("x-request-id"),
            HeaderName::from_static("last-event-id"),
        ])
        .expose_headers([
            HeaderName::from_static("x-request-id"),
            header::RETRY_AFTER,
            // The token of the next Arrow page of `/v1/bars`.
            HeaderName::from_static("next-page-token"),
        ])
        .max_age(PREFLIGHT_MAX_AGE);
    Some(layer)
}
