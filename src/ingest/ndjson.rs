//! NDJSON: one JSON record per line, read line by line; blank lines are skipped.

use std::cell::Cell;
use std::io::{BufRead, Read};

use serde::de::DeserializeSeed;

use super::DecodeError;
use super::json::{RecordSeed, Where};
use super::sink::RecordSink;
use crate::domain::{FieldError, Position, RecordRules};

pub fn decode(
    mut input: impl BufRead,
    rules: &RecordRules,
    sink: &mut dyn RecordSink,
) -> Result<(), DecodeError> {
    // Longest line read, so a body without newlines cannot grow one line without bound.
    let max = rules.bounds.line_bytes;
    let mut line = Vec::with_capacity(256);
    let mut number = 0u64;
    let mut index = 0usize;
    loop {
        line.clear();
        let read = Read::take(&mut input, max as u64 + 1)
            .read_until(b'\n', &mut line)
            .map_err(DecodeError::Io)?;
        if read == 0 {
            return Ok(());
        }
        number += 1;
        if line.len() > max {
            let at = Position {
                index,
                line: Some(number),
            };
            let error = FieldError {
                index,
                line: Some(number),
                field: field_at_cut(&line[..max], rules, at),
                message: rules.bounds.line_too_long(number),
            };
            sink.accept(at, Err(vec![error]));
            return Err(DecodeError::Stopped);
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
        let place = Cell::new(Where::Body);
        let record = RecordSeed {
            rules,
            at,
            place: &place,
        }
        .deserialize(&mut de)
        .and_then(|record| de.end().map(|()| record))
        .map_err(|e| DecodeError::Syntax(syntax_message(number, &e)))?;
        if !sink.accept(at, record) {
            return Err(DecodeError::Stopped);
        }
        index += 1;
    }
}

/// The field whose value a line was cut in: the cut line is parsed as far as it goes, and
/// the parser stops (at the cut) inside that field, if in any.
fn field_at_cut(cut: &[u8], rules: &RecordRules, at: Position) -> Option<String> {
    let place = Cell::new(Where::Body);
    let mut de = serde_json::Deserializer::from_slice(cut);
    let _ = RecordSeed {
        rules,
        at,
        place: &place,
    }
    .deserialize(&mut de);
    match place.get() {
        Where::Record {
            field: Some(field), ..
        } => Some(field.name().to_owned()),
        _ => None,
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
