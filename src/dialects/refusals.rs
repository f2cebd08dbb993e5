//! The refusals every dialect read may give, described once per dialect for the OpenAPI
//! document: a handler names its dialect's type in `#[utoipa::path(responses(...))]`, next
//! to the answers of its own. The bodies are the dialect's error shapes, which
//! [`super::dialect_errors`] makes of every problem+json answer.
//!
//! A response type only refers to its body's schema; the document holds that schema
//! because responses written out in full name it too (each dialect's 404s, the Alpaca
//! stream's 400).

use utoipa::IntoResponses;

use super::alpaca::bars::AlpacaError;
use super::polygon::aggs::PolygonError;

/// Declares a dialect's refusals as one response type, each refusal in `$body`. Their 401
/// and 403 are listed here, so the key check's problem+json ones are not added for them.
macro_rules! dialect_refusals {
    ($($(#[$doc:meta])* $name:ident($body:ty);)*) => {$(
        $(#[$doc])*
        #[derive(IntoResponses)]
        pub enum $name {
            #[response(status = 400, description = "A parameter is invalid or unsupported")]
            InvalidParameter($body),
            #[response(status = 401, description = "No API key, or one that is not configured")]
            NoKey($body),
            #[response(status = 403, description = "The API key may not read")]
            MayNotRead($body),
            #[response(status = 503, description = "The database is unavailable")]
            Unavailable($body),
        }
    )*};
}

dialect_refusals! {
    /// The refusals of every Alpaca read, as `{code, message}`.
    AlpacaRefusals(AlpacaError);
    /// The refusals of every Polygon read, as `{status, request_id, error}`.
    PolygonRefusals(PolygonError);
}
