//! How statements reach PostgreSQL: prepared once per connection, or sent unnamed.
//!
//! Prepared statements save the planning a TimescaleDB query needs (3-4x more reads per
//! second), but a transaction-mode pooler (PgBouncer before 1.21) hands each transaction
//! to any server connection, where a statement prepared earlier does not exist. With
//! `TSAPI_STATEMENT_CACHE=false` every query goes out as one unnamed Parse/Bind/Execute
//! round trip instead (`query_typed`), which any pooler passes through.
//!
//! Every query outside a transaction goes through [`Conn::query`] and its siblings, with
//! each parameter's SQL type spelled out (the unnamed path cannot ask the server for it).
//! Statements inside a transaction use a pooled client directly: a transaction stays on
//! one server connection.

use std::ops::Deref;
use std::sync::Arc;

use deadpool_postgres::ClientWrapper;

use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use super::DbError;

/// A query parameter and its SQL type.
pub type Param<'a> = (&'a (dyn ToSql + Sync), Type);

/// Whether statements are prepared and cached per connection.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum StatementMode {
    /// Prepared once per connection and reused: the fast path for direct connections.
    #[default]
    Cached,
    /// Sent unnamed in one round trip: for transaction-mode poolers.
    Unnamed,
}

impl StatementMode {
    pub fn from_cache_setting(statement_cache: bool) -> Self {
        if statement_cache {
            Self::Cached
        } else {
            Self::Unnamed
        }
    }
}

/// A connection for reads that knows how to send statements: a pooled one of its own, or
/// one shared with other point reads (see [`super::SharedConnection`]).
pub struct Conn {
    client: Held,
    mode: StatementMode,
}

// One per request and short-lived: boxing the large variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Held {
    Pooled(deadpool_postgres::Client),
    Shared(Arc<ClientWrapper>),
}

impl Conn {
    pub fn pooled(client: deadpool_postgres::Client, mode: StatementMode) -> Self {
        Self {
            client: Held::Pooled(client),
            mode,
        }
    }

    pub fn shared(client: Arc<ClientWrapper>, mode: StatementMode) -> Self {
        Self {
            client: Held::Shared(client),
            mode,
        }
    }

    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        Ok(match self.mode {
            StatementMode::Cached => {
                let (statement, values) = self.prepare(sql, params).await?;
                self.wrapper().query(&statement, &values).await?
            }
            StatementMode::Unnamed => self.wrapper().query_typed(sql, params).await?,
        })
    }

    /// At most one row.
    pub async fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, DbError> {
        Ok(match self.mode {
            StatementMode::Cached => {
                let (statement, values) = self.prepare(sql, params).await?;
                self.wrapper().query_opt(&statement, &values).await?
            }
            StatementMode::Unnamed => self.wrapper().query_typed_opt(sql, params).await?,
        })
    }

    /// Exactly one row.
    pub async fn query_one(&self, sql: &str, params: &[Param<'_>]) -> Result<Row, DbError> {
        Ok(match self.mode {
            StatementMode::Cached => {
                let (statement, values) = self.prepare(sql, params).await?;
                self.wrapper().query_one(&statement, &values).await?
            }
            StatementMode::Unnamed => self.wrapper().query_typed_one(sql, params).await?,
        })
    }

    /// Rows as the server sends them, for exports that must not hold a result in memory.
    pub async fn query_stream(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<tokio_postgres::RowStream, DbError> {
        Ok(match self.mode {
            StatementMode::Cached => {
                let (statement, values) = self.prepare(sql, params).await?;
                self.wrapper().query_raw(&statement, values).await?
            }
            StatementMode::Unnamed => {
                self.wrapper()
                    .query_typed_raw(sql, params.iter().map(|(v, t)| (*v, t.clone())))
                    .await?
            }
        })
    }

    /// The client itself (methods of the same name on `Conn` would shadow its own).
    fn wrapper(&self) -> &ClientWrapper {
        self
    }

    async fn prepare<'a>(
        &self,
        sql: &str,
        params: &'a [Param<'a>],
    ) -> Result<(tokio_postgres::Statement, Vec<&'a (dyn ToSql + Sync)>), DbError> {
        let types: Vec<Type> = params.iter().map(|(_, ty)| ty.clone()).collect();
        let statement = self.wrapper().prepare_typed_cached(sql, &types).await?;
        Ok((statement, params.iter().map(|(value, _)| *value).collect()))
    }
}

impl Deref for Conn {
    type Target = ClientWrapper;
    fn deref(&self) -> &Self::Target {
        match &self.client {
            Held::Pooled(client) => client,
            Held::Shared(client) => client,
        }
    }
}
