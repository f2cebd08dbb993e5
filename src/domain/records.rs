//! Parsing `POST /insert` bodies: `{"records": {...}}` or `{"records": [{...}, ...]}`.
//!
//! Fields are matched by name (never by position), unknown fields are refused, and every
//! problem is reported with the record's index and the field's name, all at once, so a
//! client can fix a whole batch in one round.

use serde::Serialize;
use serde_json::{Map, Number, Value};

use super::{Bar, Symbol, TimeParser, VolumeRange};

/// One problem with one record.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct FieldError {
    /// Position of the record in the request, from 0.
    pub index: usize,
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

const FIELDS: [&str; 7] = [
    "time",
    "symbol",
    "price_open",
    "price_high",
    "price_low",
    "price_close",
    "trading_volume",
];

/// Parses and validates a whole insert body.
pub fn parse_insert_body(body: &[u8], rules: &RecordRules) -> Result<Vec<Bar>, RecordsError> {
    let value: Value = serde_json::from_slice(body)
        .map_err(|e| RecordsError::Body(format!("the body is not valid JSON: {e}")))?;
    let Value::Object(mut top) = value else {
        return Err(RecordsError::Body(
            "the body must be a JSON object with a \"records\" field".into(),
        ));
    };
    if let Some(other) = top.keys().find(|k| *k != "records") {
        return Err(RecordsError::Body(format!(
            "unknown top-level field {other:?}; the body holds only \"records\""
        )));
    }
    let records = match top.remove("records") {
        None => {
            return Err(RecordsError::Body(
                "the body has no \"records\" field".into(),
            ));
        }
        Some(Value::Array(list)) => list,
        Some(one @ Value::Object(_)) => vec![one],
        Some(other) => {
            return Err(RecordsError::Body(format!(
                "\"records\" must be an object or an array of objects, not {}",
                json_type(&other)
            )));
        }
    };
    if records.len() > rules.max_rows {
        return Err(RecordsError::Body(format!(
            "{} records exceed the limit of {} per request",
            records.len(),
            rules.max_rows
        )));
    }
    let mut bars = Vec::with_capacity(records.len());
    let mut errors = Vec::new();
    for (index, record) in records.into_iter().enumerate() {
        match parse_record(index, record, rules) {
            Ok(bar) => bars.push(bar),
            Err(mut e) => errors.append(&mut e),
        }
    }
    if errors.is_empty() {
        Ok(bars)
    } else {
        Err(RecordsError::Records(errors))
    }
}

fn parse_record(index: usize, record: Value, rules: &RecordRules) -> Result<Bar, Vec<FieldError>> {
    let mut errors = Vec::new();
    let mut err = |field: Option<&str>, message: String| {
        errors.push(FieldError {
            index,
            field: field.map(str::to_owned),
            message,
        })
    };
    let Value::Object(map) = record else {
        err(
            None,
            format!("a record must be an object, not {}", json_type(&record)),
        );
        return Err(errors);
    };
    for key in map.keys().filter(|k| !FIELDS.contains(&k.as_str())) {
        err(
            Some(key),
            format!("unknown field; expected {}", FIELDS.join(", ")),
        );
    }
    let time = required_str(&map, "time")
        .and_then(|raw| rules.times.parse(raw))
        .map_err(|m| err(Some("time"), m))
        .ok();
    let symbol = required_str(&map, "symbol")
        .and_then(Symbol::parse)
        .map_err(|m| err(Some("symbol"), m))
        .ok();
    let mut price = |field: &str| {
        optional_price(&map, field)
            .map_err(|m| err(Some(field), m))
            .unwrap_or(None)
    };
    let (price_open, price_high, price_low, price_close) = (
        price("price_open"),
        price("price_high"),
        price("price_low"),
        price("price_close"),
    );
    let trading_volume = optional_volume(&map, rules.volume)
        .map_err(|m| err(Some("trading_volume"), m))
        .unwrap_or(None);
    match (time, symbol) {
        (Some(time), Some(symbol)) if errors.is_empty() => Ok(Bar {
            time,
            symbol,
            price_open,
            price_high,
            price_low,
            price_close,
            trading_volume,
        }),
        _ => Err(errors),
    }
}

fn required_str<'a>(map: &'a Map<String, Value>, field: &str) -> Result<&'a str, String> {
    match map.get(field) {
        None | Some(Value::Null) => Err("is required".into()),
        Some(Value::String(s)) => Ok(s),
        Some(other) => Err(format!("must be a string, not {}", json_type(other))),
    }
}

fn optional_price(map: &Map<String, Value>, field: &str) -> Result<Option<f64>, String> {
    match map.get(field) {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => match n.as_f64() {
            Some(x) if x.is_finite() => Ok(Some(x)),
            _ => Err("must be a finite number".into()),
        },
        Some(other) => Err(format!("must be a number, not {}", json_type(other))),
    }
}

fn optional_volume(map: &Map<String, Value>, range: VolumeRange) -> Result<Option<i64>, String> {
    match map.get("trading_volume") {
        None | Some(Value::Null) => Ok(None),
        Some(Value::Number(n)) => {
            let volume = integer(n)?;
            range.check(volume)?;
            Ok(Some(volume))
        }
        Some(other) => Err(format!("must be an integer, not {}", json_type(other))),
    }
}

/// An integer from a JSON number; `17291.0` counts as 17291, `1.5` does not.
fn integer(n: &Number) -> Result<i64, String> {
    if let Some(i) = n.as_i64() {
        return Ok(i);
    }
    if n.is_u64() {
        return Err(format!("{n} does not fit a 64-bit integer"));
    }
    let x = n.as_f64().unwrap_or(f64::NAN);
    if x.fract() != 0.0 || !x.is_finite() {
        return Err(format!("{n} is not an integer"));
    }
    // i64::MAX as f64 rounds up to 2^63, which does not fit.
    if x < i64::MIN as f64 || x >= i64::MAX as f64 {
        return Err(format!("{n} does not fit a 64-bit integer"));
    }
    Ok(x as i64)
}

fn json_type(v: &Value) -> &'static str {
    match v {
        Value::Null => "null",
        Value::Bool(_) => "a boolean",
        Value::Number(_) => "a number",
        Value::String(_) => "a string",
        Value::Array(_) => "an array",
        Value::Object(_) => "an object",
    }
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
}
