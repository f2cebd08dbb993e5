//! Request bodies as clients send them: gzip-compressed, NDJSON lines.

use std::io::Write;

use flate2::Compression;
use flate2::write::GzEncoder;
use serde_json::Value;

/// `body`, gzip-compressed.
pub fn gzip(body: impl AsRef<[u8]>) -> Vec<u8> {
    let mut encoder = GzEncoder::new(Vec::new(), Compression::fast());
    encoder.write_all(body.as_ref()).expect("compress");
    encoder.finish().expect("compress")
}

/// A bar record as `POST /insert` takes it: `(open, high, low, close)` and a volume.
pub fn bar_record(time: &str, symbol: &str, ohlc: [f64; 4], volume: i64) -> Value {
    serde_json::json!({"time": time, "symbol": symbol, "price_open": ohlc[0],
        "price_high": ohlc[1], "price_low": ohlc[2], "price_close": ohlc[3],
        "trading_volume": volume})
}

/// `values` as NDJSON: one line each, every line ended.
pub fn ndjson(values: &[Value]) -> String {
    values.iter().map(|value| format!("{value}\n")).collect()
}
