//! Alpaca's query parameters, translated into the core's `/v1/bars` parameters.

use serde::Deserialize;
use utoipa::IntoParams;

use crate::dialects::{EXCHANGE_TZ, page_size, rfc3339_micros, sort_order, unsupported};
use crate::domain::{BarsParams, Symbol, TimeParser, bars_query};
use crate::error::ApiError;
use crate::routes::extract::param;

/// Alpaca's page size bound ("up to 10,000 bars across symbols") and default.
pub const MAX_LIMIT: usize = 10_000;
const DEFAULT_LIMIT: usize = 1_000;

/// `GET /alpaca/v2/stocks/bars` (and the single-symbol form, without `symbols`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlpacaBarsParams {
    /// Comma-separated symbols (multi-symbol form only).
    #[param(example = "AAPL,MSFT")]
    pub symbols: Option<String>,
    /// `[1-59]Min` (or `T`), `[1-23]Hour` (or `H`), `1Day` (`D`), `1Week` (`W`),
    /// `[1,2,3,4,6,12]Month` (`M`). Days, weeks and months start at midnight in New York.
    #[param(required = true, example = "1Hour")]
    pub timeframe: Option<String>,
    /// Inclusive start: RFC 3339 or `YYYY-MM-DD` (UTC). Absent: the oldest bar.
    #[param(example = "2021-11-01T00:00:00Z")]
    pub start: Option<String>,
    /// Inclusive end, same forms. Absent: the newest bar.
    #[param(example = "2021-11-06T00:00:00Z")]
    pub end: Option<String>,
    /// Bars in this page across symbols, 1 to 10000 (default 1000; the server's page limit
    /// may make pages shorter).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 10000)]
    pub limit: Option<String>,
    /// `next_page_token` of the previous page.
    pub page_token: Option<String>,
    /// `asc` (default) or `desc`, by time within each symbol.
    #[param(pattern = "^(asc|desc)$")]
    pub sort: Option<String>,
    /// `raw` (default, as in Alpaca's API), `split`, `dividend` or `all`: adjusted for the
    /// stored corporate actions, as `/v1/bars` does.
    #[param(pattern = "^(raw|split|dividend|all)$")]
    pub adjustment: Option<String>,
    /// Accepted and ignored: the table is one feed.
    pub feed: Option<String>,
    /// `YYYY-MM-DD`: symbols are the names as known on that day, read across their stored
    /// renames. Absent (or `-`): names are literal (Alpaca maps as of today by default).
    #[param(example = "2023-01-03")]
    pub asof: Option<String>,
    /// Only `USD`.
    #[param(pattern = "^USD$")]
    pub currency: Option<String>,
}

/// `GET /alpaca/v2/stocks/bars/latest` (and the single-symbol form, without `symbols`).
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct AlpacaLatestParams {
    /// Comma-separated symbols (multi-symbol form only).
    #[param(example = "AAPL,MSFT")]
    pub symbols: Option<String>,
    /// Accepted and ignored: the table is one feed.
    pub feed: Option<String>,
    /// Only `USD`.
    #[param(pattern = "^USD$")]
    pub currency: Option<String>,
}

/// `symbols` of a multi-symbol route (`?symbols=AAPL,MSFT`), which requires it.
pub fn required_symbols(symbols: Option<&str>) -> Result<&str, ApiError> {
    symbols.ok_or_else(|| unsupported("symbols", "is required"))
}

/// The symbols of a multi-symbol route, parsed.
pub fn query_symbols(symbols: Option<&str>) -> Result<Vec<Symbol>, ApiError> {
    let raw = required_symbols(symbols)?;
    param(
        "symbols",
        bars_query::parse_symbol_list(raw, bars_query::MAX_SYMBOLS),
    )
}

/// The symbol of a single-symbol route (`/{symbol}/...`), where `symbols` is refused.
pub fn path_symbol(symbols: Option<&str>, raw: &str) -> Result<Symbol, ApiError> {
    if symbols.is_some() {
        return Err(ApiError::BadRequest(
            "parameter `symbols`: the symbol is in the path here".into(),
        ));
    }
    param("symbol", Symbol::parse(raw))
}

/// The one row a single-symbol route answers with; 404 (naming `what` of `symbol`) when
/// the symbol has no bars.
pub fn only_row<T>(rows: Vec<T>, what: &str, symbol: &Symbol) -> Result<T, ApiError> {
    rows.into_iter()
        .next()
        .ok_or_else(|| ApiError::NotFound(format!("{what} of {symbol} (it has no bars)")))
}

/// An Alpaca timeframe as a core interval (`15Min` -> `15min`).
pub fn parse_timeframe(raw: &str) -> Result<String, String> {
    let digits = raw.chars().take_while(char::is_ascii_digit).count();
    let (number, unit) = raw.split_at(digits);
    let n: u32 = number
        .parse()
        .map_err(|_| format!("invalid timeframe {raw:?}"))?;
    let (suffix, allowed): (&str, &[u32]) = match unit {
        "Min" | "T" => ("min", &[]),
        "Hour" | "H" => ("h", &[]),
        "Day" | "D" => ("d", &[1]),
        "Week" | "W" => ("w", &[1]),
        "Month" | "M" => ("mo", &[1, 2, 3, 4, 6, 12]),
        _ => return Err(format!("invalid timeframe {raw:?}")),
    };
    let ok = match suffix {
        "min" => (1..=59).contains(&n),
        "h" => (1..=23).contains(&n),
        _ => allowed.contains(&n),
    };
    if !ok {
        return Err(format!(
            "invalid timeframe {raw:?}: use [1-59]Min, [1-23]Hour, 1Day, 1Week or \
             [1,2,3,4,6,12]Month"
        ));
    }
    Ok(format!("{n}{suffix}"))
}

/// Refuses what tsapi cannot honour: a currency other than USD.
pub fn refuse_unsupported(currency: Option<&str>) -> Result<(), ApiError> {
    if currency.is_some_and(|c| c != "USD") {
        return Err(unsupported("currency", "only USD is supported"));
    }
    Ok(())
}

impl AlpacaBarsParams {
    /// The core's parameters for `symbols`; `server_max` is the server's page limit.
    pub fn to_core(&self, symbols: String, server_max: usize) -> Result<BarsParams, ApiError> {
        refuse_unsupported(self.currency.as_deref())?;
        let timeframe = self
            .timeframe
            .as_deref()
            .ok_or_else(|| unsupported("timeframe", "is required"))?;
        let interval = parse_timeframe(timeframe).map_err(|m| unsupported("timeframe", &m))?;
        let time = |name: &str, raw: &Option<String>, inclusive_end: bool| {
            raw.as_deref()
                .map(|raw| {
                    let t = TimeParser::UTC
                        .parse(raw)
                        .map_err(|m| unsupported(name, &m))?;
                    // Alpaca's end is inclusive, the core's exclusive: one microsecond on.
                    let t = if inclusive_end {
                        t + chrono::Duration::microseconds(1)
                    } else {
                        t
                    };
                    Ok::<_, ApiError>(rfc3339_micros(t))
                })
                .transpose()
        };
        let order = sort_order(self.sort.as_deref())?;
        Ok(BarsParams {
            symbols: Some(symbols),
            start: time("start", &self.start, false)?,
            end: time("end", &self.end, true)?,
            interval: Some(interval),
            tz: Some(EXCHANGE_TZ.name().to_owned()),
            limit: Some(page_size(
                self.limit.as_deref(),
                "limit",
                DEFAULT_LIMIT,
                MAX_LIMIT,
                server_max,
            )?),
            order: Some(order.to_owned()),
            fill: None,
            format: None,
            page_token: self.page_token.clone(),
            adjustment: self.adjustment.clone(),
            // `-` is Alpaca's "no mapping".
            asof: self.asof.clone().filter(|a| a.trim() != "-"),
        })
    }
}

/// The core's name of a parameter as Alpaca calls it.
pub fn alpaca_name(core: &'static str) -> &'static str {
    match core {
        "interval" => "timeframe",
        "order" => "sort",
        other => other,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn timeframes() {
        assert_eq!(parse_timeframe("1Min").unwrap(), "1min");
        assert_eq!(parse_timeframe("59T").unwrap(), "59min");
        assert_eq!(parse_timeframe("23Hour").unwrap(), "23h");
        assert_eq!(parse_timeframe("1D").unwrap(), "1d");
        assert_eq!(parse_timeframe("1Week").unwrap(), "1w");
        assert_eq!(parse_timeframe("4Month").unwrap(), "4mo");
        for bad in [
            "0Min", "60Min", "24Hour", "2Day", "2Week", "5Month", "Min", "1Sec", "", "1min",
        ] {
            assert!(parse_timeframe(bad).is_err(), "{bad}");
        }
    }

    #[test]
    fn refuses_what_cannot_be_honoured() {
        assert!(refuse_unsupported(Some("USD")).is_ok());
        assert!(refuse_unsupported(Some("EUR")).is_err());
    }

    #[test]
    fn end_is_inclusive() {
        let p = AlpacaBarsParams {
            timeframe: Some("1Day".into()),
            end: Some("2021-11-05T00:00:00Z".into()),
            limit: Some("10000".into()),
            ..Default::default()
        };
        let core = p.to_core("A".into(), 5000).unwrap();
        assert_eq!(core.end.as_deref(), Some("2021-11-05T00:00:00.000001Z"));
        assert_eq!(core.limit.as_deref(), Some("5000"));
        assert_eq!(core.interval.as_deref(), Some("1d"));
    }
}
