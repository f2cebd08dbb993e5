//! The parameters of `GET /v1/bars`, from query-string text to a validated [`BarsQuery`].

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use serde::Deserialize;
use utoipa::IntoParams;

use super::actions::{Adjustment, parse_ex_date};
use super::page_token::{Cursor, PageTokenKey, QueryFingerprint};
use super::{Interval, Symbol, SymbolListText, TimeParser, TimeRange, quote};

/// Most symbols in one request.
pub const MAX_SYMBOLS: usize = 1_000;
/// Rows in a JSON page when `limit` is absent.
pub const DEFAULT_LIMIT: usize = 1_000;
/// Most buckets per symbol that gap filling may generate.
pub const MAX_FILLED_BUCKETS: i64 = 100_000;

/// `GET /v1/bars` query parameters as they arrive.
#[derive(Debug, Default, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct BarsParams {
    /// Comma-separated symbols, e.g. `AAPL,MSFT` (at most 1000).
    #[param(required = true, value_type = SymbolListText)]
    pub symbols: Option<String>,
    /// Inclusive start: RFC 3339, or `YYYY-MM-DD[ HH:MM:SS]` read in `tz` (else the
    /// server's zone).
    #[param(example = "2021-11-01")]
    pub start: Option<String>,
    /// Exclusive end, same forms as `start`.
    #[param(example = "2021-11-06")]
    pub end: Option<String>,
    /// Bucket width: a number and `min`, `h`, `d`, `w` (weeks start Monday), `mo` or `y`.
    /// Absent: the stored bars.
    #[param(example = "1d", pattern = r"^[1-9][0-9]{0,4}(min|h|d|w|mo|y)$")]
    pub interval: Option<String>,
    /// IANA time zone: buckets of a day or longer start at local midnight. Default UTC.
    #[param(example = "America/New_York")]
    pub tz: Option<String>,
    /// Rows per page (JSON: 1 to 10000, default 1000; CSV/NDJSON: no default cap).
    #[param(value_type = Option<u64>, minimum = 1, example = 1000)]
    pub limit: Option<String>,
    /// Time order within each symbol: `asc` (default) or `desc`.
    #[param(pattern = "^(asc|desc)$")]
    pub order: Option<String>,
    /// With `interval`: `none` (default) skips empty buckets, `null` returns them with null
    /// values, `previous` repeats the previous close (volume 0). Needs `start` and `end`.
    #[param(pattern = "^(none|null|previous)$")]
    pub fill: Option<String>,
    /// `json` (default), `csv`, `ndjson`, `arrow` (Arrow IPC stream) or `parquet`; also
    /// chosen by the `Accept` header.
    #[param(pattern = "^(json|csv|ndjson|arrow|parquet)$")]
    pub format: Option<String>,
    /// `next_page_token` of the previous page, with otherwise the same parameters.
    pub page_token: Option<String>,
    /// `raw` (default): prices as stored; `split`, `dividend` or `all`: adjusted for the
    /// stored corporate actions after each bar (see "Corporate actions and adjusted prices"
    /// in the README). Aggregates are computed from the adjusted bars.
    #[param(pattern = "^(raw|split|dividend|all)$")]
    pub adjustment: Option<String>,
    /// `YYYY-MM-DD`: each symbol is the name as known on that day, read across its renames
    /// (its whole history, under the requested name). Absent: names are literal.
    #[param(example = "2023-01-03", format = Date)]
    pub asof: Option<String>,
}

/// Time order within each symbol.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Order {
    Asc,
    Desc,
}

/// What happens to buckets without bars.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fill {
    None,
    Null,
    Previous,
}

/// The response body's shape.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ResponseFormat {
    Json,
    Csv,
    Ndjson,
    /// Arrow IPC stream (`application/vnd.apache.arrow.stream`).
    Arrow,
    /// Parquet file (`application/vnd.apache.parquet`).
    Parquet,
}

impl ResponseFormat {
    /// Streamed formats send every row in one response, without pages.
    pub fn is_streamed(self) -> bool {
        self != Self::Json
    }

    /// Media types in the server's order of preference (JSON first).
    const MEDIA_TYPES: [(&'static str, Self); 5] = [
        ("application/json", Self::Json),
        ("text/csv", Self::Csv),
        ("application/x-ndjson", Self::Ndjson),
        ("application/vnd.apache.arrow.stream", Self::Arrow),
        ("application/vnd.apache.parquet", Self::Parquet),
    ];

    /// The format an `Accept` header asks for (none: JSON); `None` when it accepts none of
    /// them, which is a 406.
    pub fn negotiate(accept: Option<&str>) -> Option<Self> {
        let offers = Self::MEDIA_TYPES.map(|(media_type, _)| media_type);
        super::accept::negotiate(accept, &offers).map(|i| Self::MEDIA_TYPES[i].1)
    }

    /// From `format=`, else the format negotiated from the `Accept` header.
    pub fn choose(param: Option<&str>, negotiated: Self) -> Result<Self, String> {
        match param {
            Some("json") => Ok(Self::Json),
            Some("csv") => Ok(Self::Csv),
            Some("ndjson") => Ok(Self::Ndjson),
            Some("arrow") => Ok(Self::Arrow),
            Some("parquet") => Ok(Self::Parquet),
            Some(other) => Err(format!(
                "{} is not one of json, csv, ndjson, arrow, parquet",
                quote(other)
            )),
            None => Ok(negotiated),
        }
    }
}

/// A bad parameter: which one, and what is wrong with it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ParamError {
    pub param: &'static str,
    pub message: String,
}

fn bad(param: &'static str) -> impl Fn(String) -> ParamError {
    move |message| ParamError { param, message }
}

/// Server-side inputs to validation.
pub struct BarsContext<'a> {
    /// The zone of naive times when `tz` is absent.
    pub times: TimeParser,
    pub max_page_rows: usize,
    pub tokens: &'a PageTokenKey,
    /// The format the `Accept` header chose ([`ResponseFormat::negotiate`]), used without `format=`.
    pub negotiated: ResponseFormat,
}

/// A validated `GET /v1/bars` request.
#[derive(Debug, Clone)]
pub struct BarsQuery {
    /// Sorted by their bytes and without duplicates: the order of the response.
    pub symbols: Vec<Symbol>,
    pub range: TimeRange,
    pub interval: Option<Interval>,
    pub tz: Tz,
    /// Rows in this response; `None` only for streamed formats without `limit`.
    pub limit: Option<usize>,
    pub order: Order,
    pub fill: Fill,
    pub format: ResponseFormat,
    /// Binds page tokens to the parameters that decide the rows.
    pub fingerprint: QueryFingerprint,
    /// Where this page starts, from `page_token`.
    pub cursor: Option<Cursor>,
    /// Which corporate actions prices and volumes are adjusted for.
    pub adjustment: Adjustment,
    /// Names as known on this day, read across renames; `None`: literal names.
    pub asof: Option<NaiveDate>,
}

impl BarsQuery {
    pub fn parse(params: &BarsParams, ctx: &BarsContext<'_>) -> Result<Self, ParamError> {
        let symbols = parse_symbols(params.symbols.as_deref())?;
        let tz = parse_tz(params.tz.as_deref())?;
        let times = if params.tz.is_some() {
            TimeParser::new(tz)
        } else {
            ctx.times
        };
        let range = parse_range(params.start.as_deref(), params.end.as_deref(), times)?;
        let interval = params
            .interval
            .as_deref()
            .map(|r| Interval::parse(r).map_err(bad("interval")))
            .transpose()?;
        let order = match params.order.as_deref() {
            None | Some("asc") => Order::Asc,
            Some("desc") => Order::Desc,
            Some(other) => {
                return Err(bad("order")(format!("{} is not asc or desc", quote(other))));
            }
        };
        let fill = parse_fill(params.fill.as_deref(), interval, &range)?;
        let format = ResponseFormat::choose(params.format.as_deref(), ctx.negotiated)
            .map_err(bad("format"))?;
        let limit = parse_limit(params.limit.as_deref(), format, ctx.max_page_rows)?;
        let (adjustment, asof) =
            parse_adjustment(params.adjustment.as_deref(), params.asof.as_deref())?;
        let fingerprint = fingerprint(&symbols, &range, interval, tz, order, fill)
            .with_adjustment(adjustment, asof);
        let cursor = params
            .page_token
            .as_deref()
            .map(|t| ctx.tokens.open(&fingerprint, t).map_err(bad("page_token")))
            .transpose()?;
        Ok(Self {
            symbols,
            range,
            interval,
            tz,
            limit,
            order,
            fill,
            format,
            fingerprint,
            cursor,
            adjustment,
            asof,
        })
    }

    /// Buckets of one symbol in one page, as a chart draws them: no fill, no token.
    pub fn buckets(
        symbol: Symbol,
        range: TimeRange,
        interval: Interval,
        tz: Tz,
        order: Order,
    ) -> Self {
        let symbols = vec![symbol];
        let fingerprint = fingerprint(&symbols, &range, Some(interval), tz, order, Fill::None);
        Self {
            symbols,
            range,
            interval: Some(interval),
            tz,
            limit: None,
            order,
            fill: Fill::None,
            format: ResponseFormat::Json,
            fingerprint,
            cursor: None,
            adjustment: Adjustment::Raw,
            asof: None,
        }
    }

    /// The same query adjusted for `adjustment` (what a chart asks for).
    pub fn adjusted(mut self, adjustment: Adjustment) -> Self {
        self.fingerprint = self.fingerprint.with_adjustment(adjustment, self.asof);
        self.adjustment = adjustment;
        self
    }

    /// The symbols this page still has to read, each with its resume bound (`None`: from
    /// the start of the range).
    pub fn remaining(&self) -> Vec<(&Symbol, Option<DateTime<Utc>>)> {
        self.symbols
            .iter()
            .filter_map(|symbol| match &self.cursor {
                None => Some((symbol, None)),
                Some(c) if symbol.as_str() == c.symbol.as_str() => Some((symbol, Some(c.resume))),
                Some(c) if symbol.as_str().as_bytes() > c.symbol.as_str().as_bytes() => {
                    Some((symbol, None))
                }
                Some(_) => None,
            })
            .collect()
    }
}

/// Binds page tokens to what selects the rows (not the page size or format).
fn fingerprint(
    symbols: &[Symbol],
    range: &TimeRange,
    interval: Option<Interval>,
    tz: Tz,
    order: Order,
    fill: Fill,
) -> QueryFingerprint {
    let joined = symbols
        .iter()
        .map(Symbol::as_str)
        .collect::<Vec<_>>()
        .join(",");
    let bound = |t: Option<DateTime<Utc>>| t.map(|t| t.timestamp_micros().to_string());
    QueryFingerprint::of(&[
        &joined,
        &bound(range.start).unwrap_or_default(),
        &bound(range.end).unwrap_or_default(),
        &interval.map(|i| i.to_string()).unwrap_or_default(),
        tz.name(),
        &format!("{order:?}"),
        &format!("{fill:?}"),
    ])
}

/// `adjustment` (absent: raw) and `asof` (absent: literal names).
pub fn parse_adjustment(
    adjustment: Option<&str>,
    asof: Option<&str>,
) -> Result<(Adjustment, Option<NaiveDate>), ParamError> {
    let adjustment = adjustment
        .map(|a| Adjustment::parse(a.trim()).map_err(bad("adjustment")))
        .transpose()?
        .unwrap_or_default();
    let asof = asof
        .map(str::trim)
        .filter(|a| !a.is_empty())
        .map(|a| parse_ex_date(a).map_err(bad("asof")))
        .transpose()?;
    Ok((adjustment, asof))
}

/// `tz`: an IANA zone name; absent: UTC.
pub fn parse_tz(raw: Option<&str>) -> Result<Tz, ParamError> {
    match raw {
        None => Ok(Tz::UTC),
        Some(raw) => super::parse_zone(raw).map_err(|message| ParamError {
            param: "tz",
            message,
        }),
    }
}

/// `start` (inclusive) and `end` (exclusive), each optional, naive times read by `times`.
pub fn parse_range(
    start: Option<&str>,
    end: Option<&str>,
    times: TimeParser,
) -> Result<TimeRange, ParamError> {
    let time = |param: &'static str, raw: Option<&str>| {
        raw.map(|r| times.parse(r).map_err(bad(param))).transpose()
    };
    let start = time("start", start)?;
    let end = time("end", end)?;
    TimeRange::new(start, end).map_err(bad("end"))
}

fn parse_symbols(raw: Option<&str>) -> Result<Vec<Symbol>, ParamError> {
    let raw = raw.ok_or_else(|| bad("symbols")("is required, e.g. symbols=AAPL,MSFT".into()))?;
    parse_symbol_list(raw, MAX_SYMBOLS).map_err(bad("symbols"))
}

/// Comma-separated symbols, sorted by their bytes, without duplicates, at most `max`.
pub fn parse_symbol_list(raw: &str, max: usize) -> Result<Vec<Symbol>, String> {
    if raw.trim().is_empty() {
        return Err("must name at least one symbol".into());
    }
    let mut symbols = raw
        .split(',')
        .map(|s| Symbol::parse(s.trim()).map_err(|e| format!("{} {e}", quote(s))))
        .collect::<Result<Vec<_>, _>>()?;
    symbols.sort_by(|a, b| a.as_str().as_bytes().cmp(b.as_str().as_bytes()));
    symbols.dedup();
    if symbols.len() > max {
        return Err(format!("at most {max} symbols per request"));
    }
    Ok(symbols)
}

fn parse_fill(
    raw: Option<&str>,
    interval: Option<Interval>,
    range: &TimeRange,
) -> Result<Fill, ParamError> {
    let err = bad("fill");
    let fill = match raw {
        None | Some("none") => return Ok(Fill::None),
        Some("null") => Fill::Null,
        Some("previous") => Fill::Previous,
        Some(other) => return Err(err(format!("{other:?} is not none, null or previous"))),
    };
    let Some(interval) = interval else {
        return Err(err("needs an interval; stored bars are not filled".into()));
    };
    let (Some(start), Some(end)) = (range.start, range.end) else {
        return Err(err("needs both start and end".into()));
    };
    if interval.max_buckets((end - start).num_seconds()) > MAX_FILLED_BUCKETS {
        return Err(err(format!(
            "would make more than {MAX_FILLED_BUCKETS} buckets per symbol; \
             use a wider interval or a shorter range"
        )));
    }
    Ok(fill)
}

fn parse_limit(
    raw: Option<&str>,
    format: ResponseFormat,
    max_page_rows: usize,
) -> Result<Option<usize>, ParamError> {
    let err = bad("limit");
    let Some(raw) = raw else {
        return Ok((!format.is_streamed()).then_some(DEFAULT_LIMIT));
    };
    let max = if format.is_streamed() {
        i64::MAX as usize
    } else {
        max_page_rows
    };
    match raw.parse::<usize>() {
        Ok(n) if (1..=max).contains(&n) => Ok(Some(n)),
        _ if format.is_streamed() => Err(err(format!("{raw:?} is not a positive integer"))),
        _ => Err(err(format!("{raw:?} is not an integer from 1 to {max}"))),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn parse_with(pairs: &str, accept: Option<&str>) -> Result<BarsQuery, ParamError> {
        let params: BarsParams = serde_urlencoded::from_str(pairs).unwrap();
        let key = PageTokenKey::from_secret("unit test secret key").unwrap();
        BarsQuery::parse(
            &params,
            &BarsContext {
                times: TimeParser::UTC,
                max_page_rows: 10_000,
                tokens: &key,
                negotiated: ResponseFormat::negotiate(accept).unwrap(),
            },
        )
    }

    fn parse(pairs: &str) -> Result<BarsQuery, ParamError> {
        parse_with(pairs, None)
    }

    fn refused(pairs: &str) -> &'static str {
        parse(pairs).unwrap_err().param
    }

    #[test]
    fn defaults() {
        let q = parse("symbols=MSFT,AAPL,MSFT").unwrap();
        let names: Vec<&str> = q.symbols.iter().map(Symbol::as_str).collect();
        assert_eq!(names, ["AAPL", "MSFT"]);
        assert_eq!(q.limit, Some(DEFAULT_LIMIT));
        assert_eq!(
            (q.order, q.fill, q.format),
            (Order::Asc, Fill::None, ResponseFormat::Json)
        );
        assert_eq!(q.tz, Tz::UTC);
        assert!(q.interval.is_none() && q.cursor.is_none());
    }

    #[test]
    fn dates_are_read_in_the_requested_zone() {
        let q = parse("symbols=A&start=2021-11-07&tz=America/New_York").unwrap();
        assert_eq!(
            q.range.start.unwrap(),
            "2021-11-07T04:00:00Z".parse::<DateTime<Utc>>().unwrap()
        );
    }

    #[test]
    fn names_the_bad_parameter() {
        assert_eq!(refused(""), "symbols");
        assert_eq!(refused("symbols="), "symbols");
        assert_eq!(refused("symbols=A,,B"), "symbols");
        assert_eq!(refused("symbols=A&start=yesterday"), "start");
        assert_eq!(refused("symbols=A&end=2021-13-01"), "end");
        assert_eq!(refused("symbols=A&start=2021-11-02&end=2021-11-01"), "end");
        assert_eq!(refused("symbols=A&start=2021-11-02&end=2021-11-02"), "end");
        assert_eq!(refused("symbols=A&interval=0d"), "interval");
        assert_eq!(refused("symbols=A&interval=1s"), "interval");
        assert_eq!(refused("symbols=A&tz=Mars/Olympus"), "tz");
        assert_eq!(refused("symbols=A&format=xml"), "format");
        assert_eq!(refused("symbols=A&limit=0"), "limit");
        assert_eq!(refused("symbols=A&limit=10001"), "limit");
        assert_eq!(refused("symbols=A&limit=-1"), "limit");
        assert_eq!(refused("symbols=A&order=up"), "order");
        assert_eq!(refused("symbols=A&fill=zero&interval=1d"), "fill");
        assert_eq!(refused("symbols=A&fill=null"), "fill");
        assert_eq!(refused("symbols=A&fill=null&interval=1d"), "fill");
        assert_eq!(
            refused("symbols=A&fill=null&interval=1min&start=2000-01-01&end=2021-01-01"),
            "fill"
        );
        assert_eq!(refused("symbols=A&page_token=abc"), "page_token");
        assert_eq!(refused("symbols=A&adjustment=splits"), "adjustment");
        assert_eq!(refused("symbols=A&asof=2022-02-30"), "asof");
        let many: Vec<String> = (0..=MAX_SYMBOLS).map(|i| format!("S{i}")).collect();
        assert_eq!(refused(&format!("symbols={}", many.join(","))), "symbols");
    }

    #[test]
    fn streamed_formats_have_no_default_cap() {
        let q = parse("symbols=A&format=csv").unwrap();
        assert_eq!((q.format, q.limit), (ResponseFormat::Csv, None));
        let q = parse("symbols=A&format=ndjson&limit=1000000").unwrap();
        assert_eq!(q.limit, Some(1_000_000));
        let q = parse_with("symbols=A", Some("text/csv")).unwrap();
        assert_eq!(q.format, ResponseFormat::Csv);
        let q = parse_with("symbols=A", Some("application/x-ndjson")).unwrap();
        assert_eq!(q.format, ResponseFormat::Ndjson);
        let q = parse_with("symbols=A&format=json", Some("text/csv")).unwrap();
        assert_eq!(q.format, ResponseFormat::Json);
        let q = parse_with("symbols=A", Some("application/vnd.apache.arrow.stream")).unwrap();
        assert_eq!((q.format, q.limit), (ResponseFormat::Arrow, None));
        let q = parse("symbols=A&format=parquet").unwrap();
        assert_eq!((q.format, q.limit), (ResponseFormat::Parquet, None));
    }

    #[test]
    fn tokens_resume_their_own_query_only() {
        let key = PageTokenKey::from_secret("unit test secret key").unwrap();
        let q = parse("symbols=A,B,C&interval=1h").unwrap();
        let cursor = Cursor {
            symbol: Symbol::parse("B").unwrap(),
            resume: "2021-11-12T15:00:00Z".parse().unwrap(),
        };
        let token = key.seal(&q.fingerprint, &cursor);
        let resumed = parse(&format!("symbols=C,B,A&interval=1h&page_token={token}")).unwrap();
        let left: Vec<(&str, bool)> = resumed
            .remaining()
            .iter()
            .map(|(s, r)| (s.as_str(), r.is_some()))
            .collect();
        assert_eq!(left, [("B", true), ("C", false)]);
        // The page size may change between pages; what selects rows may not.
        assert!(
            parse(&format!(
                "symbols=A,B,C&interval=1h&limit=5&page_token={token}"
            ))
            .is_ok()
        );
        assert_eq!(
            refused(&format!("symbols=A,B,C&interval=1d&page_token={token}")),
            "page_token"
        );
        assert_eq!(
            refused(&format!("symbols=A,B&interval=1h&page_token={token}")),
            "page_token"
        );
        // Nor the adjustment or the names' date.
        assert_eq!(
            refused(&format!(
                "symbols=A,B,C&interval=1h&adjustment=all&page_token={token}"
            )),
            "page_token"
        );
        assert_eq!(
            refused(&format!(
                "symbols=A,B,C&interval=1h&asof=2022-01-03&page_token={token}"
            )),
            "page_token"
        );
    }
}
