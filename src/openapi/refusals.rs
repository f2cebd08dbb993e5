//! The refusals many operations share, each described once for the OpenAPI document: a
//! handler lists the ones it may give in its `#[utoipa::path(responses(...))]`, next to
//! the answers of its own. Every one is problem+json ([`Problem`]). The key check's 401 and
//! 403 are added by [`super::mark_keyed`].

use utoipa::IntoResponses;

use super::Problem;
use crate::error::PROBLEM_JSON;

/// 400 of a read: a query parameter is unknown, repeated or out of range.
#[derive(IntoResponses)]
#[response(
    status = 400,
    description = "A parameter is invalid; `detail` names it",
    content_type = PROBLEM_JSON
)]
pub struct InvalidParameter(pub Problem);

/// 413 of a write: the body is over its byte limit, or holds too many records.
#[derive(IntoResponses)]
#[response(
    status = 413,
    description = "Over the body size or record limit",
    content_type = PROBLEM_JSON
)]
pub struct BodyTooLarge(pub Problem);

/// 415 of a write that reads JSON, NDJSON or CSV.
#[derive(IntoResponses)]
#[response(
    status = 415,
    description = "Unsupported Content-Type or Content-Encoding",
    content_type = PROBLEM_JSON
)]
pub struct UnsupportedBody(pub Problem);

/// 422 of a write: records that parse but are invalid; nothing is stored.
#[derive(IntoResponses)]
#[response(
    status = 422,
    description = "Invalid records, each named in `errors` by index, line and field; nothing was stored",
    content_type = PROBLEM_JSON
)]
pub struct InvalidRecords(pub Problem);

/// 503: the database is unavailable, or the request ran out of time.
#[derive(IntoResponses)]
#[response(
    status = 503,
    description = "The database is unavailable or too slow",
    content_type = PROBLEM_JSON
)]
pub struct Unavailable(pub Problem);
