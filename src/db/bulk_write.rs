//! Writing bars with PostgreSQL's binary COPY: the fastest way in, and atomic per call.
//!
//! `error` mode copies straight into the table (a duplicate aborts everything). The upsert
//! modes copy into a per-connection staging table and merge from it in one statement.
//! Rows arrive already encoded (see `copy_format`), batch by batch, so a streamed body is
//! written while it is still being read.

use bytes::Bytes;
use futures_util::{SinkExt, pin_mut};
use tokio_postgres::{Client, Statement, Transaction};

use super::catalog_write::{ChunkCounts, pending_counts, record_write};
use super::copy_format::{CopyEncoder, EncodedBatch};
use super::feed_log::{FeedWriter, MERGE_FEED_CTE};
use super::schema::TableInfo;
use super::write_statements::Prepared;
use super::{DbError, TABLE};
use crate::domain::{Bar, WriteSummary};

/// What to do with a bar whose (symbol, time) is already stored.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum OnConflict {
    /// Refuse the whole request (409).
    #[default]
    Error,
    /// Keep the stored bar, skip the new one; within one request the first copy wins.
    Ignore,
    /// Overwrite the stored bar with the fields the new one gives (absent or null fields
    /// keep their stored values); within one request the last copy wins.
    Update,
}

impl OnConflict {
    /// `error`, `ignore` or `update`.
    pub fn parse(raw: &str) -> Result<Self, String> {
        match raw {
            "error" => Ok(Self::Error),
            "ignore" => Ok(Self::Ignore),
            "update" => Ok(Self::Update),
            other => Err(format!(
                "{} is not one of error, ignore, update",
                crate::domain::quote(other)
            )),
        }
    }
}

/// How a write went.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, serde::Serialize, utoipa::ToSchema)]
pub struct WriteCounts {
    pub inserted: u64,
    pub updated: u64,
    pub skipped: u64,
    /// The change feed's id of the write's last bar (see `feed_log`), when announced.
    #[serde(skip)]
    pub feed_id: Option<i64>,
}

/// Writes `bars` already held in memory in one transaction: all are stored, or none.
pub async fn write_all(
    client: &mut Client,
    table: &TableInfo,
    bars: &[Bar],
    mode: OnConflict,
) -> Result<WriteCounts, DbError> {
    if bars.is_empty() {
        return Ok(WriteCounts::default());
    }
    let batch = CopyEncoder::new(table).encode(bars);
    let write = BulkWrite::begin(client, table, mode, Prepared::PerWrite).await?;
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
    prepared: Prepared<'a>,
    mode: OnConflict,
    /// The columns the table has, which the COPY and the merge name.
    columns: &'static [&'static str],
    copied: u64,
    /// Announces the write on the change feed at commit, when the table has one.
    feed: Option<FeedWriter>,
    /// What the batches so far add to the catalogue (see `catalog_write`).
    summary: Option<WriteSummary>,
    /// The session's unpublished chunk row counts at the start, with a catalogue.
    counts_before: ChunkCounts,
}

impl<'a> BulkWrite<'a> {
    pub async fn begin(
        client: &'a mut Client,
        table: &TableInfo,
        mode: OnConflict,
        prepared: Prepared<'a>,
    ) -> Result<Self, DbError> {
        if mode != OnConflict::Error && !table.has_unique_key {
            return Err(DbError::Unsupported(format!(
                "upserts need a unique index on {TABLE} (symbol, time); run `tsapi migrate`"
            )));
        }
        let tx = client.transaction().await?;
        let ready = async {
            let feed = match table.has_feed {
                true => Some(FeedWriter::prepare(&tx, prepared).await?),
                false => None,
            };
            let counts = match table.catalog_zone {
                Some(_) => pending_counts(&tx, prepared).await?,
                None => ChunkCounts::default(),
            };
            let copy = prepare_copy(&tx, mode, prepared, table.columns()).await?;
            Ok::<_, DbError>((copy, feed, counts))
        };
        match ready.await {
            Ok((copy, feed, counts_before)) => Ok(Self {
                copy,
                tx,
                prepared,
                mode,
                columns: table.columns(),
                copied: 0,
                feed,
                summary: None,
                counts_before,
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
        let staged = (self.feed.is_some() && self.mode == OnConflict::Error)
            .then(|| (batch.bytes.clone(), batch.rows));
        let mut copied = copy_batch(&self.tx, &self.copy, batch).await;
        if let (Ok(_), Some(feed), Some((bytes, rows))) = (&copied, &mut self.feed, staged)
            && let Err(e) = feed.stage_copy(&self.tx, &bytes, rows).await
        {
            copied = Err(e);
        }
        match copied {
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

    /// Merges staged rows (upsert modes) and commits.
    pub async fn commit(self) -> Result<WriteCounts, DbError> {
        let Self {
            copy,
            tx,
            prepared,
            mode,
            columns,
            copied,
            mut feed,
            summary,
            counts_before,
        } = self;
        drop(copy);
        let merged = match mode {
            OnConflict::Error => Ok(WriteCounts {
                inserted: copied,
                ..WriteCounts::default()
            }),
            OnConflict::Ignore | OnConflict::Update => {
                merge(&tx, mode, columns, copied, feed.is_some()).await
            }
        };
        let merged = match (merged, &summary) {
            (Ok(counts), Some(summary)) => {
                record_write(&tx, prepared, mode, summary, &counts_before)
                    .await
                    .map(|()| counts)
            }
            (merged, _) => merged,
        };
        let announced = match (merged, feed.take()) {
            (Ok(mut counts), Some(mut feed)) => {
                if mode != OnConflict::Error {
                    feed.staged_merge(counts.inserted + counts.updated);
                }
                feed.announce(&tx).await.map(|id| {
                    counts.feed_id = id;
                    counts
                })
            }
            (merged, _) => merged,
        };
        let counts = match announced {
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
async fn prepare_copy(
    tx: &Transaction<'_>,
    mode: OnConflict,
    prepared: Prepared<'_>,
    columns: &[&str],
) -> Result<Statement, DbError> {
    let columns = columns.join(", ");
    match mode {
        OnConflict::Error => {
            let sql = format!("COPY {TABLE} ({columns}) FROM STDIN (FORMAT binary)");
            prepared.prepare(tx, &sql).await
        }
        // The staging table is the session's own and may be new: prepared in the write.
        OnConflict::Ignore | OnConflict::Update => {
            tx.batch_execute(&format!(
                "CREATE TEMP TABLE IF NOT EXISTS tsapi_staging \
                 (LIKE {TABLE}, ord bigint GENERATED ALWAYS AS IDENTITY) ON COMMIT DELETE ROWS"
            ))
            .await?;
            Ok(tx
                .prepare(&format!(
                    "COPY tsapi_staging ({columns}) FROM STDIN (FORMAT binary)"
                ))
                .await?)
        }
    }
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
    columns: &[&str],
    copied: u64,
    feed: bool,
) -> Result<WriteCounts, DbError> {
    let row = tx
        .query_one(&merge_statement(mode, columns, feed), &[])
        .await?;
    let inserted = row.get::<_, i64>(0) as u64;
    let updated = row.get::<_, i64>(1) as u64;
    Ok(WriteCounts {
        inserted,
        updated,
        skipped: copied - inserted - updated,
        feed_id: None,
    })
}

/// Merges the staging table into the table and counts inserted and updated rows.
/// Within one request, one copy of a (symbol, time) counts: the first for `ignore` (as if
/// each copy were written in turn), the last for `update`. An update keeps the stored value
/// of every field the new bar leaves out.
fn merge_statement(mode: OnConflict, columns: &[&str], feed: bool) -> String {
    let (action, order) = match mode {
        OnConflict::Update => {
            let set: Vec<String> = columns[2..]
                .iter()
                .map(|c| format!("{c} = coalesce(EXCLUDED.{c}, {TABLE}.{c})"))
                .collect();
            (format!("DO UPDATE SET {}", set.join(", ")), "DESC")
        }
        _ => ("DO NOTHING".to_owned(), "ASC"),
    };
    let columns = columns.join(", ");
    let feed = if feed { MERGE_FEED_CTE } else { "" };
    format!(
        "WITH chosen AS ( \
           SELECT DISTINCT ON (symbol, time) {columns} FROM tsapi_staging \
           ORDER BY symbol, time, ord {order}), \
         merged AS ( \
           INSERT INTO {TABLE} ({columns}) SELECT {columns} FROM chosen \
           ON CONFLICT (symbol, time) {action} \
           RETURNING {columns}, (xmax = 0) AS inserted){feed} \
         SELECT count(*) FILTER (WHERE inserted), count(*) FILTER (WHERE NOT inserted) FROM merged"
    )
}
