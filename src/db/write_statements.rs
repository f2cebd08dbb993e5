//! Where a write's statements come from: parsing and planning the same half-dozen
//! statements in every write cost the database more than copying a small batch of bars.

use deadpool_postgres::StatementCache;
use tokio_postgres::{Statement, Transaction};

use super::DbError;

/// How a write prepares its statements.
#[derive(Debug, Clone, Copy)]
pub enum Prepared<'a> {
    /// From the connection's statement cache: each is parsed and planned once per
    /// connection, then only bound and run.
    Cached(&'a StatementCache),
    /// Inside each write's transaction, closed at its end: behind a transaction-mode
    /// pooler (where a named statement would outlive the server connection it was made
    /// on) and on one-off connections.
    PerWrite,
}

impl Prepared<'_> {
    pub async fn prepare(self, tx: &Transaction<'_>, sql: &str) -> Result<Statement, DbError> {
        Ok(match self {
            Self::Cached(cache) => cache.prepare(tx.client(), sql).await?,
            Self::PerWrite => tx.prepare(sql).await?,
        })
    }
}
