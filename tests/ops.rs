//! Operations endpoints and the error shape of routing failures.

mod common;

use common::{TestApp, api_defaults, expect_problem};
use serde_json::json;

#[tokio::test]
async fn health_and_readiness() {
    let app = TestApp::spawn().await;
    assert_eq!(
        app.get_json("/healthz").await,
        (200, json!({"status": "ok"}))
    );
    assert_eq!(
        app.get_json("/readyz").await,
        (200, json!({"status": "ready"}))
    );
}

#[tokio::test]
async fn a_database_that_is_down_gives_503_not_500() {
    // Nothing listens on port 1: the process is healthy, the database is not.
    let address = common::serve(
        "postgres://tsapi:secret-pw@127.0.0.1:1/none",
        api_defaults(),
    )
    .await;
    let http = reqwest::Client::new();
    let get = |path: &str| http.get(format!("{address}{path}")).send();
    assert_eq!(get("/healthz").await.unwrap().status(), 200);
    let ready = expect_problem(get("/readyz").await.unwrap(), 503).await;
    assert!(!ready.to_string().contains("secret-pw"));
    let ticker = get("/ticker?symbol=AAPL").await.unwrap();
    assert!(ticker.headers().contains_key("retry-after"));
    let body = expect_problem(ticker, 503).await;
    assert!(!body.to_string().contains("secret-pw"), "{body}");
}

#[tokio::test]
async fn unknown_paths_are_404_problems() {
    let app = TestApp::spawn().await;
    let body = expect_problem(app.get("/nope").await, 404).await;
    assert!(body["detail"].as_str().unwrap().contains("/nope"));
}

#[tokio::test]
async fn wrong_methods_are_405_problems_with_allow() {
    let app = TestApp::spawn().await;
    let response = app.get("/insert").await;
    let allow = response
        .headers()
        .get("allow")
        .map(|v| v.to_str().unwrap().to_owned());
    assert_eq!(allow.as_deref(), Some("POST"));
    expect_problem(response, 405).await;

    let response = app.http.delete(app.url("/ticker")).send().await.unwrap();
    let allow = response
        .headers()
        .get("allow")
        .unwrap()
        .to_str()
        .unwrap()
        .to_owned();
    assert!(allow.contains("GET"), "{allow}");
    expect_problem(response, 405).await;
}

#[tokio::test]
async fn request_ids_are_echoed_or_made() {
    let app = TestApp::spawn().await;
    let with_id = |id: &str| {
        app.http
            .get(app.url("/healthz"))
            .header("x-request-id", id)
            .send()
    };
    let echoed = with_id("client-id-42").await.unwrap();
    assert_eq!(echoed.headers()["x-request-id"], "client-id-42");

    let made = app.get("/ticker?symbol=").await;
    let id = made.headers()["x-request-id"].to_str().unwrap().to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");

    // A value that could forge log lines is replaced.
    let replaced = with_id("evil\tid").await.unwrap();
    let id = replaced.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(uuid::Uuid::parse_str(&id).is_ok(), "{id}");
}
