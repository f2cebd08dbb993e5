//! A request body streamed into one transaction: decoded on a blocking thread, written
//! batch by batch with binary COPY while the rest of the body is still arriving, committed
//! only when the whole body was valid.

use std::fmt::Display;

use bytes::Bytes;
use futures_util::{Stream, StreamExt};
use tokio::sync::mpsc;
use tokio_postgres::Client;

use super::body::{BodyFault, ChannelReader, FaultSlot, body_reader};
use super::{BATCH_ROWS, Batcher, BodyFormat, IngestError, decode_batches};
use crate::db::{
    BulkWrite, CopyEncoder, DbError, EncodedBatch, OnConflict, Prepared, TableInfo, WriteCounts,
};
use crate::domain::RecordRules;

/// Bounds of one streamed request.
#[derive(Debug, Clone, Copy)]
pub struct StreamLimits {
    /// Most bytes of body, on the wire and after gunzipping.
    pub body_bytes: u64,
    /// Most records.
    pub rows: u64,
}

/// Writes every record of `body` in one transaction, or none of them.
#[allow(clippy::too_many_arguments)]
pub async fn write_stream<S, E>(
    body: S,
    format: BodyFormat,
    gzip: bool,
    limits: StreamLimits,
    rules: RecordRules,
    client: &mut Client,
    prepared: Prepared<'_>,
    table: &TableInfo,
    mode: OnConflict,
) -> Result<WriteCounts, IngestError>
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    // Small queues: memory stays at a few chunks and two batches, whatever the body size.
    let (chunk_tx, chunk_rx) = mpsc::channel(8);
    let (batch_tx, mut batch_rx) = mpsc::channel::<EncodedBatch>(2);
    let encoder = CopyEncoder::new(table);
    let decoder = tokio::task::spawn_blocking(move || {
        let slot = FaultSlot::default();
        let raw = ChannelReader::new(chunk_rx, slot.clone());
        let input = body_reader(raw, gzip, limits.body_bytes, &slot);
        let mut batcher = Batcher::new(encoder, BATCH_ROWS, limits.rows, |batch| {
            batch_tx.blocking_send(batch).is_ok()
        })
        .ramp_up();
        if mode == OnConflict::Error {
            batcher = batcher.refuse_duplicates();
        }
        decode_batches(input, format, &rules, batcher, &slot)
    });
    // Owns the receiver, so a failed write drops it and the decoder stops at once.
    let copy = async move {
        let mut write = BulkWrite::begin(client, table, mode, prepared).await?;
        while let Some(batch) = batch_rx.recv().await {
            write = write.copy(batch).await?;
        }
        Ok::<_, DbError>(write)
    };
    let ((), written) = tokio::join!(pump_body(body, chunk_tx, limits.body_bytes), copy);
    let decoded = decoder
        .await
        .map_err(|e| IngestError::Internal(format!("the decoder failed: {e}")))?;
    match (decoded, written) {
        (Ok(_), Ok(write)) => Ok(write.commit().await?),
        (Err(e), Ok(write)) => {
            write.rollback().await;
            match e {
                IngestError::WriterGone => Err(IngestError::Internal(e.to_string())),
                e => Err(e),
            }
        }
        (Err(e), Err(_)) if !matches!(e, IngestError::WriterGone) => Err(e),
        (_, Err(db)) => Err(db.into()),
    }
}

/// Forwards body chunks to the decoder, enforcing the byte limit on the wire. When the
/// decoder has stopped early (an error), the rest of the body is read and dropped, so the
/// client can still send it all and read the answer.
async fn pump_body<S, E>(mut body: S, chunks: mpsc::Sender<Result<Bytes, BodyFault>>, limit: u64)
where
    S: Stream<Item = Result<Bytes, E>> + Unpin,
    E: Display,
{
    let mut seen = 0u64;
    let mut listening = true;
    while let Some(chunk) = body.next().await {
        let fault = match chunk {
            Ok(bytes) => {
                seen += bytes.len() as u64;
                if seen <= limit {
                    if listening && chunks.send(Ok(bytes)).await.is_err() {
                        listening = false;
                    }
                    continue;
                }
                BodyFault::TooLarge(limit)
            }
            Err(e) => BodyFault::Broken(e.to_string()),
        };
        if listening {
            let _ = chunks.send(Err(fault)).await;
        }
        return;
    }
}
