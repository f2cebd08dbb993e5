//! Small things a user trips on: what the error says when a parameter is off, and that the
//! help and the README name the same TLS modes.

mod common;

use common::{TestApp, expect_problem};

#[tokio::test]
async fn an_offset_whose_plus_was_not_encoded_gets_a_hint() {
    let app = TestApp::spawn().await;
    // Sent as typed: the query string's '+' reads as a space.
    let response = app
        .get("/v1/bars?symbols=AAPL&start=2021-11-12T10:00:00+05:00")
        .await;
    let problem = expect_problem(response, 400).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("%2B"), "{detail}");
    let response = app
        .get("/v1/bars?symbols=AAPL&start=2021-11-12T10:00:00%2B05:00")
        .await;
    assert_eq!(response.status(), 200);
}

#[tokio::test]
async fn time_zones_are_read_in_any_case() {
    let app = TestApp::spawn().await;
    for tz in ["utc", "UTC", "america/new_york"] {
        let response = app
            .get(&format!("/v1/bars?symbols=AAPL&start=2021-11-12&tz={tz}"))
            .await;
        assert_eq!(response.status(), 200, "{tz}");
    }
    let problem = expect_problem(app.get("/v1/bars?symbols=AAPL&tz=Mars/Base").await, 400).await;
    assert!(problem["detail"].as_str().unwrap().contains("IANA"));
}

#[tokio::test]
async fn an_unknown_parameter_is_named_with_what_the_endpoint_takes() {
    let app = TestApp::spawn().await;
    let problem = expect_problem(app.get("/v1/symbols?x=1").await, 400).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("unknown parameter \"x\""), "{detail}");
    assert!(detail.contains("takes no parameters"), "{detail}");
    assert!(!detail.contains("fields"), "{detail}");
    let problem = expect_problem(app.get("/ticker?symbl=MSFT").await, 400).await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(detail.contains("unknown parameter \"symbl\""), "{detail}");
    assert!(detail.contains("`symbol`"), "{detail}");
}

/// The TLS modes `--db-sslmode` accepts, as its help and the README's table name them.
#[test]
fn help_and_readme_name_the_tls_modes_that_are_implemented() {
    let modes = [
        "disable",
        "allow",
        "prefer",
        "require",
        "verify-ca",
        "verify-full",
    ];
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_tsapi"))
        .args(["migrate", "--help"])
        .output()
        .unwrap();
    let help = String::from_utf8_lossy(&out.stdout);
    let readme = include_str!("../README.md");
    let row = readme
        .lines()
        .find(|l| l.starts_with("| `DB_SSLMODE` |"))
        .expect("README row for DB_SSLMODE");
    for mode in modes {
        assert!(help.contains(mode), "{mode} missing from:\n{help}");
        assert!(
            row.contains(&format!("`{mode}`")),
            "{mode} missing from: {row}"
        );
        // Every mode the help names is accepted.
        let out = std::process::Command::new(env!("CARGO_BIN_EXE_tsapi"))
            .args(["migrate", "--db-sslmode", mode])
            .env("DATABASE_URL", "postgres://u@127.0.0.1:1/db")
            .output()
            .unwrap();
        let stderr = String::from_utf8_lossy(&out.stderr);
        assert!(!stderr.contains("DB_SSLMODE"), "{mode}: {stderr}");
    }
}
