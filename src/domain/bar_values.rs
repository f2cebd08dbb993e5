//! What a bar measures apart from its time and symbol, in one type for every kind of bar:
//! a stored bar, a bucket of `/v1/bars`, a daily bar of the catalogue, a record to insert.

use serde::Serialize;
use utoipa::ToSchema;

/// Prices are finite or absent; volume and trade count are integers. `trade_count` and
/// `vwap` are null on tables without those columns (made before `tsapi migrate` added
/// them). For a bucket or a day: the first open, the highest high, the lowest low, the last
/// close, the summed volume and trade count, and the vwaps weighted by volume.
#[derive(Debug, Clone, Copy, Default, PartialEq, Serialize, ToSchema)]
pub struct BarValues {
    pub price_open: Option<f64>,
    pub price_high: Option<f64>,
    pub price_low: Option<f64>,
    pub price_close: Option<f64>,
    /// An integer; on input `17291.0` is read as 17291.
    pub trading_volume: Option<i64>,
    /// Trades in the bar.
    #[schema(minimum = 0)]
    pub trade_count: Option<i64>,
    /// Volume-weighted average price of the bar's trades: above 0 where present.
    pub vwap: Option<f64>,
}

impl BarValues {
    /// The seven values as CSV fields in the order above, empty where null.
    pub fn csv_fields(&self) -> String {
        let float = |v: Option<f64>| v.map(|v| v.to_string()).unwrap_or_default();
        let int = |v: Option<i64>| v.map(|v| v.to_string()).unwrap_or_default();
        format!(
            "{},{},{},{},{},{},{}",
            float(self.price_open),
            float(self.price_high),
            float(self.price_low),
            float(self.price_close),
            int(self.trading_volume),
            int(self.trade_count),
            float(self.vwap)
        )
    }
}
