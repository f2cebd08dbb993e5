//! `GET /metrics`. Alone in its test binary: the Prometheus recorder is process-wide.

mod common;

use common::{TUTORIAL_PAYLOAD, TestApp};

/// The value of the sample whose name-and-labels part is exactly `series`.
fn sample(page: &str, series: &str) -> Option<f64> {
    page.lines()
        .find_map(|line| line.strip_prefix(series)?.strip_prefix(' ')?.parse().ok())
}

#[tokio::test]
async fn metrics_count_requests_rows_pool_and_database_errors() {
    let app = TestApp::spawn().await;
    for _ in 0..3 {
        assert_eq!(app.get("/ticker/daily?symbol=AAPL").await.status(), 200);
    }
    assert_eq!(app.get("/ticker/daily?symbol=").await.status(), 400);
    assert_eq!(app.get("/no/such/path").await.status(), 404);
    assert_eq!(
        app.post_json("/insert", TUTORIAL_PAYLOAD).await.status(),
        200
    );
    assert_eq!(
        app.post_json("/insert", TUTORIAL_PAYLOAD).await.status(),
        409
    );

    // A latest-bar lookup opens the shared connection for point reads.
    assert_eq!(app.get("/ticker?symbol=AAPL").await.status(), 200);

    let response = app.get("/metrics").await;
    assert_eq!(response.status(), 200);
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(content_type.starts_with("text/plain"), "{content_type}");
    let page = response.text().await.unwrap();

    let requests = |route: &str, status: u16, method: &str| {
        sample(
            &page,
            &format!(
                "tsapi_http_requests_total{{method=\"{method}\",route=\"{route}\",status=\"{status}\"}}"
            ),
        )
    };
    assert_eq!(requests("/ticker/daily", 200, "GET"), Some(3.0), "{page}");
    assert_eq!(requests("/ticker/daily", 400, "GET"), Some(1.0));
    assert_eq!(requests("unmatched", 404, "GET"), Some(1.0));
    assert_eq!(requests("/insert", 409, "POST"), Some(1.0));
    assert_eq!(
        sample(
            &page,
            "tsapi_http_request_duration_seconds_count{method=\"GET\",route=\"/ticker/daily\",status=\"200\"}"
        ),
        Some(3.0)
    );
    assert!(page.contains("tsapi_http_request_duration_seconds_bucket{method=\"GET\",route=\"/ticker/daily\",status=\"200\",le=\"0.005\"}"));
    assert_eq!(sample(&page, "tsapi_rows_ingested_total"), Some(3.0));
    assert_eq!(
        sample(&page, "tsapi_db_errors_total{kind=\"unique_violation\"}"),
        Some(1.0)
    );
    let primary = |name: &str| sample(&page, &format!("{name}{{pool=\"primary\"}}"));
    assert_eq!(primary("tsapi_db_pool_max_connections"), Some(4.0));
    let open = primary("tsapi_db_pool_connections").unwrap();
    assert!((1.0..=4.0).contains(&open), "{open}");
    assert!(primary("tsapi_db_pool_connections_in_use").is_some());
    assert_eq!(primary("tsapi_db_pool_waiting"), Some(0.0));
    assert_eq!(primary("tsapi_db_shared_connection_open"), Some(1.0));
    // No replica is configured, so no replica series.
    assert!(!page.contains("pool=\"replica\""), "{page}");
}
