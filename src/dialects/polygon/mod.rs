//! Polygon's (Massive's) aggregates API, under `/polygon`:
//! `massive.RESTClient(api_key=KEY, base=".../polygon")` works unchanged. The key comes
//! as `Authorization: Bearer KEY` (what the client sends) or the `apiKey` query parameter.

pub mod aggs;
pub mod market;
mod range;

use axum::http::HeaderMap;

pub use range::{parse_bound, timespan_interval};

use crate::dialects::unsupported;
use crate::domain::actions::Adjustment;
use crate::error::ApiError;
use crate::observe::REQUEST_ID;

/// `adjusted`: `true` (Polygon's default: split-adjusted, as Polygon adjusts) or `false`
/// (as stored), in any case (Python clients send `True`).
pub fn parse_adjusted(adjusted: Option<&str>) -> Result<bool, ApiError> {
    match adjusted.map(|a| a.trim().to_ascii_lowercase()).as_deref() {
        None | Some("true") => Ok(true),
        Some("false") => Ok(false),
        Some(_) => Err(unsupported("adjusted", "must be true or false")),
    }
}

/// The core's adjustment for Polygon's `adjusted` flag: splits only, as Polygon's own.
pub fn adjustment_of(adjusted: bool) -> Adjustment {
    if adjusted {
        Adjustment::Split
    } else {
        Adjustment::Raw
    }
}

/// This request's id, which Polygon answers carry as `request_id`.
pub fn request_id(headers: &HeaderMap) -> String {
    headers
        .get(REQUEST_ID)
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned()
}
