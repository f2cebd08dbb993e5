//! `POST /v1/bars`: four body formats, gzip, the conflict modes, limits and atomicity,
//! over real HTTP against a real TimescaleDB.

mod common;

use common::answers::{error_places, expect_ok_json as counts};
use common::bodies::gzip;
use common::{Schema, TestApp, api_defaults, expect_problem, expect_problem_saying};
use serde_json::{Value, json};

const NDJSON: &str = "application/x-ndjson";
const CSV: &str = "text/csv";
const JSON: &str = "application/json";

/// One NDJSON line: symbol `sym`, minute `i` after 2021-11-12 15:00 UTC.
fn ndjson_line(sym: &str, i: u32, close: f64) -> String {
    let base: chrono::DateTime<chrono::Utc> = "2021-11-12T15:00:00Z".parse().unwrap();
    let time = (base + chrono::Duration::minutes(i.into())).format("%Y-%m-%dT%H:%M:%SZ");
    format!(
        r#"{{"time": "{time}", "symbol": "{sym}", "price_close": {close}, "trading_volume": {i}}}"#
    )
}

fn ndjson_body(sym: &str, rows: u32) -> String {
    (0..rows)
        .map(|i| ndjson_line(sym, i, 100.0 + f64::from(i)))
        .collect::<Vec<_>>()
        .join("\n")
}

/// `POST /v1/bars{query}` with `body` of `content_type`.
async fn post(
    app: &TestApp,
    query: &str,
    content_type: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    app.post_as(&format!("/v1/bars{query}"), content_type, body)
        .await
}

/// `POST /v1/bars{query}` with `body` of `content_type`, gzip-compressed.
async fn post_gzip(
    app: &TestApp,
    query: &str,
    content_type: &str,
    body: &str,
) -> reqwest::Response {
    let headers = [("content-type", content_type), ("content-encoding", "gzip")];
    app.post_with(&format!("/v1/bars{query}"), &headers, gzip(body))
        .await
}

/// The headers of an NDJSON body sent gzip-compressed (whatever it holds).
const GZIP_NDJSON: [(&str, &str); 2] = [("content-type", NDJSON), ("content-encoding", "gzip")];

fn written(inserted: u64, updated: u64, skipped: u64) -> Value {
    json!({ "inserted": inserted, "updated": updated, "skipped": skipped })
}

/// The bars every format below encodes: fields in an odd order, optional ones missing.
/// (Rows read back skip NULL columns.)
const EXPECTED: [&str; 2] = [
    "AAPL|2021-11-12T15:00:00Z|3|2|1|4|17291",
    "MSFT|2021-11-12T16:00:00Z",
];

#[tokio::test]
async fn every_format_stores_fields_matched_by_name() {
    let first = r#"{"price_high": 2, "trading_volume": 17291.0, "price_close": 4, "symbol": "AAPL", "price_low": 1, "time": "2021-11-12 15:00:00", "price_open": 3}"#;
    let second = r#"{"symbol": "MSFT", "time": "2021-11-12T17:00:00+01:00", "price_open": null}"#;
    let bodies = [
        (JSON, format!(r#"{{"records": [{first}, {second}]}}"#)),
        (JSON, format!("[{first},\n {second}]")),
        (NDJSON, format!("{first}\n\n{second}\n")),
        (NDJSON, format!("{first}\r\n{second}")),
        (
            CSV,
            "symbol,trading_volume,time,price_close,price_open,price_high,price_low\n\
             AAPL,17291,2021-11-12 15:00:00,4,3,2,1\n\
             MSFT,,2021-11-12T17:00:00+01:00,,,,\n"
                .to_owned(),
        ),
        (
            "text/csv; charset=utf-8",
            "time,symbol,price_open,price_high,price_low,price_close,trading_volume\r\n\
             2021-11-12 15:00:00,AAPL,3,2,1,4,17291.0\r\n\
             \"2021-11-12 16:00:00\",\"MSFT\",,,,,\r\n"
                .to_owned(),
        ),
    ];
    for (content_type, body) in bodies {
        for compressed in [false, true] {
            let app = TestApp::spawn().await;
            let response = if compressed {
                post_gzip(&app, "", content_type, &body).await
            } else {
                post(&app, "", content_type, body.clone()).await
            };
            assert_eq!(counts(response).await, written(2, 0, 0), "{content_type}");
            assert_eq!(app.db.rows().await, EXPECTED, "{content_type}: {body}");
        }
    }
}

#[tokio::test]
async fn csv_may_leave_out_optional_columns() {
    let app = TestApp::spawn().await;
    let body = "time,symbol,price_close\n2021-11-12 15:00:00,AAPL,4.5\n";
    assert_eq!(
        counts(post(&app, "", CSV, body).await).await,
        written(1, 0, 0)
    );
    assert_eq!(app.db.rows().await, ["AAPL|2021-11-12T15:00:00Z|4.5"]);
}

#[tokio::test]
async fn many_batches_in_one_request() {
    let app = TestApp::spawn().await;
    let body = ndjson_body("BIG", 12_345);
    assert_eq!(
        counts(post(&app, "", NDJSON, body).await).await,
        written(12_345, 0, 0)
    );
    assert_eq!(app.db.count().await, 12_345);
}

#[tokio::test]
async fn on_conflict_error_is_409_naming_the_duplicate_and_stores_nothing() {
    let app = TestApp::spawn().await;
    let first = ndjson_line("AAPL", 3, 1.0);
    counts(post(&app, "", NDJSON, first.clone()).await).await;
    // Duplicate of the stored bar, deep in a body of several batches.
    let mut lines: Vec<String> = (0..6_000).map(|i| ndjson_line("MSFT", i, 2.0)).collect();
    lines.push(first);
    for query in ["", "?on_conflict=error"] {
        let problem = expect_problem(post(&app, query, NDJSON, lines.join("\n")).await, 409).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("AAPL") && detail.contains("15:03:00"),
            "{detail}"
        );
        assert_eq!(app.db.count().await, 1);
    }
    // A duplicate within one request is a conflict too.
    let twice = format!("{}\n{}", ndjson_line("X", 0, 1.0), ndjson_line("X", 0, 2.0));
    expect_problem(post(&app, "", NDJSON, twice).await, 409).await;
    assert_eq!(app.db.count().await, 1);
}

#[tokio::test]
async fn on_conflict_ignore_keeps_stored_bars_and_counts_skipped_ones() {
    let app = TestApp::spawn().await;
    counts(post(&app, "", NDJSON, ndjson_line("AAPL", 1, 1.0)).await).await;
    let body = [
        ndjson_line("AAPL", 0, 9.0),
        ndjson_line("AAPL", 1, 9.0),
        ndjson_line("AAPL", 2, 9.0),
    ]
    .join("\n");
    let answer = counts(post(&app, "?on_conflict=ignore", NDJSON, body).await).await;
    assert_eq!(answer, written(2, 0, 1));
    let rows = app.db.rows().await;
    assert_eq!(rows.len(), 3);
    assert_eq!(rows[0], "AAPL|2021-11-12T15:00:00Z|9|0");
    assert_eq!(rows[1], "AAPL|2021-11-12T15:01:00Z|1|1");
    assert_eq!(rows[2], "AAPL|2021-11-12T15:02:00Z|9|2");
}

#[tokio::test]
async fn on_conflict_update_overwrites_given_fields_and_the_last_write_wins() {
    let app = TestApp::spawn().await;
    counts(post(&app, "", NDJSON, ndjson_line("AAPL", 1, 1.0)).await).await;
    let body = "time,symbol,price_close\n\
                2021-11-12T15:01:00Z,AAPL,7\n\
                2021-11-12T15:02:00Z,AAPL,8\n\
                2021-11-12T15:01:00Z,AAPL,9\n";
    let answer = counts(post(&app, "?on_conflict=update", CSV, body).await).await;
    assert_eq!(answer, written(1, 1, 1));
    // The stored volume (1) is kept: the update gives no volume.
    assert_eq!(
        app.db.rows().await,
        [
            "AAPL|2021-11-12T15:01:00Z|9|1",
            "AAPL|2021-11-12T15:02:00Z|8"
        ]
    );
}

#[tokio::test]
async fn an_unknown_conflict_mode_is_400() {
    let app = TestApp::spawn().await;
    let refused = post(
        &app,
        "?on_conflict=replace",
        NDJSON,
        ndjson_line("A", 0, 1.0),
    )
    .await;
    expect_problem_saying(refused, 400, "on_conflict").await;
    assert_eq!(app.db.count().await, 0);
}

/// A bad record at the very end of a body of several batches: the earlier batches were
/// already copied, and still nothing is stored.
#[tokio::test]
async fn a_bad_row_at_the_end_of_a_large_body_stores_nothing() {
    let app = TestApp::spawn().await;
    let mut body = ndjson_body("BIG", 20_000);
    body.push('\n');
    body.push_str(r#"{"time": "2021-11-13T00:00:00Z", "symbol": "BIG", "trading_volume": 1.5}"#);
    for (query, compressed) in [("", false), ("?on_conflict=update", true)] {
        let response = if compressed {
            post_gzip(&app, query, NDJSON, &body).await
        } else {
            post(&app, query, NDJSON, body.clone()).await
        };
        let problem = expect_problem(response, 422).await;
        assert_eq!(
            problem["errors"],
            json!([{"index": 20_000, "line": 20_001, "field": "trading_volume",
                    "message": "1.5 is not an integer"}])
        );
        assert_eq!(app.db.count().await, 0);
    }
    // The same at the end of a CSV body and of a JSON array.
    let mut csv = String::from("time,symbol\n");
    for i in 0..12_000 {
        csv.push_str(&format!("2021-11-12T10:00:{:02}.{i:05}Z,CSV\n", i % 60));
    }
    csv.push_str("2021-11-12T23:00:00Z,\n");
    let problem = expect_problem(post(&app, "", CSV, csv).await, 422).await;
    assert_eq!(problem["errors"][0]["line"], 12_002);
    assert_eq!(problem["errors"][0]["field"], "symbol");
    let mut array: Vec<Value> = (0..7_000)
        .map(|i| serde_json::from_str(&ndjson_line("ARR", i, 1.0)).unwrap())
        .collect();
    array.push(json!({"time": "2021-11-12", "symbol": "ARR", "price_open": "1"}));
    let problem = expect_problem(
        post(&app, "", JSON, Value::from(array).to_string()).await,
        422,
    )
    .await;
    assert_eq!(problem["errors"][0]["index"], 7_000);
    assert_eq!(problem["errors"][0]["field"], "price_open");
    assert_eq!(app.db.count().await, 0);
}

#[tokio::test]
async fn bad_records_are_named_by_line_and_field_in_every_format() {
    let app = TestApp::spawn().await;
    let ndjson = format!(
        "{}\n{}\n\n{}\n",
        ndjson_line("OK", 0, 1.0),
        r#"{"time": "soon", "symbol": "OK", "volume": 3}"#,
        r#"{"time": "2021-11-12", "symbol": "A B", "price_high": null, "price_low": "1"}"#
    );
    let problem = expect_problem(post(&app, "", NDJSON, ndjson).await, 422).await;
    let located: Vec<(u64, u64, &str)> = problem["errors"]
        .as_array()
        .unwrap()
        .iter()
        .map(|e| {
            (
                e["index"].as_u64().unwrap(),
                e["line"].as_u64().unwrap(),
                e["field"].as_str().unwrap(),
            )
        })
        .collect();
    assert_eq!(
        located,
        [
            (1, 2, "volume"),
            (1, 2, "time"),
            (2, 4, "symbol"),
            (2, 4, "price_low")
        ]
    );
    let csv = "time,symbol,price_open,trading_volume\n\
               2021-11-12,OK,1,2\n\
               2021-11-12,OK,one,2\n\
               2021-11-13,OK,NaN,99999999999999999999\n";
    let problem = expect_problem(post(&app, "", CSV, csv).await, 422).await;
    assert_eq!(
        error_places(&problem, "line"),
        [(3, "price_open"), (4, "price_open"), (4, "trading_volume")]
    );
    assert_eq!(app.db.count().await, 0);
}

#[tokio::test]
async fn malformed_bodies_are_400_naming_the_line() {
    let app = TestApp::spawn().await;
    for (content_type, body, hint) in [
        (
            NDJSON,
            format!("{}\n{{\"time\": \n", ndjson_line("A", 0, 1.0)),
            "line 2",
        ),
        (
            NDJSON,
            format!("{}\n[1]x\n", ndjson_line("A", 0, 1.0)),
            "line 2",
        ),
        (
            CSV,
            "time,symbol,colour\n2021-11-12,A,red\n".into(),
            "unknown column \"colour\"",
        ),
        (CSV, "price_open\n1\n".into(), "no \"time\" column"),
        (CSV, String::new(), "header"),
        (
            CSV,
            "time,symbol\n2021-11-12,A\n2021-11-12,B,3\n".into(),
            "line 3",
        ),
        (JSON, "{\"records\": [".into(), "not valid JSON"),
        (JSON, "{\"rows\": []}".into(), "unknown top-level field"),
        (JSON, "5".into(), "array of records"),
    ] {
        let problem = expect_problem(post(&app, "", content_type, body.clone()).await, 400).await;
        let detail = problem["detail"].as_str().unwrap();
        assert!(detail.contains(hint), "{body:?}: {detail}");
    }
    assert_eq!(app.db.count().await, 0);
}

#[tokio::test]
async fn malformed_gzip_is_400() {
    let app = TestApp::spawn().await;
    let mut truncated = gzip(ndjson_body("GZ", 10_000));
    truncated.truncate(truncated.len() / 2);
    for body in [b"not gzip at all".to_vec(), truncated] {
        let refused = app.post_with("/v1/bars", &GZIP_NDJSON, body).await;
        expect_problem_saying(refused, 400, "gzip").await;
    }
    assert_eq!(app.db.count().await, 0);
}

#[tokio::test]
async fn unsupported_types_and_encodings_are_415() {
    let app = TestApp::spawn().await;
    let line = ndjson_line("A", 0, 1.0);
    for content_type in [
        "text/plain",
        "application/xml",
        "application/x-www-form-urlencoded",
    ] {
        let refused = post(&app, "", content_type, line.clone()).await;
        expect_problem_saying(refused, 415, "text/csv").await;
    }
    let untyped = app.post_with("/v1/bars", &[], line.clone()).await;
    expect_problem(untyped, 415).await;
    let brotli = [("content-type", NDJSON), ("content-encoding", "br")];
    let refused = app.post_with("/v1/bars", &brotli, line).await;
    expect_problem_saying(refused, 415, "br").await;
    assert_eq!(app.db.count().await, 0);
}

#[tokio::test]
async fn row_and_byte_limits_are_413() {
    let mut api = api_defaults();
    api.bulk_max_rows = 100;
    api.bulk_body_limit = 64 * 1024;
    let app = TestApp::spawn_with(Schema::Migrated, api).await;
    let ok = ndjson_body("LIM", 100);
    assert_eq!(
        counts(post(&app, "", NDJSON, ok).await).await,
        written(100, 0, 0)
    );
    let refused = post(&app, "", NDJSON, ndjson_body("MORE", 101)).await;
    expect_problem_saying(refused, 413, "100").await;
    // Too many bytes, announced or streamed, and too many once gunzipped.
    let big = format!("{}\n{}", ndjson_line("B", 0, 1.0), " ".repeat(70 * 1024));
    let refused = post(&app, "", NDJSON, big.clone()).await;
    expect_problem_saying(refused, 413, "65536").await;
    let chunks: Vec<Result<String, std::io::Error>> = big
        .as_bytes()
        .chunks(8 * 1024)
        .map(|c| Ok(String::from_utf8(c.to_vec()).unwrap()))
        .collect();
    let streamed = reqwest::Body::wrap_stream(futures_util::stream::iter(chunks));
    expect_problem(post(&app, "", NDJSON, streamed).await, 413).await;
    let bomb = gzip(&big);
    assert!(bomb.len() < 64 * 1024);
    expect_problem(app.post_with("/v1/bars", &GZIP_NDJSON, bomb).await, 413).await;
    assert_eq!(app.db.count().await, 100);
}

#[tokio::test]
async fn insert_keeps_its_contract_on_the_same_copy_path() {
    let app = TestApp::spawn().await;
    let records: Vec<Value> = (0..600)
        .map(|i| serde_json::from_str(&ndjson_line("INS", i, 1.0)).unwrap())
        .collect();
    let body = json!({ "records": records }).to_string();
    let response = app.post_json("/insert", body.clone()).await;
    assert_eq!(response.status(), 200);
    assert_eq!(
        response.json::<Value>().await.unwrap(),
        json!({"inserted": 600})
    );
    expect_problem(app.post_json("/insert", body).await, 409).await;
    assert_eq!(app.db.count().await, 600);
}
