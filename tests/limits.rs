//! Backpressure: slow requests are cut off, a saturated server sheds load, and a slow
//! statement is stopped by PostgreSQL. A table lock held by the test makes reads slow.

mod common;

use std::time::Duration;

use common::{TestApp, api_defaults, expect_problem_saying, get_from, pool_defaults};
use tsapi::auth::Auth;
use tsapi::config::{ApiArgs, PoolArgs};
use tsapi::state::AppState;

/// A server with these limits over a table the test holds locked, so that its reads wait
/// until `lock` commits.
struct Stalled {
    app: TestApp,
    address: String,
    lock: tokio_postgres::Client,
}

async fn stalled_server(api: ApiArgs, pool: PoolArgs) -> Stalled {
    let app = TestApp::spawn().await;
    let pg: tokio_postgres::Config = app.db.url.parse().unwrap();
    let pool = tsapi::db::create_pool(pg, &pool).unwrap();
    let address = common::serve_state(AppState::new(pool, api).with_auth(Auth::Disabled)).await;
    let lock = app.db.lock_table().await;
    Stalled { app, address, lock }
}

#[tokio::test]
async fn a_request_over_the_deadline_is_a_503() {
    let mut api = api_defaults();
    api.request_timeout = Duration::from_millis(800);
    let Stalled { address, .. } = &stalled_server(api, pool_defaults()).await;
    let slow = get_from(address, "/ticker?symbol=AAPL").await;
    assert!(slow.headers().contains_key("retry-after"));
    expect_problem_saying(slow, 503, "longer than").await;
}

#[tokio::test]
async fn past_the_concurrency_cap_requests_are_shed_with_503() {
    let mut api = api_defaults();
    api.max_concurrent_requests = 1;
    api.request_timeout = Duration::from_secs(20);
    let Stalled { app, address, lock } = &stalled_server(api, pool_defaults()).await;
    let first = tokio::spawn(reqwest::get(format!("{address}/ticker?symbol=AAPL")));
    // Wait until the first request really waits on the lock.
    app.db.until_a_request_waits_on_the_lock().await;
    let second = get_from(address, "/ticker?symbol=MSFT").await;
    expect_problem_saying(second, 503, "at once").await;
    // Liveness still answers while saturated.
    assert_eq!(get_from(address, "/healthz").await.status(), 200);
    lock.batch_execute("COMMIT").await.unwrap();
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
    // With the slot free again, requests are served.
    let after = get_from(address, "/ticker?symbol=MSFT").await;
    assert_eq!(after.status(), 200);
}

#[tokio::test]
async fn a_statement_over_its_timeout_is_a_503() {
    let mut pool = pool_defaults();
    pool.statement_timeout = Duration::from_millis(500);
    let Stalled { address, .. } = &stalled_server(api_defaults(), pool).await;
    let slow = get_from(address, "/ticker/daily?symbol=AAPL").await;
    expect_problem_saying(slow, 503, "statement timeout").await;
}

#[tokio::test]
async fn an_exhausted_pool_is_a_503_with_retry_after() {
    let mut pool = pool_defaults();
    pool.pool_size = 1;
    pool.pool_timeout = Duration::from_millis(300);
    let Stalled { address, lock, .. } = &stalled_server(api_defaults(), pool).await;
    // Daily buckets take a pooled connection each (latest-bar lookups share one).
    let first = tokio::spawn(reqwest::get(format!("{address}/ticker/daily?symbol=AAPL")));
    tokio::time::sleep(Duration::from_millis(300)).await;
    let second = get_from(address, "/ticker/daily?symbol=MSFT").await;
    assert!(second.headers().contains_key("retry-after"));
    expect_problem_saying(second, 503, "busy").await;
    lock.batch_execute("COMMIT").await.unwrap();
    assert_eq!(first.await.unwrap().unwrap().status(), 200);
}
