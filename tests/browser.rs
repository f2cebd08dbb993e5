//! The page at `/` in a real headless Chromium: it lists the symbols, draws the chart, and
//! logs no errors. A screenshot is left in target/screenshots/ for people to look at.

mod common;

use std::path::{Path, PathBuf};
use std::process::Command;

use chrono::NaiveDate;
use common::TestApp;
use tsapi::domain::Symbol;

fn chromium() -> Option<PathBuf> {
    ["chromium", "chromium-browser", "google-chrome"]
        .iter()
        .map(|name| Path::new("/usr/bin").join(name))
        .find(|p| p.exists())
}

/// Runs headless Chromium on `url` with the given extra arguments; returns (stdout, stderr).
fn run_chromium(binary: &Path, url: &str, extra: &[&str]) -> (String, String) {
    let profile = std::env::temp_dir().join(format!("tsapi-chromium-{}", uuid::Uuid::new_v4()));
    let output = Command::new(binary)
        .args([
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--hide-scrollbars",
            "--enable-logging=stderr",
            "--v=0",
            "--virtual-time-budget=15000",
            "--window-size=1100,820",
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
    let Some(binary) = chromium() else {
        assert!(
            std::env::var("CI").is_err(),
            "Chromium is required in CI (scripts/browser-deps.sh installs it)"
        );
        eprintln!("Chromium not installed; skipping the browser test");
        return;
    };
    let app = TestApp::spawn().await;
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
    let mut client = app.db.client().await;
    let table = tsapi::db::TableInfo::load(&client).await.unwrap();
    tsapi::db::write_all(&mut client, &table, &bars, tsapi::db::OnConflict::Error)
        .await
        .unwrap();

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
