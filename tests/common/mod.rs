//! Test harness: every test gets its own database on the local TimescaleDB (copied from a
//! migrated template, so tests run in parallel) and a real tsapi server on a free port.
#![allow(dead_code)] // each test binary uses a different part of the harness

pub mod answers;
pub mod bars;
pub mod bodies;
pub mod devtools;
pub mod lambda_process;
pub mod live;
pub mod pages;
pub mod process;
pub mod readers;
pub mod runtime_api;
pub mod scratch;
pub mod tls_server;

#[allow(unused_imports)] // the names tests import from here; not every test uses them
pub use answers::{expect_problem, expect_problem_saying};

use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use serde_json::Value;
use tokio_postgres::{Client, NoTls};
use tsapi::auth::Auth;
use tsapi::config::{ApiArgs, PoolArgs};
use tsapi::router::router;
use tsapi::state::AppState;

/// The cluster that `scripts/db.sh` runs; override with `TSAPI_TEST_DATABASE_URL`.
pub fn admin_url() -> String {
    std::env::var("TSAPI_TEST_DATABASE_URL")
        .unwrap_or_else(|_| "postgres://tsapi:tsapi@127.0.0.1:54329/postgres".into())
}

pub fn url_for(db: &str) -> String {
    let admin = admin_url();
    let (base, _) = admin.rsplit_once('/').expect("URL with a database name");
    format!("{base}/{db}")
}

pub async fn connect(url: &str) -> Client {
    let (client, connection) = tokio_postgres::connect(url, NoTls)
        .await
        .unwrap_or_else(|e| panic!("cannot connect to the test database ({e}); run scripts/db.sh"));
    tokio::spawn(connection);
    client
}

/// Names the template after the migration code, so a schema change builds a new one.
fn template_name() -> String {
    // The schema is what these files create.
    let source = [
        include_str!("../../src/db/migrate.rs"),
        include_str!("../../src/db/catalog.rs"),
        include_str!("../../src/db/catalog_version.rs"),
        include_str!("../../src/db/feed_trigger.rs"),
        include_str!("../../src/db/feed_log.rs"),
        include_str!("../../src/db/actions.rs"),
    ];
    let hash = source
        .iter()
        .flat_map(|s| s.bytes())
        .fold(0xcbf2_9ce4_8422_2325_u64, |h, b| {
            (h ^ u64::from(b)).wrapping_mul(0x0100_0000_01b3)
        });
    format!("tsapi_template_{:012x}", hash & 0xffff_ffff_ffff)
}

/// How the test database starts out.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Schema {
    /// As `tsapi migrate` leaves it.
    Migrated,
    /// Only the timescaledb extension; the test makes its own table.
    Empty,
}

/// A private database, dropped when the value is dropped.
pub struct TestDb {
    pub name: String,
    pub url: String,
}

static COUNTER: AtomicU64 = AtomicU64::new(0);

impl TestDb {
    pub async fn new(schema: Schema) -> Self {
        let admin = connect(&admin_url()).await;
        let name = format!(
            "tsapi_test_{}_{}_{}",
            std::process::id(),
            COUNTER.fetch_add(1, Ordering::Relaxed),
            uuid::Uuid::new_v4().simple().to_string().get(..8).unwrap()
        );
        match schema {
            Schema::Migrated => {
                let template = ensure_template(&admin).await;
                create_from_template(&admin, &name, &template).await;
            }
            Schema::Empty => {
                admin
                    .batch_execute(&format!("CREATE DATABASE {name}"))
                    .await
                    .expect("create test database");
                connect(&url_for(&name))
                    .await
                    .batch_execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
                    .await
                    .expect("create extension");
            }
        }
        let url = url_for(&name);
        Self { name, url }
    }

    pub async fn client(&self) -> Client {
        connect(&self.url).await
    }

    /// `tsapi catalog refresh`: after rows written straight into the table, so that
    /// whole-market reads (served from the symbol catalogue) see them.
    pub async fn refresh_catalog(&self) {
        tsapi::db::rebuild_catalog(&mut self.client().await, None)
            .await
            .expect("rebuild the catalogue");
    }

    /// Every row of the table, as `symbol|time|open|high|low|close|volume` text.
    pub async fn rows(&self) -> Vec<String> {
        self.client()
            .await
            .query(
                "SELECT concat_ws('|', symbol, to_char(time AT TIME ZONE 'UTC', 'YYYY-MM-DD\"T\"HH24:MI:SS\"Z\"'), \
                 price_open, price_high, price_low, price_close, trading_volume) \
                 FROM stocks_intraday ORDER BY symbol, time",
                &[],
            )
            .await
            .expect("read rows")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }

    /// Locks the table until the returned session ends or commits, so a request that
    /// touches it stays in flight.
    pub async fn lock_table(&self) -> Client {
        let client = self.client().await;
        client
            .batch_execute("BEGIN; LOCK TABLE stocks_intraday IN ACCESS EXCLUSIVE MODE")
            .await
            .expect("lock the table");
        client
    }

    /// Waits (at most 5 s) until a tsapi session waits on a lock, i.e. a request is stuck
    /// behind [`TestDb::lock_table`].
    pub async fn until_a_request_waits_on_the_lock(&self) {
        let watcher = self.client().await;
        for _ in 0..200 {
            let waiting: i64 = watcher
                .query_one(
                    "SELECT count(*) FROM pg_stat_activity WHERE application_name = 'tsapi' \
                     AND wait_event_type = 'Lock'",
                    &[],
                )
                .await
                .expect("read pg_stat_activity")
                .get(0);
            if waiting > 0 {
                return;
            }
            tokio::time::sleep(Duration::from_millis(25)).await;
        }
    }

    pub async fn count(&self) -> i64 {
        self.client()
            .await
            .query_one("SELECT count(*) FROM stocks_intraday", &[])
            .await
            .expect("count rows")
            .get(0)
    }
}

impl Drop for TestDb {
    fn drop(&mut self) {
        let name = self.name.clone();
        // Drop runs inside the test's runtime; use a thread with its own.
        let _ = std::thread::spawn(move || {
            let rt = tokio::runtime::Builder::new_current_thread()
                .enable_all()
                .build()
                .expect("runtime");
            rt.block_on(async {
                let admin = connect(&admin_url()).await;
                let _ = admin
                    .batch_execute(&format!("DROP DATABASE IF EXISTS {name} WITH (FORCE)"))
                    .await;
            });
        })
        .join();
    }
}

/// Copies the template. A copy fails while any session is connected to the template, and
/// TimescaleDB's background workers connect to it now and then: retry for a while.
async fn create_from_template(admin: &Client, name: &str, template: &str) {
    let statement = format!("CREATE DATABASE {name} TEMPLATE {template}");
    for _ in 0..100 {
        match admin.batch_execute(&statement).await {
            Ok(()) => return,
            Err(e) if e.code() == Some(&tokio_postgres::error::SqlState::OBJECT_IN_USE) => {
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            Err(e) => panic!("create test database: {e}"),
        }
    }
    panic!("create test database: template {template} stayed in use");
}

/// Builds the migrated template once per schema version, whichever test process comes first.
async fn ensure_template(admin: &Client) -> String {
    let template = template_name();
    admin
        .batch_execute("SELECT pg_advisory_lock(7473617069)")
        .await
        .expect("lock");
    let exists = admin
        .query_opt("SELECT 1 FROM pg_database WHERE datname = $1", &[&template])
        .await
        .expect("look up template")
        .is_some();
    if !exists {
        let building = format!("{template}_building");
        // Left over by a test process that died while building; separate statements
        // because neither may run inside a transaction block.
        admin
            .batch_execute(&format!("DROP DATABASE IF EXISTS {building} WITH (FORCE)"))
            .await
            .expect("drop stale template");
        admin
            .batch_execute(&format!("CREATE DATABASE {building}"))
            .await
            .expect("create template");
        {
            let mut client = connect(&url_for(&building)).await;
            tsapi::db::migrate(&mut client)
                .await
                .expect("migrate template");
        }
        admin
            .batch_execute(&format!(
                "ALTER DATABASE {building} WITH ALLOW_CONNECTIONS false"
            ))
            .await
            .expect("close template");
        // The migration's connection closes asynchronously; retry the rename until it has.
        let mut renamed = false;
        for _ in 0..100 {
            disconnect_all(admin, &building).await;
            if admin
                .batch_execute(&format!("ALTER DATABASE {building} RENAME TO {template}"))
                .await
                .is_ok()
            {
                renamed = true;
                break;
            }
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        assert!(renamed, "could not finish the template database");
    }
    // TimescaleDB's job scheduler connects to every database that allows connections, and
    // a template with a session cannot be copied: keep the template closed and empty.
    admin
        .batch_execute(&format!(
            "ALTER DATABASE {template} WITH ALLOW_CONNECTIONS false IS_TEMPLATE true"
        ))
        .await
        .expect("close template");
    disconnect_all(admin, &template).await;
    admin
        .batch_execute("SELECT pg_advisory_unlock(7473617069)")
        .await
        .expect("unlock");
    template
}

/// Ends every session on `database` (such as TimescaleDB's job scheduler).
async fn disconnect_all(admin: &Client, database: &str) {
    admin
        .execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity \
             WHERE datname = $1 AND pid <> pg_backend_pid()",
            &[&database],
        )
        .await
        .expect("end sessions");
}

/// Default API settings, as `tsapi serve` has them: clap's own defaults, so a changed
/// default is tested as shipped. (A `TSAPI_*` variable in the test's environment counts too.)
pub fn api_defaults() -> ApiArgs {
    #[derive(clap::Parser)]
    struct Defaults {
        #[command(flatten)]
        api: ApiArgs,
    }
    <Defaults as clap::Parser>::parse_from(["tsapi"]).api
}

pub fn pool_defaults() -> PoolArgs {
    PoolArgs {
        pool_size: 4,
        pool_timeout: Duration::from_secs(5),
        statement_timeout: Duration::from_secs(30),
        statement_cache: true,
        pipeline_reads: true,
    }
}

/// A tsapi server on a free loopback port, over its own database.
pub struct TestApp {
    pub address: String,
    pub http: reqwest::Client,
    pub db: TestDb,
}

impl TestApp {
    pub async fn spawn() -> Self {
        Self::spawn_with(Schema::Migrated, api_defaults()).await
    }

    pub async fn spawn_with(schema: Schema, api: ApiArgs) -> Self {
        let db = TestDb::new(schema).await;
        let address = serve(&db.url, api).await;
        Self {
            address,
            http: reqwest::Client::new(),
            db,
        }
    }

    pub fn url(&self, path: &str) -> String {
        format!("{}{path}", self.address)
    }

    pub async fn get(&self, path: &str) -> reqwest::Response {
        self.http.get(self.url(path)).send().await.expect("GET")
    }

    /// The body of `GET path` as text, whatever its status.
    pub async fn get_text(&self, path: &str) -> String {
        self.get(path).await.text().await.expect("text body")
    }

    pub async fn get_json(&self, path: &str) -> (u16, Value) {
        let response = self.get(path).await;
        let status = response.status().as_u16();
        (status, response.json().await.expect("JSON body"))
    }

    /// `GET path` with these request headers.
    pub async fn get_with(&self, path: &str, headers: &[(&str, &str)]) -> reqwest::Response {
        let mut request = self.http.get(self.url(path));
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("GET")
    }

    pub async fn post_json(&self, path: &str, body: impl Into<String>) -> reqwest::Response {
        self.post_as(path, "application/json", body.into()).await
    }

    /// `POST path` with `body` of `content_type`.
    pub async fn post_as(
        &self,
        path: &str,
        content_type: &str,
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        self.post_with(path, &[("content-type", content_type)], body)
            .await
    }

    /// `POST path` with these request headers (`content-type`, `content-encoding`, none).
    pub async fn post_with(
        &self,
        path: &str,
        headers: &[(&str, &str)],
        body: impl Into<reqwest::Body>,
    ) -> reqwest::Response {
        let mut request = self.http.post(self.url(path)).body(body);
        for (name, value) in headers {
            request = request.header(*name, *value);
        }
        request.send().await.expect("POST")
    }

    /// Checks that each `GET path` is a 400 problem whose `detail` names `hint` (the
    /// parameter at fault, or the words that explain it).
    pub async fn expect_bad_requests(&self, cases: &[(&str, &str)]) {
        for (path, hint) in cases {
            let problem = expect_problem(self.get(path).await, 400).await;
            let detail = answers::detail(&problem);
            assert!(detail.contains(hint), "{path}: {problem}");
        }
    }

    /// Stores `records` through `POST /insert`, which must accept them all.
    pub async fn insert(&self, records: Vec<Value>) {
        let response = self
            .post_json(
                "/insert",
                serde_json::json!({ "records": records }).to_string(),
            )
            .await;
        let status = response.status();
        assert_eq!(status, 200, "{:?}", response.text().await);
    }
}

/// `GET {base}{path}`: a request to a server other than a [`TestApp`]'s.
pub async fn get_from(base: &str, path: &str) -> reqwest::Response {
    reqwest::get(format!("{base}{path}")).await.expect("GET")
}

/// `POST {base}{path}` with a JSON body: a request to a server other than a [`TestApp`]'s.
pub async fn post_json_to(
    base: &str,
    path: &str,
    body: impl Into<reqwest::Body>,
) -> reqwest::Response {
    reqwest::Client::new()
        .post(format!("{base}{path}"))
        .header("content-type", "application/json")
        .body(body)
        .send()
        .await
        .expect("POST")
}

/// Starts the real router on 127.0.0.1:0 and returns its base URL. Auth is off, so tests
/// of other features need no key; tests of auth build their state with [`app_state`].
pub async fn serve(database_url: &str, api: ApiArgs) -> String {
    serve_state(app_state(database_url, api).with_auth(Auth::Disabled)).await
}

/// The server's state as `tsapi serve` builds it (auth on, no keys) over `database_url`.
pub fn app_state(database_url: &str, api: ApiArgs) -> AppState {
    let pg: tokio_postgres::Config = database_url.parse().expect("database URL");
    let pool = tsapi::db::create_pool(pg, &pool_defaults()).expect("pool");
    AppState::new(pool, api)
}

/// Starts the real router over `state` on 127.0.0.1:0 and returns its base URL.
pub async fn serve_state(state: AppState) -> String {
    let app = router(state);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
        .await
        .expect("bind");
    let address = format!("http://{}", listener.local_addr().expect("address"));
    tokio::spawn(async move { axum::serve(listener, app).await });
    address
}

pub const TUTORIAL_PAYLOAD: &str = include_str!("../fixtures/tutorial_payload.json");

/// The URL of an extra service a test needs (PgBouncer, a replica), from `var`. Without it
/// the test is skipped with a notice, except in CI (`CI=true`), where it fails.
pub fn service_url(var: &str, how: &str) -> Option<String> {
    match std::env::var(var) {
        Ok(url) if !url.is_empty() => Some(url),
        _ if std::env::var("CI").is_ok_and(|v| v == "true") => {
            panic!("{var} is not set; in CI this test must run (start it with {how})")
        }
        _ => {
            eprintln!("NOTICE: {var} is not set: test skipped (start it with {how})");
            None
        }
    }
}

/// `url` with its database name replaced by `db`.
pub fn with_database(url: &str, db: &str) -> String {
    let (base, _) = url.rsplit_once('/').expect("URL with a database name");
    format!("{base}/{db}")
}
