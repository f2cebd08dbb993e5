//! `GET /v1/bars` pages and exports: keyset tokens under concurrent inserts, signed tokens,
//! CSV and NDJSON streams.

mod common;

use std::collections::HashSet;
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, Ordering};

use chrono::Duration;
use common::bars::{Row, bar_json, series, store, store_series_of, store_with, utc};
use common::{TestApp, api_defaults, expect_problem, serve};
use serde_json::{Value, json};

fn key(bar: &Value) -> (String, String) {
    (
        bar["symbol"].as_str().unwrap().to_owned(),
        bar["time"].as_str().unwrap().to_owned(),
    )
}

#[tokio::test]
async fn pages_yield_every_row_exactly_once_while_rows_arrive() {
    let app = TestApp::spawn().await;
    let start = utc("2021-11-12T00:00:00Z");
    let mut rows = vec![];
    for symbol in ["AAA", "BBB", "CCC"] {
        rows.extend(series(symbol, start, Duration::minutes(2), 700));
    }
    store(&app.db, &rows).await;

    // Meanwhile, new bars land between the stored ones and after them, in every symbol.
    let stop = Arc::new(AtomicBool::new(false));
    let writer = {
        let stop = stop.clone();
        let url = app.db.url.clone();
        tokio::spawn(async move {
            let client = common::connect(&url).await;
            let mut written = 0;
            // 600 writes would repeat a (symbol, time).
            while !stop.load(Ordering::Relaxed) && written < 590 {
                let symbol = ["AAA", "BBB", "CCC"][written % 3];
                let time = start + Duration::minutes(2 * (written as i64 * 7 % 1400) + 1);
                store_with(&client, &series(symbol, time, Duration::minutes(1), 1)).await;
                written += 1;
            }
            written
        })
    };

    for order in ["asc", "desc"] {
        let (bars, pages) = app
            .all_pages(&format!("symbols=CCC,AAA,BBB&limit=97&order={order}"))
            .await;
        assert!(pages > 20, "{pages} pages");
        let keys: Vec<(String, String)> = bars.iter().map(key).collect();
        let unique: HashSet<&(String, String)> = keys.iter().collect();
        assert_eq!(unique.len(), keys.len(), "a row came twice ({order})");
        let mut sorted = keys.clone();
        sorted.sort_by(|a, b| match order {
            "asc" => a.cmp(b),
            _ => a.0.cmp(&b.0).then(b.1.cmp(&a.1)),
        });
        assert_eq!(keys, sorted, "rows out of order ({order})");
        for row in &rows {
            let expected = bar_json(row);
            assert!(
                unique.contains(&key(&expected)),
                "missing {expected} ({order})"
            );
        }
        let original: HashSet<(String, String)> = rows.iter().map(|r| key(&bar_json(r))).collect();
        for bar in &bars {
            if original.contains(&key(bar)) {
                let row = rows.iter().find(|r| key(&bar_json(r)) == key(bar)).unwrap();
                assert_eq!(bar, &bar_json(row));
            }
        }
    }
    stop.store(true, Ordering::Relaxed);
    let written = writer.await.unwrap();
    assert!(written > 0);
}

#[tokio::test]
async fn aggregate_pages_add_up_to_the_whole() {
    let app = TestApp::spawn().await;
    store_series_of(
        &app.db,
        &[
            ("AAA", "2021-11-12T00:00:00Z", Duration::minutes(5), 600),
            ("BBB", "2021-11-12T07:00:00Z", Duration::minutes(3), 300),
        ],
    )
    .await;
    for query in [
        "symbols=AAA,BBB&interval=1h",
        "symbols=AAA,BBB&interval=1h&order=desc",
        "symbols=AAA,BBB&interval=1d&tz=Asia/Tokyo",
        "symbols=AAA,BBB&interval=15min&start=2021-11-12T03:07:00Z&end=2021-11-13T11:00:00Z",
    ] {
        let (status, whole) = app.get_json(&format!("/v1/bars?{query}")).await;
        assert_eq!(status, 200);
        assert_eq!(whole["next_page_token"], Value::Null);
        let (paged, pages) = app.all_pages(&format!("{query}&limit=4")).await;
        assert_eq!(json!(paged), whole["bars"], "{query}");
        assert!(pages > 1);
    }
}

#[tokio::test]
async fn forged_foreign_and_other_servers_tokens_are_refused() {
    let app = TestApp::with_minute_bars("AAA", "2021-11-12T00:00:00Z", 10).await;
    let query = "symbols=AAA&limit=3";
    let (_, page) = app.get_json(&format!("/v1/bars?{query}")).await;
    let token = page["next_page_token"].as_str().unwrap().to_owned();

    // Unchanged, and with another page size: fine.
    let (status, _) = app
        .get_json(&format!("/v1/bars?{query}&page_token={token}"))
        .await;
    assert_eq!(status, 200);
    let (status, _) = app
        .get_json(&format!("/v1/bars?symbols=AAA&limit=5&page_token={token}"))
        .await;
    assert_eq!(status, 200);

    let mut forged = token.clone().into_bytes();
    forged[4] = if forged[4] == b'A' { b'B' } else { b'A' };
    let forged = String::from_utf8(forged).unwrap();
    let other_server = serve(&app.db.url, api_defaults()).await;
    for url in [
        app.url(&format!("/v1/bars?{query}&page_token={forged}")),
        app.url(&format!("/v1/bars?{query}&page_token={token}x")),
        app.url(&format!("/v1/bars?{query}&order=desc&page_token={token}")),
        app.url(&format!(
            "/v1/bars?{query}&start=2021-11-12&page_token={token}"
        )),
        app.url(&format!(
            "/v1/bars?symbols=AAA,BBB&limit=3&page_token={token}"
        )),
        format!("{other_server}/v1/bars?{query}&page_token={token}"),
    ] {
        let problem = expect_problem(app.http.get(&url).send().await.unwrap(), 400).await;
        assert!(
            problem["detail"].as_str().unwrap().contains("`page_token`"),
            "{url}: {problem}"
        );
    }

    // Servers sharing a configured key accept each other's tokens.
    let mut shared = api_defaults();
    shared.page_token_key = Some("a shared secret for every instance".parse().unwrap());
    let first = serve(&app.db.url, shared.clone()).await;
    let second = serve(&app.db.url, shared).await;
    let page: Value = app
        .http
        .get(format!("{first}/v1/bars?{query}"))
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let token = page["next_page_token"].as_str().unwrap();
    let next = app
        .http
        .get(format!("{second}/v1/bars?{query}&page_token={token}"))
        .send()
        .await
        .unwrap();
    assert_eq!(next.status(), 200);
    let next: Value = next.json().await.unwrap();
    assert_eq!(next["bars"][0]["time"], "2021-11-12T00:03:00Z");
}

async fn text(app: &TestApp, path: &str, accept: Option<&str>) -> (String, String) {
    let mut request = app.http.get(app.url(path));
    if let Some(accept) = accept {
        request = request.header("accept", accept);
    }
    let response = request.send().await.unwrap();
    assert_eq!(response.status(), 200, "{path}");
    let content_type = response.headers()["content-type"]
        .to_str()
        .unwrap()
        .to_owned();
    (content_type, response.text().await.unwrap())
}

#[tokio::test]
async fn csv_and_ndjson_carry_the_same_rows_as_json() {
    let app = TestApp::spawn().await;
    let first = utc("2021-11-12T15:00:00Z");
    let rows: Vec<Row> = ["AAA", "BBB"]
        .iter()
        .flat_map(|symbol| series(symbol, first, Duration::minutes(1), 90))
        .collect();
    store(&app.db, &rows).await;

    for interval in ["", "&interval=1h"] {
        let query = format!("symbols=AAA,BBB{interval}");
        let (_, json) = app.get_json(&format!("/v1/bars?{query}")).await;
        let expected = json["bars"].as_array().unwrap();

        let (content_type, ndjson) =
            text(&app, &format!("/v1/bars?{query}&format=ndjson"), None).await;
        assert_eq!(content_type, "application/x-ndjson");
        let lines: Vec<Value> = ndjson
            .lines()
            .map(|l| serde_json::from_str(l).unwrap())
            .collect();
        assert_eq!(&lines, expected);
        let (_, by_accept) = text(
            &app,
            &format!("/v1/bars?{query}"),
            Some("application/x-ndjson"),
        )
        .await;
        assert_eq!(by_accept, ndjson);

        let (content_type, csv) = text(&app, &format!("/v1/bars?{query}"), Some("text/csv")).await;
        assert!(content_type.starts_with("text/csv"), "{content_type}");
        let mut lines = csv.lines();
        let header: Vec<&str> = lines.next().unwrap().split(',').collect();
        let records: Vec<Vec<&str>> = lines.map(|l| l.split(',').collect()).collect();
        assert_eq!(records.len(), expected.len());
        for (record, bar) in records.iter().zip(expected) {
            assert_eq!(record.len(), header.len());
            for (name, value) in header.iter().zip(record) {
                let field = &bar[*name];
                let shown = match field {
                    Value::String(s) => s.clone(),
                    Value::Number(n) => n.as_f64().unwrap().to_string(),
                    other => panic!("{name}: {other}"),
                };
                assert_eq!(*value, shown, "{name}");
            }
        }
        assert_eq!(header.contains(&"count"), !interval.is_empty());
        let (_, by_param) = text(&app, &format!("/v1/bars?{query}&format=csv"), None).await;
        assert_eq!(by_param, csv);
    }

    // limit bounds an export; format=json wins over Accept.
    let (_, five) = text(&app, "/v1/bars?symbols=AAA&format=csv&limit=5", None).await;
    assert_eq!(five.lines().count(), 6);
    let (content_type, _) = text(&app, "/v1/bars?symbols=AAA&format=json", Some("text/csv")).await;
    assert_eq!(content_type, "application/json");
}

#[tokio::test]
async fn exports_stream_every_row_beyond_the_page_size() {
    let app = TestApp::spawn().await;
    app.db
        .client()
        .await
        .batch_execute(
            "INSERT INTO stocks_intraday \
             SELECT '2021-01-01'::timestamptz + n * interval '1 minute', 'BIG', n, n + 1, n - 1, n, n \
             FROM generate_series(0, 149999) n",
        )
        .await
        .unwrap();
    let (_, ndjson) = text(&app, "/v1/bars?symbols=BIG&format=ndjson", None).await;
    let lines: Vec<&str> = ndjson.lines().collect();
    assert_eq!(lines.len(), 150_000);
    let last: Value = serde_json::from_str(lines[149_999]).unwrap();
    assert_eq!(last["trading_volume"], 149_999);
    assert_eq!(last["time"], "2021-04-15T03:59:00Z");
    let (_, csv) = text(&app, "/v1/bars?symbols=BIG&format=csv&order=desc", None).await;
    assert_eq!(csv.lines().count(), 150_001);
    assert!(
        csv.lines()
            .nth(1)
            .unwrap()
            .starts_with("2021-04-15T03:59:00Z,BIG,149999,")
    );
}

#[tokio::test]
async fn accept_quality_values_and_order_choose_the_format() {
    let app = TestApp::with_minute_bars("AAA", "2021-11-12T15:00:00Z", 3).await;
    let path = "/v1/bars?symbols=AAA";
    for (accept, expected) in [
        ("text/csv;q=0.5, application/json", "application/json"),
        ("application/json;q=0.5, text/csv", "text/csv"),
        ("text/csv, application/json", "text/csv"),
        ("application/json, text/csv", "application/json"),
        ("*/*;q=0.1, application/x-ndjson", "application/x-ndjson"),
        (
            "text/html,application/xhtml+xml,*/*;q=0.8",
            "application/json",
        ),
    ] {
        let (content_type, _) = text(&app, path, Some(accept)).await;
        assert!(
            content_type.starts_with(expected),
            "{accept}: {content_type}"
        );
    }
    // Nothing acceptable is a 406; `format=` still wins over the header.
    let refused = app
        .http
        .get(app.url(path))
        .header("accept", "text/csv;q=0, image/png")
        .send()
        .await
        .unwrap();
    let problem = expect_problem(refused, 406).await;
    assert!(problem["detail"].as_str().unwrap().contains("Accept"));
    let (content_type, _) = text(&app, &format!("{path}&format=csv"), Some("image/png")).await;
    assert!(content_type.starts_with("text/csv"), "{content_type}");
}
