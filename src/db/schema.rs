//! What the table looks like. Tables made by `tsapi migrate` and tables made the
//! tutorial's way differ (volume `bigint` vs `integer`, unique key or none, `trade_count`
//! and `vwap` or not); reads and writes adapt to the table they find instead of requiring
//! a migration.

use tokio::sync::OnceCell;
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;

use super::{DbError, PooledClient, TABLE};
use crate::domain::VolumeRange;

/// Column order used by every write, matched to the table by name. The last two are
/// written only where the table has them ([`TableInfo::columns`]).
pub const COLUMNS: [&str; 9] = [
    "time",
    "symbol",
    "price_open",
    "price_high",
    "price_low",
    "price_close",
    "trading_volume",
    "trade_count",
    "vwap",
];

/// The columns every table has: [`COLUMNS`] without `trade_count` and `vwap`.
const REQUIRED: usize = 7;

/// The facts about the table that writes depend on.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// SQL types of [`TableInfo::columns`], in that order (for binary COPY).
    pub column_types: Vec<Type>,
    /// Whether the table has `trade_count` and `vwap` (added by `tsapi migrate`).
    pub trade_stats: bool,
    /// Values the volume column can hold.
    pub volume: VolumeRange,
    /// Whether a unique index on (symbol, time) exists, which upserts need.
    pub has_unique_key: bool,
    /// Whether the change feed's tables exist, so that writes are announced.
    pub has_feed: bool,
    /// The zone of the symbol catalogue's daily bars, when the catalogue exists (made by
    /// `tsapi migrate`); writes then keep it up to date in their transaction.
    pub catalog_zone: Option<chrono_tz::Tz>,
}

impl TableInfo {
    pub async fn load(client: &impl GenericClient) -> Result<Self, DbError> {
        let rows = client
            .query(
                "SELECT a.attname::text, a.atttypid \
                 FROM pg_attribute a \
                 WHERE a.attrelid = to_regclass($1) AND a.attnum > 0 AND NOT a.attisdropped",
                &[&TABLE],
            )
            .await?;
        if rows.is_empty() {
            return Err(DbError::Schema(format!(
                "table {TABLE} does not exist; run `tsapi migrate`"
            )));
        }
        let find = |column: &str| rows.iter().find(|r| r.get::<_, &str>(0) == column);
        let trade_stats = COLUMNS[REQUIRED..].iter().all(|c| find(c).is_some());
        let mut column_types = Vec::with_capacity(COLUMNS.len());
        for column in columns(trade_stats) {
            let row = find(column)
                .ok_or_else(|| DbError::Schema(format!("table {TABLE} has no column {column}")))?;
            let ty = Type::from_oid(row.get(1)).unwrap_or(Type::UNKNOWN);
            if !supported(column, &ty) {
                return Err(DbError::Schema(format!(
                    "column {TABLE}.{column} has type {ty}, which tsapi cannot write"
                )));
            }
            column_types.push(ty);
        }
        let volume = match column_types[6] {
            Type::INT2 => VolumeRange::SMALLINT,
            Type::INT4 => VolumeRange::INTEGER,
            _ => VolumeRange::BIGINT,
        };
        let has_unique_key = client
            .query_one(
                "SELECT EXISTS (SELECT 1 FROM pg_index i \
                   WHERE i.indrelid = to_regclass($1) AND i.indisunique AND i.indnkeyatts = 2 \
                   AND (SELECT array_agg(a.attname::text ORDER BY a.attname) FROM pg_attribute a \
                        WHERE a.attrelid = i.indrelid AND a.attnum = ANY (i.indkey)) \
                       = ARRAY['symbol', 'time'])",
                &[&TABLE],
            )
            .await?
            .get(0);
        // The feed and the catalogue carry `trade_count` and `vwap` once `tsapi migrate`
        // gave the table those columns; an older schema waits for it.
        let has_feed = trade_stats && super::feed_log::feed_exists(client).await?;
        let catalog_zone = match trade_stats {
            true => super::catalog::zone(client).await?,
            false => None,
        };
        Ok(Self {
            column_types,
            trade_stats,
            volume,
            has_unique_key,
            has_feed,
            catalog_zone,
        })
    }
}

impl TableInfo {
    /// The columns writes fill, in [`COLUMNS`] order.
    pub fn columns(&self) -> &'static [&'static str] {
        columns(self.trade_stats)
    }
}

fn columns(trade_stats: bool) -> &'static [&'static str] {
    if trade_stats {
        &COLUMNS
    } else {
        &COLUMNS[..REQUIRED]
    }
}

fn supported(column: &str, ty: &Type) -> bool {
    match column {
        "time" => *ty == Type::TIMESTAMPTZ,
        "symbol" => matches!(*ty, Type::TEXT | Type::VARCHAR),
        "trading_volume" => matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8),
        "trade_count" => *ty == Type::INT8,
        "vwap" => *ty == Type::FLOAT8,
        _ => matches!(*ty, Type::FLOAT4 | Type::FLOAT8),
    }
}

/// [`TableInfo`] looked up on first use and kept: a table's column types do not change
/// under a running server. A failed lookup (say, the table is not yet made) is retried.
#[derive(Debug, Default)]
pub struct TableInfoCache(OnceCell<TableInfo>);

impl TableInfoCache {
    /// The cached facts, looked up over a connection from `connect` only on the first call.
    pub async fn get(
        &self,
        connect: impl Future<Output = Result<PooledClient, DbError>>,
    ) -> Result<&TableInfo, DbError> {
        self.0
            .get_or_try_init(|| async {
                // In a transaction, so that its statements stay on one server connection
                // behind a transaction-mode pooler; ended and waited for, so that nothing
                // is in flight when the pooler takes the server connection back.
                let mut client = connect.await?;
                let work = client.start();
                let tx = (***client).transaction().await?;
                let info = TableInfo::load(&tx).await;
                tx.commit().await?;
                work.end();
                info
            })
            .await
    }
}
