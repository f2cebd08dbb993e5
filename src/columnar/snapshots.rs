//! `/v1/snapshots` as columns: one row per symbol, flat as its CSV (the latest bar, then
//! today's and the previous day's daily bar under `day_` and `prev_` names).

use std::sync::Arc;

use arrow_array::TimestampMicrosecondArray;
use arrow_array::{ArrayRef, Float64Array, Int64Array, RecordBatch, StringArray};
use arrow_schema::{ArrowError, DataType, Field, Schema, SchemaRef, TimeUnit};

use crate::domain::{QueryBar, Snapshot};

/// Picks one daily bar of a snapshot.
type DayOf = fn(&Snapshot) -> Option<&QueryBar>;

/// The daily bars of a snapshot, by the prefix of their columns.
const DAYS: [(&str, DayOf); 2] = [
    ("day", |s| s.day.as_ref()),
    ("prev", |s| s.prev_day.as_ref()),
];

/// `symbol` (utf8: each appears once, a dictionary would save nothing) and the latest
/// bar's `time` are never null; a symbol without bars today or before has null `day_*` or
/// `prev_*` columns, and prices and volumes are nullable as the table's columns are.
pub fn snapshots_schema() -> SchemaRef {
    let time = |name: String, nullable| {
        Field::new(
            name,
            DataType::Timestamp(TimeUnit::Microsecond, Some("UTC".into())),
            nullable,
        )
    };
    let prices = |prefix: &str| {
        ["open", "high", "low", "close"]
            .map(|p| Field::new(format!("{prefix}{p}"), DataType::Float64, true))
    };
    let mut fields = vec![
        Field::new("symbol", DataType::Utf8, false),
        time("time".into(), false),
    ];
    fields.extend(prices("price_"));
    fields.push(Field::new("trading_volume", DataType::Int64, true));
    fields.push(Field::new("trade_count", DataType::Int64, true));
    fields.push(Field::new("vwap", DataType::Float64, true));
    for (day, _) in DAYS {
        fields.push(time(format!("{day}_time"), true));
        fields.extend(prices(&format!("{day}_")));
        fields.push(Field::new(format!("{day}_volume"), DataType::Int64, true));
        fields.push(Field::new(
            format!("{day}_trade_count"),
            DataType::Int64,
            true,
        ));
        fields.push(Field::new(format!("{day}_vwap"), DataType::Float64, true));
        fields.push(Field::new(format!("{day}_count"), DataType::Int64, true));
    }
    Arc::new(Schema::new(fields))
}

/// The snapshots as one record batch of [`snapshots_schema`].
pub fn snapshots_batch(rows: &[Snapshot]) -> Result<RecordBatch, ArrowError> {
    let time = |values: Vec<Option<i64>>| -> ArrayRef {
        Arc::new(TimestampMicrosecondArray::from(values).with_timezone("UTC"))
    };
    let float = |values: Vec<Option<f64>>| -> ArrayRef { Arc::new(Float64Array::from(values)) };
    let int = |values: Vec<Option<i64>>| -> ArrayRef { Arc::new(Int64Array::from(values)) };
    let latest = |f: fn(&Snapshot) -> Option<f64>| float(rows.iter().map(f).collect());
    let mut columns: Vec<ArrayRef> = vec![
        Arc::new(StringArray::from_iter_values(
            rows.iter().map(|s| &s.symbol),
        )),
        time(
            rows.iter()
                .map(|s| Some(s.latest_bar.time.timestamp_micros()))
                .collect(),
        ),
        latest(|s| s.latest_bar.values.price_open),
        latest(|s| s.latest_bar.values.price_high),
        latest(|s| s.latest_bar.values.price_low),
        latest(|s| s.latest_bar.values.price_close),
        int(rows
            .iter()
            .map(|s| s.latest_bar.values.trading_volume)
            .collect()),
        int(rows
            .iter()
            .map(|s| s.latest_bar.values.trade_count)
            .collect()),
        latest(|s| s.latest_bar.values.vwap),
    ];
    for (_, day_of) in DAYS {
        let days: Vec<Option<&QueryBar>> = rows.iter().map(day_of).collect();
        let each =
            |f: fn(&QueryBar) -> Option<f64>| float(days.iter().map(|d| d.and_then(f)).collect());
        columns.push(time(
            days.iter()
                .map(|d| d.map(|d| d.time.timestamp_micros()))
                .collect(),
        ));
        columns.push(each(|d| d.values.price_open));
        columns.push(each(|d| d.values.price_high));
        columns.push(each(|d| d.values.price_low));
        columns.push(each(|d| d.values.price_close));
        columns.push(int(days
            .iter()
            .map(|d| d.and_then(|d| d.values.trading_volume))
            .collect()));
        columns.push(int(days
            .iter()
            .map(|d| d.and_then(|d| d.values.trade_count))
            .collect()));
        columns.push(each(|d| d.values.vwap));
        columns.push(int(days.iter().map(|d| d.and_then(|d| d.count)).collect()));
    }
    RecordBatch::try_new(snapshots_schema(), columns)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_columns_are_those_of_the_csv_answer() {
        let names: Vec<String> = snapshots_schema()
            .fields()
            .iter()
            .map(|f| f.name().clone())
            .collect();
        assert_eq!(names.join(","), Snapshot::CSV_HEADER.trim_end());
        let empty = snapshots_batch(&[]).unwrap();
        assert_eq!((empty.num_rows(), empty.num_columns()), (0, names.len()));
    }
}
