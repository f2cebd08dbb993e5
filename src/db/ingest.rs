//! Writing bars with PostgreSQL's binary COPY: the fastest way in, and atomic per call.
//!
//! `error` mode copies straight into the table (a duplicate aborts everything). The upsert
//! modes copy into a per-connection staging table and merge from it in one statement.
//! Rows arrive already encoded (see `copy_format`), batch by batch, so a streamed body is
//! written while it is still being read.

use bytes::Bytes;
use futures_util::{SinkExt, pin_mut};
use tokio_postgres::{Client, Statement, Transaction};

use super::catalog_write::record_write;
use super::copy_format::{CopyEncoder, EncodedBatch};
use super::schema::{COLUMNS, TableInfo};
use super::{DbError, TABLE};
use crate::domain::{Bar, WriteSummary};

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

impl OnConflict {
    /// `error`, `ignore` or `update`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "error" => Ok(Self::Error),
            "ignore" => Ok(Self::Ignore),
            "update" => Ok(Self::Update),
            other => Err(format!("{other:?} is not one of error, ignore, update")),
        }
    }
}

/// How a write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
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
    let batch = CopyEncoder::new(table).encode(bars);
    let write = BulkWrite::begin(client, table, mode).await?;
    write.copy(batch).await?.commit().await
}

/// One transaction fed batch by batch: each batch is one binary COPY, into the table for
/// `error` mode or into the staging table for the upsert modes, which are merged into the
/// table only at [`BulkWrite::commit`].
///
/// Every way out waits for the transaction's end: a failed COPY rolls back before its error
/// is returned, and a write given up for another reason must be ended with
/// [`BulkWrite::rollback`]. Behind a transaction-mode pooler the server connection goes
/// back to the pooler's pool at that end, so nothing may still be in flight after it (a
/// rollback sent on drop, or the prepared COPY's close) or its answer goes astray.
pub struct BulkWrite<'a> {
    // Declared before `tx`: when dropped (a cancelled request), the statement's close is
    // sent inside the transaction, before the rollback.
    copy: Statement,
    tx: Transaction<'a>,
    mode: OnConflict,
    copied: u64,
    /// What the batches so far add to the catalogue (see `catalog_write`).
    summary: Option<WriteSummary>,
}

impl<'a> BulkWrite<'a> {
    pub async fn begin(
        client: &'a mut Client,
        table: &TableInfo,
        mode: OnConflict,
    ) -> Result<Self, DbError> {
        if mode != OnConflict::Error && !table.has_unique_key {
            return Err(DbError::Unsupported(format!(
                "upserts need a unique index on {TABLE} (symbol, time); run `tsapi migrate`"
            )));
        }
        let tx = client.transaction().await?;
        match prepare_copy(&tx, mode).await {
            Ok(copy) => Ok(Self {
                copy,
                tx,
                mode,
                copied: 0,
                summary: None,
            }),
            Err(e) => {
                let _ = tx.rollback().await;
                Err(e)
            }
        }
    }

    /// Sends one encoded batch through its own COPY. On failure the transaction is rolled
    /// back (and waited for) before the error is returned: nothing of the write is stored.
    pub async fn copy(mut self, mut batch: EncodedBatch) -> Result<Self, DbError> {
        let summary = batch.summary.take();
        match copy_batch(&self.tx, &self.copy, batch).await {
            Ok(rows) => {
                self.copied += rows;
                match (&mut self.summary, summary) {
                    (Some(known), Some(more)) => known.merge(more),
                    (known, more) => *known = known.take().or(more),
                }
                Ok(self)
            }
            Err(e) => {
                self.rollback().await;
                Err(e)
            }
        }
    }

    /// Rows copied so far.
    pub fn copied(&self) -> u64 {
        self.copied
    }

    /// Merges staged rows (upsert modes) and commits.
    pub async fn commit(self) -> Result<WriteCounts, DbError> {
        let Self {
            copy,
            tx,
            mode,
            copied,
            summary,
        } = self;
        drop(copy);
        let merged = match mode {
            OnConflict::Error => Ok(WriteCounts {
                inserted: copied,
                ..WriteCounts::default()
            }),
            OnConflict::Ignore | OnConflict::Update => merge(&tx, mode, copied).await,
        };
        let merged = match (merged, &summary) {
            (Ok(counts), Some(summary)) => record_write(&tx, mode, summary).await.map(|()| counts),
            (merged, _) => merged,
        };
        let counts = match merged {
            Ok(counts) => counts,
            Err(e) => {
                let _ = tx.rollback().await;
                return Err(e);
            }
        };
        tx.commit().await?;
        metrics::counter!("tsapi_rows_ingested_total").increment(counts.inserted + counts.updated);
        Ok(counts)
    }

    /// Ends the transaction storing nothing, and waits until the server has done so.
    pub async fn rollback(self) {
        drop(self.copy);
        // A connection that cannot roll back is broken, and the pool drops it.
        let _ = self.tx.rollback().await;
    }
}

/// The COPY statement into the table (`error` mode) or into the staging table, made first.
async fn prepare_copy(tx: &Transaction<'_>, mode: OnConflict) -> Result<Statement, DbError> {
    let target = match mode {
        OnConflict::Error => TABLE,
        OnConflict::Ignore | OnConflict::Update => {
            tx.batch_execute(&format!(
                "CREATE TEMP TABLE IF NOT EXISTS tsapi_staging \
                 (LIKE {TABLE}, ord bigint GENERATED ALWAYS AS IDENTITY) ON COMMIT DELETE ROWS"
            ))
            .await?;
            "tsapi_staging"
        }
    };
    let columns = COLUMNS.join(", ");
    Ok(tx
        .prepare(&format!(
            "COPY {target} ({columns}) FROM STDIN (FORMAT binary)"
        ))
        .await?)
}

/// One COPY of one batch; the rows it stored.
async fn copy_batch(
    tx: &Transaction<'_>,
    copy: &Statement,
    batch: EncodedBatch,
) -> Result<u64, DbError> {
    let sink = tx.copy_in::<_, Bytes>(copy).await?;
    pin_mut!(sink);
    sink.send(batch.bytes).await?;
    Ok(sink.finish().await?)
}

/// Merges the staged rows into the table: the counts of the write.
async fn merge(
    tx: &Transaction<'_>,
    mode: OnConflict,
    copied: u64,
) -> Result<WriteCounts, DbError> {
    let row = tx.query_one(&merge_statement(mode), &[]).await?;
    let inserted = row.get::<_, i64>(0) as u64;
    let updated = row.get::<_, i64>(1) as u64;
    Ok(WriteCounts {
        inserted,
        updated,
        skipped: copied - inserted - updated,
    })
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
