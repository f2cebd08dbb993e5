//! Bad input: a clear 4xx problem+json naming what is wrong, and nothing stored.

mod common;

use common::answers::detail;
use common::{Schema, TestApp, api_defaults, expect_problem};
use serde_json::{Value, json};

const GOOD: &str =
    r#"{"time": "2021-11-12 15:00:00", "symbol": "AAPL", "price_open": 1, "trading_volume": 5}"#;

async fn assert_refused(app: &TestApp, body: &str, status: u16) -> Value {
    let problem = expect_problem(app.post_json("/insert", body).await, status).await;
    assert_eq!(app.db.count().await, 0, "nothing may be stored for {body}");
    problem
}

/// (index, field) of each error of a 422.
type Located = Vec<(u64, Option<String>)>;

fn fields(problem: &Value) -> Located {
    problem["errors"]
        .as_array()
        .expect("errors list")
        .iter()
        .map(|e| {
            assert!(e["message"].as_str().is_some_and(|m| !m.is_empty()), "{e}");
            (
                e["index"].as_u64().unwrap(),
                e["field"].as_str().map(str::to_owned),
            )
        })
        .collect()
}

#[tokio::test]
async fn bodies_that_are_not_the_expected_json_are_400() {
    let app = TestApp::spawn().await;
    for (body, hint) in [
        ("{\"records\": [", "not valid JSON"),
        ("", "not valid JSON"),
        ("[1, 2]", "JSON object"),
        ("{\"rows\": []}", "unknown top-level field"),
        ("{}", "no \"records\""),
        ("{\"records\": 5}", "must be an object or an array"),
        ("{\"records\": \"AAPL\"}", "must be an object or an array"),
        (
            r#"{"records": {"time": "2021-11-12", "symbol": "X", "price_open": NaN}}"#,
            "not valid JSON",
        ),
        (
            r#"{"records": {"time": "2021-11-12", "symbol": "X", "price_open": Infinity}}"#,
            "not valid JSON",
        ),
        (
            r#"{"records": {"time": "2021-11-12", "symbol": "X", "price_open": 1e999}}"#,
            "not valid JSON",
        ),
    ] {
        let problem = assert_refused(&app, body, 400).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(hint), "{body:?}: {detail}");
    }
}

#[tokio::test]
async fn invalid_records_are_422_with_index_and_field() {
    let app = TestApp::spawn().await;
    let cases: Vec<(Value, Located)> = vec![
        (
            json!({"records": [{"time": "2021-11-12", "symbol": "X", "colour": "red"}]}),
            vec![(0, Some("colour".into()))],
        ),
        (
            json!({"records": {"symbol": "X"}}),
            vec![(0, Some("time".into()))],
        ),
        (
            json!({"records": {"time": "2021-11-12"}}),
            vec![(0, Some("symbol".into()))],
        ),
        (
            json!({"records": {"time": "2021-11-12", "symbol": ""}}),
            vec![(0, Some("symbol".into()))],
        ),
        (
            json!({"records": {"time": "2021-11-12", "symbol": 7}}),
            vec![(0, Some("symbol".into()))],
        ),
        (
            json!({"records": {"time": 1636729200, "symbol": "X"}}),
            vec![(0, Some("time".into()))],
        ),
        (
            json!({"records": {"time": "12/11/2021", "symbol": "X"}}),
            vec![(0, Some("time".into()))],
        ),
        (
            json!({"records": {"time": "2021-11-12", "symbol": "X", "price_open": "149.8"}}),
            vec![(0, Some("price_open".into()))],
        ),
        (
            json!({"records": {"time": "2021-11-12", "symbol": "X", "trading_volume": 1.5}}),
            vec![(0, Some("trading_volume".into()))],
        ),
        (
            json!({"records": {"time": "2021-11-12", "symbol": "X", "trading_volume": 9.3e18}}),
            vec![(0, Some("trading_volume".into()))],
        ),
        (
            json!({"records": {"time": "2021-11-12", "symbol": "X", "trading_volume": "5"}}),
            vec![(0, Some("trading_volume".into()))],
        ),
        (json!({"records": [5]}), vec![(0, None)]),
    ];
    for (body, expected) in cases {
        let problem = assert_refused(&app, &body.to_string(), 422).await;
        assert_eq!(fields(&problem), expected, "{body}");
    }
}

#[tokio::test]
async fn one_bad_record_at_the_end_of_a_large_body_stores_nothing() {
    let app = TestApp::spawn().await;
    let mut records: Vec<Value> = (0..5000)
        .map(|i| json!({"time": format!("2021-11-12T15:00:{:02}.{:03}Z", i / 1000, i % 1000), "symbol": "AAPL", "price_close": 1.0}))
        .collect();
    records.push(json!({"time": "2021-11-13", "symbol": "AAPL", "trading_volume": 0.5}));
    let problem = assert_refused(&app, &json!({ "records": records }).to_string(), 422).await;
    assert_eq!(
        fields(&problem),
        vec![(5000, Some("trading_volume".into()))]
    );
    assert!(detail(&problem).contains("nothing was stored"), "{problem}");
}

#[tokio::test]
async fn a_record_the_database_refuses_rolls_back_the_whole_request() {
    // Two records for the same (symbol, time) in one request: the second violates the
    // unique index after the first was copied; neither may stay.
    let app = TestApp::spawn().await;
    let body = format!(r#"{{"records": [{GOOD}, {GOOD}]}}"#);
    assert_refused(&app, &body, 409).await;
}

#[tokio::test]
async fn oversized_bodies_are_413() {
    let mut api = api_defaults();
    api.body_limit = 1024;
    let app = TestApp::spawn_with(Schema::Migrated, api).await;
    let records = vec![serde_json::from_str::<Value>(GOOD).unwrap(); 20];
    let problem = assert_refused(&app, &json!({ "records": records }).to_string(), 413).await;
    assert!(detail(&problem).contains("1024"), "{problem}");
}

#[tokio::test]
async fn too_many_rows_are_refused() {
    let mut api = api_defaults();
    api.max_rows = 2;
    let app = TestApp::spawn_with(Schema::Migrated, api).await;
    let records: Vec<String> = (1..=3)
        .map(|day| GOOD.replace("2021-11-12", &format!("2021-11-0{day}")))
        .collect();
    let body = format!(r#"{{"records": [{}]}}"#, records.join(", "));
    // Too large, like a body over the byte limit (and as `POST /v1/bars` answers).
    let problem = assert_refused(&app, &body, 413).await;
    assert!(detail(&problem).contains("limit of 2"), "{problem}");
}

#[tokio::test]
async fn other_content_types_are_415() {
    let app = TestApp::spawn().await;
    let csv = app
        .post_as("/insert", "text/csv", "time,symbol\n2021-11-12,X\n")
        .await;
    expect_problem(csv, 415).await;
    // `curl -d` without a type sends the form type; the tutorial's examples rely on it.
    let form = "application/x-www-form-urlencoded";
    let response = app
        .post_as("/insert", form, format!(r#"{{"records": {GOOD}}}"#))
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn bad_query_parameters_are_400_naming_the_parameter() {
    let app = TestApp::spawn().await;
    app.expect_bad_requests(&[
        ("/ticker?symbol=", "symbol"),
        ("/ticker?symbol=MS%20FT", "symbol"),
        ("/ticker?symbl=MSFT", "symbl"),
        ("/ticker?symbol=A&symbol=B", "symbol"),
        ("/ticker/daily", "symbol"),
        ("/ticker/daily?symbol=AAPL&start=yesterday", "start"),
        ("/ticker/daily?symbol=AAPL&end=2021-02-30", "end"),
        (
            "/ticker/daily?symbol=AAPL&start=2021-11-12&end=2021-11-12",
            "start",
        ),
    ])
    .await;
}
