//! Rows in, encoded chunks out: the glue between the query core's row stream and a
//! response body or a file.

use std::collections::VecDeque;
use std::pin::Pin;

use arrow_array::RecordBatch;
use arrow_schema::{ArrowError, SchemaRef};
use bytes::Bytes;
use futures_util::{Stream, StreamExt, stream};

use super::batch::SymbolDictionary;
use super::{BATCH_ROWS, BarBatch, Columnar, Encoder};
use crate::db::{DbError, PagedBar};
use crate::domain::QueryBar;

/// Makes the token of the rows after the last one sent, from that last row.
pub type TokenFor = Box<dyn FnOnce(&PagedBar) -> String + Send>;

/// What a streamed answer holds.
pub struct Plan {
    pub format: Columnar,
    pub symbols: SymbolDictionary,
    pub aggregated: bool,
    /// Most rows sent; the stream must offer one more when there are more, so the last
    /// answer can say where to resume (Parquet: in its footer).
    pub cap: Option<usize>,
    /// Called when rows remain past `cap`.
    pub token_for: Option<TokenFor>,
}

/// Why a streamed answer stopped early.
#[derive(Debug, thiserror::Error)]
pub enum StreamError {
    #[error(transparent)]
    Db(#[from] DbError),
    #[error("encoding failed: {0}")]
    Encode(#[from] ArrowError),
}

type Rows = Pin<Box<dyn Stream<Item = Result<PagedBar, DbError>> + Send>>;

struct State {
    rows: Rows,
    encoder: Encoder,
    batch: BarBatch,
    sent: usize,
    cap: Option<usize>,
    last: Option<PagedBar>,
    token_for: Option<TokenFor>,
    started: bool,
    done: bool,
    /// Pieces ready to send, the last of them cut short by [`HELD_BACK`] bytes.
    ready: VecDeque<Bytes>,
    /// The bytes held back, sent before the next pieces or at the end.
    held: Bytes,
}

/// Bytes at the end of every piece that wait for the next piece or the end of the answer.
/// Whatever failed, the bytes a reader got then stop inside an Arrow message, or before
/// Parquet's footer: readers fail on them, where an Arrow stream cut between two messages
/// would read as whole with rows missing (its end marker is optional to readers).
const HELD_BACK: usize = 8;

/// Encodes `rows` into chunks: first the format's header (at once, before any row), then
/// one chunk per full batch (Arrow) or row group (Parquet), then the end. Memory stays at
/// one batch and one row group whatever the number of rows.
///
/// After an error the stream gives the error and ends, without the bytes it held back: a
/// client that ignores the broken connection, or a file, holds an answer that fails to
/// read, never one that reads as complete.
pub fn encode_stream(
    plan: Plan,
    rows: impl Stream<Item = Result<PagedBar, DbError>> + Send + 'static,
) -> Result<impl Stream<Item = Result<Bytes, StreamError>> + Send + 'static, ArrowError> {
    let batch = BarBatch::new(plan.symbols, plan.aggregated, BATCH_ROWS);
    let encoder = Encoder::new(plan.format, batch.schema())?;
    let state = State {
        rows: Box::pin(rows),
        encoder,
        batch,
        sent: 0,
        cap: plan.cap,
        last: None,
        token_for: plan.token_for,
        started: false,
        done: false,
        ready: VecDeque::new(),
        held: Bytes::new(),
    };
    Ok(stream::unfold(state, |mut state| async move {
        loop {
            if let Some(piece) = state.ready.pop_front() {
                return Some((Ok(piece), state));
            }
            if state.done {
                return None;
            }
            match state.next_pieces().await {
                Ok(pieces) => state.hold_back(pieces),
                Err(error) => {
                    state.done = true;
                    return Some((Err(error), state));
                }
            }
        }
    }))
}

impl State {
    /// Queues `pieces` behind the bytes held back before, holding back the end of the
    /// last one unless the answer is complete.
    fn hold_back(&mut self, pieces: Vec<Bytes>) {
        let held = std::mem::take(&mut self.held);
        let pieces = std::iter::once(held).chain(pieces);
        self.ready.extend(pieces.filter(|p| !p.is_empty()));
        if self.done {
            return;
        }
        if let Some(last) = self.ready.pop_back() {
            let cut = last.len() - last.len().min(HELD_BACK);
            self.held = last.slice(cut..);
            if cut > 0 {
                self.ready.push_back(last.slice(..cut));
            }
        }
    }

    /// The pieces of the next step: the header, a batch (Arrow), a row group (Parquet), or
    /// the end.
    async fn next_pieces(&mut self) -> Result<Vec<Bytes>, StreamError> {
        if !self.started {
            self.started = true;
            return Ok(self.encoder.take());
        }
        loop {
            let row = match self.rows.next().await {
                Some(row) => row?,
                None => return self.end(None),
            };
            if self.cap.is_some_and(|cap| self.sent >= cap) {
                let token = match (self.token_for.take(), &self.last) {
                    (Some(token_for), Some(last)) => Some(token_for(last)),
                    _ => None,
                };
                return self.end(token);
            }
            self.sent += 1;
            self.batch.push(&row.bar)?;
            if self.cap == Some(self.sent) {
                self.last = Some(row);
            }
            if self.batch.len() >= BATCH_ROWS {
                let batch = self.batch.finish()?;
                let pieces = self.encoder.write(&batch)?;
                if !pieces.is_empty() {
                    return Ok(pieces);
                }
            }
        }
    }

    /// The last rows and the format's end; the stream stops after it.
    fn end(&mut self, token: Option<String>) -> Result<Vec<Bytes>, StreamError> {
        self.done = true;
        let mut pieces = Vec::new();
        if !self.batch.is_empty() {
            let batch = self.batch.finish()?;
            pieces.extend(self.encoder.write(&batch)?);
        }
        pieces.extend(self.encoder.finish(token)?);
        Ok(pieces)
    }
}

/// A whole answer of rows already in memory (a page, the whole market's daily bars).
pub fn encode_all(
    format: Columnar,
    bars: &[QueryBar],
    aggregated: bool,
    next_page_token: Option<String>,
) -> Result<Bytes, ArrowError> {
    let symbols = SymbolDictionary::new(bars.iter().map(|b| b.symbol.as_str()));
    let mut batch = BarBatch::new(symbols, aggregated, bars.len().min(BATCH_ROWS));
    let schema = batch.schema();
    let batches = bars.chunks(BATCH_ROWS).map(|chunk| {
        for bar in chunk {
            batch.push(bar)?;
        }
        batch.finish()
    });
    encode_batches(format, schema, batches, next_page_token)
}

/// Record batches already made, as one answer: header, batches, end.
pub fn encode_batches(
    format: Columnar,
    schema: SchemaRef,
    batches: impl IntoIterator<Item = Result<RecordBatch, ArrowError>>,
    next_page_token: Option<String>,
) -> Result<Bytes, ArrowError> {
    let mut encoder = Encoder::new(format, schema)?;
    let mut pieces = encoder.take();
    for batch in batches {
        pieces.extend(encoder.write(&batch?)?);
    }
    pieces.extend(encoder.finish(next_page_token)?);
    Ok(Bytes::from(pieces.concat()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BarValues;
    use chrono::{DateTime, Utc};

    fn rows(n: usize) -> Vec<Result<PagedBar, DbError>> {
        let start: DateTime<Utc> = "2021-01-04T14:30:00Z".parse().unwrap();
        (0..n)
            .map(|i| {
                let time = start + chrono::Duration::minutes(i as i64);
                Ok(PagedBar {
                    bar: QueryBar {
                        time,
                        symbol: "A".into(),
                        values: BarValues {
                            price_open: Some(1.0),
                            price_high: Some(2.0),
                            price_low: Some(0.5),
                            price_close: Some(1.5),
                            trading_volume: Some(i as i64),
                            trade_count: None,
                            vwap: None,
                        },
                        count: None,
                    },
                    resume: time,
                })
            })
            .collect()
    }

    /// Every byte the stream gives before its end or its error, and whether it failed.
    async fn run(format: Columnar, rows: Vec<Result<PagedBar, DbError>>) -> (Vec<u8>, bool) {
        let plan = Plan {
            format,
            symbols: SymbolDictionary::new(["A"]),
            aggregated: false,
            cap: None,
            token_for: None,
        };
        let chunks = encode_stream(plan, stream::iter(rows)).unwrap();
        let mut chunks = std::pin::pin!(chunks);
        let mut body = Vec::new();
        while let Some(chunk) = chunks.next().await {
            match chunk {
                Ok(bytes) => body.extend_from_slice(&bytes),
                Err(_) => return (body, true),
            }
        }
        (body, false)
    }

    fn arrow_rows(body: &[u8]) -> Result<usize, ArrowError> {
        let reader = arrow_ipc::reader::StreamReader::try_new(body, None)?;
        reader.map(|b| b.map(|b| b.num_rows())).sum()
    }

    #[tokio::test]
    async fn an_arrow_stream_cut_off_after_whole_batches_does_not_read_as_whole() {
        let whole = BATCH_ROWS * 2 + 10;
        let (body, failed) = run(Columnar::Arrow, rows(whole)).await;
        assert!(!failed);
        assert_eq!(arrow_rows(&body).unwrap(), whole);

        let mut cut = rows(BATCH_ROWS * 2);
        cut.push(Err(DbError::Schema("the connection died".into())));
        let (body, failed) = run(Columnar::Arrow, cut).await;
        assert!(failed);
        assert!(body.len() > 1000, "two batches were sent");
        assert!(
            arrow_rows(&body).is_err(),
            "read {:?} rows",
            arrow_rows(&body)
        );
    }
}
