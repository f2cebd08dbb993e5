//! Alpaca's stock bars: historical pages and the latest bar, over the `/v1` query core.

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::params::{
    AlpacaBarsParams, AlpacaLatestParams, alpaca_name, only_row, path_symbol, query_symbols,
    refuse_unsupported, required_symbols,
};
use crate::dialects::{AlpacaRefusals, core_page};
use crate::domain::{Bar, QueryBar, Symbol};
use crate::error::ApiError;
use crate::render::serialize_time;
use crate::routes::bars::{BarsPage, latest_of};
use crate::routes::extract::ApiQuery;
use crate::state::AppState;

/// A bar as Alpaca writes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlpacaBar {
    /// Start of the bar (RFC 3339, UTC).
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub t: DateTime<Utc>,
    pub o: Option<f64>,
    pub h: Option<f64>,
    pub l: Option<f64>,
    pub c: Option<f64>,
    pub v: Option<i64>,
    /// Trade count (`trade_count`; summed over a bucket); null where the table has none.
    pub n: Option<i64>,
    /// Volume-weighted average price (`vwap`; volume-weighted over a bucket); null where
    /// the table has none.
    pub vw: Option<f64>,
}

/// The one mapping of a bar into Alpaca's shape: stored bars, buckets, snapshots' bars.
impl From<QueryBar> for AlpacaBar {
    fn from(b: QueryBar) -> Self {
        Self {
            t: b.time,
            o: b.values.price_open,
            h: b.values.price_high,
            l: b.values.price_low,
            c: b.values.price_close,
            v: b.values.trading_volume,
            n: b.values.trade_count,
            vw: b.values.vwap,
        }
    }
}

impl From<Bar> for AlpacaBar {
    fn from(b: Bar) -> Self {
        QueryBar::from(b).into()
    }
}

/// A page of bars of several symbols.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlpacaBars {
    /// Bars by symbol; symbols without bars in this page are absent.
    pub bars: BTreeMap<String, Vec<AlpacaBar>>,
    #[schema(required)]
    pub next_page_token: Option<String>,
}

/// A page of bars of one symbol.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlpacaSymbolBars {
    pub bars: Vec<AlpacaBar>,
    pub symbol: String,
    #[schema(required)]
    pub next_page_token: Option<String>,
}

/// The latest bar of several symbols.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlpacaLatestBars {
    /// Symbols without bars are absent.
    pub bars: BTreeMap<String, AlpacaBar>,
}

/// The latest bar of one symbol.
#[derive(Debug, Serialize, ToSchema)]
pub struct AlpacaLatestBar {
    pub symbol: String,
    pub bar: AlpacaBar,
}

/// Alpaca's error body (`code` is the status followed by a sub-code).
#[derive(Debug, Serialize, ToSchema)]
pub struct AlpacaError {
    #[schema(example = 40010001)]
    pub code: u32,
    pub message: String,
}

/// One page of the core for Alpaca parameters, rows still as the core gives them.
async fn page(
    state: &AppState,
    params: &AlpacaBarsParams,
    symbols: String,
) -> Result<BarsPage, ApiError> {
    let core = params.to_core(symbols, state.settings.max_page_rows)?;
    Ok(core_page(state, &core, alpaca_name).await?.1)
}

/// `GET /alpaca/v2/stocks/bars`: bars of several symbols, a page at a time.
#[utoipa::path(
    get,
    path = "/alpaca/v2/stocks/bars",
    tag = "alpaca",
    params(AlpacaBarsParams),
    responses(
        (status = 200, description = "A page of bars by symbol", body = AlpacaBars),
        AlpacaRefusals,
    )
)]
pub async fn bars(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<AlpacaBarsParams>,
) -> Result<Json<AlpacaBars>, ApiError> {
    let symbols = required_symbols(params.symbols.as_deref())?.to_owned();
    let page = page(&state, &params, symbols).await?;
    let mut bars: BTreeMap<String, Vec<AlpacaBar>> = BTreeMap::new();
    for row in page.bars {
        bars.entry(row.symbol.clone()).or_default().push(row.into());
    }
    Ok(Json(AlpacaBars {
        bars,
        next_page_token: page.next_page_token,
    }))
}

/// `GET /alpaca/v2/stocks/{symbol}/bars`: bars of one symbol, a page at a time.
#[utoipa::path(
    get,
    path = "/alpaca/v2/stocks/{symbol}/bars",
    tag = "alpaca",
    params(("symbol" = String, Path, example = "AAPL"), AlpacaBarsParams),
    responses(
        (status = 200, description = "A page of bars", body = AlpacaSymbolBars),
        AlpacaRefusals,
    )
)]
pub async fn symbol_bars(
    State(state): State<AppState>,
    Path(symbol): Path<String>,
    ApiQuery(params): ApiQuery<AlpacaBarsParams>,
) -> Result<Json<AlpacaSymbolBars>, ApiError> {
    let symbol = path_symbol(params.symbols.as_deref(), &symbol)?;
    let page = page(&state, &params, symbol.to_string()).await?;
    Ok(Json(AlpacaSymbolBars {
        bars: page.bars.into_iter().map(AlpacaBar::from).collect(),
        symbol: symbol.to_string(),
        next_page_token: page.next_page_token,
    }))
}

/// The latest bars of `symbols` after the unsupported parameters are refused.
async fn latest(
    state: &AppState,
    params: &AlpacaLatestParams,
    symbols: Vec<Symbol>,
) -> Result<Vec<Bar>, ApiError> {
    refuse_unsupported(params.currency.as_deref())?;
    latest_of(state, &symbols).await
}

/// `GET /alpaca/v2/stocks/bars/latest`: the newest bar of each symbol.
#[utoipa::path(
    get,
    path = "/alpaca/v2/stocks/bars/latest",
    tag = "alpaca",
    params(AlpacaLatestParams),
    responses(
        (status = 200, description = "The latest bar by symbol", body = AlpacaLatestBars),
        AlpacaRefusals,
    )
)]
pub async fn latest_bars(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<AlpacaLatestParams>,
) -> Result<Json<AlpacaLatestBars>, ApiError> {
    let symbols = query_symbols(params.symbols.as_deref())?;
    let bars = latest(&state, &params, symbols).await?;
    Ok(Json(AlpacaLatestBars {
        bars: bars
            .into_iter()
            .map(|b| (b.symbol.to_string(), b.into()))
            .collect(),
    }))
}

/// `GET /alpaca/v2/stocks/{symbol}/bars/latest`: the newest bar of one symbol (404 when
/// it has none).
#[utoipa::path(
    get,
    path = "/alpaca/v2/stocks/{symbol}/bars/latest",
    tag = "alpaca",
    params(("symbol" = String, Path, example = "AAPL"), AlpacaLatestParams),
    responses(
        (status = 200, description = "The latest bar", body = AlpacaLatestBar),
        (status = 404, description = "The symbol has no bars", body = AlpacaError),
        AlpacaRefusals,
    )
)]
pub async fn symbol_latest_bar(
    State(state): State<AppState>,
    Path(symbol): Path<String>,
    ApiQuery(params): ApiQuery<AlpacaLatestParams>,
) -> Result<Json<AlpacaLatestBar>, ApiError> {
    let symbol = path_symbol(params.symbols.as_deref(), &symbol)?;
    let bars = latest(&state, &params, vec![symbol.clone()]).await?;
    let bar = only_row(bars, "the latest bar", &symbol)?;
    Ok(Json(AlpacaLatestBar {
        symbol: symbol.to_string(),
        bar: bar.into(),
    }))
}
