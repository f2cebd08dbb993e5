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
use std::task::{Poll, ready};

use deadpool_postgres::ClientWrapper;
use futures_util::{Stream, StreamExt};
use tokio_postgres::Row;
use tokio_postgres::types::{ToSql, Type};

use super::DbError;
use super::pooled::{PooledClient, Work};

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
    /// Whether the table has `trade_count` and `vwap`: reads name them, or read nulls.
    trade_stats: bool,
}

// One per request and short-lived: boxing the large variant would only add an allocation.
#[allow(clippy::large_enum_variant)]
enum Held {
    Pooled(PooledClient),
    Shared(Arc<ClientWrapper>),
}

impl Conn {
    pub fn pooled(client: PooledClient, mode: StatementMode) -> Self {
        Self {
            client: Held::Pooled(client),
            mode,
            trade_stats: true,
        }
    }

    pub fn shared(client: Arc<ClientWrapper>, mode: StatementMode) -> Self {
        Self {
            client: Held::Shared(client),
            mode,
            trade_stats: true,
        }
    }

    /// For a table with or without `trade_count` and `vwap` (with, unless told).
    pub fn with_trade_stats(mut self, trade_stats: bool) -> Self {
        self.trade_stats = trade_stats;
        self
    }

    pub fn trade_stats(&self) -> bool {
        self.trade_stats
    }

    pub async fn query(&self, sql: &str, params: &[Param<'_>]) -> Result<Vec<Row>, DbError> {
        self.tracked(async {
            Ok(match self.mode {
                StatementMode::Cached => {
                    let (statement, values) = self.prepare(sql, params).await?;
                    self.wrapper().query(&statement, &values).await?
                }
                StatementMode::Unnamed => self.wrapper().query_typed(sql, params).await?,
            })
        })
        .await
    }

    /// At most one row.
    pub async fn query_opt(&self, sql: &str, params: &[Param<'_>]) -> Result<Option<Row>, DbError> {
        let mut rows = self.query(sql, params).await?;
        match rows.len() {
            0 | 1 => Ok(rows.pop()),
            n => Err(DbError::RowCount(n)),
        }
    }

    /// Exactly one row.
    pub async fn query_one(&self, sql: &str, params: &[Param<'_>]) -> Result<Row, DbError> {
        self.query_opt(sql, params)
            .await?
            .ok_or(DbError::RowCount(0))
    }

    /// Rows as the server sends them, for exports that must not hold a result in memory.
    /// The query counts as in flight until the stream has given its last row: a stream
    /// dropped before that closes the connection (see [`super::PooledClient`]).
    pub async fn query_stream(
        &self,
        sql: &str,
        params: &[Param<'_>],
    ) -> Result<impl Stream<Item = Result<Row, tokio_postgres::Error>> + Send + use<>, DbError>
    {
        let work = self.start_stream();
        let rows = match self.mode {
            StatementMode::Cached => {
                let (statement, values) = self.prepare(sql, params).await?;
                self.wrapper().query_raw(&statement, values).await?
            }
            StatementMode::Unnamed => {
                self.wrapper()
                    .query_typed_raw(sql, params.iter().map(|(v, t)| (*v, t.clone())))
                    .await?
            }
        };
        let mut rows = Box::pin(rows);
        let mut work = Some(work);
        Ok(futures_util::stream::poll_fn(move |cx| {
            let next = ready!(rows.poll_next_unpin(cx));
            if next.is_none()
                && let Some(work) = work.take()
            {
                work.end();
            }
            Poll::Ready(next)
        }))
    }

    /// Runs `work` (queries on this connection) inside one read-only transaction, whose
    /// end is waited for. Behind a transaction-mode pooler the server connection stays
    /// this client's until then, so `work` may pipeline its statements.
    pub async fn in_read_only_transaction<T>(
        &self,
        work: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, DbError> {
        let started = self.start();
        self.wrapper().batch_execute("BEGIN READ ONLY").await?;
        let result = work.await;
        let end = if result.is_ok() { "COMMIT" } else { "ROLLBACK" };
        self.wrapper().batch_execute(end).await?;
        started.end();
        result
    }

    /// `query` counted as in flight on a pooled connection until its answer is complete;
    /// a query cut off keeps counting (see [`PooledClient`]).
    async fn tracked<T>(
        &self,
        query: impl Future<Output = Result<T, DbError>>,
    ) -> Result<T, DbError> {
        let work = self.start();
        let result = query.await;
        work.end();
        result
    }

    fn start(&self) -> Work {
        match &self.client {
            Held::Pooled(client) => client.start(),
            Held::Shared(_) => Work::untracked(),
        }
    }

    fn start_stream(&self) -> Work {
        match &self.client {
            Held::Pooled(client) => client.start_stream(),
            Held::Shared(_) => Work::untracked(),
        }
    }

    /// Whether statements may be sent before the answer to the one before has come,
    /// outside a transaction.
    /// PgBouncer before 1.21 hands the server connection back to its pool at the first
    /// answer that ends a transaction, and the answers to statements sent behind it reach
    /// nobody: the client would wait for them forever.
    pub fn can_pipeline(&self) -> bool {
        self.mode == StatementMode::Cached
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
