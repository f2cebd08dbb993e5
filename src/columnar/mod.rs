//! Columnar answers: Arrow IPC streams and Parquet files of bars, for DataFrame readers
//! (pandas, polars, DuckDB) that would otherwise parse JSON or CSV.
//!
//! Rows come from the same query core as the JSON answers ([`crate::db::stream_paged_bars`]
//! and the in-memory reads of the whole-market routes), so whatever the core computes shows
//! up here unchanged. They are gathered into record batches of [`BATCH_ROWS`] rows and each
//! batch is encoded and handed out as soon as it is full: memory follows the batch size,
//! never the size of the answer.
//!
//! - [`schema`]: the one schema of bars (`time` as `timestamp[us, UTC]`, `symbol`
//!   dictionary-encoded, nullable prices and volume, `count` for aggregates).
//! - [`batch`]: a record-batch builder fed with typed rows.
//! - [`encoder`]: the Arrow IPC stream and Parquet writers, which give out finished bytes.
//! - [`stream`]: rows in, encoded chunks out, as a stream a response body or a file takes.
//! - [`snapshots`]: `/v1/snapshots` as flat columns, one row per symbol.

pub mod batch;
pub mod encoder;
pub mod schema;
pub mod snapshots;
pub mod stream;

pub use batch::{BarBatch, SymbolDictionary};
pub use encoder::{Encoder, NEXT_PAGE_TOKEN_KEY};
pub use schema::bars_schema;
pub use snapshots::{snapshots_batch, snapshots_schema};
pub use stream::{Plan, StreamError, encode_all, encode_batches, encode_stream};

/// Rows per record batch (and per Arrow IPC message). Parquet row groups hold
/// [`ROW_GROUP_ROWS`]. Large enough that per-batch costs vanish, small enough that a batch
/// of bars stays in the low megabytes.
pub const BATCH_ROWS: usize = 65_536;

/// Rows per Parquet row group: four batches, so dictionary pages and statistics cover
/// enough rows to compress well while a group in progress stays around 10 MB.
pub const ROW_GROUP_ROWS: usize = 4 * BATCH_ROWS;

/// The two columnar formats.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Columnar {
    /// Arrow IPC stream format: a schema message, record batches, an end marker.
    Arrow,
    /// Parquet: row groups, then the footer with the schema and statistics.
    Parquet,
}

impl Columnar {
    /// The media type of an answer in this format.
    pub fn media_type(self) -> &'static str {
        match self {
            Self::Arrow => ARROW_STREAM,
            Self::Parquet => PARQUET,
        }
    }
}

/// IANA's media type of the Arrow IPC stream format.
pub const ARROW_STREAM: &str = "application/vnd.apache.arrow.stream";
/// IANA's media type of Parquet files.
pub const PARQUET: &str = "application/vnd.apache.parquet";
