//! Point reads pipelined over one shared connection.
//!
//! A symbol's latest bar costs PostgreSQL a fraction of a millisecond; over a pooled
//! connection of its own, each lookup also costs a backend wake-up and a round of socket
//! calls on both sides, which at thousands of lookups a second is most of the work.
//! Lookups that tasks send over one client at the same time are pipelined by
//! tokio-postgres instead: written together, read together, and run by the backend back to
//! back without sleeping in between (`GET /ticker` serves about 40% more requests on two
//! cores; see bench/RESULTS.md).
//!
//! Only short, index-bounded reads belong here, as a slow statement delays every lookup
//! queued behind it; and never a transaction, which would capture the others' statements.

use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use deadpool::managed::Manager as _;
use deadpool_postgres::{ClientWrapper, PoolError, TimeoutType};

use super::{DbError, PgPool};

/// One long-lived connection, made by a pool's manager (so with its TLS, statement timeout
/// and statement cache) but outside the pool's count, and replaced when it closes.
pub struct SharedConnection {
    pool: PgPool,
    current: Mutex<Option<Arc<ClientWrapper>>>,
    /// Held while connecting, so that one request reconnects and the others wait for it.
    connecting: tokio::sync::Mutex<()>,
    /// Connection attempts so far: a request that waited through a failed attempt fails
    /// too, instead of trying again behind every other waiter.
    attempts: AtomicU64,
}

impl SharedConnection {
    /// Connects lazily, on the first lookup.
    pub fn new(pool: PgPool) -> Self {
        Self {
            pool,
            current: Mutex::new(None),
            connecting: tokio::sync::Mutex::new(()),
            attempts: AtomicU64::new(0),
        }
    }

    /// The open connection, or a new one when there is none or it has closed.
    pub async fn get(&self) -> Result<Arc<ClientWrapper>, DbError> {
        if let Some(client) = self.open() {
            return Ok(client);
        }
        let attempts_before = self.attempts.load(Ordering::Acquire);
        let _turn = self.connecting.lock().await;
        if let Some(client) = self.open() {
            return Ok(client);
        }
        let unreachable = || DbError::Pool(PoolError::Timeout(TimeoutType::Create));
        if self.attempts.load(Ordering::Acquire) != attempts_before {
            return Err(unreachable());
        }
        self.attempts.fetch_add(1, Ordering::AcqRel);
        let timeout = self
            .pool
            .timeouts()
            .create
            .unwrap_or(Duration::from_secs(5));
        let client = tokio::time::timeout(timeout, self.pool.manager().create())
            .await
            .map_err(|_| unreachable())?
            .map_err(|e| DbError::Pool(PoolError::Backend(e)))?;
        let client = Arc::new(client);
        *self.current.lock().expect("shared connection lock") = Some(client.clone());
        Ok(client)
    }

    /// Whether a connection is open now (for the metrics page).
    pub fn is_open(&self) -> bool {
        self.open().is_some()
    }

    fn open(&self) -> Option<Arc<ClientWrapper>> {
        self.current
            .lock()
            .expect("shared connection lock")
            .as_ref()
            .filter(|client| !client.is_closed())
            .cloned()
    }
}
