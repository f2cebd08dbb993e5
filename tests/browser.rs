//! The page at `/` in a real headless Chromium: it lists the symbols, draws the chart, logs
//! no errors, and draws a new candle when a bar is committed. A screenshot is left in
//! target/screenshots/ for people to look at.

mod common;

use std::path::Path;
use std::process::Command;
use std::time::Duration;

use chrono::NaiveDate;
use common::TestApp;
use common::devtools::{Browser, chromium};
use common::live::{LiveServer, record};
use tsapi::domain::Symbol;

/// Chromium, or `None` outside CI (where the test is skipped with a word).
fn chromium_or_skip() -> Option<std::path::PathBuf> {
    let found = chromium();
    if found.is_none() {
        assert!(
            std::env::var("CI").is_err(),
            "Chromium is required in CI (scripts/browser-deps.sh installs it)"
        );
        eprintln!("Chromium not installed; skipping the browser test");
    }
    found
}

/// Five trading days of one-minute demo bars of AAPL and MSFT, from 2021-11-08.
async fn store_demo_week(db: &common::TestDb) {
    let symbols = [
        Symbol::parse("AAPL").unwrap(),
        Symbol::parse("MSFT").unwrap(),
    ];
    let bars = tsapi::demo::generate(
        &symbols,
        NaiveDate::from_ymd_opt(2021, 11, 8).unwrap(),
        5,
        1,
    );
    let mut client = db.client().await;
    let table = tsapi::db::TableInfo::load(&client).await.unwrap();
    tsapi::db::write_all(&mut client, &table, &bars, tsapi::db::OnConflict::Error)
        .await
        .unwrap();
}

/// Runs headless Chromium on `url` with the given extra arguments; returns (stdout, stderr).
fn run_chromium(binary: &Path, url: &str, extra: &[&str]) -> (String, String) {
    let profile = std::env::temp_dir().join(format!("tsapi-chromium-{}", uuid::Uuid::new_v4()));
    let output = Command::new(binary)
        .args(common::devtools::HEADLESS)
        .args([
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
        ])
        .arg(format!("--user-data-dir={}", profile.display()))
        .args(extra)
        .arg(url)
        .output()
        .expect("run chromium");
    let _ = std::fs::remove_dir_all(&profile);
    (
        String::from_utf8_lossy(&output.stdout).into_owned(),
        String::from_utf8_lossy(&output.stderr).into_owned(),
    )
}

#[tokio::test]
async fn the_page_draws_a_candlestick_chart_in_chromium() {
    let Some(binary) = chromium_or_skip() else {
        return;
    };
    let app = TestApp::spawn().await;
    store_demo_week(&app.db).await;

    let url = app.url("/");
    let (dom, log) = tokio::task::spawn_blocking({
        let (binary, url) = (binary.clone(), url.clone());
        move || run_chromium(&binary, &url, &["--dump-dom"])
    })
    .await
    .unwrap();
    // 5 trading days of 1-minute bars at the page's default 1h interval: 7 candles a day.
    assert!(dom.contains(r#"data-candles="35""#), "{dom}\n{log}");
    assert!(
        dom.contains(r#"<option value="MSFT">MSFT</option>"#),
        "{dom}"
    );
    assert!(dom.contains(r#"class="volume""#));
    assert!(!dom.contains("data-errors"), "script errors: {dom}");
    assert!(
        dom.contains(r#"<p id="status" role="status"></p>"#),
        "{dom}"
    );
    let console_errors: Vec<&str> = log
        .lines()
        .filter(|l| l.contains("CONSOLE") && (l.contains("Uncaught") || l.contains("Error")))
        .collect();
    assert!(console_errors.is_empty(), "{console_errors:#?}");

    let shots = Path::new(env!("CARGO_MANIFEST_DIR")).join("target/screenshots");
    std::fs::create_dir_all(&shots).unwrap();
    let png = shots.join("chart-page.png");
    let _ = std::fs::remove_file(&png);
    let arg = format!("--screenshot={}", png.display());
    tokio::task::spawn_blocking(move || run_chromium(&binary, &url, &[&arg]))
        .await
        .unwrap();
    let bytes = std::fs::read(&png).expect("a screenshot");
    assert!(bytes.starts_with(b"\x89PNG"), "not a PNG");
}

#[tokio::test]
async fn the_page_draws_a_committed_bar_live_with_a_key() {
    let Some(binary) = chromium_or_skip() else {
        return;
    };
    let db = common::TestDb::new(common::Schema::Migrated).await;
    store_demo_week(&db).await;
    let server = LiveServer::start(&db.url, &[]).await;
    let mut page = Browser::open(&binary, &format!("{}/", server.base)).await;
    let wait = Duration::from_secs(20);

    // Reads need the key here: the page asks for it, then lists, draws and follows.
    page.wait_for(
        r#"document.getElementById("live") !== null"#,
        wait,
        "page loaded",
    )
    .await;
    let key = serde_json::to_string(&server.key).unwrap();
    page.eval(&format!(
        r#"(() => {{ const k = document.getElementById("key"); k.value = {key};
            k.dispatchEvent(new Event("change")); return true; }})()"#
    ))
    .await;
    page.wait_for(
        r#"document.body.dataset.candles === "35""#,
        wait,
        "chart drawn",
    )
    .await;
    page.wait_for(
        r#"document.getElementById("live").dataset.state === "live""#,
        wait,
        "stream opened",
    )
    .await;
    assert_eq!(
        page.eval(r#"document.getElementById("symbol").value"#)
            .await,
        "AAPL"
    );

    // A bar of a new hour after the last stored one: the page must draw a 36th candle.
    let (status, _) = server
        .post_bars(
            "",
            serde_json::json!([record("AAPL", "2021-11-15T15:00:00Z", 150.0, 10)]),
        )
        .await;
    assert_eq!(status, 200);
    page.wait_for(
        r#"document.body.dataset.lastLiveBar === "2021-11-15T15:00:00Z""#,
        wait,
        "the bar reached the page",
    )
    .await;
    page.wait_for(
        r#"document.body.dataset.candles === "36""#,
        wait,
        "new candle drawn",
    )
    .await;
    // No script error along the way.
    assert_eq!(
        page.eval("document.body.dataset.errors ?? null").await,
        serde_json::Value::Null
    );
}
