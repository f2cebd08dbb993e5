//! Trade counts and vwaps end to end, over real HTTP against a real TimescaleDB: what every
//! write path stores, what reads answer for stored bars and for buckets (hand-computed),
//! upserts, a split, and a table made the tutorial's way before and after `tsapi migrate`.

mod common;

use common::{Schema, TestApp, api_defaults, expect_problem};
use serde_json::{Value, json};

/// A bar of symbol VW at minute `minute` after 2024-03-01 14:30 UTC.
fn vw_bar(minute: i64, volume: Option<i64>, trade_count: Option<i64>, vwap: Option<f64>) -> Value {
    let time = "2024-03-01T14:30:00Z"
        .parse::<chrono::DateTime<chrono::Utc>>()
        .unwrap()
        + chrono::Duration::minutes(minute);
    json!({"time": time.to_rfc3339_opts(chrono::SecondsFormat::AutoSi, true), "symbol": "VW",
           "price_open": 10.0, "price_high": 60.0, "price_low": 5.0, "price_close": 20.0,
           "trading_volume": volume, "trade_count": trade_count, "vwap": vwap})
}

/// Bars chosen so that each rule of the aggregation shows: a missing volume or vwap leaves
/// a bar out of the vwap (not out of the trade count), a zero volume weighs nothing, and a
/// bucket whose volumes sum to 0 or whose bars have no trade counts answers null.
fn vw_bars() -> Vec<Value> {
    vec![
        vw_bar(0, Some(100), Some(10), Some(10.0)),
        vw_bar(1, Some(300), Some(20), Some(12.0)),
        vw_bar(2, None, Some(5), Some(50.0)),
        vw_bar(3, Some(200), None, None),
        vw_bar(5, Some(100), Some(7), Some(20.0)),
        vw_bar(6, Some(0), Some(0), Some(30.0)),
        vw_bar(10, Some(0), Some(3), Some(40.0)),
        vw_bar(15, Some(50), None, None),
        vw_bar(30, Some(10), Some(1), Some(25.5)),
    ]
}

async fn post(app: &TestApp, query: &str, content_type: &str, body: String) -> reqwest::Response {
    let url = app.url(&format!("/v1/bars{query}"));
    let request = app.http.post(url).header("content-type", content_type);
    request.body(body).send().await.unwrap()
}

async fn post_ok(app: &TestApp, query: &str, records: &[Value]) -> Value {
    let response = post(app, query, "application/json", json!(records).to_string()).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    response.json().await.unwrap()
}

async fn bars(app: &TestApp, query: &str) -> Vec<Value> {
    let (status, page) = app.get_json(&format!("/v1/bars?{query}")).await;
    assert_eq!(status, 200, "{query}: {page}");
    page["bars"].as_array().unwrap().clone()
}

/// (time, trade_count, vwap) of each bar.
fn stats(bars: &[Value]) -> Vec<(String, Value, Value)> {
    bars.iter()
        .map(|b| {
            (
                b["time"].as_str().unwrap().to_owned(),
                b["trade_count"].clone(),
                b["vwap"].clone(),
            )
        })
        .collect()
}

fn row(time: &str, trade_count: Value, vwap: Value) -> (String, Value, Value) {
    (format!("2024-03-01T{time}:00Z"), trade_count, vwap)
}

#[tokio::test]
async fn stored_bars_and_buckets_answer_summed_counts_and_volume_weighted_vwaps() {
    let app = TestApp::spawn().await;
    post_ok(&app, "", &vw_bars()).await;

    let stored = bars(&app, "symbols=VW").await;
    assert_eq!(stored.len(), 9);
    assert_eq!(
        (&stored[0]["trade_count"], &stored[0]["vwap"]),
        (&json!(10), &json!(10.0))
    );
    assert_eq!(
        (&stored[3]["trade_count"], &stored[3]["vwap"]),
        (&Value::Null, &Value::Null)
    );

    // 14:30: (10·100 + 12·300) / 400; the bar without a volume counts its trades only.
    // 14:35: the zero-volume bar weighs nothing. 14:40: volumes sum to 0. 14:45: nothing.
    assert_eq!(
        stats(&bars(&app, "symbols=VW&interval=5min").await),
        [
            row("14:30", json!(35), json!(11.5)),
            row("14:35", json!(7), json!(20.0)),
            row("14:40", json!(3), Value::Null),
            row("14:45", Value::Null, Value::Null),
            row("15:00", json!(1), json!(25.5)),
        ]
    );
    // (1000 + 3600 + 2000) / 500 over the first quarter hour.
    assert_eq!(
        stats(&bars(&app, "symbols=VW&interval=15min").await),
        [
            row("14:30", json!(45), json!(6600.0 / 500.0)),
            row("14:45", Value::Null, Value::Null),
            row("15:00", json!(1), json!(25.5)),
        ]
    );
    // Filled buckets have no trades and no vwap, whatever the fill.
    for fill in ["null", "previous"] {
        let filled = bars(
            &app,
            &format!(
                "symbols=VW&interval=5min&fill={fill}&start=2024-03-01T14:30:00Z\
                 &end=2024-03-01T15:05:00Z"
            ),
        )
        .await;
        assert_eq!(filled.len(), 7, "{fill}");
        assert_eq!(
            (
                &filled[4]["count"],
                &filled[4]["trade_count"],
                &filled[4]["vwap"]
            ),
            (&json!(0), &Value::Null, &Value::Null),
            "{fill}"
        );
    }

    // The day, from the catalogue (its zone) and by scanning (another zone): all nine.
    let day = (json!(46), json!(6855.0 / 510.0));
    for tz in ["America/New_York", "UTC"] {
        for path in [
            format!("/v1/bars/grouped?date=2024-03-01&tz={tz}"),
            format!("/v1/bars?symbols=VW&interval=1d&tz={tz}&start=2024-03-01&end=2024-03-02"),
        ] {
            let (_, answer) = app.get_json(&path).await;
            let bar = &answer["bars"][0];
            assert_eq!(
                (bar["trade_count"].clone(), bar["vwap"].clone()),
                day,
                "{path}"
            );
        }
    }
    let (_, snapshots) = app
        .get_json("/v1/snapshots?symbols=VW&tz=America/New_York")
        .await;
    let latest = &snapshots["snapshots"][0]["latest_bar"];
    assert_eq!(
        (&latest["trade_count"], &latest["vwap"]),
        (&json!(1), &json!(25.5))
    );
    let (_, latest) = app.get_json("/v1/bars/latest?symbols=VW").await;
    assert_eq!(
        (
            &latest["bars"][0]["trade_count"],
            &latest["bars"][0]["vwap"]
        ),
        (&json!(1), &json!(25.5))
    );

    // The dialects carry the same numbers as `n` and `vw`.
    let (_, aggs) = app
        .get_json("/polygon/v2/aggs/ticker/VW/range/15/minute/2024-03-01/2024-03-01")
        .await;
    assert_eq!(
        (&aggs["results"][0]["n"], &aggs["results"][0]["vw"]),
        (&json!(45), &json!(13.2))
    );
    let (_, alpaca) = app
        .get_json("/alpaca/v2/stocks/VW/bars?timeframe=5Min&start=2024-03-01T14:30:00Z")
        .await;
    let first = &alpaca["bars"][0];
    assert_eq!(
        (&first["n"], &first["vw"]),
        (&json!(35), &json!(11.5)),
        "{alpaca}"
    );

    // CSV has the two columns after the volume.
    let csv = app
        .get_text("/v1/bars?symbols=VW&interval=15min&format=csv")
        .await;
    let lines: Vec<&str> = csv.lines().collect();
    assert_eq!(
        lines[0],
        "time,symbol,price_open,price_high,price_low,price_close,trading_volume,trade_count,\
         vwap,count"
    );
    assert_eq!(lines[1], "2024-03-01T14:30:00Z,VW,10,60,5,20,700,45,13.2,7");
    assert_eq!(lines[2], "2024-03-01T14:45:00Z,VW,10,60,5,20,50,,,1");
}

#[tokio::test]
async fn every_write_format_and_tsapi_load_store_trade_count_and_vwap() {
    let app = TestApp::spawn().await;
    let expected = |symbol: &str| {
        json!([
            {"time": "2024-03-01T14:30:00Z", "symbol": symbol, "price_open": null,
             "price_high": null, "price_low": null, "price_close": 1.5, "trading_volume": 7,
             "trade_count": 3, "vwap": 1.25},
            {"time": "2024-03-01T14:31:00Z", "symbol": symbol, "price_open": null,
             "price_high": null, "price_low": null, "price_close": 2.5, "trading_volume": 8,
             "trade_count": null, "vwap": null},
        ])
    };
    let json_body = json!({"records": [
        {"time": "2024-03-01T14:30:00Z", "symbol": "JS", "price_close": 1.5,
         "trading_volume": 7, "trade_count": 3.0, "vwap": 1.25},
        {"time": "2024-03-01T14:31:00Z", "symbol": "JS", "price_close": 2.5,
         "trading_volume": 8, "trade_count": null},
    ]});
    let ndjson = "{\"time\":\"2024-03-01T14:30:00Z\",\"symbol\":\"ND\",\"price_close\":1.5,\
                  \"trading_volume\":7,\"trade_count\":3,\"vwap\":1.25}\n\
                  {\"time\":\"2024-03-01T14:31:00Z\",\"symbol\":\"ND\",\"price_close\":2.5,\
                  \"trading_volume\":8,\"vwap\":null}\n";
    let csv = |symbol: &str| {
        format!(
            "vwap,symbol,time,price_close,trading_volume,trade_count\n\
             1.25,{symbol},2024-03-01T14:30:00Z,1.5,7,3.0\n\
             ,{symbol},2024-03-01T14:31:00Z,2.5,8,\n"
        )
    };
    for (content_type, body, symbol) in [
        ("application/json", json_body.to_string(), "JS"),
        ("application/x-ndjson", ndjson.to_owned(), "ND"),
        ("text/csv", csv("CS"), "CS"),
    ] {
        let response = post(&app, "", content_type, body).await;
        assert_eq!(
            response.status(),
            200,
            "{content_type}: {:?}",
            response.text().await
        );
        let (_, page) = app.get_json(&format!("/v1/bars?symbols={symbol}")).await;
        assert_eq!(page["bars"], expected(symbol), "{content_type}");
    }

    // `tsapi load`, CSV and NDJSON files.
    let dir = std::env::temp_dir().join(format!("tsapi-trade-stats-{}", uuid::Uuid::new_v4()));
    std::fs::create_dir_all(&dir).unwrap();
    let csv_file = dir.join("bars.csv");
    std::fs::write(&csv_file, csv("LC")).unwrap();
    let ndjson_file = dir.join("bars.ndjson");
    std::fs::write(&ndjson_file, ndjson.replace("\"ND\"", "\"LN\"")).unwrap();
    for (file, symbol) in [(&csv_file, "LC"), (&ndjson_file, "LN")] {
        common::process::tsapi_ok(&["load", file.to_str().unwrap()], &app.db.url);
        let (_, page) = app.get_json(&format!("/v1/bars?symbols={symbol}")).await;
        assert_eq!(page["bars"], expected(symbol), "tsapi load {symbol}");
    }
    std::fs::remove_dir_all(&dir).unwrap();
}

#[tokio::test]
async fn upserts_keep_the_stored_trade_count_and_vwap_unless_given() {
    let app = TestApp::spawn().await;
    let at = "2024-03-01T14:30:00Z";
    post_ok(
        &app,
        "",
        &[
            json!({"time": at, "symbol": "UP", "price_close": 1.0, "trading_volume": 5,
                 "trade_count": 4, "vwap": 1.5}),
        ],
    )
    .await;
    let stored = || async { bars(&app, "symbols=UP").await[0].clone() };

    // Absent, then null: both keep what is stored.
    post_ok(
        &app,
        "?on_conflict=update",
        &[json!({"time": at, "symbol": "UP", "price_close": 2.0})],
    )
    .await;
    post_ok(
        &app,
        "?on_conflict=update",
        &[json!({"time": at, "symbol": "UP", "trade_count": null, "vwap": null})],
    )
    .await;
    let bar = stored().await;
    assert_eq!(
        (&bar["price_close"], &bar["trade_count"], &bar["vwap"]),
        (&json!(2.0), &json!(4), &json!(1.5))
    );
    // Given: replaced; `ignore` changes nothing.
    post_ok(
        &app,
        "?on_conflict=update",
        &[json!({"time": at, "symbol": "UP", "trade_count": 9, "vwap": 1.75})],
    )
    .await;
    let counts = post_ok(
        &app,
        "?on_conflict=ignore",
        &[json!({"time": at, "symbol": "UP", "trade_count": 1, "vwap": 9.0})],
    )
    .await;
    assert_eq!(counts["skipped"], 1);
    let bar = stored().await;
    assert_eq!(
        (&bar["trade_count"], &bar["vwap"]),
        (&json!(9), &json!(1.75))
    );
    // The catalogue followed the upserts.
    let (_, latest) = app.get_json("/v1/snapshots?symbols=UP").await;
    let day = &latest["snapshots"][0]["prev_day"];
    assert_eq!(
        (&day["trade_count"], &day["vwap"]),
        (&json!(9), &json!(1.75))
    );
}

#[tokio::test]
async fn bad_trade_counts_and_vwaps_are_refused_naming_the_field() {
    let app = TestApp::spawn().await;
    for (field, value, says) in [
        ("trade_count", json!(-1), "negative"),
        ("trade_count", json!(1.5), "not an integer"),
        ("trade_count", json!("3"), "must be an integer"),
        ("vwap", json!(0), "not above 0"),
        ("vwap", json!(-2.5), "not above 0"),
        ("vwap", json!("1.5"), "must be a number"),
    ] {
        let mut record = json!({"time": "2024-03-01T14:30:00Z", "symbol": "BAD"});
        record[field] = value.clone();
        let response = post(&app, "", "application/json", json!([record]).to_string()).await;
        let problem = expect_problem(response, 422).await;
        let error = &problem["errors"][0];
        assert_eq!(error["field"], field, "{value}: {problem}");
        assert!(
            error["message"].as_str().unwrap().contains(says),
            "{value}: {problem}"
        );
    }
    let csv = "time,symbol,vwap\n2024-03-01T14:30:00Z,BAD,NaN\n";
    let problem = expect_problem(post(&app, "", "text/csv", csv.into()).await, 422).await;
    assert_eq!(problem["errors"][0]["field"], "vwap");
    assert_eq!(problem["errors"][0]["line"], 2);
    assert!(
        bars(&app, "symbols=BAD").await.is_empty(),
        "nothing was stored"
    );
}

#[tokio::test]
async fn a_split_adjusts_the_vwap_like_a_price_and_not_the_trade_count() {
    let app = TestApp::spawn().await;
    post_ok(
        &app,
        "",
        &[
            json!({"time": "2020-08-28T15:00:00Z", "symbol": "SPL", "price_close": 400.0,
                   "trading_volume": 100, "trade_count": 10, "vwap": 401.0}),
            json!({"time": "2020-08-28T16:00:00Z", "symbol": "SPL", "price_close": 404.0,
                   "trading_volume": 300, "trade_count": 30, "vwap": 403.0}),
            json!({"time": "2020-08-31T15:00:00Z", "symbol": "SPL", "price_close": 101.0,
                   "trading_volume": 800, "trade_count": 50, "vwap": 100.5}),
        ],
    )
    .await;
    let actions = json!([{"type": "split", "symbol": "SPL", "ex_date": "2020-08-31",
                          "split_from": 1, "split_to": 4}]);
    let response = app
        .post_json("/v1/corporate-actions", actions.to_string())
        .await;
    assert_eq!(response.status(), 200);

    // Stored bars, adjusted on arrival: prices / 4, volumes × 4, counts as they were.
    let adjusted = bars(&app, "symbols=SPL&adjustment=split").await;
    assert_eq!(
        stats(&adjusted)
            .into_iter()
            .map(|(_, n, vw)| (n, vw))
            .collect::<Vec<_>>(),
        [
            (json!(10), json!(401.0 / 4.0)),
            (json!(30), json!(403.0 / 4.0)),
            (json!(50), json!(100.5)),
        ]
    );
    // Buckets, adjusted in SQL: the day before the split weighs the adjusted bars by their
    // adjusted volumes, (100.25·400 + 100.75·1200) / 1600.
    let days = bars(
        &app,
        "symbols=SPL&adjustment=split&interval=1d&tz=America/New_York",
    )
    .await;
    assert_eq!(
        stats(&days)
            .into_iter()
            .map(|(_, n, vw)| (n, vw))
            .collect::<Vec<_>>(),
        [
            (
                json!(40),
                json!((100.25 * 400.0 + 100.75 * 1200.0) / 1600.0)
            ),
            (json!(50), json!(100.5)),
        ]
    );
    let raw = bars(&app, "symbols=SPL&adjustment=raw").await;
    assert_eq!(raw[0]["vwap"], 401.0);
}

/// A table made by the tutorial's SQL: no `trade_count`, no `vwap`, no catalogue, no feed.
const TUTORIAL_TABLE: &str = "CREATE TABLE stocks_intraday (\"time\" TIMESTAMPTZ NOT NULL, \
    symbol TEXT NULL, price_open DOUBLE PRECISION NULL, price_close DOUBLE PRECISION NULL, \
    price_low DOUBLE PRECISION NULL, price_high DOUBLE PRECISION NULL, trading_volume INT NULL); \
    SELECT create_hypertable('stocks_intraday', 'time');";

#[tokio::test]
async fn a_tutorial_table_answers_nulls_and_refuses_the_fields_until_migrated() {
    let app = TestApp::spawn_with(Schema::Empty, api_defaults()).await;
    let client = app.db.client().await;
    client.batch_execute(TUTORIAL_TABLE).await.unwrap();
    app.insert(vec![
        json!({"time": "2024-03-01 14:30:00", "symbol": "TT", "price_close": 1.5,
               "trading_volume": 7}),
        json!({"time": "2024-03-01 14:31:00", "symbol": "TT", "price_close": 2.5,
               "trading_volume": 8, "trade_count": null, "vwap": null}),
    ])
    .await;
    for query in [
        "symbols=TT",
        "symbols=TT&interval=1h",
        "symbols=TT&interval=1d&fill=null&start=2024-02-29&end=2024-03-03",
    ] {
        for bar in bars(&app, query).await {
            assert_eq!(
                (&bar["trade_count"], &bar["vwap"]),
                (&Value::Null, &Value::Null)
            );
        }
    }
    let (_, latest) = app.get_json("/v1/bars/latest?symbols=TT").await;
    assert_eq!(latest["bars"][0]["trade_count"], Value::Null);
    let (_, snapshots) = app.get_json("/v1/snapshots?symbols=TT").await;
    assert_eq!(snapshots["snapshots"][0]["latest_bar"]["vwap"], Value::Null);

    // A value the table cannot hold is refused, naming the field and the fix, on both
    // write paths; nothing of the request is stored.
    let record = json!({"time": "2024-03-01T14:32:00Z", "symbol": "TT", "price_close": 3.0,
                        "trade_count": 4, "vwap": 2.75});
    for path in ["/v1/bars", "/insert"] {
        let body = json!({"records": [record.clone()]}).to_string();
        let problem = expect_problem(app.post_json(path, body).await, 422).await;
        let errors = &problem["errors"];
        let fields = (&errors[0]["field"], &errors[1]["field"], &errors[2]);
        assert_eq!(
            fields,
            (&json!("trade_count"), &json!("vwap"), &Value::Null),
            "{path}"
        );
        assert!(
            problem["errors"][0]["message"]
                .as_str()
                .unwrap()
                .contains("tsapi migrate")
        );
    }
    assert_eq!(bars(&app, "symbols=TT").await.len(), 2);

    // `tsapi migrate` adds the columns (twice: nothing more happens), keeps the rows, and a
    // server started afterwards stores and answers the fields.
    for _ in 0..2 {
        common::process::tsapi_ok(&["migrate"], &app.db.url);
    }
    let before = bars(&app, "symbols=TT").await;
    let migrated = TestApp {
        address: common::serve(&app.db.url, api_defaults()).await,
        http: reqwest::Client::new(),
        db: app.db,
    };
    assert_eq!(bars(&migrated, "symbols=TT").await, before);
    post_ok(&migrated, "", &[record]).await;
    let bars = bars(&migrated, "symbols=TT&start=2024-03-01T14:32:00Z").await;
    assert_eq!(
        (&bars[0]["trade_count"], &bars[0]["vwap"]),
        (&json!(4), &json!(2.75))
    );
    let (_, grouped) = migrated.get_json("/v1/bars/grouped?date=2024-03-01").await;
    assert_eq!(grouped["bars"][0]["trade_count"], 4);
}
