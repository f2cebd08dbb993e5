//! Corporate actions: adjusted bars against hand-computed expectations (the arithmetic is
//! written out), the same numbers in JSON, CSV, NDJSON and across pages, renames with
//! `asof`, and the write and read paths of `/v1/corporate-actions`.

mod common;

use common::answers::{error_places, ndjson_values};
use common::bodies::bar_record;
use common::{TestApp, expect_problem};
use serde_json::{Value, json};

/// Relative tolerance of every comparison.
const TOLERANCE: f64 = 1e-9;

/// A daily bar at 15:00 UTC (10 or 11 a.m. in New York): (day, open, high, low, close, volume).
type Day = (&'static str, f64, f64, f64, f64, i64);

fn record(symbol: &str, (day, o, h, l, c, v): Day) -> Value {
    bar_record(&format!("{day}T15:00:00Z"), symbol, [o, h, l, c], v)
}

/// One price a day: open, high, low and close alike.
fn flat(day: &'static str, price: f64, volume: i64) -> Day {
    (day, price, price, price, price, volume)
}

const AAA: [Day; 4] = [
    ("2020-08-27", 500.0, 510.0, 490.0, 505.0, 1000),
    ("2020-08-28", 504.0, 508.0, 496.0, 500.0, 1200),
    ("2020-08-31", 127.0, 130.0, 125.0, 129.0, 4000),
    ("2020-09-01", 130.0, 135.0, 128.0, 134.0, 5000),
];

/// Bars of one price a day: (symbol, day, price, volume).
const FLAT_DAYS: [(&str, &str, f64, i64); 20] = [
    ("BBB", "2014-06-06", 645.57, 700),
    ("BBB", "2014-06-09", 93.70, 1000),
    ("BBB", "2020-08-28", 499.23, 100),
    ("BBB", "2020-08-31", 129.04, 100),
    ("CCC", "2021-02-26", 1.5, 12340),
    ("CCC", "2021-03-01", 15.2, 1000),
    ("DDD", "2020-08-05", 440.25, 100),
    ("DDD", "2020-08-06", 455.61, 100),
    ("DDD", "2020-08-07", 444.45, 100),
    ("EEE", "2020-12-31", 100.0, 10),
    ("EEE", "2021-01-04", 51.0, 10),
    ("FFF", "2021-01-08", 10.0, 5),
    ("FFF", "2021-01-11", 5.1, 10),
    ("FFF", "2021-01-15", 5.0, 10),
    ("FFF", "2021-01-19", 4.6, 10),
    ("FB", "2022-06-07", 190.0, 10),
    ("FB", "2022-06-08", 196.64, 10),
    ("META", "2022-06-09", 188.64, 10),
    ("META", "2022-06-10", 175.57, 10),
    ("HHH", "2021-01-04", 10.0, 10),
];

async fn setup() -> TestApp {
    let app = TestApp::spawn().await;
    let mut records: Vec<Value> = AAA.iter().map(|d| record("AAA", *d)).collect();
    records.extend(
        FLAT_DAYS
            .iter()
            .map(|&(symbol, day, price, volume)| record(symbol, flat(day, price, volume))),
    );
    app.insert(records).await;
    let actions = json!([
        {"type": "split", "symbol": "AAA", "ex_date": "2020-08-31", "split_from": 1, "split_to": 4},
        {"type": "split", "symbol": "BBB", "ex_date": "2014-06-09", "split_from": 1, "split_to": 7},
        {"type": "split", "symbol": "BBB", "ex_date": "2020-08-31", "split_from": 1, "split_to": 4},
        {"type": "split", "symbol": "CCC", "ex_date": "2021-03-01", "split_from": 10, "split_to": 1},
        {"type": "dividend", "symbol": "DDD", "ex_date": "2020-08-07", "cash_amount": 0.82, "currency": "USD"},
        {"type": "split", "symbol": "EEE", "ex_date": "2021-01-04", "split_from": 1, "split_to": 2},
        {"type": "dividend", "symbol": "EEE", "ex_date": "2021-01-04", "cash_amount": 1.0},
        // A Saturday split and a Saturday dividend: no bars on either day.
        {"type": "split", "symbol": "FFF", "ex_date": "2021-01-09", "split_from": 1, "split_to": 2},
        {"type": "dividend", "symbol": "FFF", "ex_date": "2021-01-16", "cash_amount": 0.5},
        {"type": "symbol_change", "symbol": "FB", "new_symbol": "META", "ex_date": "2022-06-09"},
        // After HHH's latest bar.
        {"type": "split", "symbol": "HHH", "ex_date": "2021-06-01", "split_from": 1, "split_to": 2},
    ]);
    let response = app
        .post_json("/v1/corporate-actions", actions.to_string())
        .await;
    assert_eq!(response.status(), 200);
    let counts: Value = response.json().await.unwrap();
    assert_eq!(counts, json!({"inserted": 11, "updated": 0}));
    app
}

fn close_enough(actual: f64, expected: f64) -> bool {
    (actual - expected).abs() <= TOLERANCE * expected.abs().max(f64::MIN_POSITIVE)
}

/// Checks that `/v1/bars?{query}` answers bars of these (open, high, low, close, volume),
/// and returns them.
async fn assert_bars_of(
    app: &TestApp,
    query: &str,
    expected: &[(f64, f64, f64, f64, i64)],
    what: &str,
) -> Vec<Value> {
    let bars = bars(app, query).await;
    assert_eq!(bars.len(), expected.len(), "{what}: {bars:?}");
    for (bar, (o, h, l, c, v)) in bars.iter().zip(expected) {
        for (field, want) in [
            ("price_open", o),
            ("price_high", h),
            ("price_low", l),
            ("price_close", c),
        ] {
            let got = bar[field].as_f64().unwrap();
            assert!(
                close_enough(got, *want),
                "{what}: {field} {got} != {want}: {bar}"
            );
        }
        assert_eq!(bar["trading_volume"].as_i64(), Some(*v), "{what}: {bar}");
    }
    bars
}

async fn bars(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, page) = app.get_json(&format!("/v1/bars?{query}&limit=10000")).await;
    assert_eq!(status, 200, "{query}: {page}");
    page["bars"].as_array().unwrap().clone()
}

fn flat_row(price: f64, volume: i64) -> (f64, f64, f64, f64, i64) {
    (price, price, price, price, volume)
}

/// DDD adjusted for its 0.82 dividend of 2020-08-07: the previous close is 455.61
/// (2020-08-06), so earlier prices are multiplied by 1 - 0.82 / 455.61.
fn ddd_after_its_dividend() -> [(f64, f64, f64, f64, i64); 3] {
    let factor = 1.0 - 0.82 / 455.61;
    [
        flat_row(440.25 * factor, 100),
        flat_row(455.61 * factor, 100),
        flat_row(444.45, 100),
    ]
}

#[tokio::test]
async fn adjusted_bars_equal_the_hand_computed_values() {
    let app = setup().await;

    // A 4-for-1 split: earlier prices / 4, volumes * 4.
    let aaa = assert_bars_of(
        &app,
        "symbols=AAA&adjustment=split",
        &[
            (500.0 / 4.0, 510.0 / 4.0, 490.0 / 4.0, 505.0 / 4.0, 1000 * 4),
            (504.0 / 4.0, 508.0 / 4.0, 496.0 / 4.0, 500.0 / 4.0, 1200 * 4),
            (127.0, 130.0, 125.0, 129.0, 4000),
            (130.0, 135.0, 128.0, 134.0, 5000),
        ],
        "4:1",
    )
    .await;
    assert_eq!(bars(&app, "symbols=AAA&adjustment=all").await, aaa);
    // Dividends only: AAA has none, so the bars are as stored.
    let raw = bars(&app, "symbols=AAA").await;
    assert_eq!(bars(&app, "symbols=AAA&adjustment=dividend").await, raw);
    assert_eq!(raw[0]["price_close"], 505.0);

    // 7-for-1, then 4-for-1: the earliest bar is divided by 7 * 4 = 28.
    assert_bars_of(
        &app,
        "symbols=BBB&adjustment=split",
        &[
            flat_row(645.57 / 28.0, 700 * 28),
            flat_row(93.70 / 4.0, 1000 * 4),
            flat_row(499.23 / 4.0, 100 * 4),
            flat_row(129.04, 100),
        ],
        "7:1 then 4:1",
    )
    .await;

    // A 1-for-10 reverse split: earlier prices * 10, volumes / 10.
    assert_bars_of(
        &app,
        "symbols=CCC&adjustment=split",
        &[flat_row(1.5 * 10.0, 12340 / 10), flat_row(15.2, 1000)],
        "1:10",
    )
    .await;

    // A 0.82 dividend; the previous close is 455.61 (2020-08-06).
    assert_bars_of(
        &app,
        "symbols=DDD&adjustment=dividend",
        &ddd_after_its_dividend(),
        "dividend",
    )
    .await;

    // A 2-for-1 and a 1.00 dividend on the same day: the dividend is per new share, so the
    // previous close in new shares is 100 / 2 = 50 and the factor 1 - 1/50 = 0.98.
    for (adjustment, price, volume) in [
        ("split", 100.0 / 2.0, 20),
        ("dividend", 100.0 * (1.0 - 1.0 / 50.0), 10),
        ("all", 100.0 / 2.0 * (1.0 - 1.0 / 50.0), 20),
    ] {
        assert_bars_of(
            &app,
            &format!("symbols=EEE&adjustment={adjustment}"),
            &[flat_row(price, volume), flat_row(51.0, 10)],
            adjustment,
        )
        .await;
    }

    // Actions on Saturdays (no bars): a 2-for-1 on 2021-01-09 and a 0.50 dividend on
    // 2021-01-16 whose previous close is Friday's 5.0 (factor 1 - 0.5/5 = 0.9).
    assert_bars_of(
        &app,
        "symbols=FFF&adjustment=all",
        &[
            flat_row(10.0 / 2.0 * 0.9, 5 * 2),
            flat_row(5.1 * 0.9, 10),
            flat_row(5.0 * 0.9, 10),
            flat_row(4.6, 10),
        ],
        "weekend actions",
    )
    .await;
}

#[tokio::test]
async fn aggregates_come_from_adjusted_bars() {
    let app = setup().await;
    // The week of 2020-08-24 holds only bars before the split: the adjusted weekly bar is
    // the raw weekly bar divided by 4 (volume times 4).
    assert_bars_of(
        &app,
        "symbols=AAA&interval=1w&adjustment=split",
        &[
            (
                500.0 / 4.0,
                510.0 / 4.0,
                490.0 / 4.0,
                500.0 / 4.0,
                (1000 + 1200) * 4,
            ),
            (127.0, 135.0, 125.0, 134.0, 4000 + 5000),
        ],
        "weeks",
    )
    .await;
    // August spans the split: first adjusted open, highest adjusted high (130 on the 31st
    // beats 510/4 = 127.5), lowest adjusted low (490/4 = 122.5), last close, summed
    // adjusted volumes.
    let months = assert_bars_of(
        &app,
        "symbols=AAA&interval=1mo&tz=America/New_York&adjustment=split&end=2020-09-01",
        &[(500.0 / 4.0, 130.0, 490.0 / 4.0, 129.0, 4000 + 4800 + 4000)],
        "month",
    )
    .await;
    assert_eq!(months[0]["count"], 3);
    // A daily bucket of one stored bar is that bar, adjusted alike (stored bars are adjusted
    // as they arrive, buckets in SQL before aggregation): to the last bit.
    for symbol in ["BBB", "CCC", "DDD", "EEE", "FFF"] {
        let stored = bars(&app, &format!("symbols={symbol}&adjustment=all")).await;
        let days = bars(
            &app,
            &format!("symbols={symbol}&adjustment=all&interval=1d&tz=America/New_York"),
        )
        .await;
        assert_eq!(stored.len(), days.len(), "{symbol}");
        for (bar, day) in stored.iter().zip(&days) {
            for field in [
                "price_open",
                "price_high",
                "price_low",
                "price_close",
                "trading_volume",
            ] {
                assert_eq!(bar[field], day[field], "{symbol} {field}: {bar} {day}");
            }
        }
    }
    // Gap filling carries adjusted closes.
    assert_bars_of(
        &app,
        "symbols=AAA&interval=1d&fill=previous&start=2020-08-28&end=2020-08-31&adjustment=split",
        &[
            (504.0 / 4.0, 508.0 / 4.0, 496.0 / 4.0, 500.0 / 4.0, 4800),
            flat_row(500.0 / 4.0, 0),
            flat_row(500.0 / 4.0, 0),
        ],
        "filled",
    )
    .await;
}

#[tokio::test]
async fn every_format_and_every_page_has_the_same_numbers() {
    let app = setup().await;
    let query = "symbols=BBB,FFF&adjustment=all";
    let json_bars = bars(&app, query).await;
    assert_eq!(json_bars.len(), 8);
    // Pages of 3 rows, across symbols and across the ex-dates.
    let (paged, _) = app.all_pages(&format!("{query}&limit=3")).await;
    assert_eq!(paged, json_bars);
    // Descending pages too.
    let (_, desc) = app
        .get_json(&format!("/v1/bars?{query}&order=desc&limit=2"))
        .await;
    assert_eq!(desc["bars"][0], json_bars[3]);
    // A token is bound to its adjustment.
    let (_, first) = app.get_json(&format!("/v1/bars?{query}&limit=3")).await;
    let token = first["next_page_token"].as_str().unwrap();
    let refused = app
        .get(&format!(
            "/v1/bars?symbols=BBB,FFF&adjustment=split&limit=3&page_token={token}"
        ))
        .await;
    expect_problem(refused, 400).await;

    let ndjson = app
        .get_text(&format!("/v1/bars?{query}&format=ndjson"))
        .await;
    assert_eq!(ndjson_values(&ndjson), json_bars);

    let csv = app.get_text(&format!("/v1/bars?{query}&format=csv")).await;
    let rows: Vec<&str> = csv.lines().skip(1).collect();
    assert_eq!(rows.len(), json_bars.len());
    for (row, bar) in rows.iter().zip(&json_bars) {
        let cells: Vec<&str> = row.split(',').collect();
        for (i, field) in ["price_open", "price_high", "price_low", "price_close"]
            .iter()
            .enumerate()
        {
            let cell: f64 = cells[2 + i].parse().unwrap();
            assert_eq!(cell, bar[*field].as_f64().unwrap(), "{row}");
        }
        assert_eq!(cells[6].parse::<i64>().ok(), bar["trading_volume"].as_i64());
    }
}

#[tokio::test]
async fn asof_reads_a_symbol_across_its_rename() {
    let app = setup().await;
    let closes = |bars: &[Value]| -> Vec<(String, f64)> {
        bars.iter()
            .map(|b| {
                (
                    b["symbol"].as_str().unwrap().to_owned(),
                    b["price_close"].as_f64().unwrap(),
                )
            })
            .collect()
    };
    let history = |name: &str| {
        [190.0, 196.64, 188.64, 175.57]
            .into_iter()
            .map(|c| (name.to_owned(), c))
            .collect::<Vec<_>>()
    };
    // META as known after the change: FB's bars before it, under META.
    assert_eq!(
        closes(&bars(&app, "symbols=META&asof=2022-06-10").await),
        history("META")
    );
    // And FB as known before it: META's bars after it, under FB.
    assert_eq!(
        closes(&bars(&app, "symbols=FB&asof=2022-06-01").await),
        history("FB")
    );
    // Without asof, names are literal.
    assert_eq!(bars(&app, "symbols=META").await.len(), 2);
    assert_eq!(bars(&app, "symbols=FB&asof=2022-06-10").await.len(), 2);
    // Aggregates span the change: the week of 2022-06-06 holds all four days.
    assert_bars_of(
        &app,
        "symbols=META&asof=2023-01-03&interval=1w",
        &[(190.0, 196.64, 175.57, 175.57, 40)],
        "week",
    )
    .await;
}

#[tokio::test]
async fn latest_bars_snapshots_and_dialects_adjust_too() {
    let app = setup().await;
    // HHH's latest bar is before its 2-for-1.
    let (_, latest) = app
        .get_json("/v1/bars/latest?symbols=HHH&adjustment=split")
        .await;
    assert_eq!(latest["bars"][0]["price_close"], 10.0 / 2.0);
    assert_eq!(latest["bars"][0]["trading_volume"], 20);
    let (_, raw) = app.get_json("/v1/bars/latest?symbols=HHH").await;
    assert_eq!(raw["bars"][0]["price_close"], 10.0);
    let (_, snap) = app
        .get_json("/v1/snapshots?symbols=HHH&adjustment=split")
        .await;
    assert_eq!(snap["snapshots"][0]["latest_bar"]["price_close"], 5.0);
    assert_eq!(snap["snapshots"][0]["prev_day"]["price_close"], 5.0);

    // Alpaca: `adjustment`, raw by default.
    let path = "/alpaca/v2/stocks/AAA/bars?timeframe=1Day&start=2020-08-27T00:00:00Z";
    let (_, raw) = app.get_json(path).await;
    assert_eq!(raw["bars"][0]["c"], 505.0);
    let (_, split) = app.get_json(&format!("{path}&adjustment=split")).await;
    assert_eq!(split["bars"][0]["c"], 505.0 / 4.0);
    assert_eq!(split["bars"][0]["v"], 4000);
    // Polygon: `adjusted`, true (splits) by default.
    let path = "/polygon/v2/aggs/ticker/AAA/range/1/day/2020-08-27/2020-09-01";
    let (_, adjusted) = app.get_json(path).await;
    assert_eq!(adjusted["adjusted"], true);
    assert_eq!(adjusted["results"][0]["c"], 505.0 / 4.0);
    let (_, raw) = app.get_json(&format!("{path}?adjusted=false")).await;
    assert_eq!(raw["adjusted"], false);
    assert_eq!(raw["results"][0]["c"], 505.0);
    // The chart takes the parameter (and refuses a wrong one).
    let chart = app
        .get("/v1/bars/chart.svg?symbol=AAA&interval=1d&start=2020-08-27&adjustment=split")
        .await;
    assert_eq!(chart.status(), 200);
    let bad = app
        .get("/v1/bars/chart.svg?symbol=AAA&interval=1d&adjustment=yes")
        .await;
    expect_problem(bad, 400).await;
}

#[tokio::test]
async fn writes_are_validated_whole_and_idempotent() {
    let app = setup().await;
    // One bad record among good ones: a 422 naming each bad record and field; nothing stored.
    let body = json!([
        {"type": "split", "symbol": "ZZZ", "ex_date": "2021-01-04", "split_from": 1, "split_to": 2},
        {"type": "split", "symbol": "ZZZ", "ex_date": "2021-02-30", "split_from": 1, "split_to": 2},
        {"type": "dividend", "symbol": "ZZZ", "ex_date": "2021-03-01", "cash_amount": -1},
        {"type": "merger", "symbol": "ZZZ", "ex_date": "2021-03-01"},
    ]);
    let response = app
        .post_json("/v1/corporate-actions", body.to_string())
        .await;
    let problem = expect_problem(response, 422).await;
    assert_eq!(
        error_places(&problem, "index"),
        [(1, "ex_date"), (2, "cash_amount"), (3, "type")]
    );
    let (_, listed) = app.get_json("/v1/corporate-actions?symbols=ZZZ").await;
    assert_eq!(listed["actions"], json!([]));

    // Posting the same actions again changes nothing.
    let (_, before) = app.get_json("/v1/corporate-actions").await;
    let again = app
        .post_json("/v1/corporate-actions", before["actions"].to_string())
        .await;
    assert_eq!(again.status(), 200);
    assert_eq!(
        again.json::<Value>().await.unwrap(),
        json!({"inserted": 0, "updated": 11})
    );
    let (_, after) = app.get_json("/v1/corporate-actions").await;
    assert_eq!(after, before);

    // CSV and NDJSON bodies.
    let csv = "type,symbol,ex_date,split_from,split_to,cash_amount\n\
               split,ZZZ,2021-01-04,1,2,\ndividend,ZZZ,2021-03-01,,,0.25\n";
    let path = "/v1/corporate-actions";
    let response = app.post_as(path, "text/csv", csv).await;
    assert_eq!(response.status(), 200);
    let no_ratio = "{\"type\":\"split\",\"symbol\":\"ZZZ\",\"ex_date\":\"2021-01-04\"}\n";
    let response = app.post_as(path, "application/x-ndjson", no_ratio).await;
    let problem = expect_problem(response, 422).await;
    assert_eq!(problem["errors"][0]["line"], 1);
    assert_eq!(problem["errors"][0]["field"], "split_from");
    let wrong_type = app.post_as(path, "text/plain", "x").await;
    expect_problem(wrong_type, 415).await;
}

#[tokio::test]
async fn the_list_filters_by_symbol_and_ex_date() {
    let app = setup().await;
    let listed = |query: &'static str| {
        let app = &app;
        async move {
            let (status, body) = app
                .get_json(&format!("/v1/corporate-actions?{query}"))
                .await;
            assert_eq!(status, 200, "{body}");
            body["actions"]
                .as_array()
                .unwrap()
                .iter()
                .map(|a| {
                    format!(
                        "{} {} {}",
                        a["symbol"].as_str().unwrap(),
                        a["type"].as_str().unwrap(),
                        a["ex_date"].as_str().unwrap()
                    )
                })
                .collect::<Vec<_>>()
        }
    };
    assert_eq!(
        listed("symbols=BBB").await,
        ["BBB split 2014-06-09", "BBB split 2020-08-31"]
    );
    // A rename is found by either name.
    assert_eq!(
        listed("symbols=META").await,
        ["FB symbol_change 2022-06-09"]
    );
    assert_eq!(
        listed("start=2020-08-31&end=2021-01-04").await,
        ["AAA split 2020-08-31", "BBB split 2020-08-31"]
    );
    let (_, limited) = app.get_json("/v1/corporate-actions?limit=2").await;
    assert_eq!(limited["truncated"], true);
    assert_eq!(limited["actions"][0]["split_to"], 7.0);
    for bad in [
        "start=2020-13-01",
        "limit=0",
        "symbols=",
        "start=2021-01-01&end=2020-01-01",
    ] {
        let response = app.get(&format!("/v1/corporate-actions?{bad}")).await;
        expect_problem(response, 400).await;
    }
}

/// `tsapi load --kind corporate-actions` with `input` on standard input.
fn load(app: &TestApp, format: &str, input: &str) -> std::process::Output {
    use std::io::Write;
    use std::process::{Command, Stdio};
    let mut child = Command::new(env!("CARGO_BIN_EXE_tsapi"))
        .args([
            "load",
            "--kind",
            "corporate-actions",
            "--format",
            format,
            "-",
        ])
        .env("DATABASE_URL", &app.db.url)
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("run tsapi");
    child
        .stdin
        .take()
        .unwrap()
        .write_all(input.as_bytes())
        .unwrap();
    child.wait_with_output().expect("tsapi output")
}

#[tokio::test]
async fn the_loader_stores_action_files_whole_or_not_at_all() {
    let app = setup().await;
    let bad = "type,symbol,ex_date,split_from,split_to\n\
               split,YYY,2021-01-04,1,2\nsplit,YYY,2021-01-05,1,\n";
    let out = load(&app, "csv", bad);
    assert!(!out.status.success());
    let message = String::from_utf8_lossy(&out.stderr);
    assert!(message.contains("line 3, field split_to"), "{message}");
    let (_, listed) = app.get_json("/v1/corporate-actions?symbols=YYY").await;
    assert_eq!(listed["actions"], json!([]));

    let good = "{\"type\":\"split\",\"symbol\":\"YYY\",\"ex_date\":\"2021-01-04\",\"split_from\":1,\"split_to\":2}\n\
                {\"type\":\"dividend\",\"symbol\":\"YYY\",\"ex_date\":\"2021-02-01\",\"cash_amount\":0.5}\n";
    let out = load(&app, "ndjson", good);
    assert!(
        out.status.success(),
        "{}",
        String::from_utf8_lossy(&out.stderr)
    );
    assert!(String::from_utf8_lossy(&out.stderr).contains("2 inserted"));
    let (_, listed) = app.get_json("/v1/corporate-actions?symbols=YYY").await;
    assert_eq!(listed["actions"].as_array().unwrap().len(), 2);
    // Loading the same file again updates in place.
    let out = load(&app, "ndjson", good);
    assert!(String::from_utf8_lossy(&out.stderr).contains("0 inserted, 2 updated"));
}

#[tokio::test]
async fn previous_closes_come_from_the_table_when_the_catalogue_has_other_days() {
    let app = setup().await;
    // The catalogue's days follow UTC now: its daily closes are not New York's.
    app.db
        .client()
        .await
        .batch_execute("UPDATE tsapi_catalog_meta SET zone = 'UTC'")
        .await
        .unwrap();
    assert_bars_of(
        &app,
        "symbols=DDD&adjustment=all",
        &ddd_after_its_dividend(),
        "dividend, previous close from the table",
    )
    .await;
}
