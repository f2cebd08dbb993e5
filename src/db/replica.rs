//! A read replica with a fallback: reads go to the replica while it answers, and to the
//! primary while it does not.
//!
//! A replica that cannot be reached is skipped for a few seconds, so that while it is down
//! reads cost no connect attempt at all instead of a connect timeout each.

use std::fmt::Display;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use deadpool_postgres::ClientWrapper;

use super::{DbTls, PgPool, Recycling, SharedConnection};
use crate::config::{ConfigError, PoolArgs};

/// How long a failed replica is left alone before it is tried again.
const RETRY_AFTER: Duration = Duration::from_secs(5);

pub struct ReadPool {
    pool: PgPool,
    /// The replica's connection for pipelined point reads (connected on first use).
    shared: SharedConnection,
    /// While set and in the future, the replica is considered down.
    skip_until: Mutex<Option<Instant>>,
}

impl ReadPool {
    pub fn new(pool: PgPool) -> Self {
        Self {
            shared: SharedConnection::new(pool.clone()),
            pool,
            skip_until: Mutex::new(None),
        }
    }

    pub fn pool(&self) -> &PgPool {
        &self.pool
    }

    /// The replica's connection for pipelined point reads.
    pub fn shared(&self) -> &SharedConnection {
        &self.shared
    }

    /// A replica connection, or `None` when the replica is down (the caller reads from the
    /// primary instead).
    pub async fn get(&self) -> Option<deadpool_postgres::Client> {
        self.unless_down(self.pool.get()).await
    }

    /// The replica's shared connection for point reads, or `None` when the replica is down.
    pub async fn get_shared(&self) -> Option<Arc<ClientWrapper>> {
        self.unless_down(self.shared.get()).await
    }

    async fn unless_down<T, E: Display>(
        &self,
        connect: impl Future<Output = Result<T, E>>,
    ) -> Option<T> {
        if self
            .skip_until
            .lock()
            .expect("replica lock")
            .is_some_and(|until| Instant::now() < until)
        {
            return None;
        }
        match connect.await {
            Ok(client) => Some(client),
            Err(e) => {
                tracing::warn!(error = %e, "read replica unavailable; reading from the primary");
                *self.skip_until.lock().expect("replica lock") = Some(Instant::now() + RETRY_AFTER);
                None
            }
        }
    }
}

/// The replica's pool: like the primary's (the same TLS settings and recycling), but a
/// replica that does not answer is given up on within a second, so a read falls back to
/// the primary quickly.
pub fn create_read_pool(
    mut pg: tokio_postgres::Config,
    settings: &PoolArgs,
    tls: &DbTls,
    recycling: Recycling,
) -> Result<PgPool, ConfigError> {
    pg.connect_timeout(Duration::from_secs(1));
    super::create_pool_with(pg, settings, tls, recycling)
}
