//! Where decoded records go: into COPY batches, with limits on rows and reported errors.

use bytes::BytesMut;

use crate::db::{CopyEncoder, EncodedBatch};
use crate::domain::{Bar, FieldError, Position, WriteSummary};
use crate::error::MAX_REPORTED_ERRORS;

/// Receives records in input order. Returns `false` to make the decoder stop.
pub trait RecordSink {
    fn accept(&mut self, at: Position, record: Result<Bar, Vec<FieldError>>) -> bool;
}

/// How a [`Batcher`] ended when it did not reach the end of the input cleanly.
#[derive(Debug, PartialEq)]
pub enum BatchFailure {
    /// Some records are invalid; at most `max_errors` errors are kept.
    Invalid(Vec<FieldError>),
    /// More records than the limit.
    TooManyRows(u64),
    /// The receiver of batches went away (its own failure is the one to report).
    Gone,
}

/// Encodes valid records into batches of `batch_rows` and hands each full batch to `send`.
///
/// Once a record is invalid, nothing more is sent (the request will be refused), but
/// decoding goes on to collect up to `max_errors` errors, so a client can fix many at once.
pub struct Batcher<F: FnMut(EncodedBatch) -> bool> {
    encoder: CopyEncoder,
    batch_rows: usize,
    /// Rows that fill the current batch: grows to `batch_rows`.
    target_rows: usize,
    max_rows: u64,
    max_errors: usize,
    send: F,
    buf: BytesMut,
    summary: Option<WriteSummary>,
    in_batch: u64,
    first_line: u64,
    last_line: u64,
    records: u64,
    errors: Vec<FieldError>,
    failure: Option<BatchFailure>,
}

impl<F: FnMut(EncodedBatch) -> bool> Batcher<F> {
    /// `send` returns `false` when the receiver is gone.
    pub fn new(encoder: CopyEncoder, batch_rows: usize, max_rows: u64, send: F) -> Self {
        Self {
            encoder,
            batch_rows: batch_rows.max(1),
            target_rows: batch_rows.max(1),
            max_rows,
            max_errors: MAX_REPORTED_ERRORS,
            send,
            buf: encoder.start(batch_rows),
            summary: encoder.summary(),
            in_batch: 0,
            first_line: 0,
            last_line: 0,
            records: 0,
            errors: Vec::new(),
            failure: None,
        }
    }

    /// Start with small batches (an eighth of `batch_rows`, doubling up to it), so that the
    /// database is at work on an input while the rest of it is still being decoded. For a
    /// request body, which is one transaction; not for loads that commit every batch.
    pub fn ramp_up(mut self) -> Self {
        self.target_rows = (self.batch_rows / 8).max(1);
        self.buf = self.encoder.start(self.target_rows);
        self
    }

    /// Stop at the first invalid record instead of collecting more.
    pub fn stop_at_first_error(mut self) -> Self {
        self.max_errors = 1;
        self
    }

    /// Records seen so far, valid or not.
    pub fn records(&self) -> u64 {
        self.records
    }

    fn flush(&mut self) -> bool {
        if self.in_batch == 0 {
            return true;
        }
        self.target_rows = (self.target_rows * 2).min(self.batch_rows);
        let buf = std::mem::replace(&mut self.buf, self.encoder.start(self.target_rows));
        let summary = std::mem::replace(&mut self.summary, self.encoder.summary());
        let batch = EncodedBatch {
            summary,
            bytes: self.encoder.finish(buf),
            rows: self.in_batch,
            first_line: self.first_line,
            last_line: self.last_line,
        };
        self.in_batch = 0;
        if (self.send)(batch) {
            true
        } else {
            self.failure = Some(BatchFailure::Gone);
            false
        }
    }

    /// Sends what is left. `Ok(records)` when every record was valid and sent.
    pub fn finish(mut self) -> Result<u64, BatchFailure> {
        if let Some(failure) = self.failure.take() {
            return Err(failure);
        }
        if !self.errors.is_empty() {
            return Err(BatchFailure::Invalid(self.errors));
        }
        if !self.flush() {
            return Err(BatchFailure::Gone);
        }
        Ok(self.records)
    }
}

impl<F: FnMut(EncodedBatch) -> bool> RecordSink for Batcher<F> {
    fn accept(&mut self, at: Position, record: Result<Bar, Vec<FieldError>>) -> bool {
        if self.failure.is_some() {
            return false;
        }
        self.records += 1;
        if self.records > self.max_rows {
            self.failure = Some(BatchFailure::TooManyRows(self.max_rows));
            return false;
        }
        match record {
            Err(mut errors) => {
                self.errors.append(&mut errors);
                if self.errors.len() >= self.max_errors {
                    self.errors.truncate(self.max_errors);
                    self.failure = Some(BatchFailure::Invalid(std::mem::take(&mut self.errors)));
                    return false;
                }
                true
            }
            Ok(_) if !self.errors.is_empty() => true,
            Ok(bar) => {
                let line = at.line.unwrap_or(at.index as u64 + 1);
                if self.in_batch == 0 {
                    self.first_line = line;
                }
                self.last_line = line;
                self.encoder.push(&mut self.buf, &bar);
                if let Some(summary) = &mut self.summary {
                    summary.add(&bar);
                }
                self.in_batch += 1;
                if self.in_batch as usize >= self.target_rows {
                    return self.flush();
                }
                true
            }
        }
    }
}

/// Keeps every bar in memory: for a body already held whole ([`super::parse_records_body`]).
pub struct Collect {
    pub bars: Vec<Bar>,
    pub errors: Vec<FieldError>,
    pub max_rows: usize,
    pub too_many: bool,
}

impl Collect {
    pub fn new(max_rows: usize) -> Self {
        Self {
            bars: Vec::new(),
            errors: Vec::new(),
            max_rows,
            too_many: false,
        }
    }
}

impl RecordSink for Collect {
    fn accept(&mut self, at: Position, record: Result<Bar, Vec<FieldError>>) -> bool {
        if at.index >= self.max_rows {
            self.too_many = true;
            return false;
        }
        match record {
            Ok(bar) => self.bars.push(bar),
            Err(mut errors) => self.errors.append(&mut errors),
        }
        true
    }
}
