//! `GET /v1/bars/latest`, `GET /v1/symbols` and `GET /openapi.json`.

mod common;

use chrono::Duration;
use common::answers::{symbols_and_times, texts};
use common::bars::{bar_json, series, store, store_series, utc};
use common::{TestApp, expect_problem, expect_problem_saying};
use serde_json::{Value, json};

#[tokio::test]
async fn latest_gives_the_newest_bar_of_each_symbol() {
    let app = TestApp::spawn().await;
    // OLD stops months before the newest chunks that the first probe looks at.
    let old = series("OLD", utc("2021-01-04T15:00:00Z"), Duration::days(1), 30);
    let new = series("NEW", utc("2021-01-04T15:00:00Z"), Duration::days(1), 300);
    let mid = series("MID", utc("2021-06-01T15:00:00Z"), Duration::minutes(1), 10);
    for rows in [&old, &new, &mid] {
        store(&app.db, rows).await;
    }
    let (status, body) = app
        .get_json("/v1/bars/latest?symbols=NEW,OLD,NOPE,NEW")
        .await;
    assert_eq!(status, 200);
    let mut expected = [bar_json(&new[299]), bar_json(&old[29])];
    for bar in &mut expected {
        bar.as_object_mut().unwrap().remove("count");
    }
    assert_eq!(body, json!({"bars": expected}));

    let (_, all) = app.get_json("/v1/bars/latest").await;
    let all = symbols_and_times(&all["bars"]);
    assert_eq!(
        all,
        [
            ("MID", "2021-06-01T15:09:00Z"),
            ("NEW", "2021-10-30T15:00:00Z"),
            ("OLD", "2021-02-02T15:00:00Z")
        ]
    );

    for bad in ["symbols=", "symbols=A%20B", "symbols=A,,B", "symbol=A"] {
        let refused = app.get(&format!("/v1/bars/latest?{bad}")).await;
        expect_problem_saying(refused, 400, "symbol").await;
    }
}

#[tokio::test]
async fn symbols_lists_every_symbol_with_its_first_and_last_time() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get_json("/v1/symbols").await,
        (200, json!({"symbols": []}))
    );
    let spans = [
        ("MSFT", "2021-03-01T15:00:00Z", 100),
        ("AAPL", "2021-01-04T15:00:00Z", 200),
        ("BRK.B", "2021-11-12T15:00:00Z", 1),
    ];
    for (symbol, first, days) in spans {
        store_series(&app.db, symbol, first, Duration::days(1), days).await;
    }
    let (status, body) = app.get_json("/v1/symbols").await;
    assert_eq!(status, 200);
    let mut expected: Vec<Value> = spans
        .iter()
        .map(|(symbol, first, days)| {
            let last = utc(first) + Duration::days(days - 1);
            json!({"symbol": symbol, "first_time": first,
                   "last_time": last.to_rfc3339_opts(chrono::SecondsFormat::Secs, true)})
        })
        .collect();
    expected.sort_by_key(|v| v["symbol"].as_str().unwrap().to_owned());
    assert_eq!(body, json!({"symbols": expected}));
    expect_problem(app.get("/v1/symbols?limit=5").await, 400).await;
}

#[tokio::test]
async fn openapi_describes_every_endpoint() {
    let app = TestApp::spawn().await;
    let (status, doc) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    assert!(
        doc["openapi"].as_str().unwrap().starts_with("3.1"),
        "{}",
        doc["openapi"]
    );
    let paths = doc["paths"].as_object().unwrap();
    for path in [
        "/ticker",
        "/ticker/daily",
        "/insert",
        "/v1/bars",
        "/v1/bars/latest",
        "/v1/symbols",
        "/healthz",
        "/readyz",
        "/metrics",
        "/openapi.json",
    ] {
        assert!(paths.contains_key(path), "{path} is missing");
    }
    let bars = &doc["paths"]["/v1/bars"]["get"];
    let params = texts(&bars["parameters"], "name");
    for name in [
        "symbols",
        "start",
        "end",
        "interval",
        "tz",
        "limit",
        "order",
        "fill",
        "format",
        "page_token",
    ] {
        assert!(params.contains(&name), "parameter {name} is missing");
    }
    let bad = &bars["responses"]["400"]["content"]["application/problem+json"];
    assert_eq!(bad["schema"]["$ref"], "#/components/schemas/Problem");
    for schema in ["QueryBar", "BarsPage", "Bar", "SymbolList", "Problem"] {
        assert!(doc["components"]["schemas"][schema].is_object(), "{schema}");
    }
}
