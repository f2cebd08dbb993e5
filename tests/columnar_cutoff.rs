//! Columnar answers that the database stops part way: what a user holds afterwards must
//! fail to read (never a whole-looking file with rows missing), a failed `tsapi export`
//! leaves no file, and the server goes on serving.

mod common;

use std::process::Stdio;
use std::time::{Duration, Instant};

use common::process::{ServerProcess, tsapi_command};
use common::readers::{failures, read, rows_by_reader};
use common::{Schema, TestDb};
use futures_util::StreamExt;

/// 100 symbols of one-minute buckets over two months, every empty one filled: 8.6M rows
/// the database makes from nothing, far more than a statement of three seconds sends.
fn filled_buckets() -> String {
    let symbols: Vec<String> = (1..=100).map(|i| format!("S{i:03}")).collect();
    format!(
        "/v1/bars?symbols={}&interval=1min&fill=null&start=2020-01-01&end=2020-03-01",
        symbols.join(",")
    )
}

/// The body as it arrived, and whether the connection failed before its end.
async fn receive(response: reqwest::Response) -> (Vec<u8>, bool) {
    let mut body = Vec::new();
    let mut chunks = response.bytes_stream();
    while let Some(chunk) = chunks.next().await {
        match chunk {
            Ok(bytes) => body.extend_from_slice(&bytes),
            Err(_) => return (body, true),
        }
    }
    (body, false)
}

/// Every reader (pyarrow, polars, DuckDB) fails on `body`.
fn assert_no_reader_takes(kind: &str, body: &[u8]) {
    let report = failures(kind, body);
    for reader in common::readers::READERS {
        let error = report[reader].as_str();
        assert!(
            error.is_some(),
            "{reader} read a cut-off {kind} answer ({} bytes) as whole: {report}",
            body.len()
        );
    }
}

#[tokio::test]
async fn an_answer_cut_off_by_the_statement_timeout_fails_to_read_and_the_server_goes_on() {
    let db = TestDb::new(Schema::Migrated).await;
    let server = ServerProcess::start(
        &db.url,
        &[("TSAPI_AUTH", "none"), ("TSAPI_STATEMENT_TIMEOUT", "3s")],
    )
    .await;
    let client = reqwest::Client::new();
    for (kind, media_type) in [
        ("arrow", "application/vnd.apache.arrow.stream"),
        ("parquet", "application/vnd.apache.parquet"),
    ] {
        let url = server.url(&format!("{}&format={kind}", filled_buckets()));
        let response = client.get(url).send().await.unwrap();
        // The headers left with the first bytes, before the statement was cancelled.
        assert_eq!(response.status(), 200, "{kind}");
        assert_eq!(response.headers()["content-type"], media_type);
        let started = Instant::now();
        let (body, failed) = receive(response).await;
        assert!(
            failed,
            "{kind}: the connection must break, not end as if the answer were whole"
        );
        assert!(started.elapsed() < Duration::from_secs(20), "{kind}");
        if kind == "arrow" {
            // At least the schema left (Parquet's first bytes wait for its first row group).
            assert!(!body.is_empty(), "{kind}: the answer had started");
        }
        assert_no_reader_takes(kind, &body);
    }
    // The server still answers, on the same pool.
    let ready = client.get(server.url("/readyz")).send().await.unwrap();
    assert_eq!(ready.status(), 200);
    let small = client
        .get(server.url("/v1/bars?symbols=S001&interval=1d&fill=null&start=2020-01-01&end=2020-01-11&format=arrow"))
        .send()
        .await
        .unwrap();
    assert_eq!(small.status(), 200);
    let report = read("arrow", &small.bytes().await.unwrap());
    for (reader, rows) in rows_by_reader(&report, true) {
        assert_eq!(rows.len(), 10, "{reader}");
    }
}

/// Stored bars enough that the export is still reading when its connection is cut.
async fn many_bars(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "INSERT INTO stocks_intraday \
             SELECT '2020-01-01'::timestamptz + g * interval '1 minute', 'MANY', \
                    100 + g % 97, 101 + g % 89, 99 + g % 83, 100 + g % 79, g \
             FROM generate_series(0, 399999) g",
        )
        .await
        .unwrap();
}

/// Terminates the backend that reads `MANY` for an export once it has been sending rows
/// for a while.
async fn terminate_the_export_backend(db: &TestDb) {
    let admin = db.client().await;
    let deadline = Instant::now() + Duration::from_secs(60);
    loop {
        assert!(Instant::now() < deadline, "the export never read for long");
        let rows = admin
            .query(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
                 WHERE datname = current_database() AND pid <> pg_backend_pid() \
                   AND state = 'active' AND query LIKE '%stocks_intraday%' \
                   AND now() - query_start > interval '300 ms'",
                &[],
            )
            .await
            .unwrap();
        if !rows.is_empty() {
            return;
        }
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

#[tokio::test]
async fn an_export_whose_connection_dies_leaves_no_file_and_keeps_an_older_one() {
    let db = TestDb::new(Schema::Migrated).await;
    many_bars(&db).await;
    for kind in ["arrow", "parquet"] {
        let dir = std::env::temp_dir().join(format!("tsapi-cutoff-{}", uuid::Uuid::new_v4()));
        std::fs::create_dir_all(&dir).unwrap();
        let fresh = dir.join(format!("fresh.{kind}"));
        // An older export of that name stays as it was.
        let kept = dir.join(format!("kept.{kind}"));
        std::fs::write(&kept, b"an older export").unwrap();
        for path in [&fresh, &kept] {
            let child = tsapi_command()
                .args(["export", "--symbols", "MANY", "-o"])
                .arg(path)
                .env("DATABASE_URL", &db.url)
                .stdout(Stdio::null())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap();
            terminate_the_export_backend(&db).await;
            let out = tokio::task::spawn_blocking(move || child.wait_with_output())
                .await
                .unwrap()
                .unwrap();
            let stderr = String::from_utf8_lossy(&out.stderr);
            assert!(!out.status.success(), "{kind}: {stderr}");
            assert!(!stderr.contains("exported"), "{kind}: {stderr}");
            let names: Vec<String> = std::fs::read_dir(&dir)
                .unwrap()
                .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
                .collect();
            assert_eq!(names, [format!("kept.{kind}")], "{kind}: {stderr}");
        }
        assert_eq!(std::fs::read(&kept).unwrap(), b"an older export");
        let _ = std::fs::remove_dir_all(&dir);
    }
}
