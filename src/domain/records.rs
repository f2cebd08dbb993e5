//! Validating records: the fields of one bar, matched by name, checked one by one.
//!
//! Every input format (a JSON body, NDJSON and CSV lines, files for `tsapi load`) feeds its
//! fields to a [`RecordBuilder`], so the rules and messages are the same everywhere:
//! unknown fields are refused, and every problem is reported with the record's index (and
//! line, for line formats) and the field's name, all at once, so a client can fix a whole
//! batch in one round.

use chrono::{DateTime, Utc};
use serde::Serialize;

use super::{Bar, Symbol, TimeParser, VolumeRange};

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

/// Why a body was refused.
#[derive(Debug, PartialEq)]
pub enum RecordsError {
    /// The body is not the expected JSON shape at all.
    Body(String),
    /// The shape is right but some records are invalid.
    Records(Vec<FieldError>),
}

/// What a record must satisfy; the volume range depends on the table's column type.
#[derive(Debug, Clone, Copy)]
pub struct RecordRules {
    pub times: TimeParser,
    pub volume: VolumeRange,
    pub max_rows: usize,
}

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
}

impl Field {
    pub const ALL: [Field; 7] = [
        Field::Time,
        Field::Symbol,
        Field::PriceOpen,
        Field::PriceHigh,
        Field::PriceLow,
        Field::PriceClose,
        Field::TradingVolume,
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
    /// Bit per [`Field`] already given, to refuse a field given twice.
    seen: u8,
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
            seen: 0,
            errors: Vec::new(),
        }
    }

    fn fail(&mut self, field: Field, message: String) {
        self.errors
            .push((field as u8 + 1, Some(field.name().to_owned()), message));
    }

    /// Marks `field` as given; false (and an error) when it was given already.
    fn first_time(&mut self, field: Field) -> bool {
        let bit = 1 << field as u8;
        if self.seen & bit != 0 {
            self.fail(field, "is given more than once".into());
            return false;
        }
        self.seen |= bit;
        true
    }

    /// A field that is not a column of the table.
    pub fn unknown(&mut self, name: &str) {
        self.errors.push((
            0,
            Some(name.to_owned()),
            format!("unknown field; expected {}", Field::expected()),
        ));
    }

    /// The record as a whole is not a record (say, a JSON number in the list).
    pub fn not_a_record(&mut self, message: String) {
        self.errors.push((0, None, message));
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
            Field::TradingVolume => "an integer",
            _ => "a number",
        };
        self.fail(field, format!("must be {expected}, not {what}"));
    }

    /// A JSON string: the only type time and symbol take, wrong for the numbers.
    pub fn json_str(&mut self, field: Field, raw: &str) {
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
            Field::TradingVolume => match i64::try_from(value) {
                Ok(v) => self.set_volume(v),
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
            Field::TradingVolume => match integer_from_float(value) {
                Ok(v) => self.set_volume(v),
                Err(m) => self.fail(field, m),
            },
            _ => self.set_price(field, value),
        }
    }

    /// Untyped text (a CSV cell): parsed as the field's type; empty means absent.
    pub fn text(&mut self, field: Field, raw: &str) {
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
            Field::TradingVolume => match parse_volume_text(raw) {
                Ok(v) => self.set_volume(v),
                Err(m) => self.fail(field, m),
            },
            _ => match raw.parse::<f64>() {
                Ok(x) => self.set_price(field, x),
                Err(_) => self.fail(field, format!("{raw:?} is not a number")),
            },
        }
    }

    fn set_price(&mut self, field: Field, x: f64) {
        if x.is_finite() {
            self.prices[field.price_slot().unwrap_or(0)] = Some(x);
        } else {
            self.fail(field, "must be a finite number".into());
        }
    }

    fn set_volume(&mut self, v: i64) {
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
        match (self.time, self.symbol) {
            (Some(time), Some(symbol)) if self.errors.is_empty() => Ok(Bar {
                time,
                symbol,
                price_open: self.prices[0],
                price_high: self.prices[1],
                price_low: self.prices[2],
                price_close: self.prices[3],
                trading_volume: self.volume,
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
        return Err(format!("{raw} does not fit a 64-bit integer"));
    }
    match raw.parse::<f64>() {
        Ok(x) => integer_from_float(x).map_err(|_| format!("{raw} is not an integer")),
        Err(_) => Err(format!("{raw:?} is not an integer")),
    }
}

/// Parses and validates a whole `POST /insert` body: `{"records": {...}}` or
/// `{"records": [{...}, ...]}`.
pub fn parse_insert_body(body: &[u8], rules: &RecordRules) -> Result<Vec<Bar>, RecordsError> {
    crate::ingest::parse_records_body(body, rules)
}

#[cfg(test)]
mod tests {
    use super::*;

    const RULES: RecordRules = RecordRules {
        times: TimeParser::UTC,
        volume: VolumeRange::BIGINT,
        max_rows: 10,
    };

    fn parse(body: &str) -> Result<Vec<Bar>, RecordsError> {
        parse_insert_body(body.as_bytes(), &RULES)
    }

    fn field_errors(body: &str) -> Vec<(usize, Option<String>)> {
        match parse(body) {
            Err(RecordsError::Records(errors)) => {
                errors.into_iter().map(|e| (e.index, e.field)).collect()
            }
            other => panic!("expected record errors, got {other:?}"),
        }
    }

    #[test]
    fn matches_fields_by_name_whatever_their_order() {
        let bars = parse(
            r#"{"records": {"price_high": 2, "trading_volume": 17291.0, "price_close": 4,
                "symbol": "AAPL", "price_low": 1, "time": "2021-11-12 15:00:00", "price_open": 3}}"#,
        )
        .unwrap();
        let bar = &bars[0];
        assert_eq!(bar.symbol.as_str(), "AAPL");
        assert_eq!(
            (
                bar.price_open,
                bar.price_high,
                bar.price_low,
                bar.price_close
            ),
            (Some(3.0), Some(2.0), Some(1.0), Some(4.0))
        );
        assert_eq!(bar.trading_volume, Some(17291));
        assert_eq!(bar.time.to_rfc3339(), "2021-11-12T15:00:00+00:00");
    }

    #[test]
    fn prices_and_volume_are_optional() {
        let bars =
            parse(r#"{"records": [{"time": "2021-11-12", "symbol": "X", "price_open": null}]}"#)
                .unwrap();
        assert_eq!(bars[0].price_open, None);
        assert_eq!(bars[0].trading_volume, None);
    }

    #[test]
    fn refuses_bodies_of_the_wrong_shape() {
        for body in [
            "",
            "{",
            "[]",
            r#"{"records": 5}"#,
            r#"{"records": "x"}"#,
            r#"{}"#,
            r#"{"records": [], "extra": 1}"#,
            r#"{"records": [NaN]}"#,
            r#"{"records": [{"price_open": Infinity}]}"#,
        ] {
            assert!(
                matches!(parse(body), Err(RecordsError::Body(_))),
                "{body:?}"
            );
        }
    }

    #[test]
    fn reports_every_bad_field_with_its_record() {
        let errors = field_errors(
            r#"{"records": [
                {"time": "2021-11-12", "symbol": "OK"},
                {"symbol": "", "price_open": "1", "volume": 3},
                {"time": "soon", "symbol": "X", "trading_volume": 1.5},
                5
            ]}"#,
        );
        assert_eq!(
            errors,
            vec![
                (1, Some("volume".into())),
                (1, Some("time".into())),
                (1, Some("symbol".into())),
                (1, Some("price_open".into())),
                (2, Some("time".into())),
                (2, Some("trading_volume".into())),
                (3, None),
            ]
        );
    }

    #[test]
    fn volume_must_be_an_integer_that_fits_the_column() {
        let rules = RecordRules {
            volume: VolumeRange::INTEGER,
            ..RULES
        };
        let body = |v: &str| {
            format!(
                r#"{{"records": {{"time": "2021-11-12", "symbol": "X", "trading_volume": {v}}}}}"#
            )
        };
        for bad in ["1.5", "2147483648", "1e30", "18446744073709551615", "true"] {
            assert!(
                parse_insert_body(body(bad).as_bytes(), &rules).is_err(),
                "{bad}"
            );
        }
        for (ok, expect) in [
            ("17291.0", 17291),
            ("-3", -3),
            ("2147483647", 2_147_483_647),
        ] {
            let bars = parse_insert_body(body(ok).as_bytes(), &rules).unwrap();
            assert_eq!(bars[0].trading_volume, Some(expect));
        }
    }

    #[test]
    fn refuses_more_rows_than_the_limit() {
        let one = r#"{"time": "2021-11-12", "symbol": "X"}"#;
        let body = format!(r#"{{"records": [{}]}}"#, [one; 11].join(","));
        assert!(matches!(parse(&body), Err(RecordsError::Body(m)) if m.contains("limit")));
    }

    fn from_text(cells: &[(Field, &str)]) -> Result<Bar, Vec<FieldError>> {
        let at = Position {
            index: 4,
            line: Some(6),
        };
        let mut builder = RecordBuilder::new(&RULES, at);
        for (field, text) in cells {
            builder.text(*field, text);
        }
        builder.finish()
    }

    #[test]
    fn text_cells_are_parsed_as_their_field_and_empty_ones_are_absent() {
        let bar = from_text(&[
            (Field::Symbol, "AAPL"),
            (Field::Time, "2021-11-12 15:00:00"),
            (Field::PriceOpen, "1.25"),
            (Field::PriceHigh, ""),
            (Field::TradingVolume, "17291.0"),
        ])
        .unwrap();
        assert_eq!(bar.price_open, Some(1.25));
        assert_eq!(bar.price_high, None);
        assert_eq!(bar.trading_volume, Some(17291));
    }

    #[test]
    fn bad_text_cells_name_line_and_field() {
        let errors = from_text(&[
            (Field::Time, ""),
            (Field::Symbol, "X"),
            (Field::PriceLow, "inf"),
            (Field::PriceClose, "abc"),
            (Field::TradingVolume, "99999999999999999999"),
            (Field::Symbol, "Y"),
        ])
        .unwrap_err();
        let located: Vec<(usize, Option<u64>, &str)> = errors
            .iter()
            .map(|e| (e.index, e.line, e.field.as_deref().unwrap()))
            .collect();
        assert_eq!(
            located,
            [
                (4, Some(6), "time"),
                (4, Some(6), "symbol"),
                (4, Some(6), "price_low"),
                (4, Some(6), "price_close"),
                (4, Some(6), "trading_volume"),
            ]
        );
        assert!(errors[1].message.contains("more than once"));
        for bad in ["1.5", "1e3x", "many"] {
            assert!(
                from_text(&[
                    (Field::Time, "2021-11-12"),
                    (Field::Symbol, "X"),
                    (Field::TradingVolume, bad)
                ])
                .is_err(),
                "{bad}"
            );
        }
    }
}
