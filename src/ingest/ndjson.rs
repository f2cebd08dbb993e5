//! NDJSON: one JSON record per line, read line by line; blank lines are skipped.

use std::io::{BufRead, Read};

use serde::de::DeserializeSeed;

use super::DecodeError;
use super::json::RecordSeed;
use super::sink::RecordSink;
use crate::domain::{Position, RecordRules};

/// Longest line accepted, so a body without newlines cannot grow one line without bound.
pub const MAX_LINE_BYTES: usize = 64 * 1024;

pub fn decode(
    mut input: impl BufRead,
    rules: &RecordRules,
    sink: &mut dyn RecordSink,
) -> Result<(), DecodeError> {
    let mut line = Vec::with_capacity(256);
    let mut number = 0u64;
    let mut index = 0usize;
    loop {
        line.clear();
        let read = Read::take(&mut input, MAX_LINE_BYTES as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(DecodeError::Io)?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        if line.len() > MAX_LINE_BYTES {
            return Err(DecodeError::Syntax(format!(
                "line {number} is longer than {MAX_LINE_BYTES} bytes"
            )));
        }
        let text = line.trim_ascii();
        if text.is_empty() {
            continue;
        }
        let at = Position {
            index,
            line: Some(number),
        };
        let mut de = serde_json::Deserializer::from_slice(text);
        let record = RecordSeed { rules, at }
            .deserialize(&mut de)
            .and_then(|record| de.end().map(|()| record))
            .map_err(|e| DecodeError::Syntax(syntax_message(number, &e)))?;
        if !sink.accept(at, record) {
            return Err(DecodeError::Stopped);
        }
        index += 1;
    }
}

/// `line 7, column 12: expected value`: the position within the body, not within the line.
fn syntax_message(line: u64, e: &serde_json::Error) -> String {
    let text = e.to_string();
    let what = text
        .rsplit_once(" at line ")
        .map_or(text.as_str(), |(what, _)| what);
    format!("line {line}, column {}: invalid JSON: {what}", e.column())
}
