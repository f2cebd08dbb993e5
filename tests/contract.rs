//! The served OpenAPI document tells the truth about access and bodies, and refusals made
//! below the handlers are problem+json like every other error.

mod common;

use common::{
    TestApp, api_defaults, app_state, expect_problem, expect_problem_saying, serve_state,
};
use serde_json::Value;
use tsapi::auth::Auth;

const METHODS: [&str; 5] = ["get", "post", "put", "delete", "patch"];

/// Every (method, path, operation) of the document.
fn operations(document: &Value) -> Vec<(String, String, Value)> {
    let mut found = Vec::new();
    for (path, item) in document["paths"].as_object().expect("paths") {
        for method in METHODS {
            if let Some(operation) = item.get(method) {
                found.push((method.to_owned(), path.clone(), operation.clone()));
            }
        }
    }
    found
}

#[tokio::test]
async fn the_document_says_which_routes_need_a_key_and_the_server_agrees() {
    let app = TestApp::spawn().await;
    // Keys on, none configured: every keyed route refuses, every public one answers.
    let keyed = serve_state(app_state(&app.db.url, api_defaults())).await;
    let (status, document) = app.get_json("/openapi.json").await;
    assert_eq!(status, 200);
    let http = reqwest::Client::new();
    let mut public = Vec::new();
    for (method, path, operation) in operations(&document) {
        let security = operation.get("security");
        let responses = &operation["responses"];
        if security == Some(&serde_json::json!([])) {
            public.push(path.clone());
            assert!(responses.get("401").is_none(), "{method} {path}");
            if method == "get" {
                let answer = http.get(format!("{keyed}{path}")).send().await.unwrap();
                assert_ne!(answer.status(), 401, "public {path} asked for a key");
            }
        } else {
            assert!(security.is_none(), "{method} {path}: {security:?}");
            for status in ["401", "403"] {
                assert!(
                    responses.get(status).is_some(),
                    "{method} {path} documents no {status}"
                );
            }
            let answer = http
                .request(
                    method.to_uppercase().parse().unwrap(),
                    format!("{keyed}{path}"),
                )
                .send()
                .await
                .unwrap();
            if path.starts_with("/alpaca/") || path.starts_with("/polygon/") {
                // The dialects answer in their providers' own error shapes.
                assert_eq!(answer.status(), 401, "{path}");
                let body: serde_json::Value = answer.json().await.unwrap();
                assert!(
                    body.get("code").is_some() || body["status"] == "ERROR",
                    "{path}: {body}"
                );
            } else {
                expect_problem(answer, 401).await;
            }
        }
    }
    public.sort();
    assert_eq!(
        public,
        [
            "/",
            // The Alpaca stream checks the key of its own auth message.
            "/alpaca/v2/{feed}",
            "/healthz",
            "/metrics",
            "/openapi.json",
            "/readyz"
        ],
        "the public routes"
    );
    assert!(
        document["security"]
            .as_array()
            .is_some_and(|s| !s.is_empty())
    );
}

#[tokio::test]
async fn write_bodies_refuse_unknown_fields_in_the_document_too() {
    let app = TestApp::spawn().await;
    let (_, document) = app.get_json("/openapi.json").await;
    let schemas = &document["components"]["schemas"];
    for name in ["InsertBody", "InsertRecord"] {
        assert_eq!(
            schemas[name]["additionalProperties"],
            Value::Bool(false),
            "{name}: {}",
            schemas[name]
        );
    }
    // And the server does refuse them.
    let answer = app
        .post_json(
            "/insert",
            r#"{"records": [{"time": "2021-11-12 15:00:00", "symbol": "AAPL", "colour": 1}]}"#,
        )
        .await;
    let problem = expect_problem(answer, 422).await;
    assert_eq!(problem["errors"][0]["field"], "colour");
    // A JSON list of no records is refused, as the schema's minItems says; an empty stream
    // of lines is an empty write.
    let many = &schemas["InsertRecords"]["oneOf"][1];
    assert_eq!(many["minItems"], 1, "{many}");
    for path in ["/insert", "/v1/bars"] {
        let answer = app.post_json(path, r#"{"records": []}"#).await;
        expect_problem_saying(answer, 400, "no records").await;
    }
    let empty_lines = app.post_as("/v1/bars", "application/x-ndjson", "").await;
    assert_eq!(empty_lines.status(), 200);
}

#[tokio::test]
async fn symbols_is_required_on_bars_and_intervals_match_their_pattern() {
    let app = TestApp::spawn().await;
    let (_, document) = app.get_json("/openapi.json").await;
    let parameters = document["paths"]["/v1/bars"]["get"]["parameters"]
        .as_array()
        .expect("parameters");
    let find = |name: &str| {
        parameters
            .iter()
            .find(|p| p["name"] == name)
            .unwrap_or_else(|| panic!("no parameter {name}"))
    };
    assert_eq!(find("symbols")["required"], true);
    let pattern = find("interval")["schema"]["pattern"].as_str().unwrap();
    assert!(pattern.contains("{0,4}"), "{pattern}");
    // The largest number the pattern allows is served; one more is refused.
    let (status, _) = app.get_json("/v1/bars?symbols=AAPL&interval=99999y").await;
    assert_eq!(status, 200);
    let refused = app.get("/v1/bars?symbols=AAPL&interval=100000y").await;
    expect_problem_saying(refused, 400, "interval").await;
}

/// Every `$ref` in a JSON value.
fn references(value: &Value, found: &mut Vec<String>) {
    match value {
        Value::Object(map) => {
            if let Some(Value::String(target)) = map.get("$ref") {
                found.push(target.clone());
            }
            map.values().for_each(|v| references(v, found));
        }
        Value::Array(items) => items.iter().for_each(|v| references(v, found)),
        _ => {}
    }
}

#[tokio::test]
async fn every_reference_in_the_document_names_a_schema_it_holds() {
    let app = TestApp::spawn().await;
    let (_, document) = app.get_json("/openapi.json").await;
    let mut found = Vec::new();
    references(&document, &mut found);
    // The shared answers and refusals name their schemas; the bars' values are one schema
    // that the bar types and the insert record build on.
    for name in ["BarsPage", "Snapshots", "DailyBars", "Problem", "BarValues"] {
        let target = format!("#/components/schemas/{name}");
        assert!(found.contains(&target), "{target} is never referred to");
    }
    for target in found {
        let name = target
            .strip_prefix("#/components/schemas/")
            .unwrap_or_else(|| panic!("{target} is not a schema reference"));
        assert!(
            document["components"]["schemas"].get(name).is_some(),
            "{target} names no schema of the document"
        );
    }
}

#[tokio::test]
async fn a_long_request_target_is_a_414_problem() {
    let app = TestApp::spawn().await;
    let symbols = vec!["ABCDEFGH"; 5_000].join(",");
    let answer = app.get(&format!("/v1/bars/latest?symbols={symbols}")).await;
    expect_problem_saying(answer, 414, "fewer symbols").await;
    // Below the bound, the same kind of request is served.
    let (status, _) = app.get_json("/v1/bars/latest?symbols=AAPL,MSFT").await;
    assert_eq!(status, 200);
}

#[tokio::test]
async fn refusals_below_the_handlers_are_problems() {
    let app = TestApp::spawn().await;
    // A tutorial body over the size limit is refused by the body reader.
    let mut api = api_defaults();
    api.body_limit = 1024;
    let small = serve_state(app_state(&app.db.url, api).with_auth(Auth::Disabled)).await;
    let big = format!(r#"{{"records": [{}]}}"#, "1,".repeat(2_000));
    let answer = reqwest::Client::new()
        .post(format!("{small}/insert"))
        .header("content-type", "application/json")
        .body(big)
        .send()
        .await
        .unwrap();
    expect_problem(answer, 413).await;
    // A method no route has: 405 with Allow, as problem+json.
    let answer = app.http.delete(app.url("/ticker")).send().await.unwrap();
    assert!(answer.headers().get("allow").is_some());
    expect_problem(answer, 405).await;
}
