//! Alpaca Market Data v2 (stocks), under `/alpaca`: `alpaca-py`'s
//! `StockHistoricalDataClient(key, secret, url_override=".../alpaca")` works unchanged.
//! The tsapi key goes in either `APCA-API-KEY-ID` or `APCA-API-SECRET-KEY`.

pub mod bars;
mod params;
pub mod snapshots;

pub use params::{AlpacaBarsParams, AlpacaLatestParams, parse_timeframe};
