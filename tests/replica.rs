//! Reads from a real streaming replica, writes to the primary, and reads from the primary
//! while the replica is down.
//!
//! Needs `TSAPI_TEST_PRIMARY_URL` and `TSAPI_TEST_REPLICA_URL` (see `scripts/replica.sh`);
//! the test stops and restarts the replica with that script.

mod common;

use std::process::Command;
use std::time::Duration;

use common::answers::text_of;
use common::{api_defaults, connect, pool_defaults, post_json_to, service_url};
use serde_json::Value;
use tsapi::auth::Auth;
use tsapi::state::AppState;

const HOW: &str = "scripts/replica.sh start, TSAPI_TEST_PRIMARY_URL and TSAPI_TEST_REPLICA_URL";

fn replica_script(action: &str) {
    let script = concat!(env!("CARGO_MANIFEST_DIR"), "/scripts/replica.sh");
    let status = Command::new("bash")
        .args([script, action])
        .status()
        .unwrap();
    assert!(status.success(), "scripts/replica.sh {action}");
}

async fn latest(http: &reqwest::Client, address: &str, symbol: &str) -> (u16, Value) {
    let response = http
        .get(format!("{address}/ticker?symbol={symbol}"))
        .send()
        .await
        .unwrap();
    (response.status().as_u16(), response.json().await.unwrap())
}

fn bar(symbol: &str, time: &str) -> String {
    format!(r#"{{"records": {{"time": "{time}", "symbol": "{symbol}", "price_close": 1}}}}"#)
}

#[tokio::test]
async fn gets_read_the_replica_and_fall_back_to_the_primary_when_it_is_down() {
    let (Some(primary), Some(replica)) = (
        service_url("TSAPI_TEST_PRIMARY_URL", HOW),
        service_url("TSAPI_TEST_REPLICA_URL", HOW),
    ) else {
        return;
    };
    let mut admin = connect(&primary).await;
    tsapi::db::migrate(&mut admin)
        .await
        .expect("migrate the primary");
    let standby = connect(&replica).await;
    let in_recovery: bool = standby
        .query_one("SELECT pg_is_in_recovery()", &[])
        .await
        .unwrap()
        .get(0);
    assert!(in_recovery, "TSAPI_TEST_REPLICA_URL is not a standby");

    let pools = pool_defaults();
    let state = AppState::new(
        tsapi::db::create_pool(primary.parse().unwrap(), &pools).unwrap(),
        api_defaults(),
    )
    .with_auth(Auth::Disabled)
    .with_replica(
        tsapi::db::create_read_pool(
            replica.parse().unwrap(),
            &pools,
            &tsapi::db::DbTls::Off,
            tsapi::db::Recycling::Trusting,
        )
        .unwrap(),
    );
    let address = common::serve_state(state).await;
    let http = reqwest::Client::new();
    // A symbol of this run only: the clusters outlive the test.
    let symbol = format!("R{}", &uuid::Uuid::new_v4().simple().to_string()[..8]).to_uppercase();

    let insert = |time: &str| post_json_to(&address, "/insert", bar(&symbol, time));
    assert_eq!(insert("2021-11-12T15:00:00Z").await.status(), 200);
    let mut replayed = false;
    for _ in 0..200 {
        if latest(&http, &address, &symbol)
            .await
            .1
            .as_array()
            .is_some_and(|a| !a.is_empty())
        {
            replayed = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(replayed, "the write never showed up in reads");

    // With replay paused, a newer write reaches the primary but not the replica: reads
    // still see the older bar, so they are answered by the replica.
    standby
        .batch_execute("SELECT pg_wal_replay_pause()")
        .await
        .unwrap();
    assert_eq!(insert("2021-11-12T16:00:00Z").await.status(), 200);
    let (status, seen) = latest(&http, &address, &symbol).await;
    assert_eq!(status, 200);
    assert_eq!(
        seen[0]["time"], "2021-11-12T15:00:00Z",
        "read did not come from the replica"
    );
    standby
        .batch_execute("SELECT pg_wal_replay_resume()")
        .await
        .unwrap();
    drop(standby);

    // The metrics page shows both pools, and the replica's lookup connection is open.
    let page = text_of(http.get(format!("{address}/metrics"))).await;
    for series in [
        "tsapi_db_shared_connection_open{pool=\"replica\"} 1",
        "tsapi_db_pool_max_connections{pool=\"replica\"} 4",
        "tsapi_db_pool_max_connections{pool=\"primary\"} 4",
    ] {
        assert!(
            page.lines().any(|line| line == series),
            "no {series:?} in {page}"
        );
    }

    // Replica down: reads come from the primary, which has the newer bar.
    replica_script("stop-replica");
    let mut answers = Vec::new();
    for _ in 0..3 {
        answers.push(latest(&http, &address, &symbol).await);
    }
    replica_script("start-replica");
    for (status, seen) in answers {
        assert_eq!(status, 200, "{seen}");
        assert_eq!(seen[0]["time"], "2021-11-12T16:00:00Z");
    }
}
