//! Connection pooling. Connections are made once and reused: a new connection to a
//! TimescaleDB database costs ~14 ms, and its first query on a hypertable even more.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{Client, NoTls};

use super::tls::DbTls;
use super::{DbError, PooledClient};
use crate::config::{ConfigError, DatabaseArgs, PoolArgs};

pub type PgPool = Pool;

/// A pool that opens connections lazily, so the program starts (and answers `/healthz`)
/// while the database is still down. TLS follows the config's `sslmode`, with public roots.
pub fn create_pool(pg: tokio_postgres::Config, settings: &PoolArgs) -> Result<PgPool, ConfigError> {
    let tls = DbTls::public(pg.get_ssl_mode());
    create_pool_with(pg, settings, &tls, Recycling::Trusting)
}

/// How a pooled connection is checked before it is handed out again.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Recycling {
    /// Trust the client's own "closed" flag: free, and enough for a process that keeps
    /// running, which notices a closed socket as it happens.
    Trusting,
    /// Run an empty query first: one round trip, but a connection that died while the
    /// process was frozen (a Lambda between invocations) is replaced, not used.
    Verified,
}

/// [`create_pool`] with an explicit TLS connector and recycling check.
pub fn create_pool_with(
    mut pg: tokio_postgres::Config,
    settings: &PoolArgs,
    tls: &DbTls,
    recycling: Recycling,
) -> Result<PgPool, ConfigError> {
    let timeout_ms = settings.statement_timeout.as_millis();
    // JIT off: tsapi's reads are index scans whose row estimates are low for long ranges, and
    // PostgreSQL's JIT then spends ~0.2 s compiling before the first row of an export, for
    // no gain on these plans (see bench/RESULTS.md, columnar export).
    let ours = format!("-c statement_timeout={timeout_ms} -c jit=off");
    let options = match pg.get_options() {
        Some(existing) => format!("{existing} {ours}"),
        None => ours,
    };
    // A transaction-mode pooler refuses (or drops) the `options` startup parameter; behind
    // one, the statement timeout is the pooler's or the role's (see the README).
    if settings.statement_cache {
        pg.options(&options);
    }
    let manager_config = ManagerConfig {
        // `Fast` trusts the client's own "closed" flag; a connection that died quietly
        // fails its next query, which is answered with a 503 and then dropped.
        recycling_method: match recycling {
            Recycling::Trusting => RecyclingMethod::Fast,
            Recycling::Verified => RecyclingMethod::Verified,
        },
    };
    let manager = match tls {
        DbTls::Off => Manager::from_config(pg, NoTls, manager_config),
        DbTls::Verified(rustls) => Manager::from_config(pg, rustls.clone(), manager_config),
    };
    Pool::builder(manager)
        .max_size(settings.pool_size.max(1))
        .wait_timeout(Some(settings.pool_timeout))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| ConfigError(format!("cannot build the connection pool: {e}")))
}

/// One connection for a command that runs a few statements and exits (`migrate`, `load`,
/// `demo-data`): the database, TLS mode and CA file of `database`, exactly as `serve`
/// reads them.
pub async fn connect(database: &DatabaseArgs) -> anyhow::Result<Client> {
    let pg = database.pg_config()?;
    let tls = DbTls::for_database(database, &pg)?;
    Ok(connect_one_with(&pg, &tls).await?)
}

/// One connection outside any pool, with an explicit TLS connector.
pub async fn connect_one_with(pg: &tokio_postgres::Config, tls: &DbTls) -> Result<Client, DbError> {
    let client = match tls {
        DbTls::Off => {
            let (client, connection) = pg.connect(NoTls).await?;
            tokio::spawn(watch(connection));
            client
        }
        DbTls::Verified(rustls) => {
            let (client, connection) = pg.connect(rustls.clone()).await?;
            tokio::spawn(watch(connection));
            client
        }
    };
    Ok(client)
}

/// Drives a connection until it closes, and says why when that was not a clean close.
async fn watch(connection: impl std::future::Future<Output = Result<(), tokio_postgres::Error>>) {
    if let Err(e) = connection.await {
        tracing::warn!(error = %e, "database connection closed");
    }
}

/// Checks that the database answers a trivial query.
pub async fn ping(
    connect: impl Future<Output = Result<PooledClient, DbError>>,
) -> Result<(), DbError> {
    let client = connect.await?;
    let work = client.start();
    client.simple_query("SELECT 1").await?;
    work.end();
    Ok(())
}
