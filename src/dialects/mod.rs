//! The dialects of Alpaca (`/alpaca`: REST and the stream) and Polygon (`/polygon`), so
//! their official clients work with one changed base URL.
//!
//! A dialect only translates: its parameters become a `/v1` [`BarsQuery`] (so bucketing,
//! paging, validation and limits are the query core's), and the core's rows become the
//! dialect's shapes. Errors leave as problem+json from the handlers and are reshaped into the
//! dialect's own error body at the edge ([`dialect_errors`]), auth and 404s included.

pub mod alpaca;
pub mod alpaca_stream;
mod edge;
pub mod polygon;
mod refusals;

use chrono::{DateTime, Utc};
use chrono_tz::Tz;

pub use edge::dialect_errors;
pub use refusals::{AlpacaRefusals, PolygonRefusals};

use crate::domain::{BarsContext, BarsParams, BarsQuery, ParamError, ResponseFormat};
use crate::error::ApiError;
use crate::routes::bars::{BarsPage, json_page};
use crate::state::AppState;

/// The exchange's zone: day, week and month bars start at its midnight, as both
/// providers' daily bars do.
pub const EXCHANGE_TZ: Tz = chrono_tz::America::New_York;

/// A core query from parameters a dialect filled in. `rename` maps a core parameter name
/// to the dialect's, so the client reads about what it sent.
fn core_query(
    state: &AppState,
    params: &BarsParams,
    rename: impl Fn(&'static str) -> &'static str,
) -> Result<BarsQuery, ApiError> {
    let context = BarsContext {
        times: crate::domain::TimeParser::UTC,
        max_page_rows: state.settings.max_page_rows,
        tokens: &state.page_tokens,
        negotiated: ResponseFormat::Json,
    };
    BarsQuery::parse(params, &context).map_err(|ParamError { param, message }| {
        ApiError::BadRequest(format!("parameter `{}`: {message}", rename(param)))
    })
}

/// One page of the core for parameters a dialect filled in (see [`core_query`]), with the
/// query it ran (its symbols as the core spells them).
pub async fn core_page(
    state: &AppState,
    params: &BarsParams,
    rename: impl Fn(&'static str) -> &'static str,
) -> Result<(BarsQuery, BarsPage), ApiError> {
    let query = core_query(state, params, rename)?;
    let client = state.read_db().await?;
    let page = json_page(state, &client, &query).await?;
    Ok((query, page))
}

/// `sort`, as both dialects spell the core's `order`: `asc` (the default) or `desc`.
pub fn sort_order(sort: Option<&str>) -> Result<&'static str, ApiError> {
    match sort {
        None | Some("asc") => Ok("asc"),
        Some("desc") => Ok("desc"),
        Some(other) => Err(unsupported(
            "sort",
            &format!("{other:?} is not asc or desc"),
        )),
    }
}

/// A page size within the dialect's own bound, clamped to the server's page limit (both
/// clients follow the next page when a page is shorter than asked).
pub fn page_size(
    raw: Option<&str>,
    name: &str,
    default: usize,
    max: usize,
    server_max: usize,
) -> Result<String, ApiError> {
    let n = match raw {
        None => default,
        Some(raw) => match raw.parse::<usize>() {
            Ok(n) if (1..=max).contains(&n) => n,
            _ => {
                return Err(ApiError::BadRequest(format!(
                    "parameter `{name}`: {raw:?} is not an integer from 1 to {max}"
                )));
            }
        },
    };
    Ok(n.min(server_max).to_string())
}

/// An instant as the core reads it back unchanged.
pub fn rfc3339_micros(t: DateTime<Utc>) -> String {
    t.to_rfc3339_opts(chrono::SecondsFormat::Micros, true)
}

/// The refusal of a parameter tsapi cannot honour (rather than silently ignoring it).
pub fn unsupported(name: &str, why: &str) -> ApiError {
    ApiError::BadRequest(format!("parameter `{name}`: {why}"))
}
