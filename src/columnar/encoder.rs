//! Arrow IPC stream and Parquet writers over in-memory sinks that are emptied after every
//! step, so each finished piece of the answer can be sent (or written) at once.

use arrow_array::RecordBatch;
use arrow_ipc::writer::StreamWriter;
use arrow_schema::{ArrowError, SchemaRef};
use bytes::Bytes;
use parquet::arrow::ArrowWriter;
use parquet::basic::{Compression, Encoding, ZstdLevel};
use parquet::file::metadata::KeyValue;
use parquet::file::properties::WriterProperties;
use parquet::schema::types::ColumnPath;

use super::{Columnar, ROW_GROUP_ROWS};

/// The key of the Parquet footer's key-value metadata that holds the token of the rows
/// after a file cut short by its row limit.
pub const NEXT_PAGE_TOKEN_KEY: &str = "next_page_token";

/// A writer of one answer.
pub enum Encoder {
    // Boxed: both writers are large, and the encoder moves into the body stream.
    Arrow(Box<StreamWriter<Vec<u8>>>),
    Parquet(Box<ArrowWriter<Pieces>>),
}

/// The Parquet writer's sink: every write kept as a piece of its own, exactly sized.
///
/// A finished row group is written out page by page; collected in one `Vec` it was copied
/// into a buffer that grew by doubling (up to twice the row group, next to the pages not
/// yet copied: the largest share of the peak heap in a heap profile). As pieces, each page
/// is copied once and the pieces go to the body one after another.
#[derive(Debug, Default)]
pub struct Pieces(Vec<Bytes>);

impl std::io::Write for Pieces {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        if !buf.is_empty() {
            self.0.push(Bytes::copy_from_slice(buf));
        }
        Ok(buf.len())
    }

    fn flush(&mut self) -> std::io::Result<()> {
        Ok(())
    }
}

impl Encoder {
    /// A writer that has already produced its first bytes (the Arrow schema message, the
    /// Parquet magic number): take them with [`Encoder::take`] to start the answer.
    pub fn new(format: Columnar, schema: SchemaRef) -> Result<Self, ArrowError> {
        Ok(match format {
            Columnar::Arrow => Self::Arrow(Box::new(StreamWriter::try_new(Vec::new(), &schema)?)),
            Columnar::Parquet => Self::Parquet(Box::new(
                ArrowWriter::try_new(Pieces::default(), schema, Some(parquet_properties()))
                    .map_err(parquet_error)?,
            )),
        })
    }

    /// Encodes one batch. Arrow writes it at once; Parquet buffers it until its row group
    /// is full.
    pub fn write(&mut self, batch: &RecordBatch) -> Result<Vec<Bytes>, ArrowError> {
        match self {
            Self::Arrow(w) => w.write(batch)?,
            Self::Parquet(w) => w.write(batch).map_err(parquet_error)?,
        }
        Ok(self.take())
    }

    /// The end of the answer: the Arrow end-of-stream marker, or Parquet's last row group
    /// and footer (with `next_page_token` in its key-value metadata when given).
    pub fn finish(&mut self, next_page_token: Option<String>) -> Result<Vec<Bytes>, ArrowError> {
        match self {
            Self::Arrow(w) => w.finish()?,
            Self::Parquet(w) => {
                if let Some(token) = next_page_token {
                    w.append_key_value_metadata(KeyValue::new(NEXT_PAGE_TOKEN_KEY.into(), token));
                }
                w.finish().map_err(parquet_error)?;
            }
        }
        Ok(self.take())
    }

    /// The bytes written since the last call, in order.
    pub fn take(&mut self) -> Vec<Bytes> {
        match self {
            Self::Arrow(w) => {
                let buffer = std::mem::take(w.get_mut());
                if buffer.is_empty() {
                    Vec::new()
                } else {
                    vec![Bytes::from(buffer)]
                }
            }
            // The writer counts what it wrote itself; emptying its sink does not disturb it.
            Self::Parquet(w) => std::mem::take(&mut w.inner_mut().0),
        }
    }
}

/// Most bytes of a column's dictionary in a row group (the writer's default is 1 MiB).
///
/// A column's dictionary page stays in memory until its row group is done; in a heap profile
/// of a Parquet answer the dictionaries of the price columns, filled to 1 MiB each before
/// their values stopped repeating, were the largest share left once pages went out one by
/// one. 256 KiB still holds 32,768 distinct prices (a row group of quoted prices in ticks
/// stays dictionary-encoded); values that do not repeat fall back to byte-stream-split
/// sooner, which zstd compresses better than a dictionary of unique values anyway.
const DICTIONARY_PAGE_BYTES: usize = 256 * 1024;

/// zstd (level 3) for the byte goal at a small CPU cost; `time` delta-encoded (sorted
/// microseconds compress to a few bits a row); prices dictionary-encoded while their values
/// repeat (prices in ticks), else split into byte streams, which zstd compresses far better
/// than plain doubles; symbols and volumes dictionary-encoded, else plain.
fn parquet_properties() -> WriterProperties {
    let time = ColumnPath::from("time");
    let mut builder = WriterProperties::builder()
        .set_compression(Compression::ZSTD(
            ZstdLevel::try_new(3).expect("3 is a valid zstd level"),
        ))
        .set_max_row_group_row_count(Some(ROW_GROUP_ROWS))
        .set_dictionary_page_size_limit(DICTIONARY_PAGE_BYTES)
        .set_column_dictionary_enabled(time.clone(), false)
        .set_column_encoding(time, Encoding::DELTA_BINARY_PACKED)
        .set_created_by(concat!("tsapi ", env!("CARGO_PKG_VERSION")).into());
    for price in ["price_open", "price_high", "price_low", "price_close"] {
        // With the dictionary on, this is the encoding once the dictionary is full.
        builder = builder.set_column_encoding(ColumnPath::from(price), Encoding::BYTE_STREAM_SPLIT);
    }
    builder.build()
}

fn parquet_error(e: parquet::errors::ParquetError) -> ArrowError {
    ArrowError::ExternalError(Box::new(e))
}
