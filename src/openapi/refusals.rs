//! The refusals many operations share, each described once for the OpenAPI document: a
//! handler lists the ones it may give in its `#[utoipa::path(responses(...))]`, next to
//! the answers of its own. The key check's 401 and 403 are added by [`super::mark_keyed`].

use utoipa::IntoResponses;

use super::Problem;
use crate::error::PROBLEM_JSON;

/// Declares each refusal as a response type of one status and description whose body is a
/// [`Problem`], served as problem+json like every error.
macro_rules! refusals {
    ($($(#[$doc:meta])* $name:ident = $status:literal, $description:literal;)*) => {$(
        $(#[$doc])*
        #[derive(IntoResponses)]
        #[response(status = $status, description = $description, content_type = PROBLEM_JSON)]
        pub struct $name(pub Problem);
    )*};
}

refusals! {
    /// 400 of a read: a query parameter is unknown, repeated or out of range.
    InvalidParameter = 400, "A parameter is invalid; `detail` names it";
    /// 406 of a read that answers in several formats: `Accept` allows none of them.
    NotAcceptable = 406, "`Accept` allows none of JSON, CSV, NDJSON, Arrow and Parquet";
    /// 413 of a write: the body is over its byte limit, or holds too many records.
    BodyTooLarge = 413, "Over the body size or record limit";
    /// 415 of a write that reads JSON, NDJSON or CSV.
    UnsupportedBody = 415, "Unsupported Content-Type or Content-Encoding";
    /// 422 of a write: records that parse but are invalid; nothing is stored.
    InvalidRecords = 422,
        "Invalid records, each named in `errors` by index, line and field; nothing was stored";
    /// 503: the database is unavailable, or the request ran out of time.
    Unavailable = 503, "The database is unavailable or too slow";
}
