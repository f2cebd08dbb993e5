//! The whole market at once: `GET /v1/snapshots`, `GET /v1/bars/grouped`,
//! `GET /v1/bars/previous`. Answered from the symbol catalogue (see `db::catalog`).

use axum::body::{Body, Bytes};
use axum::extract::State;
use axum::http::{HeaderMap, HeaderValue, header};
use axum::response::{IntoResponse, Response};
use chrono::{NaiveDate, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiQuery, param, symbols_param};
use super::market_cache::Key;
use crate::columnar::Columnar;
use crate::db;
use crate::domain::actions::{Adjustable, Adjustment};
use crate::domain::{QueryBar, ResponseFormat, Snapshot, Symbol, bars_query, today_in};
use crate::error::ApiError;
use crate::openapi::answers::{GroupedAnswer, PreviousAnswer, SnapshotsAnswer};
use crate::openapi::refusals::{InvalidParameter, NotAcceptable, Unavailable};
use crate::state::AppState;

/// Query parameters of `/v1/snapshots` and `/v1/bars/previous`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct MarketParams {
    /// Comma-separated symbols; absent: every symbol.
    #[param(
        example = "AAPL,MSFT",
        pattern = r"^[A-Za-z0-9.\-_/:^=@+]{1,32}(,[A-Za-z0-9.\-_/:^=@+]{1,32})*$"
    )]
    symbols: Option<String>,
    /// IANA time zone whose calendar days make the daily bars; default `America/New_York`.
    #[param(example = "America/New_York")]
    tz: Option<String>,
    /// `json` (default), `csv`, `ndjson`, `arrow` or `parquet`; also chosen by the `Accept`
    /// header.
    #[param(pattern = "^(json|csv|ndjson|arrow|parquet)$")]
    format: Option<String>,
    /// `raw` (default), `split`, `dividend` or `all`, as in `/v1/bars`: each bar is
    /// adjusted by the factors at its time.
    #[param(pattern = "^(raw|split|dividend|all)$")]
    adjustment: Option<String>,
}

/// Query parameters of `/v1/bars/grouped`.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct GroupedParams {
    /// The day, `YYYY-MM-DD`, in `tz`.
    #[param(example = "2021-11-12")]
    date: String,
    /// IANA time zone whose calendar days make the daily bars; default `America/New_York`.
    #[param(example = "America/New_York")]
    tz: Option<String>,
    /// `json` (default), `csv`, `ndjson`, `arrow` or `parquet`; also chosen by the `Accept`
    /// header.
    #[param(pattern = "^(json|csv|ndjson|arrow|parquet)$")]
    format: Option<String>,
    /// `raw` (default), `split`, `dividend` or `all`, as in `/v1/bars`: each bar is
    /// adjusted by the factors at its time.
    #[param(pattern = "^(raw|split|dividend|all)$")]
    adjustment: Option<String>,
}

/// Snapshots of the market.
#[derive(Debug, Serialize, ToSchema)]
pub struct Snapshots {
    /// The zone of the daily bars.
    #[schema(example = "America/New_York")]
    pub tz: String,
    /// Today in `tz`: the day of each `day` bar.
    #[schema(value_type = String, format = Date, example = "2021-11-12")]
    pub date: NaiveDate,
    /// One per symbol, in byte order; unknown symbols are left out.
    pub snapshots: Vec<Snapshot>,
}

/// Daily bars, one per symbol.
#[derive(Debug, Serialize, ToSchema)]
pub struct DailyBars {
    #[schema(example = "America/New_York")]
    pub tz: String,
    /// For `/v1/bars/grouped` the day asked for; for `/v1/bars/previous` today, before which
    /// each bar's day lies.
    #[schema(value_type = String, format = Date, example = "2021-11-12")]
    pub date: NaiveDate,
    /// In byte order of the symbol; `time` is the day's start, `count` its stored bars.
    pub bars: Vec<QueryBar>,
}

/// `GET /v1/snapshots`: per symbol the latest bar, today's daily bar so far and the
/// previous day's daily bar (the last day before today with bars).
///
/// Daily bars follow `tz`'s calendar: open of the first bar, highest high, lowest low, close
/// of the last bar, summed volume. Every symbol in one answer (no page cap); CSV, NDJSON,
/// Arrow and Parquet are one row per symbol (CSV, Arrow and Parquet flat: the daily bars'
/// fields as `day_*` and `prev_*` columns, null when that day has no bar). Served from the symbol catalogue when `tz` is its zone (default
/// `America/New_York`), otherwise read from the table (slower).
#[utoipa::path(
    get,
    path = "/v1/snapshots",
    tag = "v1",
    params(MarketParams),
    responses(SnapshotsAnswer, InvalidParameter, NotAcceptable, Unavailable)
)]
pub async fn snapshots(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<MarketParams>,
) -> Result<Response, ApiError> {
    let (symbols, read) = parse_market(&state, &headers, &params)?;
    let today = today_in(read.tz, Utc::now());
    let build = async |client: &db::Conn, catalog| {
        let mut rows = db::snapshots(client, catalog, read.tz, today, symbols.as_deref()).await?;
        adjust_snapshots(client, read.adjustment, &mut rows).await?;
        snapshots_in(read.format, read.tz, today, rows)
    };
    read.answer(&state, "snapshots", today, symbols.is_none(), build)
        .await
}

/// `GET /v1/bars/grouped?date=`: the daily bar of every symbol that has bars on `date`.
///
/// Served from the catalogue's daily bars when `tz` is its zone, otherwise read from the
/// table. Every symbol in one answer; CSV/NDJSON as `/v1/bars` with `count`.
#[utoipa::path(
    get,
    path = "/v1/bars/grouped",
    tag = "v1",
    params(GroupedParams),
    responses(GroupedAnswer, InvalidParameter, NotAcceptable, Unavailable)
)]
pub async fn grouped(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<GroupedParams>,
) -> Result<Response, ApiError> {
    let date = param(
        "date",
        NaiveDate::parse_from_str(params.date.trim(), "%Y-%m-%d")
            .map_err(|_| format!("{:?} is not a date YYYY-MM-DD", params.date)),
    )?;
    let read = MarketRead::parse(
        &headers,
        params.tz.as_deref(),
        params.format.as_deref(),
        params.adjustment.as_deref(),
    )?;
    let build = async |client: &db::Conn, catalog| {
        let bars = db::grouped(client, catalog, read.tz, date).await?;
        read.daily_bars(client, date, bars).await
    };
    read.answer(&state, "grouped", date, true, build).await
}

/// `GET /v1/bars/previous`: per symbol the daily bar of the previous complete day, the last
/// day before today (in `tz`) with bars.
#[utoipa::path(
    get,
    path = "/v1/bars/previous",
    tag = "v1",
    params(MarketParams),
    responses(PreviousAnswer, InvalidParameter, NotAcceptable, Unavailable)
)]
pub async fn previous(
    State(state): State<AppState>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<MarketParams>,
) -> Result<Response, ApiError> {
    let (symbols, read) = parse_market(&state, &headers, &params)?;
    let today = today_in(read.tz, Utc::now());
    let build = async |client: &db::Conn, catalog| {
        let symbols = symbols.as_deref();
        let bars = db::previous_bars(client, catalog, read.tz, today, symbols).await?;
        read.daily_bars(client, today, bars).await
    };
    read.answer(&state, "previous", today, symbols.is_none(), build)
        .await
}

/// What every whole-market read takes besides its symbols or day: the zone whose calendar
/// makes the daily bars, the answer's format and how prices are adjusted.
struct MarketRead {
    tz: Tz,
    format: ResponseFormat,
    adjustment: Adjustment,
}

impl MarketRead {
    /// `tz=`, `format=` (or `Accept`) and `adjustment=`.
    fn parse(
        headers: &HeaderMap,
        tz: Option<&str>,
        format: Option<&str>,
        adjustment: Option<&str>,
    ) -> Result<Self, ApiError> {
        Ok(Self {
            tz: parse_tz(tz)?,
            format: choose_format(headers, format)?,
            adjustment: adjustment_param(adjustment)?,
        })
    }

    /// The answer of `route` for `date`, built by `build` from a connection and the
    /// catalogue's zone. An answer that depends on the catalogue alone (`every_symbol`, raw
    /// prices, the catalogue's own zone) is kept, and served again while the catalogue is
    /// unchanged.
    async fn answer(
        &self,
        state: &AppState,
        route: &'static str,
        date: NaiveDate,
        every_symbol: bool,
        build: impl AsyncFnOnce(&db::Conn, Option<Tz>) -> Result<Response, ApiError>,
    ) -> Result<Response, ApiError> {
        let catalog = state.catalog().await?;
        let client = state.read_db().await?;
        let keepable =
            every_symbol && self.adjustment == Adjustment::Raw && catalog == Some(self.tz);
        let key = keepable.then_some(Key {
            route,
            zone: self.tz,
            date,
            format: self.format,
        });
        kept_or_built(state, &client, key, build(&client, catalog)).await
    }

    /// Daily bars of `date`, adjusted, in the read's format.
    async fn daily_bars(
        &self,
        client: &db::Conn,
        date: NaiveDate,
        mut bars: Vec<QueryBar>,
    ) -> Result<Response, ApiError> {
        adjust_days(client, self.adjustment, &mut bars).await?;
        match self.format {
            ResponseFormat::Json => {
                let capacity = bars.len() * 160;
                let body = DailyBars {
                    tz: self.tz.name().to_owned(),
                    date,
                    bars,
                };
                Ok(json_sized(&body, capacity))
            }
            format => query_bars_in(format, &bars, true),
        }
    }
}

/// The answer kept for `key` while the catalogue is unchanged, else `build`'s (kept when
/// `key` is given).
async fn kept_or_built(
    state: &AppState,
    client: &db::Conn,
    key: Option<Key>,
    build: impl Future<Output = Result<Response, ApiError>>,
) -> Result<Response, ApiError> {
    let Some(key) = key else {
        return build.await;
    };
    let Some(version) = state.market_cache.version(client).await? else {
        return build.await;
    };
    if let Some(kept) = state.market_cache.get(&key, version) {
        metrics::counter!("tsapi_market_answers_total", "source" => "kept").increment(1);
        return Ok(kept);
    }
    metrics::counter!("tsapi_market_answers_total", "source" => "built").increment(1);
    let response = build.await?;
    state.market_cache.keep(key, version, response).await
}

/// `adjustment=` of a market read (absent: raw).
pub fn adjustment_param(raw: Option<&str>) -> Result<Adjustment, ApiError> {
    Ok(bars_query::parse_adjustment(raw, None)?.0)
}

/// Daily bars adjusted for `adjustment`.
pub async fn adjust_days(
    client: &db::Conn,
    adjustment: Adjustment,
    bars: &mut [QueryBar],
) -> Result<(), ApiError> {
    let refs = bars.iter_mut().map(|b| b as &mut dyn Adjustable).collect();
    Ok(db::actions::adjust_in_place(client, adjustment, refs).await?)
}

/// The symbols (`None`: every symbol) and the rest of `/v1/snapshots` and
/// `/v1/bars/previous`.
fn parse_market(
    state: &AppState,
    headers: &HeaderMap,
    params: &MarketParams,
) -> Result<(Option<Vec<Symbol>>, MarketRead), ApiError> {
    let symbols = symbols_param(params.symbols.as_deref(), state.settings.max_page_rows)?;
    let read = MarketRead::parse(
        headers,
        params.tz.as_deref(),
        params.format.as_deref(),
        params.adjustment.as_deref(),
    )?;
    Ok((symbols, read))
}

/// Snapshots adjusted for `adjustment`: the latest bar and both daily bars of each.
async fn adjust_snapshots(
    client: &db::Conn,
    adjustment: Adjustment,
    rows: &mut [Snapshot],
) -> Result<(), ApiError> {
    let bars = rows.iter_mut().flat_map(|s| {
        let Snapshot {
            latest_bar,
            day,
            prev_day,
            ..
        } = s;
        let days = day.iter_mut().chain(prev_day.iter_mut());
        std::iter::once(latest_bar as &mut dyn Adjustable)
            .chain(days.map(|d| d as &mut dyn Adjustable))
    });
    Ok(db::actions::adjust_in_place(client, adjustment, bars.collect()).await?)
}

fn parse_tz(raw: Option<&str>) -> Result<Tz, ApiError> {
    match raw {
        None => Ok(db::DEFAULT_ZONE),
        Some(raw) => param("tz", crate::domain::parse_zone(raw)),
    }
}

pub(crate) fn choose_format(
    headers: &HeaderMap,
    raw: Option<&str>,
) -> Result<ResponseFormat, ApiError> {
    let negotiated = super::bars::negotiate(headers, raw)?;
    param("format", ResponseFormat::choose(raw, negotiated))
}

/// Snapshots in `format`: JSON in the route's shape, the rest one row per symbol.
fn snapshots_in(
    format: ResponseFormat,
    tz: Tz,
    today: NaiveDate,
    rows: Vec<Snapshot>,
) -> Result<Response, ApiError> {
    Ok(match format {
        ResponseFormat::Json => {
            let capacity = rows.len() * 520;
            let body = Snapshots {
                tz: tz.name().to_owned(),
                date: today,
                snapshots: rows,
            };
            json_sized(&body, capacity)
        }
        ResponseFormat::Csv => lines(
            format,
            Snapshot::CSV_HEADER,
            rows.iter().map(Snapshot::csv_line),
        ),
        ResponseFormat::Ndjson => lines(format, "", rows.iter().map(Snapshot::ndjson_line)),
        ResponseFormat::Arrow => super::columnar::snapshots(Columnar::Arrow, &rows)?,
        ResponseFormat::Parquet => super::columnar::snapshots(Columnar::Parquet, &rows)?,
    })
}

/// `value` as a JSON answer, encoded into one buffer of `capacity` bytes to start with: a
/// whole-market answer is megabytes, and a buffer grown step by step copies it over and over.
fn json_sized(value: &impl Serialize, capacity: usize) -> Response {
    let mut body = Vec::with_capacity(capacity);
    match serde_json::to_writer(&mut body, value) {
        Ok(()) => (
            [(
                header::CONTENT_TYPE,
                HeaderValue::from_static("application/json"),
            )],
            body,
        )
            .into_response(),
        Err(e) => ApiError::Internal(format!("encoding the answer: {e}")).into_response(),
    }
}

/// Bars in memory as CSV, NDJSON, Arrow or Parquet (JSON is each route's own shape).
pub(crate) fn query_bars_in(
    format: ResponseFormat,
    bars: &[QueryBar],
    aggregated: bool,
) -> Result<Response, ApiError> {
    match super::columnar::columnar(format) {
        Some(columnar) => super::columnar::in_memory(columnar, bars, aggregated),
        None if format == ResponseFormat::Csv => Ok(lines(
            format,
            QueryBar::csv_header(aggregated),
            bars.iter().map(QueryBar::csv_line),
        )),
        None => Ok(lines(format, "", bars.iter().map(QueryBar::ndjson_line))),
    }
}

/// A CSV or NDJSON body: the header, then the lines, sent in chunks of some 64 KiB.
fn lines(format: ResponseFormat, header: &str, rows: impl Iterator<Item = String>) -> Response {
    let mut chunks: Vec<Result<Bytes, std::convert::Infallible>> = Vec::new();
    let mut chunk = String::from(header);
    for line in rows {
        chunk.push_str(&line);
        if chunk.len() >= 64 * 1024 {
            chunks.push(Ok(Bytes::from(std::mem::take(&mut chunk))));
        }
    }
    chunks.push(Ok(Bytes::from(chunk)));
    let content_type = match format {
        ResponseFormat::Csv => "text/csv; charset=utf-8",
        _ => "application/x-ndjson",
    };
    let mut response = Body::from_stream(futures_util::stream::iter(chunks)).into_response();
    response
        .headers_mut()
        .insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    response
}
