//! API keys: the real binary makes a key, the real server checks it.

mod common;

use common::process::{ServerProcess, keygen, tsapi_command};
use common::scratch::Scratch;
use common::{
    TUTORIAL_PAYLOAD, TestApp, api_defaults, app_state, expect_problem, expect_problem_saying,
    serve_state,
};
use tsapi::auth::Auth;

/// A server whose keys are the given configuration entries.
async fn app_with_keys(entries: &[&str], public_reads: bool) -> (TestApp, String) {
    let app = TestApp::spawn().await;
    let auth = Auth::from_config(Some(&entries.join(",")), None, public_reads).unwrap();
    let address = serve_state(app_state(&app.db.url, api_defaults()).with_auth(auth)).await;
    (app, address)
}

fn insert(address: &str, header: Option<(&str, String)>) -> reqwest::RequestBuilder {
    let mut request = reqwest::Client::new()
        .post(format!("{address}/insert"))
        .header("content-type", "application/json")
        .body(TUTORIAL_PAYLOAD);
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    request
}

fn ticker(address: &str, header: Option<(&str, String)>) -> reqwest::RequestBuilder {
    let mut request = reqwest::Client::new().get(format!("{address}/ticker?symbol=MSFT"));
    if let Some((name, value)) = header {
        request = request.header(name, value);
    }
    request
}

#[tokio::test]
async fn keygen_prints_a_key_once_and_an_entry_with_only_its_digest() {
    let (key, entry) = keygen("ci", "read+write");
    assert!(key.starts_with("tsapi_") && key.len() >= 6 + 32, "{key}");
    assert!(entry.starts_with("ci:read+write:"), "{entry}");
    assert!(!entry.contains(&key["tsapi_".len()..]));
    let (other, _) = keygen("ci", "read+write");
    assert_ne!(key, other);
    let bad = tsapi_command()
        .args(["keygen", "--name", "x", "--scopes", "admin"])
        .output()
        .unwrap();
    assert!(!bad.status.success());
}

#[tokio::test]
async fn writes_need_a_write_key_and_reads_a_read_key() {
    let (writer, writer_entry) = keygen("loader", "write");
    let (reader, reader_entry) = keygen("dashboard", "read");
    let (app, address) = app_with_keys(&[&writer_entry, &reader_entry], false).await;
    let bearer = |k: &str| Some(("authorization", format!("Bearer {k}")));

    let missing = insert(&address, None).send().await.unwrap();
    assert_eq!(missing.headers().get("www-authenticate").unwrap(), "Bearer");
    expect_problem(missing, 401).await;
    let unknown = insert(&address, bearer("tsapi_0000")).send().await.unwrap();
    expect_problem(unknown, 401).await;
    let read_only = insert(&address, bearer(&reader)).send().await.unwrap();
    expect_problem(read_only, 403).await;
    assert_eq!(app.db.count().await, 0, "refused writes stored nothing");

    let written = insert(&address, Some(("x-api-key", writer.clone())))
        .send()
        .await
        .unwrap();
    assert_eq!(written.status(), 200);
    assert_eq!(app.db.count().await, 3);

    expect_problem(ticker(&address, None).send().await.unwrap(), 401).await;
    expect_problem(ticker(&address, bearer(&writer)).send().await.unwrap(), 403).await;
    let read = ticker(&address, bearer(&reader)).send().await.unwrap();
    assert_eq!(read.status(), 200);
    let bars: serde_json::Value = read.json().await.unwrap();
    assert_eq!(bars[0]["symbol"], "MSFT");
}

#[tokio::test]
async fn without_keys_everything_but_probes_is_refused_with_a_hint() {
    let app = TestApp::spawn().await;
    let address = serve_state(app_state(&app.db.url, api_defaults())).await;
    let keyless = ticker(&address, None).send().await.unwrap();
    expect_problem_saying(keyless, 401, "tsapi keygen").await;
    expect_problem(insert(&address, None).send().await.unwrap(), 401).await;
    let http = reqwest::Client::new();
    for probe in ["/healthz", "/readyz"] {
        let response = http.get(format!("{address}{probe}")).send().await.unwrap();
        assert_eq!(response.status(), 200, "{probe}");
    }
}

#[tokio::test]
async fn public_reads_let_gets_through_but_not_writes() {
    let (_, entry) = keygen("w", "read+write");
    let (_app, address) = app_with_keys(&[&entry], true).await;
    assert_eq!(ticker(&address, None).send().await.unwrap().status(), 200);
    expect_problem(insert(&address, None).send().await.unwrap(), 401).await;
}

#[tokio::test]
async fn the_server_reads_keys_from_a_file_and_never_logs_them() {
    let db = common::TestDb::new(common::Schema::Migrated).await;
    let (key, entry) = keygen("file", "read+write");
    let file = Scratch::new("api_keys");
    std::fs::write(file.path(), format!("# local keys\n\n{entry}\n")).unwrap();
    let server = ServerProcess::start(
        &db.url,
        &[("TSAPI_API_KEYS_FILE", file.path()), ("RUST_LOG", "debug")],
    )
    .await;
    let address = &server.base;
    let allowed = ticker(address, Some(("authorization", format!("Bearer {key}"))))
        .send()
        .await
        .unwrap();
    assert_eq!(allowed.status(), 200);
    let refused = ticker(address, Some(("x-api-key", format!("{key}x"))))
        .send()
        .await
        .unwrap();
    assert_eq!(refused.status(), 401);
    let out = server.finish();
    assert!(out.status.success());
    let log = String::from_utf8_lossy(&out.stderr);
    assert!(log.contains("API keys loaded"), "{log}");
    assert!(
        !log.contains(&key["tsapi_".len()..]),
        "the key appears in the log"
    );
}

#[tokio::test]
async fn cors_preflight_needs_no_key_and_names_the_allowed_origin() {
    let app = TestApp::spawn().await;
    let (key, entry) = keygen("browser", "read");
    let mut api = api_defaults();
    api.cors_origins = vec!["https://app.example".into()];
    let auth = Auth::from_config(Some(&entry), None, false).unwrap();
    let address = serve_state(app_state(&app.db.url, api).with_auth(auth)).await;
    let http = reqwest::Client::new();
    let preflight = |origin: &str| {
        http.request(
            reqwest::Method::OPTIONS,
            format!("{address}/v1/bars/latest"),
        )
        .header("origin", origin)
        .header("access-control-request-method", "GET")
        .header("access-control-request-headers", "authorization")
        .send()
    };
    let allowed = preflight("https://app.example").await.unwrap();
    assert_eq!(allowed.status(), 200);
    let headers = allowed.headers();
    assert_eq!(
        headers["access-control-allow-origin"],
        "https://app.example"
    );
    assert!(
        headers["access-control-allow-headers"]
            .to_str()
            .unwrap()
            .contains("authorization")
    );
    let other = preflight("https://evil.example").await.unwrap();
    assert!(other.headers().get("access-control-allow-origin").is_none());
    // The real request still needs its key, and carries the CORS answer.
    let read = http
        .get(format!("{address}/v1/bars/latest?symbols=AAPL"))
        .header("origin", "https://app.example")
        .bearer_auth(&key)
        .send()
        .await
        .unwrap();
    assert_eq!(read.status(), 200);
    assert_eq!(
        read.headers()["access-control-allow-origin"],
        "https://app.example"
    );
    let keyless = http
        .get(format!("{address}/v1/bars/latest?symbols=AAPL"))
        .header("origin", "https://app.example")
        .send()
        .await
        .unwrap();
    expect_problem(keyless, 401).await;
}

#[tokio::test]
async fn without_cors_origins_answers_carry_no_cors_headers() {
    let app = TestApp::spawn().await;
    let answer = app
        .get_with("/healthz", &[("origin", "https://app.example")])
        .await;
    assert!(
        answer
            .headers()
            .get("access-control-allow-origin")
            .is_none()
    );
}

#[tokio::test]
async fn sighup_reloads_the_keys_file_without_dropping_requests() {
    let app = TestApp::spawn().await;
    let (old_key, old_entry) = keygen("old", "read");
    let (new_key, new_entry) = keygen("new", "read");
    let file = Scratch::new("api_keys");
    std::fs::write(file.path(), format!("# keys\n{old_entry}\n")).unwrap();
    let server = ServerProcess::start(&app.db.url, &[("TSAPI_API_KEYS_FILE", file.path())]).await;
    let http = reqwest::Client::new();
    let status = |key: String| {
        let request = http.get(server.url("/ticker?symbol=MSFT")).bearer_auth(key);
        async move { request.send().await.unwrap().status().as_u16() }
    };
    assert_eq!(status(old_key.clone()).await, 200);
    assert_eq!(status(new_key.clone()).await, 401);

    // Revoke the old key, add the new one, and tell the server.
    std::fs::write(file.path(), format!("{new_entry}\n")).unwrap();
    server.signal("HUP");
    let reloaded = wait_for(|| status(new_key.clone()), 200).await;
    assert!(reloaded, "the new key was not accepted after SIGHUP");
    assert_eq!(status(old_key.clone()).await, 401);

    // A broken file keeps the keys in force.
    std::fs::write(file.path(), "not an entry\n").unwrap();
    server.signal("HUP");
    tokio::time::sleep(std::time::Duration::from_millis(500)).await;
    assert_eq!(status(new_key.clone()).await, 200);
    let output = server.finish();
    let logs = String::from_utf8_lossy(&output.stderr);
    assert!(logs.contains("keys not reloaded"), "{logs}");
    assert!(!logs.contains(&new_key) && !logs.contains(&old_key));
}

/// Polls `check` until it gives `want`, for at most 10 s.
async fn wait_for<F, Fut>(check: F, want: u16) -> bool
where
    F: Fn() -> Fut,
    Fut: std::future::Future<Output = u16>,
{
    for _ in 0..200 {
        if check().await == want {
            return true;
        }
        tokio::time::sleep(std::time::Duration::from_millis(50)).await;
    }
    false
}
