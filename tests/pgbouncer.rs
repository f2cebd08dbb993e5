//! Every endpoint and the ingest path through a real PgBouncer in transaction pooling
//! mode, which keeps no prepared statement from one transaction to the next. The server
//! has more connections than PgBouncer has server connections, so consecutive statements
//! of one tsapi connection land on different PostgreSQL backends.
//!
//! Needs `TSAPI_TEST_PGBOUNCER_URL` (see `scripts/pgbouncer.sh`).

mod common;

use common::process::ServerProcess;
use common::{
    TUTORIAL_PAYLOAD, TestDb, api_defaults, get_from, pool_defaults, post_json_to, service_url,
    with_database,
};
use std::time::Duration;

use serde_json::Value;
use tsapi::auth::Auth;
use tsapi::db::StatementMode;
use tsapi::state::AppState;

const HOW: &str =
    "scripts/pgbouncer.sh start and TSAPI_TEST_PGBOUNCER_URL=$(scripts/pgbouncer.sh url)";

/// A migrated database and a tsapi server reaching it through PgBouncer, with unnamed
/// statements and `connections` pooled connections (more than PgBouncer's server
/// connections), a request that hangs answered 503 after 10 s. `None` without PgBouncer:
/// the test is skipped.
async fn behind_pgbouncer(connections: usize) -> Option<(TestDb, String)> {
    let bouncer = service_url("TSAPI_TEST_PGBOUNCER_URL", HOW)?;
    let db = TestDb::new(common::Schema::Migrated).await;
    let url = with_database(&bouncer, &db.name);
    let mut pool = pool_defaults();
    pool.pool_size = connections;
    pool.statement_cache = false;
    let pool = tsapi::db::create_pool(url.parse().unwrap(), &pool).unwrap();
    let mut api = api_defaults();
    api.request_timeout = Duration::from_secs(10);
    let state = AppState::new(pool, api)
        .with_auth(Auth::Disabled)
        .with_statements(StatementMode::Unnamed);
    let address = common::serve_state(state).await;
    Some((db, address))
}

#[tokio::test]
async fn every_endpoint_works_through_pgbouncer_in_transaction_mode() {
    let Some((db, address)) = behind_pgbouncer(12).await else {
        return;
    };
    let http = reqwest::Client::new();
    let get = |path: String| http.get(format!("{address}{path}")).send();

    assert_eq!(get("/readyz".into()).await.unwrap().status(), 200);
    let inserted = post_json_to(&address, "/insert", TUTORIAL_PAYLOAD).await;
    assert_eq!(inserted.status(), 200);
    assert_eq!(db.count().await, 3);

    // Many concurrent requests of every kind: each must succeed whichever backend it gets.
    // Writes are transactions with binary COPY; each stores one bar of symbol PGB.
    let mut tasks = Vec::new();
    for i in 0..48 {
        let http = http.clone();
        let address = address.clone();
        tasks.push(tokio::spawn(async move {
            let request = match i % 5 {
                0 => http.get(format!("{address}/ticker?symbol=MSFT")),
                1 => http.get(format!("{address}/ticker")),
                2 => http.get(format!("{address}/ticker/daily?symbol=AAPL&start=2021-11-12")),
                // Several lookups on one connection (not `/readyz`, whose 2 s budget a loaded
                // machine can exceed while 48 requests share PgBouncer's 4 server connections).
                3 => http.get(format!("{address}/v1/bars/latest?symbols=MSFT,AAPL,FB")),
                _ => http.post(format!("{address}/insert")).body(format!(
                    r#"{{"records": {{"time": "2021-11-13T00:{i:02}:00Z", "symbol": "PGB", "price_close": {i}, "trading_volume": {i}}}}}"#
                )),
            };
            let response = request.send().await.unwrap();
            (i, response.status().as_u16(), response.text().await.unwrap())
        }));
    }
    let mut writes = 0;
    for task in tasks {
        let (i, status, body) = task.await.unwrap();
        assert_eq!(status, 200, "request {i}: {body}");
        writes += usize::from(i % 5 == 4);
    }
    assert_eq!(db.count().await as usize, 3 + writes);
    let (status, pgb) = json(get("/ticker?symbol=PGB".into()).await.unwrap()).await;
    assert_eq!(status, 200);
    assert_eq!(pgb[0]["time"], "2021-11-13T00:44:00Z");

    let (_, latest) = json(get("/ticker?symbol=MSFT".into()).await.unwrap()).await;
    assert_eq!(latest[0]["time"], "2021-11-12T15:00:00Z");
    assert_eq!(latest[0]["trading_volume"], 562);
    let (_, daily) = json(get("/ticker/daily?symbol=AAPL".into()).await.unwrap()).await;
    assert_eq!(daily.as_array().unwrap().len(), 1, "{daily}");
    assert_eq!(daily[0]["bucket_day"], "2021-11-12T00:00:00Z");
}

async fn json(response: reqwest::Response) -> (u16, Value) {
    let status = response.status().as_u16();
    (status, response.json().await.unwrap())
}

#[tokio::test]
async fn bad_input_and_conflicts_keep_their_answers_through_pgbouncer() {
    let Some((db, address)) = behind_pgbouncer(12).await else {
        return;
    };
    let post = |body: &'static str| post_json_to(&address, "/insert", body);
    assert_eq!(post(TUTORIAL_PAYLOAD).await.status(), 200);
    // A duplicate aborts the transaction on whichever backend it ran: 409, nothing stored,
    // and the connection is usable afterwards.
    common::expect_problem(post(TUTORIAL_PAYLOAD).await, 409).await;
    assert_eq!(db.count().await, 3);
    let volume = r#"{"records": {"time": "2021-11-13", "symbol": "X", "trading_volume": 1.5}}"#;
    common::expect_problem(post(volume).await, 422).await;
    for _ in 0..8 {
        let response = get_from(&address, "/ticker?symbol=AAPL").await;
        assert_eq!(response.status(), 200);
    }
}

/// Failed writes, lookups of several symbols and exports cut off by their client, over one
/// pooled connection: each must leave nothing in flight for the next request on it, or
/// PgBouncer hands the answer to nobody and the next request waits forever.
#[tokio::test]
async fn one_connection_stays_usable_after_failures_and_cut_off_exports() {
    let Some((db, address)) = behind_pgbouncer(1).await else {
        return;
    };
    let http = reqwest::Client::new();
    // Record i: symbol S(i mod 400) at minute i / 400 of 2021-11-12.
    let ndjson = |rows: std::ops::Range<u32>, tail: &str| {
        let mut body: String = rows
            .map(|i| {
                let (hour, minute) = (i / 400 / 60, i / 400 % 60);
                format!(
                    r#"{{"time": "2021-11-12T{hour:02}:{minute:02}:00Z", "symbol": "S{:03}", "price_close": {i}, "trading_volume": {i}}}"#,
                    i % 400
                ) + "\n"
            })
            .collect();
        body.push_str(tail);
        body
    };
    let post = |body: String, query: &'static str| {
        http.post(format!("{address}/v1/bars{query}"))
            .header("content-type", "application/x-ndjson")
            .body(body)
            .send()
    };
    let stored = post(ndjson(0..20_000, ""), "").await.unwrap();
    assert_eq!(stored.status(), 200, "{}", stored.text().await.unwrap());

    for round in 0..6 {
        // A bad row after several COPY batches: refused, the transaction rolled back.
        let bad = post(ndjson(20_000..32_000, "{\"symbol\": \"X\"}\n"), "")
            .await
            .unwrap();
        common::expect_problem(bad, 422).await;
        // A duplicate: the COPY fails on the server, 409.
        let duplicate = post(ndjson(0..10, ""), "").await.unwrap();
        common::expect_problem(duplicate, 409).await;
        // An upsert: a staging table and a merge in the transaction.
        let upsert = post(ndjson(0..10, ""), "?on_conflict=update")
            .await
            .unwrap();
        assert_eq!(upsert.status(), 200, "round {round}");
        // The latest bar of many symbols: several lookups.
        let latest = get_ok(&http, format!("{address}/v1/bars/latest"), round).await;
        assert_eq!(
            latest["bars"].as_array().unwrap().len(),
            400,
            "round {round}"
        );
        // An export dropped after its first bytes, with rows still coming.
        let mut export = http
            .get(format!(
                "{address}/v1/bars?symbols=S001,S002,S003&format=csv"
            ))
            .send()
            .await
            .unwrap();
        assert_eq!(export.status(), 200, "round {round}");
        assert!(export.chunk().await.unwrap().is_some());
        drop(export);
        let ticker = get_ok(&http, format!("{address}/ticker?symbol=S007"), round).await;
        assert_eq!(ticker[0]["symbol"], "S007", "round {round}");
    }
    assert_eq!(db.count().await, 20_000);
}

/// `GET url`, which must answer 200 in `round`; returns the JSON body.
async fn get_ok(http: &reqwest::Client, url: String, round: u32) -> Value {
    let response = http.get(url).send().await.unwrap();
    assert_eq!(response.status(), 200, "round {round}");
    response.json().await.unwrap()
}

/// Prepared statements (the default) behind PgBouncer: the server's refusal is logged in
/// its own words, with the setting that fixes it; the client gets a plain 503.
#[tokio::test]
async fn pgbouncer_refusing_the_options_parameter_is_logged_with_the_fix() {
    let Some(bouncer) = service_url("TSAPI_TEST_PGBOUNCER_URL", HOW) else {
        return;
    };
    let db = TestDb::new(common::Schema::Migrated).await;
    let env = [
        ("TSAPI_AUTH", "none"),
        ("TSAPI_STATEMENT_CACHE", "true"),
        ("TSAPI_LOG_FORMAT", "json"),
        ("RUST_LOG", "info"),
    ];
    let server = ServerProcess::start(&with_database(&bouncer, &db.name), &env).await;
    let response = reqwest::get(server.url("/ticker?symbol=MSFT"))
        .await
        .unwrap();
    let status = response.status().as_u16();
    let body = response.text().await.unwrap();
    assert!(
        !body.contains("options"),
        "no server detail to clients: {body}"
    );
    // SIGTERM, so the server flushes its logs as it exits.
    let output = server.finish();
    let logs = String::from_utf8_lossy(&output.stderr);
    assert_eq!(status, 503, "{logs}");
    let line = logs
        .lines()
        .find(|l| l.contains("database refused to connect"))
        .unwrap_or_else(|| panic!("no log line of the refusal: {logs}"));
    assert!(
        line.contains("unsupported startup parameter: options"),
        "{line}"
    );
    assert!(line.contains("TSAPI_STATEMENT_CACHE=false"), "{line}");
}
