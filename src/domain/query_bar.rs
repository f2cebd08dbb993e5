//! A row of `GET /v1/bars`, and how it is written as JSON, CSV and NDJSON.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::BarValues;
use crate::render::{rfc3339, serialize_time};

/// A stored bar, or the aggregate of one bucket: `time` is the bucket start, `price_open`
/// the first open, `price_high` the highest high, `price_low` the lowest low, `price_close`
/// the last close, `trading_volume` the sum, `trade_count` the sum (null when no bar has
/// one), `vwap` Σ(vwap × volume) / Σ volume over the bars with both (null when none has, or
/// their volumes sum to 0), and `count` the number of stored bars in it.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct QueryBar {
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime, example = "2021-11-12T15:00:00Z")]
    pub time: DateTime<Utc>,
    #[schema(example = "AAPL")]
    pub symbol: String,
    #[serde(flatten)]
    pub values: BarValues,
    /// Aggregated bars only: stored bars in the bucket (0 for a filled gap).
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(minimum = 0)]
    pub count: Option<i64>,
}

/// A stored bar as a row of `/v1/bars` (no `count`).
impl From<super::Bar> for QueryBar {
    fn from(bar: super::Bar) -> Self {
        Self {
            time: bar.time,
            symbol: bar.symbol.as_str().to_owned(),
            values: bar.values,
            count: None,
        }
    }
}

impl QueryBar {
    /// The CSV header for plain or aggregated bars.
    pub fn csv_header(aggregated: bool) -> &'static str {
        if aggregated {
            "time,symbol,price_open,price_high,price_low,price_close,trading_volume,trade_count,\
             vwap,count\n"
        } else {
            "time,symbol,price_open,price_high,price_low,price_close,trading_volume,trade_count,\
             vwap\n"
        }
    }

    /// One CSV record; empty fields are nulls.
    pub fn csv_line(&self) -> String {
        let mut line = format!(
            "{},{},{}",
            rfc3339(self.time),
            csv_field(&self.symbol),
            self.values.csv_fields()
        );
        if let Some(count) = self.count {
            line.push_str(&format!(",{count}"));
        }
        line.push('\n');
        line
    }

    /// One NDJSON line.
    pub fn ndjson_line(&self) -> String {
        let mut line = serde_json::to_string(self).unwrap_or_default();
        line.push('\n');
        line
    }
}

/// Quotes a field when RFC 4180 needs it (rows written by other tools may hold anything).
fn csv_field(value: &str) -> String {
    if value.contains([',', '"', '\n', '\r']) {
        format!("\"{}\"", value.replace('"', "\"\""))
    } else {
        value.to_owned()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bar(count: Option<i64>) -> QueryBar {
        QueryBar {
            time: "2021-11-12T15:00:00Z".parse().unwrap(),
            symbol: "AAPL".into(),
            values: BarValues {
                price_open: Some(1.5),
                price_high: Some(2.0),
                price_low: None,
                price_close: Some(1.25),
                trading_volume: Some(10),
                trade_count: Some(4),
                vwap: None,
            },
            count,
        }
    }

    #[test]
    fn writes_csv_with_empty_nulls() {
        assert_eq!(
            bar(None).csv_line(),
            "2021-11-12T15:00:00Z,AAPL,1.5,2,,1.25,10,4,\n"
        );
        assert_eq!(
            bar(Some(3)).csv_line(),
            "2021-11-12T15:00:00Z,AAPL,1.5,2,,1.25,10,4,,3\n"
        );
        assert_eq!(csv_field("A,\"B\""), "\"A,\"\"B\"\"\"");
    }

    #[test]
    fn count_only_for_aggregates() {
        let plain = serde_json::to_value(bar(None)).unwrap();
        assert!(plain.get("count").is_none());
        assert_eq!(serde_json::to_value(bar(Some(0))).unwrap()["count"], 0);
        assert!(bar(Some(2)).ndjson_line().ends_with("}\n"));
    }
}
