//! Connection pooling. Connections are made once and reused: a new connection to a
//! TimescaleDB database costs ~14 ms, and its first query on a hypertable even more.

use std::time::Duration;

use deadpool_postgres::{Manager, ManagerConfig, Pool, RecyclingMethod, Runtime};
use tokio_postgres::{Client, NoTls};

use super::DbError;
use crate::config::{ConfigError, PoolArgs};

pub type PgPool = Pool;

/// A pool that opens connections lazily, so the program starts (and answers `/healthz`)
/// while the database is still down.
pub fn create_pool(
    mut pg: tokio_postgres::Config,
    settings: &PoolArgs,
) -> Result<PgPool, ConfigError> {
    let timeout_ms = settings.statement_timeout.as_millis();
    let options = match pg.get_options() {
        Some(existing) => format!("{existing} -c statement_timeout={timeout_ms}"),
        None => format!("-c statement_timeout={timeout_ms}"),
    };
    // A transaction-mode pooler refuses (or drops) the `options` startup parameter; behind
    // one, the statement timeout is the pooler's or the role's (see the README).
    if settings.statement_cache {
        pg.options(&options);
    }
    let manager = Manager::from_config(
        pg,
        NoTls,
        ManagerConfig {
            // `Fast` trusts the client's own "closed" flag; a connection that died quietly
            // fails its next query, which is answered with a 503 and then dropped.
            recycling_method: RecyclingMethod::Fast,
        },
    );
    Pool::builder(manager)
        .max_size(settings.pool_size.max(1))
        .wait_timeout(Some(settings.pool_timeout))
        .create_timeout(Some(Duration::from_secs(5)))
        .recycle_timeout(Some(Duration::from_secs(5)))
        .runtime(Runtime::Tokio1)
        .build()
        .map_err(|e| ConfigError(format!("cannot build the connection pool: {e}")))
}

/// One connection outside any pool, for commands that run a few statements and exit.
pub async fn connect_one(pg: &tokio_postgres::Config) -> Result<Client, DbError> {
    let (client, connection) = pg.connect(NoTls).await?;
    tokio::spawn(async move {
        if let Err(e) = connection.await {
            tracing::warn!(error = %e, "database connection closed");
        }
    });
    Ok(client)
}

/// Checks that the database answers a trivial query.
pub async fn ping(pool: &PgPool) -> Result<(), DbError> {
    let client = pool.get().await?;
    client.simple_query("SELECT 1").await?;
    Ok(())
}
