//! A market bar: one row of `stocks_intraday`.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{BarValues, Symbol};
use crate::render::serialize_time;

/// One bar as stored and as returned.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct Bar {
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime, example = "2021-11-12T15:00:00Z")]
    pub time: DateTime<Utc>,
    #[serde(serialize_with = "serialize_symbol")]
    #[schema(value_type = String, example = "AAPL")]
    pub symbol: Symbol,
    #[serde(flatten)]
    pub values: BarValues,
}

/// A bar as the tutorial's `/ticker` answers it: its seven columns, without `trade_count`
/// and `vwap`, so that the tutorial's clients see the shape they were written for.
pub struct TickerBar(pub Bar);

impl Serialize for TickerBar {
    fn serialize<S: serde::Serializer>(&self, ser: S) -> Result<S::Ok, S::Error> {
        use serde::ser::SerializeStruct;
        let (bar, values) = (&self.0, &self.0.values);
        let mut out = ser.serialize_struct("TickerBar", 7)?;
        out.serialize_field("time", &crate::render::rfc3339(bar.time))?;
        out.serialize_field("symbol", bar.symbol.as_str())?;
        let prices = [
            ("price_open", values.price_open),
            ("price_high", values.price_high),
            ("price_low", values.price_low),
            ("price_close", values.price_close),
        ];
        for (name, price) in prices {
            out.serialize_field(name, &price)?;
        }
        out.serialize_field("trading_volume", &values.trading_volume)?;
        out.end()
    }
}

fn serialize_symbol<S: serde::Serializer>(s: &Symbol, ser: S) -> Result<S::Ok, S::Error> {
    ser.serialize_str(s.as_str())
}

/// One row of the tutorial's daily aggregate.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct DailyBar {
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub bucket_day: DateTime<Utc>,
    pub symbol: String,
    /// Average closing price over the day.
    pub avg_price: Option<f64>,
    /// Highest high of the day.
    pub max_price: Option<f64>,
    /// Lowest low of the day.
    pub min_price: Option<f64>,
}

/// The integer range the table's `trading_volume` column can hold: `bigint` for tables made by
/// `tsapi migrate`, `integer` for tables made the tutorial's way.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct VolumeRange {
    pub sql_type: &'static str,
    pub min: i64,
    pub max: i64,
}

impl VolumeRange {
    pub const BIGINT: Self = Self {
        sql_type: "bigint",
        min: i64::MIN,
        max: i64::MAX,
    };
    pub const INTEGER: Self = Self {
        sql_type: "integer",
        min: i32::MIN as i64,
        max: i32::MAX as i64,
    };
    pub const SMALLINT: Self = Self {
        sql_type: "smallint",
        min: i16::MIN as i64,
        max: i16::MAX as i64,
    };

    pub fn check(&self, volume: i64) -> Result<(), String> {
        if (self.min..=self.max).contains(&volume) {
            Ok(())
        } else {
            Err(format!(
                "{volume} does not fit the table's {} column ({}..={})",
                self.sql_type, self.min, self.max
            ))
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn volume_range_follows_the_column_type() {
        assert!(VolumeRange::INTEGER.check(2_147_483_647).is_ok());
        assert!(
            VolumeRange::INTEGER
                .check(2_147_483_648)
                .unwrap_err()
                .contains("integer")
        );
        assert!(VolumeRange::BIGINT.check(2_147_483_648).is_ok());
        assert!(VolumeRange::SMALLINT.check(-40_000).is_err());
    }

    #[test]
    fn serializes_with_tutorial_field_names_and_utc_times() {
        let bar = Bar {
            time: "2021-11-12T15:00:00Z".parse().unwrap(),
            symbol: Symbol::parse("AAPL").unwrap(),
            values: BarValues {
                price_open: Some(149.8),
                price_high: Some(149.73),
                price_low: None,
                price_close: Some(149.81),
                trading_volume: Some(17291),
                trade_count: Some(212),
                vwap: Some(149.77),
            },
        };
        let json = serde_json::to_value(&bar).unwrap();
        assert_eq!(
            json,
            serde_json::json!({
                "time": "2021-11-12T15:00:00Z", "symbol": "AAPL", "price_open": 149.8,
                "price_high": 149.73, "price_low": null, "price_close": 149.81,
                "trading_volume": 17291, "trade_count": 212, "vwap": 149.77
            })
        );
    }
}
