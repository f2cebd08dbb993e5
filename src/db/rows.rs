//! Bars and their values decoded from result rows, so that every read names the column
//! order it selects once.

use tokio_postgres::Row;

use crate::domain::{Bar, BarValues, Symbol};

/// A bar from the first nine columns of `row`: time, symbol, then [`bar_values`] at 2 and 7
/// (every read of whole bars selects them so).
pub fn bar_from_row(row: &Row) -> Bar {
    Bar {
        time: row.get(0),
        symbol: Symbol::from_stored(row.get(1)),
        values: bar_values(row, 2, 7),
    }
}

/// Open, high, low, close (`float8`) and volume (`int8`) at `prices..prices + 5`; trade
/// count (`int8`) and vwap (`float8`) at `stats` and `stats + 1`.
pub fn bar_values(row: &Row, prices: usize, stats: usize) -> BarValues {
    BarValues {
        price_open: row.get(prices),
        price_high: row.get(prices + 1),
        price_low: row.get(prices + 2),
        price_close: row.get(prices + 3),
        trading_volume: row.get(prices + 4),
        trade_count: row.get(stats),
        vwap: row.get(stats + 1),
    }
}
