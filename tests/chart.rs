//! `GET /v1/bars/chart.svg` and `GET /` over real HTTP.

mod common;

use common::bodies::bar_record;
use common::{TestApp, expect_problem};

async fn seed(app: &TestApp) {
    // Three UTC days of AAPL: up, down, up.
    let records: Vec<_> = [
        ("2021-11-10", 10.0, 12.0),
        ("2021-11-11", 12.0, 11.0),
        ("2021-11-12", 11.0, 13.0),
    ]
    .iter()
    .map(|(day, open, close)| {
        bar_record(
            &format!("{day}T15:00:00Z"),
            "AAPL",
            [*open, 14.0, 9.0, *close],
            100,
        )
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

    let empty = app.get_text("/v1/bars/chart.svg?symbol=NOPE").await;
    assert!(empty.contains("No bars in this range"));
}

#[tokio::test]
async fn chart_svg_refuses_bad_parameters() {
    let app = TestApp::spawn().await;
    app.expect_bad_requests(&[
        ("/v1/bars/chart.svg", "symbol"),
        ("/v1/bars/chart.svg?symbol=AAPL&interval=0d", "interval"),
        ("/v1/bars/chart.svg?symbol=AAPL,MSFT", "symbol"),
        ("/v1/bars/chart.svg?symbol=AAPL&tz=Mars/Base", "tz"),
        ("/v1/bars/chart.svg?symbol=AAPL&colour=red", "colour"),
    ])
    .await;
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

#[tokio::test]
async fn the_time_axis_is_labelled_in_the_requested_zone() {
    let app = TestApp::spawn().await;
    // Four hourly bars from 15:00 UTC: 10:00 to 13:00 in New York (EST).
    let records: Vec<_> = (15..19)
        .map(|hour| {
            bar_record(
                &format!("2021-11-12T{hour}:00:00Z"),
                "AAPL",
                [10.0, 11.0, 9.0, 10.5],
                100,
            )
        })
        .collect();
    app.insert(records).await;
    let svg = |tz: &'static str| {
        let app = &app;
        async move {
            app.get_text(&format!(
                "/v1/bars/chart.svg?symbol=AAPL&interval=1h&start=2021-11-12&end=2021-11-13{tz}"
            ))
            .await
        }
    };
    let utc = svg("").await;
    assert!(utc.contains(">15:00</text>"), "{utc}");
    let new_york = svg("&tz=America/New_York").await;
    assert!(new_york.contains(">10:00</text>"), "{new_york}");
    assert!(!new_york.contains(">15:00</text>"), "{new_york}");
    assert!(new_york.contains("America/New_York"));
}

#[tokio::test]
async fn a_chart_cut_at_1000_candles_says_so() {
    let app = TestApp::spawn().await;
    let records: Vec<_> = (0..1_001)
        .map(|minute| {
            let time = chrono::DateTime::from_timestamp(1_636_729_200 + minute * 60, 0).unwrap();
            bar_record(&time.to_rfc3339(), "AAPL", [10.0, 11.0, 9.0, 10.5], 1)
        })
        .collect();
    app.insert(records).await;
    let path = "/v1/bars/chart.svg?symbol=AAPL&interval=1min&start=2021-11-12&end=2021-11-14";
    let response = app.get(path).await;
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["x-chart-truncated"], "1000");
    let svg = response.text().await.unwrap();
    assert_eq!(svg.matches(r#"<g class="candle">"#).count(), 1_000);
    assert!(svg.contains(r#"class="note""#) && svg.contains("first 1000 candles"));

    // A range that fits is drawn whole, without a note.
    let whole = app
        .get("/v1/bars/chart.svg?symbol=AAPL&interval=1h&start=2021-11-12&end=2021-11-14")
        .await;
    assert!(whole.headers().get("x-chart-truncated").is_none());
    assert!(!whole.text().await.unwrap().contains(r#"class="note""#));
}

#[tokio::test]
async fn a_bad_symbol_is_reported_as_the_parameter_symbol() {
    let app = TestApp::spawn().await;
    for path in [
        "/v1/bars/chart.svg?symbol=%21%21",
        "/v1/bars/chart.svg?symbol=",
        "/v1/bars/chart.svg?symbol=AAPL,MSFT",
    ] {
        let problem = expect_problem(app.get(path).await, 400).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.starts_with("parameter `symbol`:"),
            "{path}: {detail}"
        );
    }
}
