//! Writing bars with PostgreSQL's binary COPY: the fastest way in, and atomic per call.
//!
//! `error` mode copies straight into the table (a duplicate aborts everything). The upsert
//! modes copy into a per-connection staging table and merge from it in one statement.
//! Rows arrive already encoded (see `copy_format`), batch by batch, so a streamed body is
//! written while it is still being read.

use bytes::Bytes;
use futures_util::{SinkExt, pin_mut};
use tokio_postgres::{Client, Statement, Transaction};

use super::copy_format::{CopyEncoder, EncodedBatch};
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
    let mut write = BulkWrite::begin(client, table, mode).await?;
    write.copy(batch).await?;
    write.commit().await
}

/// One transaction fed batch by batch: each batch is one binary COPY, into the table for
/// `error` mode or into the staging table for the upsert modes, which are merged into the
/// table only at [`BulkWrite::commit`]. Dropping it uncommitted rolls everything back.
pub struct BulkWrite<'a> {
    tx: Transaction<'a>,
    mode: OnConflict,
    copy: Statement,
    copied: u64,
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
        let columns = COLUMNS.join(", ");
        let tx = client.transaction().await?;
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
        let copy = tx
            .prepare(&format!(
                "COPY {target} ({columns}) FROM STDIN (FORMAT binary)"
            ))
            .await?;
        Ok(Self {
            tx,
            mode,
            copy,
            copied: 0,
        })
    }

    /// Sends one encoded batch through its own COPY.
    pub async fn copy(&mut self, batch: EncodedBatch) -> Result<(), DbError> {
        let sink = self.tx.copy_in::<_, Bytes>(&self.copy).await?;
        pin_mut!(sink);
        sink.send(batch.bytes).await?;
        self.copied += sink.finish().await?;
        Ok(())
    }

    /// Rows copied so far.
    pub fn copied(&self) -> u64 {
        self.copied
    }

    /// Merges staged rows (upsert modes) and commits.
    pub async fn commit(self) -> Result<WriteCounts, DbError> {
        let counts = match self.mode {
            OnConflict::Error => WriteCounts {
                inserted: self.copied,
                ..WriteCounts::default()
            },
            OnConflict::Ignore | OnConflict::Update => {
                let row = self.tx.query_one(&merge_statement(self.mode), &[]).await?;
                let inserted = row.get::<_, i64>(0) as u64;
                let updated = row.get::<_, i64>(1) as u64;
                WriteCounts {
                    inserted,
                    updated,
                    skipped: self.copied - inserted - updated,
                }
            }
        };
        self.tx.commit().await?;
        metrics::counter!("tsapi_rows_ingested_total").increment(counts.inserted + counts.updated);
        Ok(counts)
    }
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
