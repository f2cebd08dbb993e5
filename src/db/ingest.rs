//! Writing bars with PostgreSQL's binary COPY: the fastest way in, and atomic per call.
//!
//! `error` mode copies straight into the table (a duplicate aborts everything). The upsert
//! modes copy into a per-connection staging table and merge from it in one statement.

use futures_util::pin_mut;
use tokio_postgres::Client;
use tokio_postgres::binary_copy::BinaryCopyInWriter;
use tokio_postgres::types::ToSql;

use super::cells::{FloatCell, IntCell};
use super::schema::{COLUMNS, TableInfo};
use super::{DbError, TABLE};
use crate::domain::Bar;

/// What to do with a bar whose (symbol, time) is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// Refuse the whole request (409).
    #[default]
    Error,
    /// Keep the stored bar, skip the new one.
    Ignore,
    /// Replace the stored bar (last write wins).
    Update,
}

/// How a write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize)]
pub struct WriteCounts {
    pub inserted: u64,
    pub updated: u64,
    pub skipped: u64,
}

/// Writes all `bars` in one transaction: all are stored, or none.
pub async fn write_bars(
    client: &mut Client,
    table: &TableInfo,
    bars: &[Bar],
    mode: OnConflict,
) -> Result<WriteCounts, DbError> {
    if bars.is_empty() {
        return Ok(WriteCounts::default());
    }
    if mode != OnConflict::Error && !table.has_unique_key {
        return Err(DbError::Schema(format!(
            "upserts need a unique index on {TABLE} (symbol, time); run `tsapi migrate`"
        )));
    }
    let columns = COLUMNS.join(", ");
    let tx = client.transaction().await?;
    let counts = match mode {
        OnConflict::Error => {
            let copy = format!("COPY {TABLE} ({columns}) FROM STDIN (FORMAT binary)");
            let inserted = copy_bars(&tx, &copy, table, bars).await?;
            WriteCounts {
                inserted,
                ..WriteCounts::default()
            }
        }
        OnConflict::Ignore | OnConflict::Update => {
            tx.batch_execute(&format!(
                "CREATE TEMP TABLE IF NOT EXISTS tsapi_staging \
                 (LIKE {TABLE}, ord bigint GENERATED ALWAYS AS IDENTITY) ON COMMIT DELETE ROWS"
            ))
            .await?;
            let copy = format!("COPY tsapi_staging ({columns}) FROM STDIN (FORMAT binary)");
            let total = copy_bars(&tx, &copy, table, bars).await?;
            let merge = merge_statement(mode);
            let row = tx.query_one(&merge, &[]).await?;
            let inserted = row.get::<_, i64>(0) as u64;
            let updated = row.get::<_, i64>(1) as u64;
            WriteCounts {
                inserted,
                updated,
                skipped: total - inserted - updated,
            }
        }
    };
    tx.commit().await?;
    metrics::counter!("tsapi_rows_ingested_total").increment(counts.inserted + counts.updated);
    Ok(counts)
}

/// Streams the bars through one binary COPY; returns the number of rows copied.
async fn copy_bars(
    tx: &tokio_postgres::Transaction<'_>,
    copy: &str,
    table: &TableInfo,
    bars: &[Bar],
) -> Result<u64, DbError> {
    let sink = tx.copy_in(copy).await?;
    let writer = BinaryCopyInWriter::new(sink, &table.column_types);
    pin_mut!(writer);
    for bar in bars {
        let (open, high, low, close) = (
            FloatCell(bar.price_open),
            FloatCell(bar.price_high),
            FloatCell(bar.price_low),
            FloatCell(bar.price_close),
        );
        let volume = IntCell(bar.trading_volume);
        let row: [&(dyn ToSql + Sync); 7] = [
            &bar.time,
            &bar.symbol.as_str(),
            &open,
            &high,
            &low,
            &close,
            &volume,
        ];
        writer.as_mut().write(&row).await?;
    }
    Ok(writer.finish().await?)
}

/// Merges the staging table into the table and counts inserted and updated rows.
/// Within one request, the last bar for a (symbol, time) wins.
fn merge_statement(mode: OnConflict) -> String {
    let columns = COLUMNS.join(", ");
    let action = match mode {
        OnConflict::Update => {
            let set: Vec<String> = COLUMNS[2..]
                .iter()
                .map(|c| format!("{c} = EXCLUDED.{c}"))
                .collect();
            format!("DO UPDATE SET {}", set.join(", "))
        }
        _ => "DO NOTHING".to_owned(),
    };
    format!(
        "WITH latest AS ( \
           SELECT DISTINCT ON (symbol, time) {columns} FROM tsapi_staging \
           ORDER BY symbol, time, ord DESC), \
         merged AS ( \
           INSERT INTO {TABLE} ({columns}) SELECT {columns} FROM latest \
           ON CONFLICT (symbol, time) {action} \
           RETURNING (xmax = 0) AS inserted) \
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"
    )
}
