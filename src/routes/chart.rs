//! What people look at: `GET /` (a page with a chart) and `GET /v1/bars/chart.svg`.

use axum::extract::State;
use axum::http::header;
use axum::response::{Html, IntoResponse, Response};
use serde::Deserialize;
use utoipa::IntoParams;

use super::extract::ApiQuery;
use crate::chart::{PAGE_HTML, candlestick_svg};
use crate::db;
use crate::domain::{BarsContext, BarsParams, BarsQuery};
use crate::error::ApiError;
use crate::openapi::Problem;
use crate::state::AppState;

/// Candles drawn when no `start` is given: the most recent ones.
const DEFAULT_CANDLES: usize = 120;
/// Most candles in one chart; more would be thinner than a pixel.
const MAX_CANDLES: usize = 1_000;

/// `GET /`: a page to pick a symbol and an interval and see the chart.
#[utoipa::path(get, path = "/", tag = "chart",
    responses((status = 200, description = "An HTML page", content_type = "text/html")))]
pub async fn page() -> Html<&'static str> {
    Html(PAGE_HTML)
}

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChartParams {
    /// The symbol to draw.
    #[param(example = "AAPL")]
    pub symbol: String,
    /// Candle width, as in `/v1/bars` (default `1h`).
    #[param(example = "1h")]
    pub interval: Option<String>,
    /// Inclusive start; absent: the most recent 120 candles (up to `end`).
    pub start: Option<String>,
    /// Exclusive end.
    pub end: Option<String>,
    /// IANA time zone of day and longer candles (default UTC).
    pub tz: Option<String>,
}

/// `GET /v1/bars/chart.svg`: a candlestick chart with a volume strip.
#[utoipa::path(get, path = "/v1/bars/chart.svg", tag = "chart", params(ChartParams),
    responses(
        (status = 200, description = "An SVG candlestick chart", content_type = "image/svg+xml"),
        (status = 400, description = "A parameter is invalid; `detail` names it",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable or too slow",
            body = Problem, content_type = "application/problem+json"),
    ))]
pub async fn chart(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ChartParams>,
) -> Result<Response, ApiError> {
    if params.symbol.contains(',') {
        return Err(ApiError::BadRequest(
            "parameter `symbol`: one symbol per chart".into(),
        ));
    }
    let interval = params.interval.unwrap_or_else(|| "1h".into());
    // Without a start, read backwards from the end and draw the latest candles.
    let latest_first = params.start.is_none();
    let bars_params = BarsParams {
        symbols: Some(params.symbol.clone()),
        start: params.start,
        end: params.end,
        interval: Some(interval.clone()),
        tz: params.tz,
        order: latest_first.then(|| "desc".into()),
        limit: Some(DEFAULT_CANDLES.to_string()).filter(|_| latest_first),
        ..BarsParams::default()
    };
    let context = BarsContext {
        times: state.settings.time_parser(),
        max_page_rows: state.settings.max_page_rows,
        tokens: &state.page_tokens,
        accept: None,
    };
    let query = BarsQuery::parse(&bars_params, &context)
        .map_err(|e| ApiError::BadRequest(format!("parameter `{}`: {}", e.param, e.message)))?;
    let client = state.read_db().await?;
    let limit = if latest_first {
        DEFAULT_CANDLES
    } else {
        MAX_CANDLES
    };
    let mut bars: Vec<_> = db::query_bars(&client, &query, limit)
        .await?
        .into_iter()
        .map(|row| row.bar)
        .collect();
    if latest_first {
        bars.reverse();
    }
    let title = format!("{} · {interval} candles · {}", params.symbol, query.tz);
    Ok((
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        candlestick_svg(&title, &bars),
    )
        .into_response())
}
