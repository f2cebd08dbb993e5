//! The versioned read API: `GET /v1/bars` and `GET /v1/bars/latest`.

use axum::Json;
use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use futures_util::{StreamExt, stream};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::columnar;
use super::extract::{ApiQuery, symbols_param};
use super::market;
use crate::columnar::Columnar;
use crate::db;
use crate::domain::actions::{Adjustable, Adjustment};
use crate::domain::{
    Bar, BarsContext, BarsParams, BarsQuery, Cursor, QueryBar, ResponseFormat, Symbol,
    SymbolListText, bars_query,
};
use crate::error::ApiError;
use crate::openapi::answers::{BarsAnswer, LatestAnswer};
use crate::openapi::refusals::{InvalidParameter, NotAcceptable, Unavailable};
use crate::state::AppState;

/// One page of bars.
#[derive(Debug, Serialize, ToSchema)]
pub struct BarsPage {
    /// Sorted by symbol (byte order), then by time in the requested order.
    pub bars: Vec<QueryBar>,
    /// Pass as `page_token`, with the same other parameters, for the next page; `null` on the
    /// last page.
    #[schema(required)]
    pub next_page_token: Option<String>,
}

/// `GET /v1/bars`: stored bars or aggregates of several symbols over a time range.
#[utoipa::path(
    get,
    path = "/v1/bars",
    tag = "v1",
    params(BarsParams),
    responses(BarsAnswer, InvalidParameter, NotAcceptable, Unavailable)
)]
pub async fn bars(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<BarsParams>,
) -> Result<Response, ApiError> {
    let negotiated = negotiate(&headers, params.format.as_deref())?;
    let context = BarsContext {
        times: state.time_parser(),
        max_page_rows: state.settings.max_page_rows,
        tokens: &state.page_tokens,
        negotiated,
    };
    let query = BarsQuery::parse(&params, &context).map_err(ApiError::from)?;
    let client = state.read_db().await?;
    match query.format {
        ResponseFormat::Json => Ok(Json(json_page(&state, &client, &query).await?).into_response()),
        ResponseFormat::Csv | ResponseFormat::Ndjson => streamed(client, query).await,
        ResponseFormat::Arrow => columnar::bars(&state, client, query, Columnar::Arrow).await,
        ResponseFormat::Parquet => columnar::bars(&state, client, query, Columnar::Parquet).await,
    }
}

/// One page of `query` and the token of the next: the paging every JSON reader shares
/// (`/v1/bars` and the dialects).
pub async fn json_page(
    state: &AppState,
    client: &db::Conn,
    query: &BarsQuery,
) -> Result<BarsPage, ApiError> {
    let limit = query.limit.unwrap_or(bars_query::DEFAULT_LIMIT);
    let mut rows = db::query_bars(client, query, limit + 1).await?;
    let next_page_token = (rows.len() > limit).then(|| {
        rows.truncate(limit);
        let last = rows.last().expect("a full page has a last row");
        let cursor = Cursor {
            symbol: Symbol::from_stored(last.bar.symbol.clone()),
            resume: last.resume,
        };
        state.page_tokens.seal(&query.fingerprint, &cursor)
    });
    let bars = rows.into_iter().map(|row| row.bar).collect();
    Ok(BarsPage {
        bars,
        next_page_token,
    })
}

/// The latest bar of each of `symbols` that has one, in their order (`/v1/bars/latest` and
/// the dialects): from memory where the change feed holds it (see `Feed::latest`), the
/// rest from the database.
pub async fn latest_of(state: &AppState, symbols: &[Symbol]) -> Result<Vec<Bar>, ApiError> {
    let held: Vec<Option<Bar>> = symbols
        .iter()
        .map(|s| state.feed.as_ref().and_then(|f| f.latest(s.as_str())))
        .collect();
    let missing: Vec<Symbol> = symbols
        .iter()
        .zip(&held)
        .filter(|(_, bar)| bar.is_none())
        .map(|(symbol, _)| symbol.clone())
        .collect();
    let read = match missing.is_empty() {
        true => Vec::new(),
        false => {
            let bound = state.recent_bound().await?;
            let client = state.point_read_db().await?;
            db::latest_for(&client, bound, &missing).await?
        }
    };
    // The database answers in `missing`'s order and leaves out symbols without bars.
    let mut read = read.into_iter().peekable();
    let mut bars = Vec::with_capacity(symbols.len());
    for (symbol, held) in symbols.iter().zip(held) {
        match held {
            Some(bar) => bars.push(bar),
            None => bars.extend(read.next_if(|bar| bar.symbol.as_str() == symbol.as_str())),
        }
    }
    Ok(bars)
}

/// The latest bar of every symbol, from the symbol catalogue (`/v1/bars/latest`, `/ticker`).
pub async fn every_latest(state: &AppState) -> Result<Vec<Bar>, ApiError> {
    let catalog = state.catalog().await?;
    let client = state.read_db().await?;
    Ok(db::all_latest(&client, catalog).await?)
}

/// Latest bars adjusted by the factors at their times (`/v1/bars/latest`, the dialects).
pub async fn adjust_latest(
    state: &AppState,
    adjustment: Adjustment,
    bars: &mut [Bar],
) -> Result<(), ApiError> {
    if adjustment == Adjustment::Raw || bars.is_empty() {
        return Ok(());
    }
    let client = state.read_db().await?;
    let refs = bars.iter_mut().map(|b| b as &mut dyn Adjustable).collect();
    Ok(db::actions::adjust_in_place(&client, adjustment, refs).await?)
}

/// The format the `Accept` header asks for; none of ours is a 406. `format=` wins over the
/// header, so with `format` given the header is not read (and JSON stands in until the
/// parameter is parsed).
pub(crate) fn negotiate(
    headers: &HeaderMap,
    format: Option<&str>,
) -> Result<ResponseFormat, ApiError> {
    if format.is_some() {
        return Ok(ResponseFormat::Json);
    }
    let accept = headers.get(header::ACCEPT).and_then(|v| v.to_str().ok());
    ResponseFormat::negotiate(accept).ok_or_else(|| {
        ApiError::NotAcceptable(
            "`Accept` allows none of application/json, text/csv, application/x-ndjson, \
             application/vnd.apache.arrow.stream, application/vnd.apache.parquet \
             (or use the `format` parameter)"
                .into(),
        )
    })
}

/// A CSV or NDJSON body written row by row as the database sends rows.
async fn streamed(client: db::Conn, query: BarsQuery) -> Result<Response, ApiError> {
    let format = query.format;
    let header_line = match format {
        ResponseFormat::Csv => Some(QueryBar::csv_header(query.interval.is_some())),
        _ => None,
    };
    let rows = db::stream_bars(client, query).await?;
    let lines = rows.map(move |row| match row {
        Ok(bar) => Ok(Bytes::from(match format {
            ResponseFormat::Csv => bar.csv_line(),
            _ => bar.ndjson_line(),
        })),
        Err(e) => {
            // The status is already sent; cutting the body short tells the client.
            tracing::warn!(error = %e, "export stopped");
            Err(std::io::Error::other("export stopped"))
        }
    });
    let body = stream::iter(header_line.map(|h| Ok(Bytes::from_static(h.as_bytes())))).chain(lines);
    let content_type = match format {
        ResponseFormat::Csv => "text/csv; charset=utf-8",
        _ => "application/x-ndjson",
    };
    let mut response = Body::from_stream(body).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    Ok(response)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct LatestParams {
    /// Comma-separated symbols; absent: every symbol.
    #[param(value_type = Option<SymbolListText>)]
    symbols: Option<String>,
    /// `json` (default), `csv`, `ndjson`, `arrow` or `parquet`; also chosen by the
    /// `Accept` header.
    #[param(pattern = "^(json|csv|ndjson|arrow|parquet)$")]
    format: Option<String>,
    /// `raw` (default), `split`, `dividend` or `all`, as in `/v1/bars`.
    #[param(pattern = "^(raw|split|dividend|all)$")]
    adjustment: Option<String>,
}

/// The latest bar of each symbol.
#[derive(Debug, Serialize, ToSchema)]
pub struct LatestBars {
    /// Ordered by symbol; symbols without bars are left out.
    pub bars: Vec<Bar>,
}

/// `GET /v1/bars/latest`: the newest bar of each requested symbol (of every symbol without
/// `symbols`).
#[utoipa::path(
    get,
    path = "/v1/bars/latest",
    tag = "v1",
    params(LatestParams),
    responses(LatestAnswer, InvalidParameter, NotAcceptable, Unavailable)
)]
pub async fn latest(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<LatestParams>,
) -> Result<Response, ApiError> {
    let format = market::choose_format(&headers, params.format.as_deref())?;
    let symbols = symbols_param(params.symbols.as_deref(), state.settings.max_page_rows)?;
    let adjustment = market::adjustment_param(params.adjustment.as_deref())?;
    let mut bars = match symbols {
        Some(symbols) => latest_of(&state, &symbols).await?,
        None => every_latest(&state).await?,
    };
    adjust_latest(&state, adjustment, &mut bars).await?;
    if format == ResponseFormat::Json {
        return Ok(Json(LatestBars { bars }).into_response());
    }
    let rows: Vec<QueryBar> = bars.into_iter().map(QueryBar::from).collect();
    market::query_bars_in(format, &rows, false)
}
