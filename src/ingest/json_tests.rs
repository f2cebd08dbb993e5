//! Tests of `json.rs`.
use super::*;
use crate::domain::VolumeRange;

const RULES: RecordRules = RecordRules::TESTING;

/// Keeps what the decoder hands over, to look at it.
#[derive(Default)]
struct Kept {
    bars: Vec<Bar>,
    errors: Vec<FieldError>,
}

impl RecordSink for Kept {
    fn accept(&mut self, _: Position, record: Result<Bar, Vec<FieldError>>) -> bool {
        match record {
            Ok(bar) => self.bars.push(bar),
            Err(mut errors) => self.errors.append(&mut errors),
        }
        true
    }
}

fn decode_with_rules(body: &str, rules: &RecordRules) -> (Kept, Result<(), DecodeError>) {
    let mut kept = Kept::default();
    let result = decode_reader(body.as_bytes(), Shape::Records, rules, &mut kept);
    (kept, result)
}

fn bars(body: &str) -> Vec<Bar> {
    let (kept, result) = decode_with_rules(body, &RULES);
    assert!(
        result.is_ok() && kept.errors.is_empty(),
        "{:?}",
        kept.errors
    );
    kept.bars
}

fn field_errors(body: &str) -> Vec<(usize, Option<String>)> {
    let (kept, result) = decode_with_rules(body, &RULES);
    assert!(result.is_ok());
    kept.errors
        .into_iter()
        .map(|e| (e.index, e.field))
        .collect()
}

#[test]
fn matches_fields_by_name_whatever_their_order() {
    let bars = bars(
        r#"{"records": {"price_high": 4, "trading_volume": 17291.0, "price_close": 2,
            "symbol": "AAPL", "price_low": 1, "time": "2021-11-12 15:00:00", "price_open": 3}}"#,
    );
    let bar = &bars[0];
    assert_eq!(bar.symbol.as_str(), "AAPL");
    let prices = (
        bar.values.price_open,
        bar.values.price_high,
        bar.values.price_low,
        bar.values.price_close,
    );
    assert_eq!(prices, (Some(3.0), Some(4.0), Some(1.0), Some(2.0)));
    assert_eq!(bar.values.trading_volume, Some(17291));
    assert_eq!(bar.time.to_rfc3339(), "2021-11-12T15:00:00+00:00");
}

#[test]
fn prices_and_volume_are_optional() {
    let bars = bars(r#"{"records": [{"time": "2021-11-12", "symbol": "X", "price_open": null}]}"#);
    assert_eq!(bars[0].values.price_open, None);
    assert_eq!(bars[0].values.trading_volume, None);
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
        let (_, result) = decode_with_rules(body, &RULES);
        assert!(matches!(result, Err(DecodeError::Syntax(_))), "{body:?}");
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
        format!(r#"{{"records": {{"time": "2021-11-12", "symbol": "X", "trading_volume": {v}}}}}"#)
    };
    for bad in [
        "1.5",
        "2147483648",
        "1e30",
        "18446744073709551615",
        "true",
        "-3",
    ] {
        let (kept, _) = decode_with_rules(&body(bad), &rules);
        assert!(!kept.errors.is_empty(), "{bad}");
    }
    for (ok, expect) in [("17291.0", 17291), ("0", 0), ("2147483647", 2_147_483_647)] {
        let (kept, _) = decode_with_rules(&body(ok), &rules);
        assert_eq!(kept.bars[0].values.trading_volume, Some(expect));
    }
}

#[test]
fn a_string_over_the_bound_names_its_record_and_field() {
    let long = "1".repeat(65);
    let body = format!(
        r#"{{"records": [{{"time": "2021-11-12", "symbol": "X"}},
            {{"time": "2021-11-12", "symbol": "X", "price_low": "{long}"}}]}}"#
    );
    let (kept, result) = decode_with_rules(&body, &RULES);
    assert!(matches!(result, Err(DecodeError::Stopped)));
    assert_eq!(kept.errors[0].index, 1);
    assert_eq!(kept.errors[0].field.as_deref(), Some("price_low"));
    let top = format!(r#"{{"{long}": 1}}"#);
    let (_, result) = decode_with_rules(&top, &RULES);
    assert!(matches!(result, Err(DecodeError::Syntax(m)) if m.contains("longer than 64")));
}
