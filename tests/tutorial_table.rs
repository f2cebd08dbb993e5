//! A table made the tutorial's way (integer volume, nullable symbol, no unique index,
//! columns in another order) works without migrating, and `tsapi migrate` keeps its data.

mod common;

use common::{Schema, TUTORIAL_PAYLOAD, TestApp, api_defaults, expect_problem};
use serde_json::json;

const TUTORIAL_DDL: &str = r#"
    CREATE TABLE stocks_intraday (
        "time" TIMESTAMPTZ NOT NULL,
        symbol TEXT NULL,
        price_open DOUBLE PRECISION NULL,
        price_close DOUBLE PRECISION NULL,
        price_low DOUBLE PRECISION NULL,
        price_high DOUBLE PRECISION NULL,
        trading_volume INT NULL
    );
    SELECT create_hypertable('stocks_intraday', 'time');
"#;

async fn tutorial_app() -> TestApp {
    let app = TestApp::spawn_with(Schema::Empty, api_defaults()).await;
    app.db
        .client()
        .await
        .batch_execute(TUTORIAL_DDL)
        .await
        .unwrap();
    app
}

#[tokio::test]
async fn reads_and_writes_work_on_a_tutorial_table() {
    let app = tutorial_app().await;
    let response = app.post_json("/insert", TUTORIAL_PAYLOAD).await;
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(
        app.db.rows().await[0],
        "AAPL|2021-11-12T15:00:00Z|149.8|149.73|149.73|149.81|17291"
    );
    let (status, body) = app.get_json("/ticker?symbol=MSFT").await;
    assert_eq!(status, 200);
    assert_eq!(body[0]["trading_volume"], 562);
    let (_, all) = app.get_json("/ticker").await;
    assert_eq!(all.as_array().unwrap().len(), 3);
    let (_, daily) = app.get_json("/ticker/daily?symbol=FB").await;
    assert_eq!(daily[0]["avg_price"], 341.3);
}

#[tokio::test]
async fn a_volume_beyond_the_integer_column_is_422() {
    let app = tutorial_app().await;
    let body = json!({"records": [
        {"time": "2021-11-12", "symbol": "OK", "trading_volume": 2_147_483_647i64},
        {"time": "2021-11-12", "symbol": "BIG", "trading_volume": 2_147_483_648i64}
    ]});
    let problem = expect_problem(app.post_json("/insert", body.to_string()).await, 422).await;
    assert_eq!(problem["errors"][0]["index"], 1);
    assert_eq!(problem["errors"][0]["field"], "trading_volume");
    assert!(
        problem["errors"][0]["message"]
            .as_str()
            .unwrap()
            .contains("integer")
    );
    assert_eq!(app.db.count().await, 0);
}

/// Runs the migration, whose report must have a note that says `word`.
async fn migrate_noting(client: &mut tokio_postgres::Client, word: &str) {
    let report = tsapi::db::migrate(client).await.unwrap();
    assert!(
        report.notes.iter().any(|n| n.contains(word)),
        "no note about {word:?}: {:?}",
        report.notes
    );
}

#[tokio::test]
async fn migrate_keeps_a_tutorial_table_and_its_rows() {
    let app = tutorial_app().await;
    app.post_json("/insert", TUTORIAL_PAYLOAD).await;
    let before = app.db.rows().await;
    let mut client = app.db.client().await;
    migrate_noting(&mut client, "integer").await;
    tsapi::db::migrate(&mut client).await.unwrap();
    assert_eq!(app.db.rows().await, before);
    let unique: bool = client
        .query_one(
            "SELECT EXISTS (SELECT 1 FROM pg_indexes WHERE indexname = 'stocks_intraday_symbol_time_key')",
            &[],
        )
        .await
        .unwrap()
        .get(0);
    assert!(unique);
}

#[tokio::test]
async fn migrate_reports_duplicates_instead_of_failing() {
    let app = tutorial_app().await;
    app.post_json("/insert", TUTORIAL_PAYLOAD).await;
    app.post_json("/insert", TUTORIAL_PAYLOAD).await; // no unique index yet: stored twice
    assert_eq!(app.db.count().await, 6);
    let mut client = app.db.client().await;
    migrate_noting(&mut client, "duplicate").await;
    assert_eq!(app.db.count().await, 6);
}

#[tokio::test]
async fn bulk_writes_adapt_to_a_tutorial_table() {
    let app = tutorial_app().await;
    let post = |body: &'static str, query: &'static str| {
        app.http
            .post(app.url(&format!("/v1/bars{query}")))
            .header("content-type", "text/csv")
            .body(body)
            .send()
    };
    let csv = "time,symbol,price_high,trading_volume\n2021-11-12,OK,2.5,2147483647\n";
    let response = post(csv, "").await.unwrap();
    assert_eq!(response.status(), 200, "{:?}", response.text().await);
    assert_eq!(
        app.db.rows().await,
        ["OK|2021-11-12T00:00:00Z|2.5|2147483647"]
    );
    let too_big = "time,symbol,trading_volume\n2021-11-13,A,1\n2021-11-13,B,2147483648\n";
    let problem = expect_problem(post(too_big, "").await.unwrap(), 422).await;
    assert_eq!(problem["errors"][0]["line"], 3);
    assert_eq!(problem["errors"][0]["field"], "trading_volume");
    // Upserts need the unique index that `tsapi migrate` adds; the answer says so, as a
    // conflict with the table's state, which a retry does not change.
    let problem = expect_problem(post(csv, "?on_conflict=ignore").await.unwrap(), 409).await;
    assert!(
        problem["detail"]
            .as_str()
            .unwrap()
            .contains("tsapi migrate")
    );
    assert_eq!(app.db.count().await, 1);
}
