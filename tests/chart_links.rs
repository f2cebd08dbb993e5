//! Chart links: with keys on, the page and `<img>` embeds reach the chart through a signed
//! URL that opens that one chart, until it expires, without a key.

mod common;

use common::bodies::bar_record;
use common::{TestApp, api_defaults, app_state, expect_problem, serve_state};
use serde_json::Value;
use tsapi::auth::{ApiKey, Auth, Scopes, generate_key};

struct Keyed {
    _app: TestApp,
    address: String,
    reader: String,
    writer: String,
}

async fn keyed_app() -> Keyed {
    let app = TestApp::spawn().await;
    app.insert(vec![bar_record(
        "2021-11-12T15:00:00Z",
        "MSFT",
        [10.0, 11.0, 9.0, 10.5],
        100,
    )])
    .await;
    let reader = generate_key().unwrap();
    let writer = generate_key().unwrap();
    let entries = [
        ApiKey::entry("reader", Scopes::parse("read").unwrap(), &reader),
        ApiKey::entry("writer", Scopes::parse("write").unwrap(), &writer),
    ]
    .join(",");
    let auth = Auth::from_config(Some(&entries), None, false).unwrap();
    let address = serve_state(app_state(&app.db.url, api_defaults()).with_auth(auth)).await;
    Keyed {
        _app: app,
        address,
        reader,
        writer,
    }
}

async fn get(address: &str, path: &str, key: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(format!("{address}{path}"));
    if let Some(key) = key {
        request = request.bearer_auth(key);
    }
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_read_key_makes_a_link_that_opens_that_chart_without_a_key() {
    let app = keyed_app().await;
    let query = "symbol=MSFT&interval=1d&start=2021-11-01&end=2021-12-01";
    assert_eq!(
        get(&app.address, &format!("/v1/bars/chart.svg?{query}"), None)
            .await
            .status(),
        401,
        "without a key or a link"
    );
    let response = get(
        &app.address,
        &format!("/v1/bars/chart-link?{query}&ttl=1h"),
        Some(&app.reader),
    )
    .await;
    assert_eq!(response.status(), 200);
    let link: Value = response.json().await.unwrap();
    let url = link["url"].as_str().unwrap();
    assert!(
        url.starts_with(&format!("/v1/bars/chart.svg?{query}&expires=")),
        "{url}"
    );
    assert!(link["expires_at"].as_str().unwrap().ends_with('Z'));

    let chart = get(&app.address, url, None).await;
    assert_eq!(chart.status(), 200);
    assert_eq!(chart.headers()["content-type"], "image/svg+xml");
    let svg = chart.text().await.unwrap();
    assert_eq!(svg.matches(r#"<g class="candle">"#).count(), 1, "{svg}");

    // The link opens this chart only: any other query or path is refused.
    for forged in [
        url.replace("MSFT", "AAPL"),
        url.replace("interval=1d", "interval=1h"),
        url.replace("&expires=", "&expires=9"),
        url.replace("/v1/bars/chart.svg", "/v1/bars"),
        format!("{url}x"),
    ] {
        let response = get(&app.address, &forged, None).await;
        assert!(response.status() == 401, "{forged}: {}", response.status());
    }
    let problem = expect_problem(
        get(&app.address, &url.replace("MSFT", "AAPL"), None).await,
        401,
    )
    .await;
    assert!(
        problem["detail"].as_str().unwrap().contains("altered"),
        "{problem}"
    );
}

#[tokio::test]
async fn links_need_a_read_key_and_a_valid_chart() {
    let app = keyed_app().await;
    let path = "/v1/bars/chart-link?symbol=MSFT";
    assert_eq!(get(&app.address, path, None).await.status(), 401);
    assert_eq!(
        get(&app.address, path, Some(&app.writer)).await.status(),
        403
    );
    for (bad, param) in [
        ("/v1/bars/chart-link?symbol=MSFT&interval=0d", "interval"),
        ("/v1/bars/chart-link?symbol=%21", "symbol"),
        ("/v1/bars/chart-link?symbol=MSFT&ttl=forever", "ttl"),
        ("/v1/bars/chart-link?symbol=MSFT&ttl=400d", "ttl"),
        ("/v1/bars/chart-link?symbol=MSFT&ttl=1h&ttl=2h", "ttl"),
        ("/v1/bars/chart-link?symbol=MSFT&colour=red", "colour"),
    ] {
        let problem = expect_problem(get(&app.address, bad, Some(&app.reader)).await, 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains(param),
            "{bad}: {problem}"
        );
    }
}

#[tokio::test]
async fn every_link_on_the_page_opens_in_a_browser_without_a_key() {
    let app = keyed_app().await;
    let html = get(&app.address, "/", None).await.text().await.unwrap();
    let links: Vec<&str> = html
        .split("href=\"")
        .skip(1)
        .filter_map(|rest| rest.split('"').next())
        .collect();
    assert!(!links.is_empty());
    for link in links {
        let status = get(&app.address, link, None).await.status();
        assert!(status.is_success(), "{link}: {status}");
    }
}
