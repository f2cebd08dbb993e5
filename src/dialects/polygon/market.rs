//! Polygon's whole-market and per-day aggregates: previous close, grouped daily bars and
//! a day's open/close, over the symbol catalogue (`/v1/bars/previous`, `/v1/bars/grouped`)
//! and the `/v1` query core. Days are New York days.

use axum::Json;
use axum::extract::{Path, State};
use axum::http::HeaderMap;
use chrono::{Days, NaiveDate, Utc};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::aggs::{PolygonAgg, PolygonError};
use super::{adjustment_of, parse_adjusted, request_id};
use crate::db;
use crate::dialects::{EXCHANGE_TZ, PolygonRefusals, core_page, rfc3339_micros, unsupported};
use crate::domain::{BarsParams, QueryBar, Symbol, today_in};
use crate::error::ApiError;
use crate::routes::extract::{ApiQuery, param};
use crate::routes::market::adjust_days;
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AdjustedParams {
    /// `true` (default, as Polygon's): adjusted for the stored splits; `false`: as stored.
    #[param(pattern = "^([Tt]rue|[Ff]alse)$")]
    pub adjusted: Option<String>,
    /// Accepted and ignored (grouped bars only): the table has no OTC flag.
    pub include_otc: Option<String>,
    /// Accepted and ignored (grouped bars only; `massive` repeats the path's `us` here).
    pub locale: Option<String>,
    /// Accepted and ignored (grouped bars only; `massive` repeats the path's `stocks` here).
    pub market_type: Option<String>,
    /// The API key, when not sent as `Authorization: Bearer`.
    #[serde(rename = "apiKey")]
    #[param(rename = "apiKey")]
    pub api_key: Option<String>,
}

/// A daily bar with its ticker: an aggregate (a day from New York's midnight) plus `T`.
#[derive(Debug, Serialize, ToSchema)]
pub struct TickerAgg {
    #[serde(rename = "T")]
    pub ticker: String,
    #[serde(flatten)]
    pub agg: PolygonAgg,
}

impl From<QueryBar> for TickerAgg {
    fn from(b: QueryBar) -> Self {
        Self {
            ticker: b.symbol.clone(),
            agg: b.into(),
        }
    }
}

/// Daily bars with their tickers.
#[derive(Debug, Serialize, ToSchema)]
pub struct TickerAggs {
    /// Previous close only.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub ticker: Option<String>,
    #[serde(rename = "queryCount")]
    pub query_count: usize,
    #[serde(rename = "resultsCount")]
    pub results_count: usize,
    pub adjusted: bool,
    pub results: Vec<TickerAgg>,
    #[schema(example = "OK")]
    pub status: &'static str,
    pub request_id: String,
}

/// The daily bars a whole-market route reads from the symbol catalogue.
enum Daily {
    /// The last day before today (New York) with bars, of one ticker.
    Previous(Symbol),
    /// Every ticker's bar of one New York day.
    Grouped(NaiveDate),
}

/// The `daily` bars, adjusted as `adjusted` asks, with their tickers.
async fn ticker_aggs(
    state: &AppState,
    daily: Daily,
    adjusted: bool,
    headers: &HeaderMap,
) -> Result<Json<TickerAggs>, ApiError> {
    let catalog = state.catalog().await?;
    let client = state.read_db().await?;
    let (ticker, mut bars) = match daily {
        Daily::Previous(symbol) => {
            let today = today_in(EXCHANGE_TZ, Utc::now());
            let symbols = Some(std::slice::from_ref(&symbol));
            let bars = db::previous_bars(&client, catalog, EXCHANGE_TZ, today, symbols).await?;
            (Some(symbol.to_string()), bars)
        }
        Daily::Grouped(day) => (None, db::grouped(&client, catalog, EXCHANGE_TZ, day).await?),
    };
    adjust_days(&client, adjustment_of(adjusted), &mut bars).await?;
    let results: Vec<TickerAgg> = bars.into_iter().map(TickerAgg::from).collect();
    Ok(Json(TickerAggs {
        ticker,
        query_count: results.len(),
        results_count: results.len(),
        adjusted,
        results,
        status: "OK",
        request_id: request_id(headers),
    }))
}

/// `GET /polygon/v2/aggs/ticker/{ticker}/prev`: the previous complete day's bar.
#[utoipa::path(
    get,
    path = "/polygon/v2/aggs/ticker/{ticker}/prev",
    tag = "polygon",
    params(("ticker" = String, Path, example = "AAPL"), AdjustedParams),
    responses(
        (status = 200, description = "The last day before today (New York) with bars; \
            no results when the ticker has none", body = TickerAggs),
        PolygonRefusals,
    )
)]
pub async fn previous_close(
    State(state): State<AppState>,
    Path(ticker): Path<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<AdjustedParams>,
) -> Result<Json<TickerAggs>, ApiError> {
    let adjusted = parse_adjusted(params.adjusted.as_deref())?;
    let symbol = param("ticker", Symbol::parse(&ticker))?;
    ticker_aggs(&state, Daily::Previous(symbol), adjusted, &headers).await
}

fn parse_date(raw: &str) -> Result<NaiveDate, ApiError> {
    NaiveDate::parse_from_str(raw, "%Y-%m-%d")
        .map_err(|_| unsupported("date", &format!("{raw:?} is not a date YYYY-MM-DD")))
}

/// `GET /polygon/v2/aggs/grouped/locale/us/market/stocks/{date}`: every ticker's daily bar.
#[utoipa::path(
    get,
    path = "/polygon/v2/aggs/grouped/locale/us/market/stocks/{date}",
    tag = "polygon",
    params(("date" = String, Path, example = "2021-11-05"), AdjustedParams),
    responses(
        (status = 200, description = "The daily bar (New York day) of every ticker with \
            bars that day", body = TickerAggs),
        PolygonRefusals,
    )
)]
pub async fn grouped(
    State(state): State<AppState>,
    Path(date): Path<String>,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<AdjustedParams>,
) -> Result<Json<TickerAggs>, ApiError> {
    let adjusted = parse_adjusted(params.adjusted.as_deref())?;
    let day = parse_date(&date)?;
    ticker_aggs(&state, Daily::Grouped(day), adjusted, &headers).await
}

/// A day's open and close of one ticker.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct OpenClose {
    #[schema(example = "OK")]
    pub status: &'static str,
    /// The day, YYYY-MM-DD.
    pub from: String,
    pub symbol: String,
    pub open: Option<f64>,
    pub high: Option<f64>,
    pub low: Option<f64>,
    pub close: Option<f64>,
    pub volume: Option<i64>,
    /// Always null: sessions are not told apart.
    pub pre_market: Option<f64>,
    /// Always null: sessions are not told apart.
    pub after_hours: Option<f64>,
}

/// `GET /polygon/v1/open-close/{ticker}/{date}`: one ticker's daily bar (404 without bars).
#[utoipa::path(
    get,
    path = "/polygon/v1/open-close/{ticker}/{date}",
    tag = "polygon",
    params(
        ("ticker" = String, Path, example = "AAPL"),
        ("date" = String, Path, example = "2021-11-05"),
        AdjustedParams,
    ),
    responses(
        (status = 200, description = "The daily bar of that New York day", body = OpenClose),
        (status = 404, description = "No bars that day", body = PolygonError),
        PolygonRefusals,
    )
)]
pub async fn open_close(
    State(state): State<AppState>,
    Path((ticker, date)): Path<(String, String)>,
    ApiQuery(params): ApiQuery<AdjustedParams>,
) -> Result<Json<OpenClose>, ApiError> {
    let adjusted = parse_adjusted(params.adjusted.as_deref())?;
    let day = parse_date(&date)?;
    let bound = |d: NaiveDate| super::parse_bound(&d.format("%Y-%m-%d").to_string(), false);
    let next = day
        .checked_add_days(Days::new(1))
        .ok_or_else(|| unsupported("date", "is out of range"))?;
    let (start, end) = (bound(day), bound(next));
    let (Ok(start), Ok(end)) = (start, end) else {
        return Err(unsupported("date", "is out of range"));
    };
    let core = BarsParams {
        symbols: Some(ticker),
        start: Some(rfc3339_micros(start)),
        end: Some(rfc3339_micros(end)),
        interval: Some("1d".into()),
        tz: Some(EXCHANGE_TZ.name().to_owned()),
        limit: Some("1".into()),
        adjustment: Some(adjustment_of(adjusted).as_str().to_owned()),
        ..Default::default()
    };
    let (query, page) =
        core_page(&state, &core, |p| if p == "symbols" { "ticker" } else { p }).await?;
    let bar = page
        .bars
        .into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("bars of {} on {day}", query.symbols[0])))?;
    Ok(Json(OpenClose {
        status: "OK",
        from: day.to_string(),
        symbol: bar.symbol,
        open: bar.values.price_open,
        high: bar.values.price_high,
        low: bar.values.price_low,
        close: bar.values.price_close,
        volume: bar.values.trading_volume,
        pre_market: None,
        after_hours: None,
    }))
}
