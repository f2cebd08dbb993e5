//! What the table looks like. Tables made by `tsapi migrate` and tables made the
//! tutorial's way differ (volume `bigint` vs `integer`, unique key or none); writes adapt
//! to the table they find instead of requiring a migration.

use tokio::sync::OnceCell;
use tokio_postgres::GenericClient;
use tokio_postgres::types::Type;

use super::{DbError, PooledClient, TABLE};
use crate::domain::VolumeRange;

/// Column order used by every write, matched to the table by name.
pub const COLUMNS: [&str; 7] = [
    "time",
    "symbol",
    "price_open",
    "price_high",
    "price_low",
    "price_close",
    "trading_volume",
];

/// The facts about the table that writes depend on.
#[derive(Debug, Clone)]
pub struct TableInfo {
    /// SQL types of [`COLUMNS`], in that order (for binary COPY).
    pub column_types: Vec<Type>,
    /// Values the volume column can hold.
    pub volume: VolumeRange,
    /// Whether a unique index on (symbol, time) exists, which upserts need.
    pub has_unique_key: bool,
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
        let mut column_types = Vec::with_capacity(COLUMNS.len());
        for column in COLUMNS {
            let row = rows
                .iter()
                .find(|r| r.get::<_, &str>(0) == column)
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
        let catalog_zone = super::catalog::zone(client).await?;
        Ok(Self {
            column_types,
            volume,
            has_unique_key,
            catalog_zone,
        })
    }
}

fn supported(column: &str, ty: &Type) -> bool {
    match column {
        "time" => *ty == Type::TIMESTAMPTZ,
        "symbol" => matches!(*ty, Type::TEXT | Type::VARCHAR),
        "trading_volume" => matches!(*ty, Type::INT2 | Type::INT4 | Type::INT8),
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
