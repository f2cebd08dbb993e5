//! Validating records: the fields of one bar, matched by name, checked one by one.
//!
//! Every input format (a JSON body, NDJSON and CSV lines, files for `tsapi load`) feeds its
//! fields to a [`RecordBuilder`], so the rules and messages are the same everywhere:
//! unknown fields are refused, and every problem is reported with the record's index (and
//! line, for line formats) and the field's name, all at once, so a client can fix a whole
//! batch in one round.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::quote::quote;
use super::{Bar, BarValues, Symbol, TimeParser, VolumeRange};

/// One problem with one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Position of the record in the request, from 0.
    pub index: usize,
    /// Line of the body or file the record is on (from 1), for NDJSON and CSV.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub line: Option<u64>,
    /// The field at fault, or `None` when the record as a whole is wrong.
    pub field: Option<String>,
    pub message: String,
}

/// What a record must satisfy; the volume range depends on the table's column type.
#[derive(Debug, Clone, Copy)]
pub struct RecordRules {
    pub times: TimeParser,
    pub volume: VolumeRange,
    pub bounds: InputBounds,
    /// Whether the table has the `trade_count` and `vwap` columns: without them a record
    /// that gives either is refused (they would be lost), and `tsapi migrate` adds them.
    pub trade_stats: bool,
}

#[cfg(test)]
impl RecordRules {
    /// For unit tests of the parsers: UTC times, a `bigint` volume, the trade columns, and
    /// bounds small enough to reach.
    pub const TESTING: Self = Self {
        times: TimeParser::UTC,
        volume: VolumeRange::BIGINT,
        trade_stats: true,
        bounds: InputBounds {
            value_bytes: 64,
            line_bytes: 256,
        },
    };
}

/// Byte bounds on the pieces of an input, so that memory stays small whatever arrives.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct InputBounds {
    /// Longest value: a JSON string or number, a CSV cell (`TSAPI_MAX_VALUE_BYTES`).
    pub value_bytes: usize,
    /// Longest CSV row or NDJSON line (`TSAPI_MAX_LINE_BYTES`).
    pub line_bytes: usize,
}

impl Default for InputBounds {
    fn default() -> Self {
        Self {
            value_bytes: 1024,
            line_bytes: 64 * 1024,
        }
    }
}

impl InputBounds {
    /// The message for a value over its bound.
    pub fn value_too_long(&self) -> String {
        format!(
            "is longer than {} bytes (TSAPI_MAX_VALUE_BYTES)",
            self.value_bytes
        )
    }

    /// The message for a row or line over its bound.
    pub fn line_too_long(&self, line: u64) -> String {
        format!(
            "line {line} is longer than {} bytes (TSAPI_MAX_LINE_BYTES)",
            self.line_bytes
        )
    }
}

/// Most problems kept for one record: a record of a million unknown fields is one error
/// list of bounded size, not a million messages.
const MAX_ERRORS_PER_RECORD: usize = 16;

/// The fields of a bar, in the order errors are reported.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Field {
    Time,
    Symbol,
    PriceOpen,
    PriceHigh,
    PriceLow,
    PriceClose,
    TradingVolume,
    TradeCount,
    Vwap,
}

impl Field {
    pub const ALL: [Field; 9] = [
        Field::Time,
        Field::Symbol,
        Field::PriceOpen,
        Field::PriceHigh,
        Field::PriceLow,
        Field::PriceClose,
        Field::TradingVolume,
        Field::TradeCount,
        Field::Vwap,
    ];

    pub fn name(self) -> &'static str {
        match self {
            Field::Time => "time",
            Field::Symbol => "symbol",
            Field::PriceOpen => "price_open",
            Field::PriceHigh => "price_high",
            Field::PriceLow => "price_low",
            Field::PriceClose => "price_close",
            Field::TradingVolume => "trading_volume",
            Field::TradeCount => "trade_count",
            Field::Vwap => "vwap",
        }
    }

    pub fn from_name(name: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|f| f.name() == name)
    }

    /// The list of field names, for messages.
    pub fn expected() -> String {
        Self::ALL.map(Field::name).join(", ")
    }

    fn price_slot(self) -> Option<usize> {
        match self {
            Field::PriceOpen => Some(0),
            Field::PriceHigh => Some(1),
            Field::PriceLow => Some(2),
            Field::PriceClose => Some(3),
            _ => None,
        }
    }
}

/// Where a record is in its input.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Position {
    /// From 0, counting every record.
    pub index: usize,
    /// From 1, for line formats.
    pub line: Option<u64>,
}

/// Collects the fields of one record as an input format reads them, then yields the bar or
/// every problem found. Values are checked as they arrive, without building a map first.
pub struct RecordBuilder<'r> {
    rules: &'r RecordRules,
    at: Position,
    time: Option<DateTime<Utc>>,
    symbol: Option<Symbol>,
    prices: [Option<f64>; 4],
    volume: Option<i64>,
    trade_count: Option<i64>,
    vwap: Option<f64>,
    /// Bit per [`Field`] already given, to refuse a field given twice.
    seen: u16,
    /// (report order, field, message); unknown fields come first.
    errors: Vec<(u8, Option<String>, String)>,
}

impl<'r> RecordBuilder<'r> {
    pub fn new(rules: &'r RecordRules, at: Position) -> Self {
        Self {
            rules,
            at,
            time: None,
            symbol: None,
            prices: [None; 4],
            volume: None,
            trade_count: None,
            vwap: None,
            seen: 0,
            errors: Vec::new(),
        }
    }

    fn fail(&mut self, field: Field, message: String) {
        self.push_error(field as u8 + 1, Some(field.name().to_owned()), message);
    }

    fn push_error(&mut self, order: u8, field: Option<String>, message: String) {
        if self.errors.len() < MAX_ERRORS_PER_RECORD {
            self.errors.push((order, field, message));
        }
    }

    /// Marks `field` as given; false (and an error) when it was given already.
    fn first_time(&mut self, field: Field) -> bool {
        let bit = 1u16 << field as u8;
        if self.seen & bit != 0 {
            self.fail(field, "is given more than once".into());
            return false;
        }
        self.seen |= bit;
        true
    }

    /// A field that is not a column of the table.
    pub fn unknown(&mut self, name: &str) {
        let message = format!("unknown field; expected {}", Field::expected());
        if name.chars().nth(super::quote::QUOTE_CHARS).is_none() {
            self.push_error(0, Some(name.to_owned()), message);
        } else {
            let message = format!(
                "unknown field {}; expected {}",
                quote(name),
                Field::expected()
            );
            self.push_error(0, None, message);
        }
    }

    /// A value longer than the input's bound; it is not looked at.
    pub fn too_long(&mut self, field: Field) {
        if self.first_time(field) {
            let message = self.rules.bounds.value_too_long();
            self.fail(field, message);
        }
    }

    /// The record as a whole is not a record (say, a JSON number in the list).
    pub fn not_a_record(&mut self, message: String) {
        self.push_error(0, None, message);
    }

    /// An absent value: JSON `null`, an empty CSV cell.
    pub fn null(&mut self, field: Field) {
        self.first_time(field);
    }

    /// A value of a type the field never takes.
    pub fn wrong_type(&mut self, field: Field, what: &str) {
        if !self.first_time(field) {
            return;
        }
        let expected = match field {
            Field::Time | Field::Symbol => "a string",
            Field::TradingVolume | Field::TradeCount => "an integer",
            _ => "a number",
        };
        self.fail(field, format!("must be {expected}, not {what}"));
    }

    /// A JSON string: the only type time and symbol take, wrong for the numbers.
    pub fn json_str(&mut self, field: Field, raw: &str) {
        if raw.len() > self.rules.bounds.value_bytes {
            return self.too_long(field);
        }
        match field {
            Field::Time | Field::Symbol => self.text(field, raw),
            _ => self.wrong_type(field, "a string"),
        }
    }

    /// A JSON number that is an integer.
    pub fn json_int(&mut self, field: Field, value: i128) {
        match field {
            Field::Time | Field::Symbol => self.wrong_type(field, "a number"),
            _ if !self.first_time(field) => {}
            Field::TradingVolume | Field::TradeCount => match i64::try_from(value) {
                Ok(v) => self.set_integer(field, v),
                Err(_) => self.fail(field, format!("{value} does not fit a 64-bit integer")),
            },
            _ => self.set_price(field, value as f64),
        }
    }

    /// A JSON number with a fraction or an exponent.
    pub fn json_float(&mut self, field: Field, value: f64) {
        match field {
            Field::Time | Field::Symbol => self.wrong_type(field, "a number"),
            _ if !self.first_time(field) => {}
            Field::TradingVolume | Field::TradeCount => match integer_from_float(value) {
                Ok(v) => self.set_integer(field, v),
                Err(m) => self.fail(field, m),
            },
            _ => self.set_price(field, value),
        }
    }

    /// Untyped text (a CSV cell): parsed as the field's type; empty means absent.
    pub fn text(&mut self, field: Field, raw: &str) {
        if raw.len() > self.rules.bounds.value_bytes {
            return self.too_long(field);
        }
        if !self.first_time(field) {
            return;
        }
        match field {
            Field::Time => match self.rules.times.parse(raw) {
                Ok(t) => self.time = Some(t),
                Err(m) => self.fail(field, m),
            },
            Field::Symbol => match Symbol::parse(raw) {
                Ok(s) => self.symbol = Some(s),
                Err(m) => self.fail(field, m),
            },
            _ if raw.is_empty() => {}
            Field::TradingVolume | Field::TradeCount => match parse_volume_text(raw) {
                Ok(v) => self.set_integer(field, v),
                Err(m) => self.fail(field, m),
            },
            _ => match raw.parse::<f64>() {
                Ok(x) => self.set_price(field, x),
                Err(_) => self.fail(field, format!("{} is not a number", quote(raw))),
            },
        }
    }

    fn set_price(&mut self, field: Field, x: f64) {
        if !x.is_finite() {
            return self.fail(field, "must be a finite number".into());
        }
        match field.price_slot() {
            Some(slot) => self.prices[slot] = Some(x),
            None if !self.rules.trade_stats => self.fail(field, missing_column(field)),
            None if x <= 0.0 => self.fail(field, format!("{x} is not above 0")),
            None => self.vwap = Some(x),
        }
    }

    /// A volume or trade count, both non-negative integers.
    fn set_integer(&mut self, field: Field, v: i64) {
        if v < 0 {
            return self.fail(field, format!("{v} is negative"));
        }
        if field == Field::TradeCount {
            return match self.rules.trade_stats {
                true => self.trade_count = Some(v),
                false => self.fail(field, missing_column(field)),
            };
        }
        match self.rules.volume.check(v) {
            Ok(()) => self.volume = Some(v),
            Err(m) => self.fail(Field::TradingVolume, m),
        }
    }

    /// The bar, or every problem of this record.
    pub fn finish(mut self) -> Result<Bar, Vec<FieldError>> {
        // A value that is not a record at all has no fields to miss.
        let not_a_record = self.errors.iter().any(|(_, field, _)| field.is_none());
        if !not_a_record && self.time.is_none() && !self.has(Field::Time) {
            self.fail(Field::Time, "is required".into());
        }
        if !not_a_record && self.symbol.is_none() && !self.has(Field::Symbol) {
            self.fail(Field::Symbol, "is required".into());
        }
        if let [_, Some(high), Some(low), _] = self.prices
            && high < low
        {
            self.fail(
                Field::PriceHigh,
                format!("{high} is below price_low {low}; a bar's high cannot be under its low"),
            );
        }
        match (self.time, self.symbol) {
            (Some(time), Some(symbol)) if self.errors.is_empty() => Ok(Bar {
                time,
                symbol,
                values: BarValues {
                    price_open: self.prices[0],
                    price_high: self.prices[1],
                    price_low: self.prices[2],
                    price_close: self.prices[3],
                    trading_volume: self.volume,
                    trade_count: self.trade_count,
                    vwap: self.vwap,
                },
            }),
            _ => {
                self.errors.sort_by_key(|(order, _, _)| *order);
                let at = self.at;
                Err(self
                    .errors
                    .into_iter()
                    .map(|(_, field, message)| FieldError {
                        index: at.index,
                        line: at.line,
                        field,
                        message,
                    })
                    .collect())
            }
        }
    }

    /// Whether an error about `field` is already recorded.
    fn has(&self, field: Field) -> bool {
        let order = field as u8 + 1;
        self.errors.iter().any(|(o, _, _)| *o == order)
    }
}

/// Why a value for a column the table lacks is refused rather than dropped.
fn missing_column(field: Field) -> String {
    format!(
        "the table has no {} column; run `tsapi migrate` to add it, or leave the field out",
        field.name()
    )
}

/// An integer from a float; `17291.0` counts as 17291, `1.5` does not.
fn integer_from_float(x: f64) -> Result<i64, String> {
    if x.fract() != 0.0 || !x.is_finite() {
        return Err(format!("{x} is not an integer"));
    }
    // i64::MAX as f64 rounds up to 2^63, which does not fit.
    if x < i64::MIN as f64 || x >= i64::MAX as f64 {
        return Err(format!("{x} does not fit a 64-bit integer"));
    }
    Ok(x as i64)
}

/// A volume written as text: `17291`, or `17291.0`.
fn parse_volume_text(raw: &str) -> Result<i64, String> {
    if let Ok(v) = raw.parse::<i64>() {
        return Ok(v);
    }
    if raw
        .bytes()
        .all(|b| b.is_ascii_digit() || b == b'-' || b == b'+')
    {
        return Err(format!("{} does not fit a 64-bit integer", quote(raw)));
    }
    match raw.parse::<f64>() {
        Ok(x) => integer_from_float(x).map_err(|_| format!("{} is not an integer", quote(raw))),
        Err(_) => Err(format!("{} is not an integer", quote(raw))),
    }
}

#[cfg(test)]
#[path = "records_tests.rs"]
mod tests;
