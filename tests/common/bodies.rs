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

/// `values` as NDJSON: one line each, every line ended.
pub fn ndjson(values: &[Value]) -> String {
    values.iter().map(|value| format!("{value}\n")).collect()
}
