//! The Alpaca and Polygon dialects, driven by their official Python clients (`alpaca-py`,
//! `massive`, pinned in tests/py/requirements.txt) against a real `tsapi serve` over a
//! migrated database with known bars, and compared value for value with `/v1/bars`.
//! The server's page limit is small, so every client request spans several pages.

mod common;

use std::collections::HashSet;
use std::process::Command;

use chrono::Duration;
use common::answers::json_of;
use common::bars::{Row, series, store, utc};
use common::pages::{bars_and_token, follow_pages, page_path};
use common::process::ServerProcess;
use common::readers::python;
use common::{Schema, TestDb};
use serde_json::{Value, json};
use tsapi::auth::{ApiKey, Scopes, generate_key};

/// Rows per page the server sends, whatever a client asks for.
const PAGE_ROWS: &str = "200";

struct Setup {
    _db: TestDb,
    server: ServerProcess,
    key: String,
}

/// Three days of minute bars for AAPL and MSFT, five months of daily bars for ZZ.
fn known_rows() -> Vec<Row> {
    let mut rows = Vec::new();
    for day in ["2021-11-01", "2021-11-02", "2021-11-03"] {
        for symbol in ["AAPL", "MSFT"] {
            let open = utc(&format!("{day}T13:30:00Z"));
            rows.extend(series(symbol, open, Duration::minutes(1), 390));
        }
    }
    rows.extend(series(
        "ZZ",
        utc("2021-07-01T14:30:00Z"),
        Duration::days(1),
        150,
    ));
    rows
}

async fn setup() -> Setup {
    let db = TestDb::new(Schema::Migrated).await;
    store(&db, &known_rows()).await;
    // Written around tsapi: bring the catalogue up to date now rather than after its delay.
    common::process::tsapi_ok(&["catalog", "refresh"], &db.url);
    let key = generate_key().unwrap();
    let entry = ApiKey::entry("clients", Scopes::parse("read").unwrap(), &key);
    let server = ServerProcess::start(
        &db.url,
        &[
            ("TSAPI_API_KEYS", entry.as_str()),
            ("TSAPI_MAX_PAGE_ROWS", PAGE_ROWS),
        ],
    )
    .await;
    Setup {
        _db: db,
        server,
        key,
    }
}

/// Runs one command of tests/py/clients.py; returns its JSON answer and its transcript.
fn client(setup: &Setup, args: &[&str]) -> (Value, String) {
    let out = Command::new(python())
        .arg("tests/py/clients.py")
        .arg(args[0])
        .arg(&setup.server.base)
        .arg(&setup.key)
        .args(&args[1..])
        .output()
        .expect("run python");
    let transcript = String::from_utf8_lossy(&out.stderr).into_owned();
    assert!(out.status.success(), "client failed:\n{transcript}");
    let answer = serde_json::from_slice(&out.stdout).expect("one JSON document");
    (answer, transcript)
}

/// Every bar of a `/v1/bars` request, following its pages.
async fn v1_bars(setup: &Setup, query: &str) -> Vec<Value> {
    let http = reqwest::Client::new();
    let (bars, _) = follow_pages(async |token| {
        let url = setup
            .server
            .url(&page_path(&format!("/v1/bars?{query}"), token));
        bars_and_token(&json_of(http.get(url).bearer_auth(&setup.key)).await)
    })
    .await;
    bars
}

fn requests(transcript: &str, marker: &str) -> usize {
    transcript.lines().filter(|l| l.contains(marker)).count()
}

/// Shows the first requests a client made, as an example in the test's output.
fn show_first_requests(transcript: &str) {
    eprintln!(
        "{}",
        transcript.lines().take(3).collect::<Vec<_>>().join("\n")
    );
}

#[tokio::test]
async fn alpaca_py_bars_span_pages_and_equal_v1() {
    let setup = setup().await;
    let (start, end) = ("2021-07-01T00:00:00Z", "2021-12-01T00:00:00Z");
    for (timeframe, interval, sort) in [
        ("1Min", "1min", "asc"),
        ("15Min", "15min", "desc"),
        ("1Hour", "1h", "asc"),
        ("1Day", "1d", "asc"),
        ("1Week", "1w", "desc"),
        ("1Month", "1mo", "asc"),
    ] {
        let (answer, transcript) = client(
            &setup,
            &[
                "alpaca-bars",
                "AAPL,MSFT,ZZ",
                timeframe,
                start,
                end,
                &format!("sort={sort}"),
            ],
        );
        let expected = v1_bars(
            &setup,
            &format!(
                "symbols=AAPL,MSFT,ZZ&interval={interval}&tz=America/New_York\
                 &start={start}&end={end}&order={sort}&limit={PAGE_ROWS}"
            ),
        )
        .await;
        let expected: Vec<Value> = expected
            .iter()
            .map(|b| with_symbol(b, alpaca_fields(b)))
            .collect();
        let got = answer["rows"].as_array().expect("rows");
        assert!(!got.is_empty(), "{timeframe}: no bars");
        // The DataFrame is indexed by symbol then time, as /v1 orders its rows.
        assert_eq!(got, &expected, "{timeframe} {sort}");
        let pages = requests(&transcript, "GET /stocks/bars");
        let needed = expected.len().div_ceil(PAGE_ROWS.parse().unwrap());
        assert_eq!(pages, needed.max(1), "{timeframe}: pages\n{transcript}");
        if timeframe == "1Min" {
            assert!(pages > 10, "1Min spans many pages");
            show_first_requests(&transcript);
        }
    }
}

#[tokio::test]
async fn alpaca_py_latest_bar_equals_v1_latest() {
    let setup = setup().await;
    let (answer, _) = client(&setup, &["alpaca-latest", "AAPL,MSFT,ZZ,NOPE"]);
    let v1 = v1_get(&setup, "/v1/bars/latest?symbols=AAPL,MSFT,ZZ,NOPE").await;
    let expected = by_symbol(&v1["bars"], ohlcv);
    assert_eq!(expected.len(), 3);
    assert_eq!(answer, Value::Object(expected));
}

#[tokio::test]
async fn alpaca_py_sees_refusals_as_api_errors() {
    let setup = setup().await;
    let args = [
        "alpaca-bars",
        "AAPL",
        "1Day",
        "2021-11-01T00:00:00Z",
        "2021-11-05T00:00:00Z",
    ];
    for (extra, param) in [("asof=2021-02-30", "asof"), ("currency=EUR", "currency")] {
        let mut with = args.to_vec();
        with.push(extra);
        let (answer, _) = client(&setup, &with);
        assert_eq!(answer["error"], "APIError", "{extra}");
        assert_eq!(answer["status"], 400);
        assert_eq!(answer["code"], 40010001);
        let message = answer["message"].as_str().unwrap();
        assert!(message.contains(&format!("`{param}`")), "{message}");
    }
    // A key that is not configured: Alpaca's 401 shape.
    let http = reqwest::Client::new();
    let response = http
        .get(
            setup
                .server
                .url("/alpaca/v2/stocks/bars?symbols=AAPL&timeframe=1Day"),
        )
        .header("APCA-API-KEY-ID", "someone")
        .header("APCA-API-SECRET-KEY", "tsapi_not_a_key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 401);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], 40110000);
    // A timeframe Alpaca does not have.
    let response = http
        .get(
            setup
                .server
                .url("/alpaca/v2/stocks/AAPL/bars?timeframe=2Day"),
        )
        .header("APCA-API-KEY-ID", &setup.key)
        .header("APCA-API-SECRET-KEY", "anything")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers()["content-type"].to_str().unwrap(),
        "application/json"
    );
    let body: Value = response.json().await.unwrap();
    assert!(body["message"].as_str().unwrap().contains("`timeframe`"));
}

/// Bars of one symbol as `massive` returns them, from `/v1` for the same range.
async fn v1_aggs(
    setup: &Setup,
    symbol: &str,
    interval: &str,
    start: &str,
    end: &str,
) -> Vec<Value> {
    v1_bars(
        setup,
        &format!(
            "symbols={symbol}&interval={interval}&tz=America/New_York&start={start}&end={end}\
             &limit={PAGE_ROWS}"
        ),
    )
    .await
    .iter()
    .map(|b| Value::Array(polygon_fields(b)))
    .collect()
}

#[tokio::test]
async fn massive_list_aggs_returns_every_bar_once() {
    let setup = setup().await;
    // Polygon dates are New York days, `to` included.
    for (symbol, multiplier, timespan, interval, limit) in [
        ("AAPL", "1", "minute", "1min", "150"),
        ("MSFT", "5", "minute", "5min", "50000"),
        ("ZZ", "1", "day", "1d", "40"),
        ("ZZ", "1", "week", "1w", "5"),
    ] {
        let (answer, transcript) = client(
            &setup,
            &[
                "massive-aggs",
                symbol,
                multiplier,
                timespan,
                "2021-07-01",
                "2021-11-30",
                &format!("limit={limit}"),
            ],
        );
        let got = answer["rows"].as_array().expect("rows");
        let expected = v1_aggs(&setup, symbol, interval, "2021-07-01", "2021-12-01").await;
        assert!(!got.is_empty());
        let times: HashSet<i64> = got.iter().map(|r| r[0].as_i64().unwrap()).collect();
        assert_eq!(times.len(), got.len(), "a bar came twice");
        assert_eq!(got, &expected, "{symbol} {multiplier} {timespan}");
        let page = limit
            .parse::<usize>()
            .unwrap()
            .min(PAGE_ROWS.parse().unwrap());
        let pages = requests(&transcript, "massive GET");
        assert_eq!(pages, expected.len().div_ceil(page), "{transcript}");
        if timespan == "minute" && multiplier == "1" {
            assert!(pages > 2);
            show_first_requests(&transcript);
        }
    }
}

#[tokio::test]
async fn massive_sees_refusals_as_bad_responses() {
    let setup = setup().await;
    for (args, param) in [
        (
            ["AAPL", "1", "second", "2021-11-01", "2021-11-02"],
            "timespan",
        ),
        (["AAPL", "1", "day", "2021-11-01", "2021-13-02"], "to"),
        (["AAPL", "0", "day", "2021-11-01", "2021-11-02"], "timespan"),
    ] {
        let mut with = vec!["massive-aggs"];
        with.extend(args);
        let (answer, _) = client(&setup, &with);
        assert_eq!(answer["error"], "BadResponse");
        assert_eq!(answer["body"]["status"], "ERROR");
        assert!(
            answer["body"]["request_id"]
                .as_str()
                .is_some_and(|r| !r.is_empty())
        );
        let message = answer["body"]["error"].as_str().unwrap();
        assert!(message.contains(&format!("`{param}`")), "{message}");
    }
    let (answer, _) = client(
        &setup,
        &[
            "massive-aggs",
            "AAPL",
            "1",
            "day",
            "2021-11-01",
            "2021-11-02",
            "adjusted=maybe",
        ],
    );
    assert!(
        answer["body"]["error"]
            .as_str()
            .unwrap()
            .contains("`adjusted`")
    );
}

/// A plain HTTP client: the key in the query string on the first request only, then
/// `next_url` followed as it is; every bar once, and the key never in the server's log.
#[tokio::test]
async fn plain_clients_follow_next_url_and_the_query_key_is_not_logged() {
    let setup = setup().await;
    let http = reqwest::Client::new();
    let first = setup.server.url(&format!(
        "/polygon/v2/aggs/ticker/AAPL/range/1/minute/2021-11-01/2021-11-03?limit=500&apiKey={}",
        setup.key
    ));
    let mut url = first;
    let mut times = Vec::new();
    let mut pages = 0;
    loop {
        pages += 1;
        let mut request = http.get(&url);
        if pages > 1 {
            assert!(!url.contains("apiKey"), "next_url carries no key");
            request = request.bearer_auth(&setup.key);
        }
        let page: Value = request.send().await.unwrap().json().await.unwrap();
        assert_eq!(page["status"], "OK", "{page}");
        times.extend(
            page["results"]
                .as_array()
                .unwrap()
                .iter()
                .map(|r| r["t"].as_i64().unwrap()),
        );
        match page["next_url"].as_str() {
            Some(next) => {
                assert!(next.starts_with(&format!("{}/polygon/v2/aggs/", setup.server.base)));
                url = next.to_owned();
            }
            None => break,
        }
        assert!(pages < 100);
    }
    assert_eq!(times.len(), 3 * 390);
    assert_eq!(times.iter().collect::<HashSet<_>>().len(), times.len());
    assert_eq!(pages, (3 * 390usize).div_ceil(200));
    let key = setup.key.clone();
    let Setup { server, _db, .. } = setup;
    let log = String::from_utf8_lossy(&server.finish().stderr).into_owned();
    assert!(
        log.contains("/polygon/v2/aggs/ticker/{ticker}"),
        "requests are logged"
    );
    assert!(!log.contains(&key), "the key is never logged");
}

async fn v1_get(setup: &Setup, path: &str) -> Value {
    json_of(
        reqwest::Client::new()
            .get(setup.server.url(path))
            .bearer_auth(&setup.key),
    )
    .await
}

/// `value` of each item of the array `items`, keyed by the item's symbol, as alpaca-py keys
/// its answers for several symbols.
fn by_symbol(items: &Value, value: impl Fn(&Value) -> Value) -> serde_json::Map<String, Value> {
    let items = items.as_array().unwrap();
    let keyed = |item: &Value| (item["symbol"].as_str().unwrap().to_owned(), value(item));
    items.iter().map(keyed).collect()
}

/// A `/v1` bar as the alpaca-py script prints one (null stays null: a snapshot may lack a bar).
fn ohlcv(b: &Value) -> Value {
    if b.is_null() {
        return Value::Null;
    }
    Value::Array(alpaca_fields(b))
}

/// A `/v1` bar's fields in alpaca-py's order; pandas holds the counts as floats.
fn alpaca_fields(b: &Value) -> Vec<Value> {
    let as_float = |v: &Value| json!(v.as_i64().map(|v| v as f64));
    vec![
        b["time"].clone(),
        b["price_open"].clone(),
        b["price_high"].clone(),
        b["price_low"].clone(),
        b["price_close"].clone(),
        as_float(&b["trading_volume"]),
        as_float(non_null(&b["trade_count"])),
        non_null(&b["vwap"]).clone(),
    ]
}

/// A `/v1` bar's fields in massive's order, time in epoch milliseconds.
fn polygon_fields(b: &Value) -> Vec<Value> {
    vec![
        json!(ms(&b["time"])),
        b["price_open"].clone(),
        b["price_high"].clone(),
        b["price_low"].clone(),
        b["price_close"].clone(),
        b["trading_volume"].clone(),
        non_null(&b["vwap"]).clone(),
        non_null(&b["trade_count"]).clone(),
    ]
}

/// `fields` of bar `b`, led by its symbol.
fn with_symbol(b: &Value, fields: Vec<Value>) -> Value {
    let mut row = vec![b["symbol"].clone()];
    row.extend(fields);
    Value::Array(row)
}

/// A trade count or vwap of the fixtures: every stored bar has both, so `/v1` answers
/// them for every bar and bucket, and the clients must carry them over.
fn non_null(value: &Value) -> &Value {
    assert!(value.is_number(), "a trade count or vwap is null: {value}");
    value
}

#[tokio::test]
async fn alpaca_py_snapshots_equal_v1_snapshots() {
    let setup = setup().await;
    let (answer, _) = client(&setup, &["alpaca-snapshots", "AAPL,MSFT,ZZ,NOPE"]);
    let v1 = v1_get(&setup, "/v1/snapshots?symbols=AAPL,MSFT,ZZ,NOPE").await;
    let expected = by_symbol(&v1["snapshots"], |s| {
        json!({"minute": ohlcv(&s["latest_bar"]), "daily": ohlcv(&s["day"]),
               "prev": ohlcv(&s["prev_day"]), "trade": null, "quote": null})
    });
    assert_eq!(expected.len(), 3);
    assert!(expected["ZZ"]["prev"].is_array(), "ZZ has a previous day");
    assert_eq!(answer, Value::Object(expected));
}

fn ms(time: &Value) -> i64 {
    chrono::DateTime::parse_from_rfc3339(time.as_str().unwrap())
        .unwrap()
        .timestamp_millis()
}

/// Every bar of `bars` as a [`ticker_row`].
fn ticker_rows(bars: &Value) -> Vec<Value> {
    bars.as_array().unwrap().iter().map(ticker_row).collect()
}

fn ticker_row(b: &Value) -> Value {
    with_symbol(b, polygon_fields(b))
}

#[tokio::test]
async fn massive_previous_grouped_and_open_close_equal_v1() {
    let setup = setup().await;
    let (answer, _) = client(&setup, &["massive-day", "prev", "ZZ"]);
    let v1 = v1_get(&setup, "/v1/bars/previous?symbols=ZZ").await;
    let expected: Vec<Value> = v1["bars"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            // massive's PreviousCloseAgg reads `vw` but has no field for `n`.
            let mut row = ticker_row(b);
            row[8] = Value::Null;
            row
        })
        .collect();
    assert_eq!(expected.len(), 1);
    assert_eq!(answer["rows"], json!(expected));

    let (answer, _) = client(&setup, &["massive-day", "grouped", "2021-11-02"]);
    let v1 = v1_get(&setup, "/v1/bars/grouped?date=2021-11-02").await;
    let expected = ticker_rows(&v1["bars"]);
    assert_eq!(expected.len(), 3, "AAPL, MSFT and ZZ traded that day");
    assert_eq!(answer["rows"], json!(expected));

    let (answer, _) = client(&setup, &["massive-day", "open-close", "MSFT", "2021-11-02"]);
    let v1 = v1_get(
        &setup,
        "/v1/bars?symbols=MSFT&interval=1d&tz=America/New_York&start=2021-11-02&end=2021-11-03",
    )
    .await;
    let day = &v1["bars"][0];
    assert_eq!(answer["symbol"], "MSFT");
    assert_eq!(answer["from"], "2021-11-02");
    assert_eq!(
        answer["row"],
        json!([
            day["price_open"],
            day["price_high"],
            day["price_low"],
            day["price_close"],
            day["trading_volume"]
        ])
    );
    // A day without bars: Polygon's NOT_FOUND, as the client's BadResponse.
    let (answer, _) = client(&setup, &["massive-day", "open-close", "MSFT", "2021-11-06"]);
    assert_eq!(answer["error"], "BadResponse");
    assert_eq!(answer["body"]["status"], "NOT_FOUND");
}

/// Both clients ask for adjusted bars in their own words (alpaca-py `adjustment`, massive
/// `adjusted`, true by default) and get the numbers of `/v1/bars?adjustment=`.
#[tokio::test]
async fn clients_get_adjusted_bars_in_their_own_words() {
    let setup = setup().await;
    // A 2-for-1 of ZZ on 2021-09-01, written straight into the table.
    common::connect(&setup._db.url)
        .await
        .batch_execute(
            "INSERT INTO tsapi_corporate_actions (symbol, ex_date, kind, split_from, split_to) \
             VALUES ('ZZ', '2021-09-01', 'split', 1, 2)",
        )
        .await
        .unwrap();
    let (start, end) = ("2021-08-25T00:00:00Z", "2021-09-04T00:00:00Z");
    let v1 = |adjustment: &'static str| {
        let setup = &setup;
        async move {
            v1_bars(
                setup,
                &format!(
                    "symbols=ZZ&interval=1d&tz=America/New_York&start={start}&end={end}\
                     &adjustment={adjustment}"
                ),
            )
            .await
        }
    };
    let (split, raw) = (v1("split").await, v1("raw").await);
    assert_eq!(split.len(), 10);
    assert_eq!(
        split[0]["price_close"].as_f64().unwrap() * 2.0,
        raw[0]["price_close"].as_f64().unwrap()
    );
    let closes = |rows: &Value, at: usize| -> Vec<f64> {
        rows["rows"]
            .as_array()
            .unwrap()
            .iter()
            .map(|r| r[at].as_f64().unwrap())
            .collect()
    };
    let v1_closes = |bars: &[Value]| -> Vec<f64> {
        bars.iter()
            .map(|b| b["price_close"].as_f64().unwrap())
            .collect()
    };
    for (adjustment, expected) in [("split", &split), ("raw", &raw)] {
        let (answer, _) = client(
            &setup,
            &[
                "alpaca-bars",
                "ZZ",
                "1Day",
                start,
                end,
                &format!("adjustment={adjustment}"),
            ],
        );
        assert_eq!(
            closes(&answer, 5),
            v1_closes(expected),
            "alpaca {adjustment}"
        );
    }
    let (day_start, day_end) = ("2021-08-25", "2021-09-03");
    for (option, expected) in [(None, &split), (Some("adjusted=false"), &raw)] {
        let mut args = vec!["massive-aggs", "ZZ", "1", "day", day_start, day_end];
        args.extend(option);
        let (answer, _) = client(&setup, &args);
        assert_eq!(
            closes(&answer, 4),
            v1_closes(expected),
            "massive {option:?}"
        );
    }
}
