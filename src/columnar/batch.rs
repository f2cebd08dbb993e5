//! A record batch of bars, filled row by row from typed values.

use std::sync::Arc;

use arrow_array::builder::{Float64Builder, Int64Builder};
use arrow_array::types::Int32Type;
use arrow_array::{ArrayRef, DictionaryArray, Int32Array, RecordBatch, StringArray};
use arrow_array::{Int64Array, TimestampMicrosecondArray};
use arrow_schema::{ArrowError, SchemaRef};

use super::bars_schema;
use crate::domain::QueryBar;

/// The symbols of one answer: the dictionary every batch of it shares.
///
/// One dictionary for the whole answer means the IPC stream sends it once and Parquet
/// readers see one consistent set of categories.
#[derive(Debug, Clone)]
pub struct SymbolDictionary {
    /// Sorted by bytes, without duplicates (the order of the answer's rows).
    names: Vec<String>,
    values: ArrayRef,
}

impl SymbolDictionary {
    /// From any list of names; sorted and deduplicated here.
    pub fn new<I: IntoIterator<Item = S>, S: Into<String>>(names: I) -> Self {
        let mut names: Vec<String> = names.into_iter().map(Into::into).collect();
        names.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
        names.dedup();
        let values: ArrayRef = Arc::new(StringArray::from_iter_values(&names));
        Self { names, values }
    }

    fn key_of(&self, symbol: &str, hint: i32) -> Option<i32> {
        // Rows arrive symbol after symbol: the last key is almost always the answer.
        if self.names.get(hint as usize).is_some_and(|n| n == symbol) {
            return Some(hint);
        }
        self.names
            .binary_search_by(|n| n.as_bytes().cmp(symbol.as_bytes()))
            .ok()
            .map(|i| i as i32)
    }
}

/// Columns of one batch in the making.
pub struct BarBatch {
    schema: SchemaRef,
    dictionary: SymbolDictionary,
    aggregated: bool,
    time: Vec<i64>,
    symbol: Vec<i32>,
    open: Float64Builder,
    high: Float64Builder,
    low: Float64Builder,
    close: Float64Builder,
    volume: Int64Builder,
    trade_count: Int64Builder,
    vwap: Float64Builder,
    count: Vec<i64>,
}

impl BarBatch {
    pub fn new(dictionary: SymbolDictionary, aggregated: bool, capacity: usize) -> Self {
        Self {
            schema: bars_schema(aggregated),
            dictionary,
            aggregated,
            time: Vec::with_capacity(capacity),
            symbol: Vec::with_capacity(capacity),
            open: Float64Builder::with_capacity(capacity),
            high: Float64Builder::with_capacity(capacity),
            low: Float64Builder::with_capacity(capacity),
            close: Float64Builder::with_capacity(capacity),
            volume: Int64Builder::with_capacity(capacity),
            trade_count: Int64Builder::with_capacity(capacity),
            vwap: Float64Builder::with_capacity(capacity),
            count: Vec::with_capacity(if aggregated { capacity } else { 0 }),
        }
    }

    pub fn schema(&self) -> SchemaRef {
        self.schema.clone()
    }

    pub fn len(&self) -> usize {
        self.time.len()
    }

    pub fn is_empty(&self) -> bool {
        self.time.is_empty()
    }

    /// Appends one bar. A symbol outside the dictionary is a bug in the caller, reported
    /// as an error rather than a panic.
    pub fn push(&mut self, bar: &QueryBar) -> Result<(), ArrowError> {
        let hint = self.symbol.last().copied().unwrap_or(0);
        let key = self.dictionary.key_of(&bar.symbol, hint).ok_or_else(|| {
            ArrowError::InvalidArgumentError(format!(
                "symbol {:?} is not in the answer's dictionary",
                bar.symbol
            ))
        })?;
        self.time.push(bar.time.timestamp_micros());
        self.symbol.push(key);
        self.open.append_option(bar.values.price_open);
        self.high.append_option(bar.values.price_high);
        self.low.append_option(bar.values.price_low);
        self.close.append_option(bar.values.price_close);
        self.volume.append_option(bar.values.trading_volume);
        self.trade_count.append_option(bar.values.trade_count);
        self.vwap.append_option(bar.values.vwap);
        if self.aggregated {
            self.count.push(bar.count.unwrap_or(0));
        }
        Ok(())
    }

    /// The rows pushed so far as a record batch; the builder starts over, empty.
    pub fn finish(&mut self) -> Result<RecordBatch, ArrowError> {
        let time =
            TimestampMicrosecondArray::from(std::mem::take(&mut self.time)).with_timezone("UTC");
        let keys = Int32Array::from(std::mem::take(&mut self.symbol));
        let symbol = DictionaryArray::<Int32Type>::try_new(keys, self.dictionary.values.clone())?;
        let mut columns: Vec<ArrayRef> = vec![
            Arc::new(time),
            Arc::new(symbol),
            Arc::new(self.open.finish()),
            Arc::new(self.high.finish()),
            Arc::new(self.low.finish()),
            Arc::new(self.close.finish()),
            Arc::new(self.volume.finish()),
            Arc::new(self.trade_count.finish()),
            Arc::new(self.vwap.finish()),
        ];
        if self.aggregated {
            columns.push(Arc::new(Int64Array::from(std::mem::take(&mut self.count))));
        }
        RecordBatch::try_new(self.schema.clone(), columns)
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::domain::BarValues;
    use arrow_array::Array;
    use chrono::{DateTime, Utc};

    fn bar(symbol: &str, time: &str, volume: Option<i64>) -> QueryBar {
        QueryBar {
            time: time.parse::<DateTime<Utc>>().unwrap(),
            symbol: symbol.into(),
            values: BarValues {
                price_open: Some(1.5),
                price_high: None,
                price_low: Some(1.0),
                price_close: Some(1.25),
                trading_volume: volume,
                trade_count: volume.map(|v| v / 100),
                vwap: Some(1.125),
            },
            count: Some(3),
        }
    }

    #[test]
    fn keeps_values_nulls_and_the_shared_dictionary() {
        let dictionary = SymbolDictionary::new(["MSFT", "AAPL", "MSFT"]);
        let mut batch = BarBatch::new(dictionary, true, 4);
        batch
            .push(&bar("AAPL", "1969-12-31T23:59:59.000001Z", Some(i64::MAX)))
            .unwrap();
        batch
            .push(&bar("MSFT", "2040-01-01T00:00:00Z", None))
            .unwrap();
        assert!(
            batch
                .push(&bar("ZZZ", "2021-01-01T00:00:00Z", None))
                .is_err()
        );
        let rb = batch.finish().unwrap();
        assert_eq!(rb.num_rows(), 2);
        let time = rb
            .column(0)
            .as_any()
            .downcast_ref::<TimestampMicrosecondArray>()
            .unwrap();
        assert_eq!(time.value(0), -999_999);
        let symbol = rb
            .column(1)
            .as_any()
            .downcast_ref::<DictionaryArray<Int32Type>>()
            .unwrap();
        assert_eq!(symbol.keys().values(), &[0, 1]);
        assert_eq!(symbol.values().len(), 2);
        assert!(rb.column(3).is_null(0));
        let volume = rb.column(6).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!((volume.value(0), volume.is_null(1)), (i64::MAX, true));
        let trade_count = rb.column(7).as_any().downcast_ref::<Int64Array>().unwrap();
        assert_eq!(trade_count.value(0), i64::MAX / 100);
        assert!(trade_count.is_null(1));
        assert_eq!(rb.num_columns(), 10);
        assert!(batch.is_empty(), "finish starts a new batch");
    }
}
