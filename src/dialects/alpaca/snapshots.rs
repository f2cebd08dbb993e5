//! Alpaca's stock snapshots, from the symbol catalogue (`/v1/snapshots`): the bar parts
//! only. `minuteBar` is the latest stored bar, `dailyBar` today's (New York) daily bar so
//! far (null when the symbol has not traded today), and `prevDailyBar` the last day before
//! today with bars; `latestTrade` and `latestQuote` are absent (no trades or quotes are
//! stored).

use std::collections::BTreeMap;

use axum::Json;
use axum::extract::{Path, State};
use chrono::Utc;
use serde::Serialize;
use utoipa::ToSchema;

use super::bars::{AlpacaBar, AlpacaError};
use super::params::{AlpacaLatestParams, only_row, path_symbol, query_symbols, refuse_unsupported};
use crate::db;
use crate::dialects::{AlpacaRefusals, EXCHANGE_TZ};
use crate::domain::{Snapshot, Symbol, today_in};
use crate::error::ApiError;
use crate::routes::extract::ApiQuery;
use crate::state::AppState;

/// The bar parts of an Alpaca snapshot.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct AlpacaSnapshot {
    pub minute_bar: AlpacaBar,
    pub daily_bar: Option<AlpacaBar>,
    pub prev_daily_bar: Option<AlpacaBar>,
}

impl From<Snapshot> for AlpacaSnapshot {
    fn from(s: Snapshot) -> Self {
        Self {
            minute_bar: s.latest_bar.into(),
            daily_bar: s.day.map(AlpacaBar::from),
            prev_daily_bar: s.prev_day.map(AlpacaBar::from),
        }
    }
}

async fn snapshots_of(
    state: &AppState,
    params: &AlpacaLatestParams,
    symbols: Vec<Symbol>,
) -> Result<Vec<Snapshot>, ApiError> {
    refuse_unsupported(params.currency.as_deref())?;
    let today = today_in(EXCHANGE_TZ, Utc::now());
    let catalog = state.catalog().await?;
    let client = state.read_db().await?;
    Ok(db::snapshots(&client, catalog, EXCHANGE_TZ, today, Some(&symbols)).await?)
}

/// `GET /alpaca/v2/stocks/snapshots?symbols=`: snapshots by symbol.
#[utoipa::path(
    get,
    path = "/alpaca/v2/stocks/snapshots",
    tag = "alpaca",
    params(AlpacaLatestParams),
    responses(
        (status = 200, description = "Snapshots by symbol (symbols without bars are absent)",
            body = BTreeMap<String, AlpacaSnapshot>),
        AlpacaRefusals,
    )
)]
pub async fn snapshots(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<AlpacaLatestParams>,
) -> Result<Json<BTreeMap<String, AlpacaSnapshot>>, ApiError> {
    let symbols = query_symbols(params.symbols.as_deref())?;
    let rows = snapshots_of(&state, &params, symbols).await?;
    Ok(Json(
        rows.into_iter()
            .map(|s| (s.symbol.clone(), s.into()))
            .collect(),
    ))
}

/// `GET /alpaca/v2/stocks/{symbol}/snapshot`: one symbol's snapshot (404 without bars).
#[utoipa::path(
    get,
    path = "/alpaca/v2/stocks/{symbol}/snapshot",
    tag = "alpaca",
    params(("symbol" = String, Path, example = "AAPL"), AlpacaLatestParams),
    responses(
        (status = 200, description = "The snapshot", body = AlpacaSnapshot),
        (status = 404, description = "The symbol has no bars", body = AlpacaError),
        AlpacaRefusals,
    )
)]
pub async fn symbol_snapshot(
    State(state): State<AppState>,
    Path(symbol): Path<String>,
    ApiQuery(params): ApiQuery<AlpacaLatestParams>,
) -> Result<Json<AlpacaSnapshot>, ApiError> {
    let symbol = path_symbol(params.symbols.as_deref(), &symbol)?;
    let snapshots = snapshots_of(&state, &params, vec![symbol.clone()]).await?;
    Ok(Json(only_row(snapshots, "the snapshot", &symbol)?.into()))
}
