//! The `tsapi` binary itself: configuration errors, migrate, demo-data, serve and SIGTERM.

mod common;

use std::process::Output;
use std::time::Duration;

use common::process::{DEMO_TWO_DAYS, ServerProcess, tsapi_command};
use common::{Schema, TestDb};

fn tsapi(args: &[&str], env: &[(&str, &str)]) -> Output {
    tsapi_command()
        .args(args)
        .envs(env.iter().copied())
        .output()
        .expect("run tsapi")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

#[test]
fn a_missing_database_setting_is_named() {
    let out = tsapi(&["migrate"], &[("DB_HOST", "localhost"), ("DB_PASS", "pw")]);
    assert!(!out.status.success());
    let err = stderr(&out);
    assert!(err.contains("missing: DB_NAME, DB_USER"), "{err}");
}

#[test]
fn a_failed_connection_does_not_print_the_password() {
    let out = tsapi(
        &["migrate"],
        &[("DATABASE_URL", "postgres://u:hunter2@127.0.0.1:1/db")],
    );
    assert!(!out.status.success());
    assert!(!stderr(&out).contains("hunter2"), "{}", stderr(&out));
}

#[tokio::test]
async fn migrate_is_idempotent_and_demo_data_is_deterministic() {
    let db = TestDb::new(Schema::Empty).await;
    // First with the tutorial's variables, then with DATABASE_URL.
    let cfg: tokio_postgres::Config = db.url.parse().unwrap();
    let port = cfg.get_ports()[0].to_string();
    let password = String::from_utf8(cfg.get_password().unwrap().to_vec()).unwrap();
    let tutorial_env = [
        ("DB_HOST", "127.0.0.1"),
        ("DB_PORT", port.as_str()),
        ("DB_NAME", db.name.as_str()),
        ("DB_USER", cfg.get_user().unwrap()),
        ("DB_PASS", password.as_str()),
    ];
    let env = [("DATABASE_URL", db.url.as_str())];
    for env in [&tutorial_env[..], &env[..]] {
        let out = tsapi(&["migrate"], env);
        assert!(out.status.success(), "{}", stderr(&out));
    }
    let args = DEMO_TWO_DAYS;
    let out = tsapi(&args, &env);
    assert!(out.status.success(), "{}", stderr(&out));
    assert!(
        stderr(&out).contains("1560 inserted, 0 already present"),
        "{}",
        stderr(&out)
    );
    let first = db.rows().await;
    let out = tsapi(&args, &env);
    assert!(
        stderr(&out).contains("0 inserted, 1560 already present"),
        "{}",
        stderr(&out)
    );
    assert_eq!(db.rows().await, first);
    // Thursday and Friday, 390 one-minute bars each, from the New York open.
    assert!(
        first[0].starts_with("AAPL|2021-11-11T14:30:00Z|"),
        "{}",
        first[0]
    );
    assert!(
        first[779].starts_with("AAPL|2021-11-12T20:59:00Z|"),
        "{}",
        first[779]
    );
}

#[tokio::test]
async fn serve_answers_and_exits_cleanly_on_sigterm() {
    let db = TestDb::new(Schema::Migrated).await;
    // A role with a password that cannot appear in logs by chance.
    let role = format!("serve_{}", uuid::Uuid::new_v4().simple());
    let password = format!("pw-{}", uuid::Uuid::new_v4().simple());
    let admin = common::connect(&common::admin_url()).await;
    admin
        .batch_execute(&format!(
            "CREATE ROLE {role} LOGIN SUPERUSER PASSWORD '{password}'"
        ))
        .await
        .unwrap();
    let cfg: tokio_postgres::Config = db.url.parse().unwrap();
    let tokio_postgres::config::Host::Tcp(host) = &cfg.get_hosts()[0] else {
        panic!("the test database is reached over TCP");
    };
    let url = format!(
        "postgres://{role}:{password}@{host}:{}/{}",
        cfg.get_ports()[0],
        db.name
    );
    let server = ServerProcess::start(
        &url,
        &[("TSAPI_LOG_FORMAT", "json"), ("TSAPI_AUTH", "none")],
    )
    .await;
    let http = reqwest::Client::new();
    let ready = http.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let ticker = http
        .get(server.url("/ticker?symbol=AAPL"))
        .header("x-request-id", "trace-me-7")
        .send()
        .await
        .unwrap();
    assert_eq!(ticker.text().await.unwrap(), "[]");

    let output = server.finish();
    assert!(output.status.success(), "exit status {:?}", output.status);

    // One JSON line per request, carrying its id; never the database password.
    let logs = stderr(&output);
    assert!(!logs.contains(&password), "{logs}");
    let line = logs
        .lines()
        .find(|l| l.contains("trace-me-7") && l.contains("request finished"))
        .unwrap_or_else(|| panic!("no log line for the request: {logs}"));
    let json: serde_json::Value = serde_json::from_str(line).expect("a JSON log line");
    assert_eq!(json["status"], 200);
    assert_eq!(json["span"]["route"], "/ticker");
    admin
        .batch_execute(&format!("DROP ROLE {role}"))
        .await
        .unwrap();
}

/// A server with `grace` to finish its requests, sent SIGTERM while a read waits on a
/// lock held here.
struct SigtermInFlight {
    db: TestDb,
    server: ServerProcess,
    lock: tokio_postgres::Client,
    in_flight: tokio::task::JoinHandle<reqwest::Result<reqwest::Response>>,
}

async fn sigterm_with_a_read_in_flight(grace: &str) -> SigtermInFlight {
    let db = TestDb::new(Schema::Migrated).await;
    let env = [("TSAPI_AUTH", "none"), ("TSAPI_SHUTDOWN_GRACE", grace)];
    let server = ServerProcess::start(&db.url, &env).await;
    let lock = db.lock_table().await;
    let read = reqwest::Client::new().get(server.url("/ticker?symbol=AAPL"));
    let in_flight = tokio::spawn(read.send());
    db.until_a_request_waits_on_the_lock().await;
    server.signal("TERM");
    SigtermInFlight {
        db,
        server,
        lock,
        in_flight,
    }
}

#[tokio::test]
async fn sigterm_lets_in_flight_requests_finish_within_the_grace_period() {
    let SigtermInFlight {
        db: _db,
        mut server,
        lock,
        in_flight,
    } = sigterm_with_a_read_in_flight("30s").await;
    let http = reqwest::Client::new();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // Stopped accepting: a new connection is refused.
    assert!(
        http.get(server.url("/healthz")).send().await.is_err(),
        "a new request was accepted after SIGTERM"
    );
    assert!(
        server.try_wait().is_none(),
        "exited with a request in flight"
    );
    lock.batch_execute("COMMIT").await.unwrap();
    let answered = in_flight
        .await
        .unwrap()
        .expect("in-flight request answered");
    assert_eq!(answered.status(), 200);
    let exited = server.exit_within(Duration::from_secs(20)).await;
    assert!(exited.expect("exited after the request").success());
}

#[tokio::test]
async fn after_the_grace_period_the_server_exits_anyway() {
    let mut stuck = sigterm_with_a_read_in_flight("1s").await;
    // Bounded wait for liveness, not a timing assertion: the lock is never released.
    let exited = stuck.server.exit_within(Duration::from_secs(10)).await;
    assert!(exited.expect("still running 10 s after SIGTERM").success());
}

/// What `tsapi ARGS` prints as help, which must succeed.
fn help(args: &[&str], env: &[(&str, &str)]) -> String {
    let out = tsapi(args, env);
    assert!(out.status.success(), "{}", stderr(&out));
    String::from_utf8(out.stdout).expect("UTF-8 help")
}

#[test]
fn help_names_each_setting_and_its_variable_but_no_secret_value() {
    let top = help(&["--help"], &[]);
    for command in [
        "serve",
        "migrate",
        "demo-data",
        "load",
        "keygen",
        "DATABASE_URL",
    ] {
        assert!(top.contains(command), "{command} missing from:\n{top}");
    }

    let secrets = [
        ("DATABASE_URL", "postgres://u:url-secret@db.example/prices"),
        ("DB_PASS", "pass-secret"),
        ("TSAPI_PAGE_TOKEN_KEY", "token-secret-0123456789"),
        ("TSAPI_API_KEYS", "ops:read:key-digest-secret"),
    ];
    let help = help(&["serve", "--help"], &secrets);
    for var in [
        "DATABASE_URL",
        "DB_PASS",
        "DB_SSLMODE",
        "TSAPI_LISTEN",
        "TSAPI_POOL_SIZE",
        "TSAPI_STATEMENT_TIMEOUT",
        "TSAPI_PIPELINE_READS",
        "TSAPI_API_KEYS",
        "TSAPI_REQUEST_TIMEOUT",
    ] {
        assert!(
            help.contains(&format!("[env: {var}")),
            "{var} missing from:\n{help}"
        );
    }
    for secret in [
        "url-secret",
        "pass-secret",
        "token-secret",
        "key-digest-secret",
    ] {
        assert!(!help.contains(secret), "{secret} shown in:\n{help}");
    }

    let help = self::help(&["load", "--help"], &[]);
    for flag in ["--workers", "--batch-rows", "--on-conflict", "--format"] {
        assert!(help.contains(flag), "{flag} missing from:\n{help}");
    }
}
