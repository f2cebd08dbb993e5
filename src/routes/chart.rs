//! What people look at: `GET /` (a page with a chart), `GET /v1/bars/chart.svg`, and
//! `GET /v1/bars/chart-link` (a signed chart URL for `<img>` embeds, which send no key).

use axum::Json;
use axum::extract::{RawQuery, State};
use axum::http::{HeaderName, HeaderValue, header};
use axum::response::{Html, IntoResponse, Response};
use chrono::{DateTime, Utc};
use chrono_tz::Tz;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{param, parse_query};
use crate::chart::{ChartLabels, PAGE_HTML, candlestick_svg};
use crate::db;
use crate::domain::bars_query::{parse_range, parse_tz};
use crate::domain::signed_url;
use crate::domain::{BarsQuery, Interval, Order, Symbol, SymbolText, TimeParser};
use crate::error::ApiError;
use crate::openapi::Problem;
use crate::openapi::refusals::{InvalidParameter, Unavailable};
use crate::state::AppState;

/// Candles drawn when no `start` is given: the most recent ones.
const DEFAULT_CANDLES: usize = 120;
/// Most candles in one chart; more would be thinner than a pixel.
const MAX_CANDLES: usize = 1_000;
/// The path that signed chart links open.
pub const CHART_PATH: &str = "/v1/bars/chart.svg";
/// Set on a chart cut at [`MAX_CANDLES`]: how many candles it shows.
pub const TRUNCATED_HEADER: &str = "x-chart-truncated";
/// Lifetime of a chart link when `ttl` is absent, and the longest allowed.
const DEFAULT_TTL: &str = "1d";
const MAX_TTL_SECONDS: u64 = 366 * 86_400;

/// `GET /`: a page to pick a symbol and an interval and see the chart.
#[utoipa::path(get, path = "/", tag = "chart",
    responses((status = 200, description = "An HTML page", content_type = "text/html")))]
pub async fn page() -> Html<&'static str> {
    Html(PAGE_HTML)
}

/// What to draw, as it arrives.
#[derive(Debug, Deserialize, Serialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ChartParams {
    /// The symbol to draw.
    #[param(value_type = SymbolText)]
    pub symbol: String,
    /// Candle width, as in `/v1/bars` (default `1h`).
    #[param(example = "1h", pattern = r"^[1-9][0-9]{0,4}(min|h|d|w|mo|y)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub interval: Option<String>,
    /// Inclusive start; absent: the most recent 120 candles (up to `end`).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub start: Option<String>,
    /// Exclusive end.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub end: Option<String>,
    /// IANA time zone of day and longer candles and of the time axis (default UTC).
    #[serde(skip_serializing_if = "Option::is_none")]
    pub tz: Option<String>,
    /// `raw` (default), `split`, `dividend` or `all`: candles adjusted as in `/v1/bars`.
    #[param(pattern = "^(raw|split|dividend|all)$")]
    #[serde(skip_serializing_if = "Option::is_none")]
    pub adjustment: Option<String>,
}

/// The two parameters a chart link adds (see `GET /v1/bars/chart-link`).
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkSignature {
    /// Unix time after which the link stops working.
    pub expires: Option<u64>,
    /// The link's signature; with it, no API key is needed.
    pub sig: Option<String>,
}

/// A validated chart request.
struct ChartQuery {
    symbol: Symbol,
    interval: Interval,
    /// Without a start, the latest candles up to `end`.
    latest_first: bool,
    bars: BarsQuery,
}

impl ChartQuery {
    /// Parses the parameters once into typed values; errors name the parameter.
    fn parse(params: &ChartParams, default_times: TimeParser) -> Result<Self, ApiError> {
        let symbol = param(
            "symbol",
            Symbol::parse(params.symbol.trim()).map_err(|e| {
                if params.symbol.contains(',') {
                    "one symbol per chart".to_owned()
                } else {
                    format!("{:?} {e}", params.symbol)
                }
            }),
        )?;
        let interval = param(
            "interval",
            Interval::parse(params.interval.as_deref().unwrap_or("1h")),
        )?;
        let tz = parse_tz(params.tz.as_deref())?;
        let times = match params.tz {
            Some(_) => TimeParser::new(tz),
            None => default_times,
        };
        let range = parse_range(params.start.as_deref(), params.end.as_deref(), times)?;
        let latest_first = range.start.is_none();
        let order = if latest_first {
            Order::Desc
        } else {
            Order::Asc
        };
        let (adjustment, _) =
            crate::domain::bars_query::parse_adjustment(params.adjustment.as_deref(), None)?;
        let bars =
            BarsQuery::buckets(symbol.clone(), range, interval, tz, order).adjusted(adjustment);
        Ok(Self {
            symbol,
            interval,
            latest_first,
            bars,
        })
    }

    fn tz(&self) -> Tz {
        self.bars.tz
    }
}

/// `GET /v1/bars/chart.svg`: a candlestick chart with a volume strip.
#[utoipa::path(get, path = "/v1/bars/chart.svg", tag = "chart", params(ChartParams, LinkSignature),
    responses(
        (status = 200, description = "An SVG candlestick chart. A chart cut at 1,000 candles \
            says so in the picture and in `X-Chart-Truncated`",
            content_type = "image/svg+xml",
            headers(("X-Chart-Truncated" = u32,
                description = "Present when the range holds more than 1,000 candles: the first 1,000 are drawn"))),
        InvalidParameter,
        (status = 401, description = "No key, or a chart link that is altered or expired",
            body = Problem, content_type = "application/problem+json"),
        Unavailable,
    ))]
pub async fn chart(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    // The key layer has checked the signature of a signed link; what was signed is the
    // chart's own query.
    let query = signed_url::unsigned(raw.as_deref().unwrap_or_default());
    let params: ChartParams = parse_query(&query)?;
    let chart = ChartQuery::parse(&params, state.time_parser())?;
    let limit = if chart.latest_first {
        DEFAULT_CANDLES
    } else {
        MAX_CANDLES + 1
    };
    let client = state.read_db().await?;
    let mut bars: Vec<_> = db::query_bars(&client, &chart.bars, limit)
        .await?
        .into_iter()
        .map(|row| row.bar)
        .collect();
    let truncated = !chart.latest_first && bars.len() > MAX_CANDLES;
    bars.truncate(MAX_CANDLES);
    if chart.latest_first {
        bars.reverse();
    }
    let labels = ChartLabels {
        title: format!(
            "{} · {} candles · {}",
            chart.symbol,
            chart.interval,
            chart.tz()
        ),
        tz: chart.tz(),
        note: truncated.then(|| {
            format!(
                "Showing the first {MAX_CANDLES} candles of a longer range: \
                 narrow the range or widen the interval"
            )
        }),
    };
    let mut response = (
        [
            (header::CONTENT_TYPE, "image/svg+xml"),
            (header::CACHE_CONTROL, "no-cache"),
        ],
        candlestick_svg(&labels, &bars),
    )
        .into_response();
    if truncated {
        response.headers_mut().insert(
            HeaderName::from_static(TRUNCATED_HEADER),
            HeaderValue::from(MAX_CANDLES),
        );
    }
    Ok(response)
}

/// How long a chart link works.
#[derive(Debug, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct LinkLifetime {
    /// How long the link works, e.g. `1h`, `7d` (default `1d`, at most `366d`).
    #[param(example = "7d")]
    pub ttl: Option<String>,
}

/// A signed chart URL.
#[derive(Debug, Serialize, ToSchema)]
pub struct ChartLink {
    /// Path and query of the chart, relative to the server; works without a key until
    /// `expires_at`, for exactly these parameters.
    #[schema(example = "/v1/bars/chart.svg?symbol=MSFT&interval=1d&expires=1637000000&sig=3q2-7w")]
    pub url: String,
    /// RFC 3339, UTC.
    #[schema(example = "2021-11-15T18:13:20Z")]
    pub expires_at: String,
}

/// `GET /v1/bars/chart-link`: a URL of `chart.svg` that needs no key, for `<img>` embeds.
#[utoipa::path(get, path = "/v1/bars/chart-link", tag = "chart",
    params(ChartParams, LinkLifetime),
    responses(
        (status = 200, description = "A signed chart URL", body = ChartLink),
        InvalidParameter,
    ))]
pub async fn chart_link(
    State(state): State<AppState>,
    RawQuery(raw): RawQuery,
) -> Result<Response, ApiError> {
    let (query, ttl) = take_ttl(raw.as_deref().unwrap_or_default())?;
    let params: ChartParams = parse_query(&query)?;
    // A link is made only for a chart that would draw.
    ChartQuery::parse(&params, state.time_parser())?;
    let ttl = param(
        "ttl",
        humantime::parse_duration(ttl.as_deref().unwrap_or(DEFAULT_TTL))
            .map_err(|e| format!("{e}; use e.g. 1h or 7d"))
            .and_then(|d| match d.as_secs() {
                1..=MAX_TTL_SECONDS => Ok(d.as_secs()),
                _ => Err("must be from 1s to 366d".into()),
            }),
    )?;
    let expires = Utc::now().timestamp() + ttl as i64;
    let canonical = serde_urlencoded::to_string(&params)
        .map_err(|e| ApiError::Internal(format!("chart link query: {e}")))?;
    let signed = state
        .links
        .sign(CHART_PATH, &canonical, expires)
        .map_err(|e| ApiError::Internal(format!("chart link: {e}")))?;
    let expires_at = DateTime::from_timestamp(expires, 0).unwrap_or_default();
    let link = ChartLink {
        url: format!("{CHART_PATH}?{signed}"),
        expires_at: crate::render::rfc3339(expires_at),
    };
    Ok(([(header::CACHE_CONTROL, "no-store")], Json(link)).into_response())
}

/// Splits `ttl` off a query string; a repeated `ttl` is refused.
fn take_ttl(query: &str) -> Result<(String, Option<String>), ApiError> {
    let mut ttl = None;
    let mut rest = Vec::new();
    for pair in query.split('&').filter(|p| !p.is_empty()) {
        match pair.strip_prefix("ttl=") {
            Some(_) if ttl.is_some() => {
                return Err(ApiError::BadRequest(
                    "query parameters: duplicate field `ttl`".into(),
                ));
            }
            Some(value) => {
                let value: Vec<(String, String)> =
                    serde_urlencoded::from_str(&format!("t={value}"))
                        .map_err(|e| ApiError::BadRequest(format!("parameter `ttl`: {e}")))?;
                ttl = value.into_iter().next().map(|(_, v)| v);
            }
            None => rest.push(pair),
        }
    }
    Ok((rest.join("&"), ttl))
}
