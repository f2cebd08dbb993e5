//! The tutorial's read paths: `GET /ticker` and `GET /ticker/daily`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::{ApiQuery, param};
use crate::db;
use crate::domain::{Bar, DailyBar, Symbol, SymbolText, TickerBar, TimeRange};
use crate::error::ApiError;
use crate::openapi::refusals::{InvalidParameter, Unavailable};
use crate::state::AppState;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct TickerQuery {
    /// A ticker such as `MSFT`; absent: every symbol.
    #[param(value_type = Option<SymbolText>)]
    symbol: Option<String>,
}

/// `GET /ticker?symbol=MSFT`: `[latest bar]` (`[]` if unknown); without `symbol`, the
/// latest bar of every symbol.
#[utoipa::path(
    get,
    path = "/ticker",
    tag = "tutorial",
    params(TickerQuery),
    responses(
        (status = 200, description = "The latest bar of the symbol (`[]` when unknown), or of \
            every symbol, with the tutorial's seven fields (no `trade_count`, no `vwap`)",
            body = Vec<Bar>),
        InvalidParameter,
        Unavailable,
    )
)]
pub async fn latest(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<TickerQuery>,
) -> Result<Json<Vec<TickerBar>>, ApiError> {
    let symbol = query
        .symbol
        .map(|raw| param("symbol", Symbol::parse(&raw)))
        .transpose()?;
    let bars = match symbol {
        Some(symbol) => {
            // From memory while the change feed is current (see `Feed::latest`).
            if let Some(bar) = state.feed.as_ref().and_then(|f| f.latest(symbol.as_str())) {
                return Ok(Json(vec![TickerBar(bar)]));
            }
            let bound = state.recent_bound().await?;
            let client = state.point_read_db().await?;
            db::latest_bar(&client, bound, &symbol)
                .await?
                .into_iter()
                .collect()
        }
        None => super::bars::every_latest(&state).await?,
    };
    Ok(Json(bars.into_iter().map(TickerBar).collect()))
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct DailyQuery {
    /// A ticker such as `AAPL`.
    #[param(value_type = SymbolText)]
    symbol: String,
    /// Inclusive start: RFC 3339 or `YYYY-MM-DD[ HH:MM:SS]`.
    start: Option<String>,
    /// Exclusive end, same forms as `start`.
    end: Option<String>,
}

/// `GET /ticker/daily?symbol=AAPL[&start=..&end=..]`: one row per UTC day.
#[utoipa::path(
    get,
    path = "/ticker/daily",
    tag = "tutorial",
    params(DailyQuery),
    responses(
        (status = 200, description = "One row per UTC day, oldest first", body = Vec<DailyBar>),
        InvalidParameter,
        Unavailable,
    )
)]
pub async fn daily(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DailyQuery>,
) -> Result<Json<Vec<DailyBar>>, ApiError> {
    let symbol = param("symbol", Symbol::parse(&query.symbol))?;
    let times = state.time_parser();
    let parse_time =
        |name: &str, raw: Option<String>| raw.map(|r| param(name, times.parse(&r))).transpose();
    let start = parse_time("start", query.start)?;
    let end = parse_time("end", query.end)?;
    let range = param("start", TimeRange::new(start, end))?;
    let max = state.settings.max_page_rows;
    let client = state.read_db().await?;
    let days = db::daily_bars(&client, &symbol, &range, max as i64 + 1).await?;
    if days.len() > max {
        return Err(ApiError::BadRequest(format!(
            "more than {max} days; narrow the range with start and end"
        )));
    }
    Ok(Json(days))
}
