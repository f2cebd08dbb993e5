//! PostgreSQL's binary COPY format, written by hand for the one row shape we write.
//!
//! Encoding a whole batch into one buffer (instead of one `ToSql` call per cell and a
//! flush every 4 KiB) keeps the cost per row to a few byte copies, and lets the decoder
//! thread do the encoding while the connection sends the previous batch.

use bytes::{BufMut, Bytes, BytesMut};
use tokio_postgres::types::Type;

use super::schema::TableInfo;
use chrono_tz::Tz;

use crate::domain::{Bar, WriteSummary};

/// Signature, flags and header-extension length of a binary COPY stream.
const HEADER: &[u8] = b"PGCOPY\n\xff\r\n\0\0\0\0\0\0\0\0\0";
/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

/// A finished batch: a complete binary COPY stream and where its rows came from.
#[derive(Debug, Clone)]
pub struct EncodedBatch {
    pub bytes: Bytes,
    pub rows: u64,
    /// Line (or record number) of the first and last row, for error messages.
    pub first_line: u64,
    pub last_line: u64,
    /// Per (symbol, day), what the rows add to the catalogue; `None` without a catalogue.
    pub summary: Option<WriteSummary>,
}

/// How each column is written, fixed by the table's actual column types.
#[derive(Debug, Clone, Copy)]
pub struct CopyEncoder {
    /// Which of the four price columns are `real` rather than `double precision`.
    float4: [bool; 4],
    volume: Type32,
    /// Whether rows carry `trade_count` and `vwap` (the table has them).
    trade_stats: bool,
    /// The catalogue's zone, when the database has a catalogue to keep up to date.
    zone: Option<Tz>,
}

#[derive(Debug, Clone, Copy)]
enum Type32 {
    Int2,
    Int4,
    Int8,
}

impl CopyEncoder {
    pub fn new(table: &TableInfo) -> Self {
        let float4 = std::array::from_fn(|i| table.column_types[2 + i] == Type::FLOAT4);
        let volume = match table.column_types[6] {
            Type::INT2 => Type32::Int2,
            Type::INT4 => Type32::Int4,
            _ => Type32::Int8,
        };
        Self {
            float4,
            volume,
            trade_stats: table.trade_stats,
            zone: table.catalog_zone,
        }
    }

    /// An empty summary for a batch, when there is a catalogue.
    pub fn summary(&self) -> Option<WriteSummary> {
        self.zone.map(WriteSummary::new)
    }

    /// An empty batch buffer, with room for about `rows` rows.
    pub fn start(&self, rows: usize) -> BytesMut {
        let mut buf = BytesMut::with_capacity(HEADER.len() + rows * 80 + 2);
        buf.put_slice(HEADER);
        buf
    }

    /// Appends one row. Volumes are range-checked against the column before they get here;
    /// a value that still does not fit is written as NULL rather than wrapped.
    pub fn push(&self, buf: &mut BytesMut, bar: &Bar) {
        buf.put_i16(if self.trade_stats { 9 } else { 7 });
        buf.put_i32(8);
        buf.put_i64(bar.time.timestamp_micros() - PG_EPOCH_MICROS);
        let symbol = bar.symbol.as_str().as_bytes();
        buf.put_i32(symbol.len() as i32);
        buf.put_slice(symbol);
        let prices = [
            bar.values.price_open,
            bar.values.price_high,
            bar.values.price_low,
            bar.values.price_close,
        ];
        for (price, float4) in prices.into_iter().zip(self.float4) {
            match price {
                None => buf.put_i32(-1),
                Some(x) if float4 => {
                    buf.put_i32(4);
                    buf.put_f32(x as f32);
                }
                Some(x) => {
                    buf.put_i32(8);
                    buf.put_f64(x);
                }
            }
        }
        match (bar.values.trading_volume, self.volume) {
            (None, _) => buf.put_i32(-1),
            (Some(v), Type32::Int8) => {
                buf.put_i32(8);
                buf.put_i64(v);
            }
            (Some(v), Type32::Int4) => match i32::try_from(v) {
                Ok(v) => {
                    buf.put_i32(4);
                    buf.put_i32(v);
                }
                Err(_) => buf.put_i32(-1),
            },
            (Some(v), Type32::Int2) => match i16::try_from(v) {
                Ok(v) => {
                    buf.put_i32(2);
                    buf.put_i16(v);
                }
                Err(_) => buf.put_i32(-1),
            },
        }
        if self.trade_stats {
            match bar.values.trade_count {
                None => buf.put_i32(-1),
                Some(n) => {
                    buf.put_i32(8);
                    buf.put_i64(n);
                }
            }
            match bar.values.vwap {
                None => buf.put_i32(-1),
                Some(x) => {
                    buf.put_i32(8);
                    buf.put_f64(x);
                }
            }
        }
    }

    /// Closes the stream.
    pub fn finish(&self, mut buf: BytesMut) -> Bytes {
        buf.put_i16(-1);
        buf.freeze()
    }

    /// A whole batch in one call, for callers that already hold all bars.
    pub fn encode(&self, bars: &[Bar]) -> EncodedBatch {
        let mut buf = self.start(bars.len());
        let mut summary = self.summary();
        for bar in bars {
            self.push(&mut buf, bar);
            if let Some(summary) = &mut summary {
                summary.add(bar);
            }
        }
        EncodedBatch {
            bytes: self.finish(buf),
            rows: bars.len() as u64,
            first_line: 1,
            last_line: bars.len() as u64,
            summary,
        }
    }
}
