//! The tutorial's read paths: `GET /ticker` and `GET /ticker/daily`.

use axum::Json;
use axum::extract::State;
use serde::Deserialize;

use super::extract::{ApiQuery, param};
use crate::db;
use crate::domain::{Bar, DailyBar, Symbol, TimeRange};
use crate::error::ApiError;
use crate::state::AppState;

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct TickerQuery {
    symbol: Option<String>,
}

/// `GET /ticker?symbol=MSFT`: `[latest bar]` (`[]` if unknown); without `symbol`, the
/// latest bar of every symbol.
pub async fn latest(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<TickerQuery>,
) -> Result<Json<Vec<Bar>>, ApiError> {
    let symbol = query
        .symbol
        .map(|raw| param("symbol", Symbol::parse(&raw)))
        .transpose()?;
    let client = state.read_db().await?;
    let bars = match symbol {
        Some(symbol) => db::latest_bar(&client, &state.recent, &symbol)
            .await?
            .into_iter()
            .collect(),
        None => {
            let max = state.settings.max_page_rows;
            let bars = db::latest_bars(&client, max as i64 + 1).await?;
            if bars.len() > max {
                return Err(ApiError::BadRequest(format!(
                    "more than {max} symbols; ask for one with ?symbol="
                )));
            }
            bars
        }
    };
    Ok(Json(bars))
}

#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DailyQuery {
    symbol: String,
    start: Option<String>,
    end: Option<String>,
}

/// `GET /ticker/daily?symbol=AAPL[&start=..&end=..]`: one row per UTC day.
pub async fn daily(
    State(state): State<AppState>,
    ApiQuery(query): ApiQuery<DailyQuery>,
) -> Result<Json<Vec<DailyBar>>, ApiError> {
    let symbol = param("symbol", Symbol::parse(&query.symbol))?;
    let times = state.settings.time_parser();
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
