//! Bounded memory for every body: one huge value inside a small gzip body is refused with a
//! short 4xx naming its record and field, and the server's peak memory stays small. The
//! server runs as the real binary in its own process, so its peak RSS (VmHWM) is its own.

mod common;

use std::process::Stdio;

use common::process::ServerProcess;
use common::{Schema, TestApp, TestDb, api_defaults, expect_problem};
use flate2::{Compress, Compression, Crc, FlushCompress};
use serde_json::Value;

/// How much one value expands to: far beyond any sane bound.
const BOMB_BYTES: usize = 400 * 1024 * 1024;

/// The real binary over its own database, so that its peak memory is its own.
async fn start_server() -> (TestDb, ServerProcess) {
    let db = TestDb::new(Schema::Migrated).await;
    let server = ServerProcess::start_with(&db.url, &[("TSAPI_AUTH", "none")], |command| {
        command.stderr(Stdio::null());
    })
    .await;
    (db, server)
}

/// A gzip stream of `prefix`, then `fill` repeated `BOMB_BYTES` times, then `suffix`, built
/// from one compressed megabyte repeated, so making it is quick.
fn gzip_bomb(prefix: &str, fill: u8, suffix: &str) -> Vec<u8> {
    const CHUNK: usize = 1 << 20;
    let mut deflate = Compress::new(Compression::best(), false);
    let mut out = vec![0x1f, 0x8b, 8, 0, 0, 0, 0, 0, 2, 255];
    let mut compress = |input: &[u8], flush: FlushCompress, out: &mut Vec<u8>| {
        let start = out.len();
        out.reserve(input.len() + 1024);
        let before = deflate.total_in();
        deflate.compress_vec(input, out, flush).unwrap();
        assert_eq!((deflate.total_in() - before) as usize, input.len());
        out.len() - start
    };
    compress(prefix.as_bytes(), FlushCompress::Sync, &mut out);
    let chunk = vec![fill; CHUNK];
    compress(&chunk, FlushCompress::Sync, &mut out);
    // From the second megabyte on the window holds only `fill`: every further megabyte
    // compresses to the same bytes.
    let start = out.len();
    compress(&chunk, FlushCompress::Sync, &mut out);
    let repeated = out[start..].to_vec();
    for _ in 2..BOMB_BYTES / CHUNK {
        out.extend_from_slice(&repeated);
    }
    let mut tail = Vec::with_capacity(suffix.len() + 64);
    compress(suffix.as_bytes(), FlushCompress::Finish, &mut tail);
    out.extend_from_slice(&tail);
    let mut crc = Crc::new();
    crc.update(prefix.as_bytes());
    let mut chunk_crc = Crc::new();
    chunk_crc.update(&chunk);
    for _ in 0..BOMB_BYTES / CHUNK {
        crc.combine(&chunk_crc);
    }
    crc.update(suffix.as_bytes());
    out.extend_from_slice(&crc.sum().to_le_bytes());
    out.extend_from_slice(&crc.amount().to_le_bytes());
    out
}

/// Sends the bomb and checks the answer: a short 4xx that names the record and field.
async fn refuses_the_bomb(path: &str, content_type: &str, body: Vec<u8>, field: &str) {
    assert!(
        body.len() <= 1024 * 1024,
        "the gzip is {} bytes",
        body.len()
    );
    let (_db, server) = start_server().await;
    let before = server.memory_kb("VmHWM");
    let response = reqwest::Client::new()
        .post(server.url(path))
        .header("content-type", content_type)
        .header("content-encoding", "gzip")
        .body(body)
        .send()
        .await
        .expect("an answer");
    let status = response.status().as_u16();
    let text = response.text().await.unwrap();
    let after = server.memory_kb("VmHWM");
    eprintln!(
        "{path} {content_type}: {status}, answer {} bytes, VmHWM {before} KiB -> {after} KiB",
        text.len()
    );
    assert!((400..500).contains(&status), "{status}: {:.300}", text);
    assert!(text.len() < 8 * 1024, "the answer is {} bytes", text.len());
    let problem: Value = serde_json::from_str(&text).unwrap();
    let error = &problem["errors"][0];
    assert_eq!(error["index"], 0, "{problem}");
    assert_eq!(error["field"], field, "{problem}");
    assert!(after < 64 * 1024, "peak RSS {after} KiB");
}

#[tokio::test]
async fn a_json_bomb_in_one_string_is_refused_in_bounded_memory() {
    let body = gzip_bomb(
        r#"{"records": [{"time": "2021-11-12", "symbol": "AAPL", "price_close": ""#,
        b'A',
        r#""}]}"#,
    );
    refuses_the_bomb("/v1/bars", "application/json", body, "price_close").await;
}

#[tokio::test]
async fn a_csv_bomb_in_one_cell_is_refused_in_bounded_memory() {
    let body = gzip_bomb("time,symbol,price_close\n2021-11-12,AAPL,", b'7', "\n");
    refuses_the_bomb("/v1/bars", "text/csv", body, "price_close").await;
}

#[tokio::test]
async fn an_ndjson_bomb_in_one_line_is_refused_in_bounded_memory() {
    let body = gzip_bomb(
        r#"{"time": "2021-11-12", "symbol": "AAPL", "price_close": ""#,
        b'A',
        "\"}\n",
    );
    refuses_the_bomb("/v1/bars", "application/x-ndjson", body, "price_close").await;
}

#[tokio::test]
async fn a_json_bomb_sent_to_insert_is_refused_in_bounded_memory() {
    let body = gzip_bomb(
        r#"{"records": {"symbol": "AAPL", "time": ""#,
        b'2',
        r#""}}"#,
    );
    refuses_the_bomb("/insert", "application/json", body, "time").await;
}

/// A long bad value is quoted in part, with its length, never whole.
#[tokio::test]
async fn error_messages_quote_at_most_80_characters_of_input() {
    let app = TestApp::spawn_with(Schema::Migrated, api_defaults()).await;
    let long = "Z".repeat(900);
    let bodies = [
        (
            "application/json",
            format!(r#"[{{"time": "{long}", "symbol": "AAPL", "price_open": "{long}"}}]"#),
        ),
        (
            "text/csv",
            format!("time,symbol,price_open,trading_volume\n{long},AAPL,{long},{long}\n"),
        ),
        (
            "application/json",
            format!(r#"[{{"time": "2021-11-12", "symbol": "AAPL", "{long}": 1}}]"#),
        ),
        ("text/csv", format!("time,symbol,{long}\n")),
    ];
    for (content_type, body) in bodies {
        let response = app.post_as("/v1/bars", content_type, body).await;
        let status = response.status().as_u16();
        assert!(status == 400 || status == 422, "{status}");
        let problem = expect_problem(response, status).await;
        let text = problem.to_string();
        assert!(!text.contains(&"Z".repeat(81)), "{text}");
        assert!(text.contains("900 bytes"), "{text}");
    }
    assert_eq!(app.db.count().await, 0);
}

/// Values, JSON strings and CSV rows have byte bounds of their own (settings), far below
/// the body limit.
#[tokio::test]
async fn values_and_rows_over_their_bounds_are_refused_by_record_and_field() {
    let mut api = api_defaults();
    api.max_value_bytes = 64;
    api.max_line_bytes = 256;
    let app = TestApp::spawn_with(Schema::Migrated, api).await;
    let ok = r#"{"time": "2021-11-12", "symbol": "AAPL"}"#;
    let ok2 = r#"{"time": "2021-11-13", "symbol": "AAPL"}"#;
    let cases = [
        (
            "application/json",
            format!(
                r#"[{ok}, {{"time": "2021-11-12", "symbol": "{}"}}]"#,
                "S".repeat(65)
            ),
            1,
            Some("symbol"),
        ),
        (
            "application/json",
            format!(
                r#"[{ok}, {ok2}, {{"time": "2021-11-12", "symbol": "X", "{}": 1}}]"#,
                "k".repeat(65)
            ),
            2,
            None,
        ),
        (
            "text/csv",
            format!(
                "symbol,time,price_open\nAAPL,2021-11-12,1\nAAPL,2021-11-13,{}\n",
                "9".repeat(65)
            ),
            1,
            Some("price_open"),
        ),
        (
            "text/csv",
            // Each cell under the value bound, the row over the line bound.
            format!(
                "symbol,time,price_open\n{}\n",
                vec!["1".repeat(60); 5].join(",")
            ),
            0,
            None,
        ),
        (
            "application/x-ndjson",
            format!(
                "{ok}\n{{\"time\": \"2021-11-12\", \"symbol\": \"X\", \"price_open\": {}}}\n",
                "1".repeat(300)
            ),
            1,
            None,
        ),
    ];
    for (content_type, body, index, field) in cases {
        let response = app.post_as("/v1/bars", content_type, body.clone()).await;
        let problem = expect_problem(response, 422).await;
        let error = &problem["errors"][0];
        assert_eq!(error["index"], index, "{body}: {problem}");
        if let Some(field) = field {
            assert_eq!(error["field"], field, "{body}: {problem}");
        }
        let message = error["message"].as_str().unwrap();
        assert!(message.contains("longer than"), "{problem}");
    }
    assert_eq!(app.db.count().await, 0);
}
