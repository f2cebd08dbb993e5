//! Cold start of Lambda mode: the release binary started as the Lambda service starts it,
//! against the local stand-in of the Runtime API and a real TimescaleDB.
//!
//! Per run: time from process start to its first `GET /invocation/next` (the end of init),
//! to the first answered invocation (`{}`, the latest bar of every symbol, which opens the
//! database connection), peak RSS (`VmHWM`) after it, and one warm invocation. Prints
//! medians. Run: `cargo bench --bench coldstart` (database: `TSAPI_BENCH_DATABASE_URL`,
//! default the local cluster's `postgres://tsapi:tsapi@127.0.0.1:54329/postgres`).

#[path = "../tests/common/lambda_process.rs"]
#[allow(dead_code)]
mod lambda_process;
#[path = "../tests/common/runtime_api.rs"]
#[allow(dead_code)]
mod runtime_api;

use std::process::Command;
use std::time::{Duration, Instant};

use lambda_process::{LambdaProcess, runtime_env};
use runtime_api::{Outcome, RuntimeApi};
use serde_json::json;

const RUNS: usize = 11;
const BENCH_DB: &str = "tsapi_bench_coldstart";
const BINARY: &str = env!("CARGO_BIN_EXE_tsapi");

#[tokio::main]
async fn main() {
    let admin = std::env::var("TSAPI_BENCH_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://tsapi:tsapi@127.0.0.1:54329/postgres".into());
    let url = prepare_database(&admin).await;

    let (mut to_next, mut to_answer, mut warm, mut peak_rss) = (vec![], vec![], vec![], vec![]);
    for _ in 0..RUNS {
        let api = RuntimeApi::start().await;
        // Queued first, so the function's first poll is answered at once.
        api.queue(json!({}));
        let mut env = runtime_env(&api.address);
        env.push(("DATABASE_URL".into(), url.clone()));
        let process = LambdaProcess::start(BINARY, &env);
        let (answered, outcome) = api.next_outcome_at().await;
        expect_ok(&outcome);
        to_answer.push(answered - process.started);
        to_next.push(api.first_next().expect("polled") - process.started);
        peak_rss.push(process.peak_rss_kib().expect("VmHWM"));

        let sent = Instant::now();
        expect_ok(&api.invoke(json!({})).await);
        warm.push(sent.elapsed());
    }
    drop_database(&admin).await;

    println!("tsapi Lambda cold start, {RUNS} runs (medians; min..max)");
    println!(
        "  start -> first /invocation/next : {}",
        durations(&mut to_next)
    );
    println!(
        "  start -> first answered {{}}     : {}",
        durations(&mut to_answer)
    );
    println!(
        "  warm invocation ({{}})           : {}",
        durations(&mut warm)
    );
    peak_rss.sort_unstable();
    println!(
        "  peak RSS (VmHWM)                : {:.1} MiB; {:.1}..{:.1}",
        mib(peak_rss[RUNS / 2]),
        mib(peak_rss[0]),
        mib(peak_rss[RUNS - 1])
    );
}

fn expect_ok(outcome: &Outcome) {
    match outcome {
        Outcome::Response { body, .. } if body["statusCode"] == 200 => {}
        other => panic!("the invocation failed: {other:?}"),
    }
}

fn durations(values: &mut [Duration]) -> String {
    values.sort_unstable();
    let ms = |d: Duration| d.as_secs_f64() * 1000.0;
    format!(
        "{:.1} ms; {:.1}..{:.1}",
        ms(values[values.len() / 2]),
        ms(values[0]),
        ms(values[values.len() - 1])
    )
}

fn mib(kib: u64) -> f64 {
    kib as f64 / 1024.0
}

/// A fresh database with the schema and the demo data (46,800 bars of six symbols).
async fn prepare_database(admin: &str) -> String {
    drop_database(admin).await;
    sql(admin, &format!("CREATE DATABASE {BENCH_DB}")).await;
    let (base, _) = admin.rsplit_once('/').expect("URL with a database name");
    let url = format!("{base}/{BENCH_DB}");
    for command in [&["migrate"][..], &["demo-data"][..]] {
        let status = Command::new(BINARY)
            .args(command)
            .env("DATABASE_URL", &url)
            .status()
            .expect("run tsapi");
        assert!(status.success(), "tsapi {command:?} failed");
    }
    url
}

async fn drop_database(admin: &str) {
    sql(
        admin,
        &format!("DROP DATABASE IF EXISTS {BENCH_DB} WITH (FORCE)"),
    )
    .await;
}

async fn sql(url: &str, statement: &str) {
    let (client, connection) = tokio_postgres::connect(url, tokio_postgres::NoTls)
        .await
        .expect("connect to the benchmark database server");
    tokio::spawn(connection);
    client.batch_execute(statement).await.expect(statement);
}
