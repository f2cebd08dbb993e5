//! Property tests over everything that reads client text: record bodies, times, symbols
//! and query strings. Whatever the input, the answer is a value or a clear error, never a
//! panic (through the router: never a 500). Case counts are bounded (`PROPTEST_CASES`
//! raises them).

mod common;

use axum::body::Body;
use axum::http::{Request, StatusCode};
use proptest::prelude::*;
use serde_json::{Value, json};
use tower::ServiceExt;
use tsapi::auth::Auth;
use tsapi::domain::{
    Bar, FieldError, InputBounds, Position, RecordRules, Symbol, TimeParser, VolumeRange,
};
use tsapi::ingest::{BodyFormat, DecodeError, RecordSink, decode};

fn rules(zone: chrono_tz::Tz) -> RecordRules {
    RecordRules {
        times: TimeParser::new(zone),
        volume: VolumeRange::INTEGER,
        trade_stats: true,
        bounds: InputBounds::default(),
    }
}

/// What the `/insert` decoder made of a body: the bars, or the errors of the bad records.
#[derive(Default)]
struct Decoded {
    bars: Vec<Bar>,
    errors: Vec<FieldError>,
}

impl RecordSink for Decoded {
    fn accept(&mut self, _: Position, record: Result<Bar, Vec<FieldError>>) -> bool {
        match record {
            Ok(bar) => self.bars.push(bar),
            Err(mut errors) => self.errors.append(&mut errors),
        }
        true
    }
}

fn parse_insert_body(body: &[u8], rules: &RecordRules) -> (Decoded, Result<(), DecodeError>) {
    let mut decoded = Decoded::default();
    let result = decode(body, BodyFormat::Records, rules, &mut decoded);
    (decoded, result)
}

/// Any JSON value, a few levels deep.
fn json_value() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(Value::Null),
        any::<bool>().prop_map(Value::from),
        any::<i64>().prop_map(Value::from),
        any::<f64>().prop_map(|f| json!(f)),
        ".{0,24}".prop_map(Value::from),
        time_text().prop_map(Value::from),
    ];
    leaf.prop_recursive(3, 24, 6, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..6).prop_map(Value::from),
            prop::collection::btree_map(field_name(), inner, 0..8)
                .prop_map(|m| Value::Object(m.into_iter().collect())),
        ]
    })
}

fn field_name() -> impl Strategy<Value = String> {
    prop_oneof![
        Just("time".to_owned()),
        Just("symbol".to_owned()),
        Just("price_open".to_owned()),
        Just("price_high".to_owned()),
        Just("price_low".to_owned()),
        Just("price_close".to_owned()),
        Just("trading_volume".to_owned()),
        Just("records".to_owned()),
        "[a-z_]{1,12}",
    ]
}

/// Strings shaped like times, with mistakes.
fn time_text() -> impl Strategy<Value = String> {
    prop_oneof![
        "[0-9]{1,5}-[0-9]{1,2}-[0-9]{1,2}",
        "[0-9]{4}-[0-9]{2}-[0-9]{2}[ T][0-9]{2}:[0-9]{2}:[0-9]{2}(\\.[0-9]{0,12})?(Z|[+-][0-9]{2}:[0-9]{2})?",
        "[0-9T:. +Z-]{0,40}",
        ".{0,40}",
    ]
}

fn record() -> impl Strategy<Value = Value> {
    (
        time_text(),
        "[A-Za-z0-9.^=@+/:_-]{0,40}",
        prop::option::of(any::<f64>()),
        prop::option::of(prop_oneof![
            any::<i64>().prop_map(|v| json!(v)),
            any::<f64>().prop_map(|v| json!(v))
        ]),
        prop::option::of(prop_oneof![
            Just(Value::Null),
            any::<f64>().prop_map(|f| json!(f)),
            ".{0,8}".prop_map(Value::from),
            Just(json!([1.0])),
        ]),
    )
        .prop_map(|(time, symbol, price, volume, extra)| {
            let mut r = json!({"time": time, "symbol": symbol, "price_close": price,
                               "trading_volume": volume});
            if let Some(extra) = extra {
                r["price_open"] = extra;
            }
            r
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(1000))]

    #[test]
    fn any_bytes_as_a_body_never_panic(body in prop::collection::vec(any::<u8>(), 0..256)) {
        let _ = parse_insert_body(&body, &rules(chrono_tz::UTC));
    }

    #[test]
    fn any_json_as_a_body_never_panics(value in json_value()) {
        let body = serde_json::to_vec(&json!({"records": value})).unwrap();
        let _ = parse_insert_body(&body, &rules(chrono_tz::America::New_York));
    }

    #[test]
    fn record_lists_parse_to_valid_bars_or_name_the_bad_ones(
        records in prop::collection::vec(record(), 0..60)
    ) {
        let body = serde_json::to_vec(&json!({"records": records})).unwrap();
        let (decoded, result) = parse_insert_body(&body, &rules(chrono_tz::UTC));
        prop_assert!(result.is_ok(), "{:?}", result);
        prop_assert_eq!(decoded.bars.len() + decoded.errors.iter().map(|e| e.index)
            .collect::<std::collections::BTreeSet<_>>().len(), records.len());
        for bar in &decoded.bars {
            prop_assert!(bar.values.price_close.is_none_or(f64::is_finite));
            prop_assert!(Symbol::parse(bar.symbol.as_str()).is_ok());
        }
        prop_assert!(decoded.errors.iter().all(|e| e.index < records.len()));
    }

    #[test]
    fn times_parse_or_fail_cleanly_in_any_zone(text in time_text(), zone in 0usize..4) {
        let zones = [chrono_tz::UTC, chrono_tz::America::New_York,
                     chrono_tz::Europe::London, chrono_tz::Australia::Lord_Howe];
        if let Ok(t) = TimeParser::new(zones[zone]).parse(&text) {
            // An accepted time prints as RFC 3339 and reads back the same.
            let printed = tsapi::render::rfc3339(t);
            prop_assert_eq!(TimeParser::new(chrono_tz::UTC).parse(&printed), Ok(t));
        }
    }

    #[test]
    fn symbols_parse_or_fail_cleanly(text in ".{0,48}") {
        if let Ok(symbol) = Symbol::parse(&text) {
            prop_assert!(!symbol.as_str().is_empty() && symbol.as_str().len() <= 32);
        }
    }
}

/// Query strings of the read routes, sent through the real router.
fn query_string() -> impl Strategy<Value = String> {
    let pair = (
        prop_oneof![
            Just("symbol".to_owned()),
            Just("start".to_owned()),
            Just("end".to_owned()),
            "[a-z%&=]{0,8}"
        ],
        prop_oneof![time_text(), "[A-Za-z0-9%+&=;/?._-]{0,40}"],
    );
    prop::collection::vec(pair, 0..4).prop_map(|pairs| {
        pairs
            .iter()
            .map(|(k, v)| format!("{k}={}", v.replace(' ', "%20").replace('#', "%23")))
            .collect::<Vec<_>>()
            .join("&")
    })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(500))]

    #[test]
    fn query_parameters_never_make_the_router_fail(
        path in prop_oneof![Just("/ticker"), Just("/ticker/daily")],
        query in query_string(),
    ) {
        // No database behind it: a valid query is a 503, anything else a 4xx.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let status = runtime.block_on(async {
            let pg: tokio_postgres::Config = "postgres://tsapi@127.0.0.1:1/none".parse().unwrap();
            let pool = tsapi::db::create_pool(pg, &common::pool_defaults()).unwrap();
            let state = tsapi::state::AppState::new(pool, common::api_defaults())
                .with_auth(Auth::Disabled);
            let Ok(request) = Request::get(format!("{path}?{query}")).body(Body::empty()) else {
                return StatusCode::BAD_REQUEST; // not even a valid URI: no request to send
            };
            tsapi::router::router(state).oneshot(request).await.unwrap().status()
        });
        prop_assert!(
            status == StatusCode::SERVICE_UNAVAILABLE || status.is_client_error(),
            "{path}?{query}: {status}"
        );
    }
}
