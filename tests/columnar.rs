//! Arrow IPC and Parquet answers, read back with pyarrow, polars and DuckDB (pinned in
//! tests/py/requirements.txt) and compared value for value and type for type with the JSON
//! answer of the same request: nulls, the largest volume, times before 1970 and after 2038,
//! several record batches, empty answers, pages, and `tsapi export` files.

mod common;

use chrono::Duration;
use common::bars::{series, utc};
use common::pages::{bars_and_token, follow_pages, page_path};
use common::process::ServerProcess;
use common::readers::{Cells, json_cells, read, read_file, rows_by_reader};
use common::{Schema, TestDb};
use serde_json::Value;

const ARROW: &str = "application/vnd.apache.arrow.stream";
const PARQUET: &str = "application/vnd.apache.parquet";

/// Rows in BIG: more than one record batch (65,536 rows).
const BIG_ROWS: i64 = 70_000;

struct Setup {
    db: TestDb,
    server: ServerProcess,
}

/// AAPL and MSFT: two days of minute bars; BIG: 70,000 minute bars; EDGE: nulls, the
/// largest volumes, times before 1970 and after 2038, microseconds.
async fn setup() -> Setup {
    let db = TestDb::new(Schema::Migrated).await;
    let mut rows = Vec::new();
    for day in ["2021-11-01", "2021-11-03"] {
        for symbol in ["AAPL", "MSFT"] {
            let open = utc(&format!("{day}T13:30:00Z"));
            rows.extend(series(symbol, open, Duration::minutes(1), 120));
        }
    }
    let client = db.client().await;
    common::bars::store_with(&client, &rows).await;
    client
        .batch_execute(&format!(
            "INSERT INTO stocks_intraday \
             SELECT '2020-01-01'::timestamptz + g * interval '1 minute', 'BIG', \
                    100 + g % 97 / 4.0, 101 + g % 89 / 4.0, 99 + g % 83 / 4.0, 100 + g % 79 / 4.0, \
                    g * 1000, g % 500, 100 + g % 61 / 4.0 \
             FROM generate_series(0, {}) g;
             INSERT INTO stocks_intraday VALUES
               ('1960-01-01T00:00:00.000001Z', 'EDGE', 1.5, NULL, 0.25, 1.0, 9223372036854775807,
                9223372036854775807, 1.5),
               ('1969-07-20T20:17:40Z', 'EDGE', NULL, NULL, NULL, NULL, NULL, NULL, NULL),
               ('2040-02-29T12:00:00.123456Z', 'EDGE', 1e300, 5e-324, -0.0, 2.5, 0, 0, 5e-324),
               ('2100-01-01T00:00:00Z', 'EDGE', 3.0, 3.5, 2.5, 3.25, 9223372036854775806, NULL,
                3.125)",
            BIG_ROWS - 1
        ))
        .await
        .unwrap();
    db.refresh_catalog().await;
    let server = ServerProcess::start(&db.url, &[("TSAPI_AUTH", "none")]).await;
    Setup { db, server }
}

async fn get(setup: &Setup, path_and_query: &str, accept: Option<&str>) -> reqwest::Response {
    let mut request = reqwest::Client::new().get(setup.server.url(path_and_query));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    request.send().await.unwrap()
}

/// The body of a 200 answer of media type `media_type`.
async fn body(setup: &Setup, path_and_query: &str, media_type: &str) -> Vec<u8> {
    let response = get(setup, path_and_query, None).await;
    assert_eq!(response.status(), 200, "{path_and_query}");
    assert_eq!(response.headers()["content-type"], media_type);
    response.bytes().await.unwrap().to_vec()
}

/// Every bar of a JSON `/v1/bars` request, following its pages.
async fn json_bars(setup: &Setup, query: &str) -> Vec<Cells> {
    let (bars, _) = follow_pages(async |token| {
        let path = page_path(&format!("/v1/bars?{query}&limit=10000"), token);
        let page: Value = get(setup, &path, None).await.json().await.unwrap();
        bars_and_token(&page)
    })
    .await;
    bars.iter().map(json_cells).collect()
}

/// Reads `/v1/bars?{query}` as Arrow and as Parquet with every reader and compares each
/// with the JSON answer.
async fn assert_columnar_equals_json(setup: &Setup, query: &str, aggregated: bool) -> usize {
    let expected = json_bars(setup, query).await;
    for (kind, media_type) in [("arrow", ARROW), ("parquet", PARQUET)] {
        let answer = body(
            setup,
            &format!("/v1/bars?{query}&format={kind}"),
            media_type,
        )
        .await;
        let report = read(kind, &answer);
        for (reader, rows) in rows_by_reader(&report, aggregated) {
            assert_eq!(
                rows.len(),
                expected.len(),
                "{reader} {kind} rows of {query}"
            );
            for (i, (got, want)) in rows.iter().zip(&expected).enumerate() {
                assert_eq!(got, want, "{reader} {kind} row {i} of {query}");
            }
        }
    }
    expected.len()
}

#[tokio::test]
async fn stored_bars_read_by_pyarrow_polars_and_duckdb_equal_the_json_answer() {
    let setup = setup().await;
    let n = assert_columnar_equals_json(&setup, "symbols=MSFT,EDGE,AAPL,BIG", false).await;
    assert_eq!(n, 4 * 120 + BIG_ROWS as usize + 4);
    assert_columnar_equals_json(&setup, "symbols=EDGE&order=desc", false).await;
    assert_columnar_equals_json(
        &setup,
        "symbols=AAPL&start=2021-11-01T14:00:00Z&end=2021-11-03T14:00:00Z",
        false,
    )
    .await;
}

#[tokio::test]
async fn edge_values_survive_exactly() {
    let setup = setup().await;
    let answer = body(&setup, "/v1/bars?symbols=EDGE&format=parquet", PARQUET).await;
    let report = read("parquet", &answer);
    for (reader, rows) in rows_by_reader(&report, false) {
        let times: Vec<i64> = rows.iter().map(|r| r.0).collect();
        assert_eq!(
            times,
            [
                utc("1960-01-01T00:00:00.000001Z").timestamp_micros(),
                utc("1969-07-20T20:17:40Z").timestamp_micros(),
                utc("2040-02-29T12:00:00.123456Z").timestamp_micros(),
                utc("2100-01-01T00:00:00Z").timestamp_micros(),
            ],
            "{reader}"
        );
        assert_eq!(rows[0].6, Some(i64::MAX), "{reader}");
        assert_eq!(
            (rows[0].3, rows[1].2, rows[1].6),
            (None, None, None),
            "{reader}"
        );
        assert_eq!(
            (rows[2].2, rows[2].3),
            (Some(1e300), Some(5e-324)),
            "{reader}"
        );
    }
}

#[tokio::test]
async fn aggregates_and_filled_gaps_equal_the_json_answer() {
    let setup = setup().await;
    assert_columnar_equals_json(&setup, "symbols=AAPL,MSFT,BIG&interval=1h", true).await;
    // Empty buckets with null prices and count 0, in New York days.
    let n = assert_columnar_equals_json(
        &setup,
        "symbols=AAPL,MSFT&interval=1d&fill=null&start=2021-10-30&end=2021-11-05\
         &tz=America/New_York",
        true,
    )
    .await;
    assert_eq!(n, 2 * 6);
    assert_columnar_equals_json(
        &setup,
        "symbols=AAPL&interval=15min&fill=previous&start=2021-11-01T13:00:00Z\
         &end=2021-11-03T16:00:00Z&order=desc",
        true,
    )
    .await;
}

#[tokio::test]
async fn an_empty_answer_is_a_valid_file_with_the_schema_and_no_rows() {
    let setup = setup().await;
    for (query, aggregated) in [
        ("symbols=NOPE", false),
        ("symbols=AAPL&start=2030-01-01", false),
        (
            "symbols=NOPE,AAPL&interval=1d&start=1990-01-01&end=1990-02-01",
            true,
        ),
    ] {
        assert_eq!(json_bars(&setup, query).await, []);
        for (kind, media_type) in [("arrow", ARROW), ("parquet", PARQUET)] {
            let answer = body(
                &setup,
                &format!("/v1/bars?{query}&format={kind}"),
                media_type,
            )
            .await;
            let report = read(kind, &answer);
            for (reader, rows) in rows_by_reader(&report, aggregated) {
                assert!(rows.is_empty(), "{reader} {kind} {query}");
            }
        }
    }
}

#[tokio::test]
async fn accept_chooses_arrow_or_parquet_and_format_wins() {
    let setup = setup().await;
    let response = get(&setup, "/v1/bars?symbols=AAPL", Some(ARROW)).await;
    assert_eq!(response.headers()["content-type"], ARROW);
    let response = get(&setup, "/v1/bars?symbols=AAPL", Some(PARQUET)).await;
    assert_eq!(response.headers()["content-type"], PARQUET);
    let response = get(&setup, "/v1/bars?symbols=AAPL&format=json", Some(PARQUET)).await;
    assert_eq!(response.headers()["content-type"], "application/json");
}

#[tokio::test]
async fn arrow_pages_carry_the_next_token_in_a_header() {
    let setup = setup().await;
    let query = "symbols=AAPL,EDGE,MSFT&start=2021-11-03T15:00:00Z";
    let expected = json_bars(&setup, query).await;
    let (got, pages) = follow_pages(async |token| {
        let path = page_path(&format!("/v1/bars?{query}&format=arrow&limit=25"), token);
        let response = get(&setup, &path, None).await;
        assert_eq!(response.status(), 200);
        let next = response
            .headers()
            .get("next-page-token")
            .map(|v| v.to_str().unwrap().to_owned());
        let report = read("arrow", &response.bytes().await.unwrap());
        let mut by_reader = rows_by_reader(&report, false);
        let (_, rows) = by_reader.remove(0);
        assert!(rows.len() <= 25);
        assert!(by_reader.iter().all(|(_, r)| *r == rows));
        (rows, next)
    })
    .await;
    assert_eq!(pages, expected.len().div_ceil(25));
    assert_eq!(got, expected);
}

#[tokio::test]
async fn parquet_cut_at_its_limit_names_the_rest_in_its_footer() {
    let setup = setup().await;
    let query = "symbols=AAPL,MSFT&interval=5min";
    let expected = json_bars(&setup, query).await;
    let (got, _) = follow_pages(async |token| {
        let path = page_path(&format!("/v1/bars?{query}&format=parquet&limit=40"), token);
        let report = read("parquet", &body(&setup, &path, PARQUET).await);
        let next = report["metadata"]["next_page_token"]
            .as_str()
            .map(str::to_owned);
        let (_, rows) = rows_by_reader(&report, true).remove(0);
        (rows, next)
    })
    .await;
    assert_eq!(got, expected);
    assert_eq!(expected.len(), 4 * 24);
}

#[tokio::test]
async fn latest_and_daily_bars_of_the_market_come_as_arrow_and_parquet() {
    let setup = setup().await;
    for (path, key, aggregated) in [
        ("/v1/bars/latest?symbols=AAPL,EDGE,BIG", "bars", false),
        ("/v1/bars/latest", "bars", false),
        ("/v1/bars/grouped?date=2021-11-03", "bars", true),
        ("/v1/bars/previous?symbols=AAPL,MSFT", "bars", true),
    ] {
        let json: Value = get(&setup, path, None).await.json().await.unwrap();
        let expected: Vec<Cells> = json[key]
            .as_array()
            .unwrap()
            .iter()
            .map(json_cells)
            .collect();
        assert!(!expected.is_empty(), "{path}: {json}");
        let sep = if path.contains('?') { '&' } else { '?' };
        for (kind, media_type) in [("arrow", ARROW), ("parquet", PARQUET)] {
            let answer = body(&setup, &format!("{path}{sep}format={kind}"), media_type).await;
            for (reader, rows) in rows_by_reader(&read(kind, &answer), aggregated) {
                assert_eq!(rows, expected, "{reader} {kind} {path}");
            }
        }
    }
    let csv = body(
        &setup,
        "/v1/bars/latest?symbols=AAPL&format=csv",
        "text/csv; charset=utf-8",
    )
    .await;
    let csv = String::from_utf8(csv).unwrap();
    assert!(csv.starts_with("time,symbol,price_open"), "{csv}");
    assert_eq!(csv.lines().count(), 2);
}

#[tokio::test]
async fn columnar_requests_out_of_bounds_are_problems() {
    let setup = setup().await;
    for (path, names) in [
        ("/v1/bars?symbols=AAPL&format=arrow&limit=10001", "limit"),
        (
            "/v1/bars?symbols=AAPL&format=parquet&limit=10000001",
            "limit",
        ),
        ("/v1/bars?symbols=AAPL&format=feather", "format"),
    ] {
        let response = get(&setup, path, None).await;
        assert_eq!(response.status(), 400, "{path}");
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let problem: Value = response.json().await.unwrap();
        assert!(
            problem["detail"].as_str().unwrap().contains(names),
            "{path}: {problem}"
        );
    }
    let response = get(&setup, "/v1/bars?symbols=AAPL", Some("image/png")).await;
    assert_eq!(response.status(), 406);
}

#[tokio::test]
async fn export_writes_files_that_the_readers_load_as_the_api_answers() {
    let setup = setup().await;
    let dir = std::env::temp_dir().join(format!("tsapi-export-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let export = |args: &[&str]| {
        let out = common::process::run_ok(
            common::process::tsapi_command()
                .arg("export")
                .args(args)
                .env("DATABASE_URL", &setup.db.url),
        );
        String::from_utf8_lossy(&out.stderr).into_owned()
    };
    // (the export's arguments, the same request to /v1/bars)
    let cases: [(&[&str], &str); 2] = [
        (
            &["--symbols", "MSFT,EDGE,BIG,AAPL", "--start", "1900-01-01"],
            "symbols=AAPL,BIG,EDGE,MSFT&start=1900-01-01",
        ),
        (
            &[
                "--symbols",
                "MSFT,BIG,AAPL",
                "--end",
                "2021-11-04",
                "--interval",
                "1h",
            ],
            "symbols=AAPL,BIG,MSFT&end=2021-11-04&interval=1h",
        ),
    ];
    for (arguments, query) in cases {
        let aggregated = query.contains("interval");
        let expected = json_bars(&setup, query).await;
        for kind in ["parquet", "arrow", "csv", "ndjson"] {
            let path = dir.join(format!("bars.{kind}"));
            let path_text = path.to_string_lossy().into_owned();
            let mut args = arguments.to_vec();
            args.extend(["-o", &path_text]);
            let summary = export(&args);
            assert!(
                summary.contains(&format!("exported {} rows", expected.len())),
                "{summary}"
            );
            match kind {
                "parquet" | "arrow" => {
                    let report = read_file(kind, &path);
                    for (reader, rows) in rows_by_reader(&report, aggregated) {
                        assert_eq!(rows, expected, "{reader} {kind}");
                    }
                }
                _ => {
                    let file = std::fs::read(&path).unwrap();
                    let api = body(
                        &setup,
                        &format!("/v1/bars?{query}&format={kind}"),
                        if kind == "csv" {
                            "text/csv; charset=utf-8"
                        } else {
                            "application/x-ndjson"
                        },
                    )
                    .await;
                    assert_eq!(file, api, "{kind}");
                }
            }
        }
    }
    // Standard output, and the format by name.
    let out = common::process::tsapi_command()
        .args([
            "export",
            "--symbols",
            "EDGE",
            "--format",
            "arrow",
            "-o",
            "-",
        ])
        .env("DATABASE_URL", &setup.db.url)
        .output()
        .unwrap();
    assert!(out.status.success());
    let report = read("arrow", &out.stdout);
    assert_eq!(rows_by_reader(&report, false)[0].1.len(), 4);
    // A bad parameter is named.
    let out = common::process::tsapi_command()
        .args([
            "export",
            "--symbols",
            "A",
            "--interval",
            "7s",
            "-o",
            "x.parquet",
        ])
        .env("DATABASE_URL", &setup.db.url)
        .output()
        .unwrap();
    assert!(!out.status.success());
    assert!(String::from_utf8_lossy(&out.stderr).contains("--interval"));
    let _ = std::fs::remove_dir_all(&dir);
}

#[tokio::test]
async fn adjusted_bars_are_the_same_in_columnar_answers() {
    let setup = setup().await;
    // AAPL: a 4-for-1 split between its two days, and a dividend on the second.
    let actions = serde_json::json!([
        {"type": "split", "symbol": "AAPL", "ex_date": "2021-11-02", "split_from": 1, "split_to": 4},
        {"type": "dividend", "symbol": "AAPL", "ex_date": "2021-11-03", "cash_amount": 0.5, "currency": "USD"},
    ]);
    let response = reqwest::Client::new()
        .post(setup.server.url("/v1/corporate-actions"))
        .json(&actions)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);

    let raw = json_bars(&setup, "symbols=AAPL").await;
    let adjusted = json_bars(&setup, "symbols=AAPL&adjustment=all").await;
    assert_eq!(raw.len(), adjusted.len());
    assert_ne!(raw[0], adjusted[0], "the first day's bars are adjusted");
    for query in [
        "symbols=AAPL,MSFT&adjustment=all",
        "symbols=AAPL&adjustment=split&order=desc",
    ] {
        assert_columnar_equals_json(&setup, query, false).await;
    }
    assert_columnar_equals_json(&setup, "symbols=AAPL&adjustment=all&interval=1h", true).await;
}
