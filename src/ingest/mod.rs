//! Streaming ingest: request bodies and files in JSON, NDJSON or CSV (optionally gzip)
//! become validated bars, encoded as binary COPY batches while the input is still arriving.
//!
//! Decoding is synchronous and runs on a blocking thread (one per request or load); it
//! hands finished batches over a small bounded channel to the task that feeds them to the
//! database, so parsing and COPY overlap and memory is bounded by a few batches, whatever
//! the size of the input.
//!
//! - [`json`], [`ndjson`], [`csv`]: one decoder per format, all feeding a [`RecordSink`].
//! - [`sink`]: [`Batcher`] (rows to COPY batches, with row and error limits).
//! - [`body`]: readers over a request body: channel bridge, gzip, size limit.
//! - [`bounds`]: byte bounds on values and rows, kept underneath the parsers.
//! - [`stream`]: `POST /v1/bars` and `POST /insert`, a body streamed into one transaction.
//! - [`error`]: [`IngestError`] and its mapping to HTTP.

pub mod actions;
pub mod body;
pub mod bounds;
pub mod csv;
pub mod error;
pub mod json;
pub mod ndjson;
pub mod sink;
pub mod stream;

use std::io::{BufReader, Read};

pub use error::IngestError;
pub use sink::{BatchFailure, Batcher, RecordSink};
pub use stream::{StreamLimits, write_stream};

use crate::domain::RecordRules;

/// Rows per COPY batch for request bodies: big enough that per-batch costs vanish, small
/// enough that a batch is a few hundred KiB.
pub const BATCH_ROWS: usize = 5_000;

/// The input formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BodyFormat {
    /// `{"records": [...]}`, `{"records": {...}}` or a bare array of records.
    Json,
    /// Only `{"records": [...]}` or `{"records": {...}}`: the tutorial's `POST /insert`.
    Records,
    /// One JSON record per line.
    Ndjson,
    /// A header row naming the columns, then one record per line.
    Csv,
}

impl BodyFormat {
    /// The format of a `Content-Type` (its essence, lower case), if it is one we read.
    pub fn from_media_type(essence: &str) -> Option<Self> {
        match essence {
            "application/json" => Some(Self::Json),
            "application/x-ndjson" | "application/ndjson" | "application/jsonl" => {
                Some(Self::Ndjson)
            }
            "text/csv" => Some(Self::Csv),
            _ => None,
        }
    }

    /// The format a file name suggests (`.csv`, `.ndjson`, `.jsonl`, `.json`, each maybe `.gz`).
    pub fn from_file_name(name: &str) -> Option<Self> {
        let name = name
            .strip_suffix(".gz")
            .unwrap_or(name)
            .to_ascii_lowercase();
        let ext = name.rsplit_once('.')?.1;
        match ext {
            "csv" => Some(Self::Csv),
            "ndjson" | "jsonl" => Some(Self::Ndjson),
            "json" => Some(Self::Json),
            _ => None,
        }
    }
}

/// Why decoding stopped early.
#[derive(Debug)]
pub enum DecodeError {
    /// The input is malformed as a whole (not JSON, wrong shape, bad header); the text
    /// says what and where.
    Syntax(String),
    /// Reading failed; what went wrong is recorded by the reader (see [`body::FaultSlot`]).
    Io(std::io::Error),
    /// The sink asked to stop (too many rows or errors, or nobody is listening).
    Stopped,
}

/// Decodes `input` in `format`, handing every record to `sink` in order.
pub fn decode(
    input: impl Read,
    format: BodyFormat,
    rules: &RecordRules,
    sink: &mut dyn RecordSink,
) -> Result<(), DecodeError> {
    match format {
        BodyFormat::Json => json::decode_reader(input, json::Shape::RecordsOrArray, rules, sink),
        BodyFormat::Records => json::decode_reader(input, json::Shape::Records, rules, sink),
        BodyFormat::Ndjson => {
            ndjson::decode(BufReader::with_capacity(64 * 1024, input), rules, sink)
        }
        BodyFormat::Csv => csv::decode(input, rules, sink),
    }
}

/// Decodes `input` into `batcher` and says how it ended: the number of records, or the
/// one error to report (a reader's fault first, then syntax, then the records).
pub fn decode_batches<F: FnMut(crate::db::EncodedBatch) -> bool>(
    input: impl Read,
    format: BodyFormat,
    rules: &RecordRules,
    mut batcher: Batcher<F>,
    slot: &body::FaultSlot,
) -> Result<u64, IngestError> {
    let decoded = decode(input, format, rules, &mut batcher);
    if let Some(fault) = slot.take() {
        return Err(fault.into());
    }
    match decoded {
        Ok(()) | Err(DecodeError::Stopped) => match batcher.finish() {
            Ok(records) => Ok(records),
            // Only an input read to its end has shown every invalid record.
            Err(BatchFailure::Invalid(errors)) => Err(IngestError::Invalid {
                errors,
                complete: decoded.is_ok(),
            }),
            Err(other) => Err(other.into()),
        },
        Err(DecodeError::Syntax(message)) => Err(IngestError::BadInput(message)),
        Err(DecodeError::Io(e)) => {
            Err(IngestError::BadInput(format!("cannot read the input: {e}")))
        }
    }
}
