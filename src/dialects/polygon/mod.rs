//! Polygon's (Massive's) aggregates API, under `/polygon`:
//! `massive.RESTClient(api_key=KEY, base=".../polygon")` works unchanged. The key comes
//! as `Authorization: Bearer KEY` (what the client sends) or the `apiKey` query parameter.

pub mod aggs;
pub mod market;
mod range;

use axum::http::HeaderMap;

pub use range::{parse_bound, timespan_interval};

use crate::dialects::unsupported;
use crate::error::ApiError;
use crate::observe::REQUEST_ID;

/// `adjusted=true` (or anything but false) is refused: no corporate actions are stored.
pub fn refuse_adjusted(adjusted: Option<&str>) -> Result<(), ApiError> {
    if adjusted.is_some_and(|a| a != "false") {
        return Err(unsupported(
            "adjusted",
            "only false is supported: this server stores no corporate actions",
        ));
    }
    Ok(())
}

/// This request's id, which Polygon answers carry as `request_id`.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
