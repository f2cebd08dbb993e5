//! The Arrow schema of bars: the columns of the JSON answer, typed.

use std::sync::Arc;

use arrow_schema::{DataType, Field, Schema, SchemaRef, TimeUnit};

/// Stored bars (`aggregated == false`) or bucket aggregates (with `count`).
///
/// `time` is `timestamp[us, UTC]`: PostgreSQL keeps microseconds, and every reader turns
/// it into a zone-aware datetime without guessing. `symbol` is a dictionary of the
/// answer's symbols (a handful of distinct values over millions of rows). Prices, volume,
/// `trade_count` and `vwap` are nullable because the table's columns are; `count` never is.
pub fn bars_schema(aggregated: bool) -> SchemaRef {
    let mut fields = vec![
        Field::new(
            "time",
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            false,
        ),
        Field::new_dictionary("symbol", DataType::Int32, DataType::Utf8, false),
        Field::new("price_open", DataType::Float64, true),
        Field::new("price_high", DataType::Float64, true),
        Field::new("price_low", DataType::Float64, true),
        Field::new("price_close", DataType::Float64, true),
        Field::new("trading_volume", DataType::Int64, true),
        Field::new("trade_count", DataType::Int64, true),
        Field::new("vwap", DataType::Float64, true),
    ];
    if aggregated {
        fields.push(Field::new("count", DataType::Int64, false));
    }
    Arc::new(Schema::new(fields))
}
