//! `GET /polygon/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}`.
//!
//! Paging: `next_url` is the same path with a `cursor` (the core's signed page token) and
//! without any key. A plain client follows the whole URL; `massive` keeps only its path
//! and query and appends them to its base (`.../polygon`), so the path also answers under
//! the doubled prefix [`MASSIVE_NEXT_PATH`].

use axum::Json;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Uri, header};
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::range::{parse_bound, timespan_interval};
use crate::dialects::{
    EXCHANGE_TZ, PolygonRefusals, core_page, page_size, rfc3339_micros, sort_order, unsupported,
};
use crate::domain::{BarsParams, QueryBar};
use crate::error::ApiError;
use crate::routes::extract::ApiQuery;
use crate::state::AppState;

/// Where `massive` sends the `next_url` it was given (its base followed by the URL's path).
pub const MASSIVE_NEXT_PATH: &str =
    "/polygon/polygon/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}";

/// Polygon's page size bound and default.
const MAX_LIMIT: usize = 50_000;
const DEFAULT_LIMIT: usize = 5_000;

#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AggsParams {
    /// `true` (default, as Polygon's): prices and volumes adjusted for the stored splits;
    /// `false`: as stored. Dividends are not adjusted for, as at Polygon.
    #[param(pattern = "^([Tt]rue|[Ff]alse)$")]
    pub adjusted: Option<String>,
    /// `asc` (default) or `desc`.
    #[param(pattern = "^(asc|desc)$")]
    pub sort: Option<String>,
    /// Bars per page, 1 to 50000 (default 5000; the server's page limit may make pages
    /// shorter: follow `next_url`).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 50000)]
    pub limit: Option<String>,
    /// From `next_url`: where the next page starts.
    pub cursor: Option<String>,
    /// The API key, when not sent as `Authorization: Bearer`.
    #[serde(rename = "apiKey")]
    #[param(rename = "apiKey")]
    pub api_key: Option<String>,
}

/// One aggregate as Polygon writes it.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolygonAgg {
    pub o: Option<f64>,
    pub h: Option<f64>,
    pub l: Option<f64>,
    pub c: Option<f64>,
    pub v: Option<i64>,
    /// Volume-weighted average price (`vwap`; volume-weighted over a bucket); null where
    /// the table has none.
    pub vw: Option<f64>,
    /// Start of the bucket, milliseconds since the epoch.
    pub t: i64,
    /// Number of trades (`trade_count`; summed over a bucket); null where the table has
    /// none.
    pub n: Option<i64>,
}

/// The one mapping of a bar into Polygon's shape (grouped and previous-close results
/// wrap it, see `market::TickerAgg`).
impl From<QueryBar> for PolygonAgg {
    fn from(b: QueryBar) -> Self {
        Self {
            o: b.values.price_open,
            h: b.values.price_high,
            l: b.values.price_low,
            c: b.values.price_close,
            v: b.values.trading_volume,
            vw: b.values.vwap,
            t: b.time.timestamp_millis(),
            n: b.values.trade_count,
        }
    }
}

/// A page of aggregates.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolygonAggs {
    pub ticker: String,
    #[serde(rename = "queryCount")]
    pub query_count: usize,
    #[serde(rename = "resultsCount")]
    pub results_count: usize,
    pub count: usize,
    /// Whether prices and volumes are adjusted for splits.
    pub adjusted: bool,
    pub results: Vec<PolygonAgg>,
    #[schema(example = "OK")]
    pub status: &'static str,
    pub request_id: String,
    /// The next page, absent on the last.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub next_url: Option<String>,
}

/// Polygon's error body.
#[derive(Debug, Serialize, ToSchema)]
pub struct PolygonError {
    #[schema(example = "ERROR")]
    pub status: String,
    pub request_id: String,
    pub error: String,
}

/// `GET /polygon/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}`.
#[utoipa::path(
    get,
    path = "/polygon/v2/aggs/ticker/{ticker}/range/{multiplier}/{timespan}/{from}/{to}",
    tag = "polygon",
    params(
        ("ticker" = String, Path, example = "AAPL"),
        ("multiplier" = u32, Path, minimum = 1, example = 1),
        ("timespan" = String, Path,
            pattern = "^(minute|hour|day|week|month|quarter|year)$", example = "day"),
        ("from" = String, Path, description = "YYYY-MM-DD (midnight in New York) or \
            a millisecond timestamp", example = "2021-11-01"),
        ("to" = String, Path, description = "YYYY-MM-DD (the whole day) or a millisecond \
            timestamp, inclusive", example = "2021-11-05"),
        AggsParams,
    ),
    responses(
        (status = 200, description = "A page of aggregates", body = PolygonAggs),
        PolygonRefusals,
    )
)]
pub async fn aggs(
    State(state): State<AppState>,
    Path((ticker, multiplier, timespan, from, to)): Path<(String, String, String, String, String)>,
    uri: Uri,
    headers: HeaderMap,
    ApiQuery(params): ApiQuery<AggsParams>,
) -> Result<Json<PolygonAggs>, ApiError> {
    let adjusted = super::parse_adjusted(params.adjusted.as_deref())?;
    let interval =
        timespan_interval(&multiplier, &timespan).map_err(|m| unsupported("timespan", &m))?;
    let start = parse_bound(&from, false).map_err(|m| unsupported("from", &m))?;
    let end = parse_bound(&to, true).map_err(|m| unsupported("to", &m))?;
    let sort = sort_order(params.sort.as_deref())?;
    let limit = page_size(
        params.limit.as_deref(),
        "limit",
        DEFAULT_LIMIT,
        MAX_LIMIT,
        state.settings.max_page_rows,
    )?;
    let core = BarsParams {
        symbols: Some(ticker.clone()),
        start: Some(rfc3339_micros(start)),
        end: Some(rfc3339_micros(end)),
        interval: Some(interval),
        tz: Some(EXCHANGE_TZ.name().to_owned()),
        limit: Some(limit.clone()),
        order: Some(sort.to_owned()),
        fill: None,
        format: None,
        page_token: params.cursor.clone(),
        adjustment: Some(super::adjustment_of(adjusted).as_str().to_owned()),
        asof: None,
    };
    let (query, page) = core_page(&state, &core, |p| match p {
        "symbols" => "ticker",
        "interval" => "multiplier",
        "order" => "sort",
        "page_token" => "cursor",
        other => other,
    })
    .await?;
    let next_url = page.next_page_token.map(|token| {
        let mut url = format!(
            "{}{}?cursor={token}&limit={limit}&sort={sort}",
            origin(&headers),
            canonical_path(uri.path())
        );
        if !adjusted {
            url.push_str("&adjusted=false");
        }
        url
    });
    let results: Vec<PolygonAgg> = page.bars.into_iter().map(PolygonAgg::from).collect();
    Ok(Json(PolygonAggs {
        ticker: query.symbols[0].to_string(),
        query_count: results.len(),
        results_count: results.len(),
        count: results.len(),
        adjusted,
        results,
        status: "OK",
        request_id: super::request_id(&headers),
        next_url,
    }))
}

/// `scheme://host` of this request as the client addressed it (empty when unknown: the
/// URL is then relative to the server's root).
fn origin(headers: &HeaderMap) -> String {
    let Some(host) = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_graphic() && b != b'/'))
    else {
        return String::new();
    };
    let https = headers
        .get("x-forwarded-proto")
        .and_then(|v| v.to_str().ok())
        .is_some_and(|p| p.split(',').next().is_some_and(|p| p.trim() == "https"));
    format!("{}://{host}", if https { "https" } else { "http" })
}

/// The documented path of this request, whichever of the two it came in by.
fn canonical_path(path: &str) -> &str {
    path.strip_prefix("/polygon")
        .filter(|p| p.starts_with("/polygon/"))
        .unwrap_or(path)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn next_urls_name_the_documented_path() {
        assert_eq!(
            canonical_path("/polygon/polygon/v2/aggs/ticker/A/range/1/day/a/b"),
            "/polygon/v2/aggs/ticker/A/range/1/day/a/b"
        );
        assert_eq!(
            canonical_path("/polygon/v2/aggs/ticker/A"),
            "/polygon/v2/aggs/ticker/A"
        );
        let mut h = HeaderMap::new();
        assert_eq!(origin(&h), "");
        h.insert(header::HOST, "127.0.0.1:9".parse().unwrap());
        assert_eq!(origin(&h), "http://127.0.0.1:9");
        h.insert("x-forwarded-proto", "https".parse().unwrap());
        assert_eq!(origin(&h), "https://127.0.0.1:9");
    }
}
