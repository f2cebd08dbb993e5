//! The versioned write path: `POST /v1/bars`, bulk writes streamed straight into COPY.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use serde::Deserialize;

use super::extract::{ApiQuery, BodyType, param};
use crate::db::{OnConflict, Prepared, WriteCounts};
use crate::domain::{InputBounds, RecordRules};
use crate::error::ApiError;
use crate::ingest::{self, BodyFormat, StreamLimits};
use crate::openapi::Problem;
use crate::openapi::refusals::{BodyTooLarge, InvalidRecords, Unavailable, UnsupportedBody};
use crate::state::AppState;

#[derive(Debug, Deserialize, utoipa::IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct WriteQuery {
    /// What to do with a bar whose (symbol, time) is stored: `error` (default, 409),
    /// `ignore` (skip it) or `update` (overwrite the fields it gives).
    on_conflict: Option<String>,
}

/// Write bars in bulk.
///
/// The body is `{"records": [...]}` or a JSON array of records (`application/json`), one
/// record per line (`application/x-ndjson`), or CSV with a header row naming the columns
/// (`text/csv`), each optionally `Content-Encoding: gzip`. It is streamed: records are
/// validated and copied into the table while the body arrives, and committed only when the
/// whole body is valid, so the request is atomic.
///
/// `on_conflict` says what happens to a bar whose (symbol, time) is already stored:
/// `error` (409 naming the first duplicate), `ignore` (kept, counted as skipped) or
/// `update` (the fields the new bar gives replace the stored ones; a field left out or
/// `null` keeps its stored value). A (symbol, time) given twice in one request: `ignore`
/// keeps the first copy, `update` the last (the others count as skipped), `error` is a 409
/// naming both records.
///
/// Records are refused (422) when `price_high` is below `price_low`, `trading_volume` or
/// `trade_count` is negative, or `vwap` is not above 0; a close or open outside high and
/// low is stored as given (real feeds do that). A table without the `trade_count` and
/// `vwap` columns (made without `tsapi migrate`) refuses a record that gives either a
/// non-null value (422 naming the field; `tsapi migrate` adds them). Bounds: a value over `TSAPI_MAX_VALUE_BYTES`, a CSV row or NDJSON line over
/// `TSAPI_MAX_LINE_BYTES` is a 422 naming the record (and field); error messages quote at
/// most 80 characters of input.
///
/// Responses: 200 `{"inserted", "updated", "skipped"}`; 400 malformed body or gzip (the
/// detail names the line); 409 duplicate; 413 over `TSAPI_BULK_BODY_LIMIT` bytes or
/// `TSAPI_BULK_MAX_ROWS` records; 415 unsupported `Content-Type` or `Content-Encoding`;
/// 422 invalid records (`errors` name each record's `index`, `line` and `field`).
#[utoipa::path(
    post,
    path = "/v1/bars",
    tag = "v1",
    params(WriteQuery),
    request_body(
        description = "Records as `{\"records\": [...]}` or a JSON array, NDJSON, or CSV with \
            a header row; optionally `Content-Encoding: gzip`",
        content(
            (crate::openapi::InsertBody = "application/json"),
            (crate::openapi::InsertRecord = "application/x-ndjson"),
            (String = "text/csv"),
        )
    ),
    responses(
        (status = 200, description = "All records stored", body = WriteCounts),
        (status = 400, description = "Malformed body, gzip or parameter; `detail` names the line",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A bar for this symbol and time exists or appears twice in \
            the request (`on_conflict=error`), \
            or the table lacks the unique (symbol, time) index that `ignore` and `update` need",
            body = Problem, content_type = "application/problem+json"),
        BodyTooLarge,
        UnsupportedBody,
        InvalidRecords,
        Unavailable,
    )
)]
pub async fn write_bars(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<WriteQuery>,
    body_type: BodyType,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<WriteCounts>, ApiError> {
    let mode = param(
        "on_conflict",
        OnConflict::parse(query.on_conflict.as_deref().unwrap_or("error")),
    )?;
    let format = body_type.json_ndjson_or_csv("/v1/bars")?;
    let gzip = body_type.gzip;
    let limits = StreamLimits {
        body_bytes: state.settings.bulk_body_limit,
        rows: state.settings.bulk_max_rows,
    };
    let counts = ingest_body(&state, &headers, body, (format, gzip), limits, mode).await?;
    Ok(Json(counts))
}

/// A body streamed into the table in one transaction (`POST /v1/bars`, `POST /insert`):
/// decoded in `format` (gunzipped when the flag says so) while earlier batches are in the
/// database.
pub(crate) async fn ingest_body(
    state: &AppState,
    headers: &HeaderMap,
    body: Body,
    (format, gzip): (BodyFormat, bool),
    limits: StreamLimits,
    mode: OnConflict,
) -> Result<WriteCounts, ApiError> {
    check_declared_length(headers, limits.body_bytes)?;
    let table = state.table.get(state.db()).await?;
    let rules = RecordRules {
        times: state.time_parser(),
        volume: table.volume,
        trade_stats: table.trade_stats,
        bounds: InputBounds {
            value_bytes: state.settings.max_value_bytes,
            line_bytes: state.settings.max_line_bytes,
        },
    };
    let mut client = state.db().await?;
    let work = client.start();
    let cache = client.write_cache();
    let prepared = cache
        .as_deref()
        .map_or(Prepared::PerWrite, Prepared::Cached);
    let counts = ingest::write_stream(
        body.into_data_stream(),
        format,
        gzip,
        limits,
        rules,
        &mut client,
        prepared,
        table,
        mode,
    )
    .await;
    // Failed or not, the transaction has ended: the connection may be reused.
    work.end();
    if let (Ok(counts), Some(feed)) = (&counts, &state.feed) {
        feed.acknowledge(counts.feed_id);
    }
    let counts = counts?;
    // A JSON list of no records is a mistake of the caller (as the schema's `minItems`
    // says), not a write; a stream of lines (NDJSON, CSV) may well be empty.
    let seen = counts.inserted + counts.updated + counts.skipped;
    if seen == 0 && matches!(format, BodyFormat::Json | BodyFormat::Records) {
        return Err(ApiError::BadRequest(
            "the body holds no records; send at least one".into(),
        ));
    }
    Ok(counts)
}

/// Refuses at once a body that announces itself as too large.
fn check_declared_length(headers: &HeaderMap, limit: u64) -> Result<(), ApiError> {
    let declared = headers
        .get(header::CONTENT_LENGTH)
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.parse::<u64>().ok());
    match declared {
        Some(length) if length > limit => Err(ApiError::PayloadTooLarge(format!(
            "the body exceeds the limit of {limit} bytes"
        ))),
        _ => Ok(()),
    }
}
