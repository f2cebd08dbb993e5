//! `GET /v1/bars/chart.svg` and `GET /` over real HTTP.

mod common;

use common::{TestApp, expect_problem};
use serde_json::json;

async fn seed(app: &TestApp) {
    // Three UTC days of AAPL: up, down, up.
    let records: Vec<_> = [("2021-11-10", 10.0, 12.0), ("2021-11-11", 12.0, 11.0), ("2021-11-12", 11.0, 13.0)]
        .iter()
        .map(|(day, open, close)| {
            json!({"time": format!("{day}T15:00:00Z"), "symbol": "AAPL", "price_open": open,
                   "price_high": 14.0, "price_low": 9.0, "price_close": close, "trading_volume": 100})
        })
        .collect();
    app.insert(records).await;
}

#[tokio::test]
async fn chart_svg_draws_one_candle_per_bucket() {
    let app = TestApp::spawn().await;
    seed(&app).await;
    let response = app
        .get("/v1/bars/chart.svg?symbol=AAPL&interval=1d&start=2021-11-01&end=2021-12-01")
        .await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "image/svg+xml");
    let svg = response.text().await.unwrap();
    assert!(svg.starts_with("<svg"), "{svg}");
    assert_eq!(svg.matches(r#"<g class="candle">"#).count(), 3);
    assert!(svg.contains("AAPL · 1d candles · UTC"));
    assert!(
        svg.contains("2021-11-11T00:00:00Z O 12 H 14 L 9 C 11 V 100"),
        "{svg}"
    );

    // Without a start: the latest candles, oldest first.
    let latest = app.get("/v1/bars/chart.svg?symbol=AAPL&interval=1d").await;
    let svg = latest.text().await.unwrap();
    let first = svg.find("2021-11-10T00:00:00Z").unwrap();
    let last = svg.find("2021-11-12T00:00:00Z").unwrap();
    assert!(first < last);

    let empty = app
        .get("/v1/bars/chart.svg?symbol=NOPE")
        .await
        .text()
        .await
        .unwrap();
    assert!(empty.contains("No bars in this range"));
}

#[tokio::test]
async fn chart_svg_refuses_bad_parameters() {
    let app = TestApp::spawn().await;
    for (path, hint) in [
        ("/v1/bars/chart.svg", "symbol"),
        ("/v1/bars/chart.svg?symbol=AAPL&interval=0d", "interval"),
        ("/v1/bars/chart.svg?symbol=AAPL,MSFT", "symbol"),
        ("/v1/bars/chart.svg?symbol=AAPL&tz=Mars/Base", "tz"),
        ("/v1/bars/chart.svg?symbol=AAPL&colour=red", "colour"),
    ] {
        let problem = expect_problem(app.get(path).await, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(hint),
            "{path}: {problem}"
        );
    }
}

#[tokio::test]
async fn the_page_is_self_contained_html() {
    let app = TestApp::spawn().await;
    let response = app.get("/").await;
    assert_eq!(response.status(), 200);
    assert!(
        response.headers()["content-type"]
            .to_str()
            .unwrap()
            .starts_with("text/html")
    );
    let html = response.text().await.unwrap();
    assert!(html.contains("/v1/symbols") && html.contains("/v1/bars/chart.svg"));
    assert!(html.contains(r#"href="/openapi.json""#));
    // Nothing from other hosts: no scripts, styles or fonts from a CDN.
    assert!(
        !html.contains("http://") && !html.contains("https://"),
        "{html}"
    );
    assert!(!html.contains("<script src") && !html.contains("<link"));
}
