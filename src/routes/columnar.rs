//! Arrow IPC and Parquet answers of the read routes, and how they page.
//!
//! - Arrow without `limit` or `page_token`: every row of the range, streamed batch by
//!   batch, like CSV. With either: one page (default 1,000 rows, at most
//!   `TSAPI_MAX_PAGE_ROWS`), read before the headers are sent, with the next page's token
//!   in the `Next-Page-Token` header (absent on the last page).
//! - Parquet: the whole range up to `limit` rows (default and most
//!   `TSAPI_MAX_PARQUET_ROWS`), streamed row group by row group. A range with more rows
//!   ends there, and the file's footer metadata holds `next_page_token` to resume from.

use axum::body::Body;
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use futures_util::StreamExt;

use super::extract::param;
use crate::columnar::{self, Columnar, Plan, SymbolDictionary};
use crate::db;
use crate::domain::{BarsQuery, Cursor, QueryBar, ResponseFormat, Snapshot, Symbol, bars_query};
use crate::error::ApiError;
use crate::state::AppState;

/// The OpenAPI schema of an Arrow or Parquet body of bars: bytes, described by their media
/// type.
pub struct ColumnarBody;

impl utoipa::PartialSchema for ColumnarBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        binary_schema(
            "Arrow IPC stream or Parquet file; columns time (timestamp[us, UTC]), \
             symbol (dictionary of utf8), price_open, price_high, price_low, price_close \
             (float64, nullable), trading_volume (int64, nullable), trade_count (int64, \
             nullable), vwap (float64, nullable), count (int64, aggregates only)",
        )
    }
}

impl utoipa::ToSchema for ColumnarBody {}

/// The OpenAPI schema of an Arrow or Parquet body of snapshots.
pub struct SnapshotsColumnarBody;

impl utoipa::PartialSchema for SnapshotsColumnarBody {
    fn schema() -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        binary_schema(
            "Arrow IPC stream or Parquet file, one row per symbol with the columns of the \
             CSV answer: symbol (utf8), time (timestamp[us, UTC]), price_open, price_high, \
             price_low, price_close (float64, nullable), trading_volume (int64, nullable); \
             then for today's daily bar day_time (timestamp[us, UTC]), day_open, day_high, \
             day_low, day_close (float64), day_volume, day_count (int64), and the same with \
             prev_ for the previous day's; all of a day's columns are null when that day \
             has no bar",
        )
    }
}

impl utoipa::ToSchema for SnapshotsColumnarBody {}

fn binary_schema(description: &str) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
    use utoipa::openapi::schema::{KnownFormat, ObjectBuilder, SchemaFormat, Type};
    ObjectBuilder::new()
        .schema_type(Type::String)
        .format(Some(SchemaFormat::KnownFormat(KnownFormat::Binary)))
        .description(Some(description))
        .into()
}

/// The response header that carries the token of the next Arrow page.
pub const NEXT_PAGE_TOKEN: HeaderName = HeaderName::from_static("next-page-token");

/// The columnar format of `format`, if it is one.
pub fn columnar(format: ResponseFormat) -> Option<Columnar> {
    match format {
        ResponseFormat::Arrow => Some(Columnar::Arrow),
        ResponseFormat::Parquet => Some(Columnar::Parquet),
        _ => None,
    }
}

/// `/v1/bars` in `format` (see the module's paging rules).
pub async fn bars(
    state: &AppState,
    client: db::Conn,
    mut query: BarsQuery,
    format: Columnar,
) -> Result<Response, ApiError> {
    let aggregated = query.interval.is_some();
    if format == Columnar::Arrow && (query.limit.is_some() || query.cursor.is_some()) {
        let max = state.settings.max_page_rows;
        let limit = query.limit.unwrap_or(bars_query::DEFAULT_LIMIT);
        if limit > max {
            return param(
                "limit",
                Err(format!(
                    "an Arrow page holds 1 to {max} rows; leave out `limit` and `page_token` \
                     for every row of the range"
                )),
            );
        }
        query.limit = Some(limit);
        let page = super::bars::json_page(state, &client, &query).await?;
        let body = columnar::encode_all(format, &page.bars, aggregated, None).map_err(internal)?;
        let mut response = body_of(format, Body::from(body));
        if let Some(token) = page.next_page_token.as_deref().map(HeaderValue::from_str) {
            let token = token.map_err(|e| ApiError::Internal(e.to_string()))?;
            response.headers_mut().insert(NEXT_PAGE_TOKEN, token);
        }
        return Ok(response);
    }
    let (cap, token_for) = match format {
        Columnar::Arrow => (None, None),
        Columnar::Parquet => {
            let max = state.settings.max_parquet_rows;
            let cap = query.limit.unwrap_or(max);
            if cap > max {
                return param(
                    "limit",
                    Err(format!("a Parquet answer holds at most {max} rows")),
                );
            }
            // One row more tells whether the range goes on past the cap.
            query.limit = Some(cap + 1);
            let (state, fingerprint) = (state.clone(), query.fingerprint.clone());
            let token_for: columnar::stream::TokenFor = Box::new(move |last: &db::PagedBar| {
                let cursor = Cursor {
                    symbol: Symbol::from_stored(last.bar.symbol.clone()),
                    resume: last.resume,
                };
                state.page_tokens.seal(&fingerprint, &cursor)
            });
            (Some(cap), Some(token_for))
        }
    };
    let plan = Plan {
        format,
        symbols: SymbolDictionary::new(query.symbols.iter().map(Symbol::as_str)),
        aggregated,
        cap,
        token_for,
    };
    let rows = db::stream_paged_bars(client, query).await?;
    let chunks = columnar::encode_stream(plan, rows)
        .map_err(internal)?
        .map(|chunk| {
            chunk.map_err(|e| {
                // The status is already sent; cutting the body short tells the client.
                tracing::warn!(error = %e, "columnar answer stopped");
                std::io::Error::other("columnar answer stopped")
            })
        });
    Ok(body_of(format, Body::from_stream(chunks)))
}

/// Bars already in memory (latest bars, a market's daily bars) in `format`.
pub fn in_memory(
    format: Columnar,
    bars: &[QueryBar],
    aggregated: bool,
) -> Result<Response, ApiError> {
    let body: Bytes = columnar::encode_all(format, bars, aggregated, None).map_err(internal)?;
    Ok(body_of(format, Body::from(body)))
}

/// `/v1/snapshots` in `format`: one row per symbol, the columns of its CSV answer.
pub fn snapshots(format: Columnar, rows: &[Snapshot]) -> Result<Response, ApiError> {
    let batches = rows
        .chunks(columnar::BATCH_ROWS)
        .map(columnar::snapshots_batch);
    let body = columnar::encode_batches(format, columnar::snapshots_schema(), batches, None)
        .map_err(internal)?;
    Ok(body_of(format, Body::from(body)))
}

fn body_of(format: Columnar, body: Body) -> Response {
    let mut response = body.into_response();
    response.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(format.media_type()),
    );
    response
}

fn internal(e: arrow_schema::ArrowError) -> ApiError {
    ApiError::Internal(format!("columnar encoding: {e}"))
}
