//! CSV with a header row: columns are matched to fields by their header name (in any
//! order); unknown columns are refused, optional columns may be missing, and an empty cell
//! is an absent value.

use std::io::Read;

use super::DecodeError;
use super::bounds::{Guard, Overrun, Scan};
use super::sink::RecordSink;
use crate::domain::{Field, FieldError, Position, RecordBuilder, RecordRules, quote};

/// Decodes CSV; no cell may pass the value bound, no row the line bound (the csv crate
/// holds a whole row in memory, so the bound is kept underneath it).
pub fn decode(
    input: impl Read,
    rules: &RecordRules,
    sink: &mut dyn RecordSink,
) -> Result<(), DecodeError> {
    let bounds = rules.bounds;
    let guard = Guard::csv(input, bounds.value_bytes, bounds.line_bytes);
    let scan = guard.scan();
    let mut reader = ::csv::ReaderBuilder::new()
        .has_headers(true)
        .trim(::csv::Trim::All)
        .buffer_capacity(64 * 1024)
        .from_reader(guard);
    let columns = match header(&mut reader) {
        Err(DecodeError::Io(_)) if scan.overrun().is_some() => {
            return Err(DecodeError::Syntax(format!(
                "line 1: the header row has a column name {} or {}",
                bounds.value_too_long(),
                bounds.line_too_long(1)
            )));
        }
        other => other?,
    };
    let mut row = ::csv::ByteRecord::new();
    let mut index = 0usize;
    loop {
        match reader.read_byte_record(&mut row) {
            Ok(true) => {}
            Ok(false) => return Ok(()),
            Err(_) if scan.overrun().is_some() => {
                sink.accept(
                    Position {
                        index,
                        line: Some(scan.line()),
                    },
                    Err(vec![overlong(&scan, index, &columns, rules)]),
                );
                return Err(DecodeError::Stopped);
            }
            Err(e) => return Err(row_error(e)),
        }
        let line = row.position().map_or(0, |p| p.line());
        let at = Position {
            index,
            line: Some(line),
        };
        let mut builder = RecordBuilder::new(rules, at);
        for (field, cell) in columns.iter().zip(row.iter()) {
            match std::str::from_utf8(cell) {
                Ok(text) => builder.text(*field, text),
                Err(_) => builder.wrong_type(*field, "text that is not UTF-8"),
            }
        }
        if !sink.accept(at, builder.finish()) {
            return Err(DecodeError::Stopped);
        }
        index += 1;
    }
}

/// The error for a cell or row over its bound.
fn overlong(scan: &Scan, index: usize, columns: &[Field], rules: &RecordRules) -> FieldError {
    let line = scan.line();
    let (field, message) = match scan.overrun() {
        Some(Overrun::Value { column }) => match columns.get(column) {
            Some(field) => (Some(field.name().to_owned()), rules.bounds.value_too_long()),
            None => (None, format!("a cell {}", rules.bounds.value_too_long())),
        },
        _ => (None, rules.bounds.line_too_long(line)),
    };
    FieldError {
        index,
        line: Some(line),
        field,
        message,
    }
}

/// The field of each column, from the header row.
fn header<R: Read>(reader: &mut ::csv::Reader<R>) -> Result<Vec<Field>, DecodeError> {
    let names = reader.byte_headers().map_err(row_error)?.clone();
    if names.is_empty() || (names.len() == 1 && names[0].is_empty()) {
        return Err(DecodeError::Syntax(
            "the CSV body has no header row; the first line must name the columns".into(),
        ));
    }
    let mut columns = Vec::with_capacity(names.len());
    for raw in names.iter() {
        let name = String::from_utf8_lossy(raw);
        let name = name.trim_start_matches('\u{feff}');
        let Some(field) = Field::from_name(name) else {
            return Err(DecodeError::Syntax(format!(
                "line 1: unknown column {}; columns are {}",
                quote(name),
                Field::expected()
            )));
        };
        if columns.contains(&field) {
            return Err(DecodeError::Syntax(format!(
                "line 1: column {} appears more than once",
                quote(name)
            )));
        }
        columns.push(field);
    }
    for required in [Field::Time, Field::Symbol] {
        if !columns.contains(&required) {
            return Err(DecodeError::Syntax(format!(
                "line 1: the header has no {:?} column, which is required",
                required.name()
            )));
        }
    }
    Ok(columns)
}

fn row_error(e: ::csv::Error) -> DecodeError {
    let line = e.position().map_or(0, |p| p.line());
    match e.into_kind() {
        ::csv::ErrorKind::Io(io) => DecodeError::Io(io),
        ::csv::ErrorKind::UnequalLengths {
            expected_len, len, ..
        } => DecodeError::Syntax(format!(
            "line {line}: {len} fields, but the header names {expected_len} columns"
        )),
        other => DecodeError::Syntax(format!("line {line}: malformed CSV: {other:?}")),
    }
}
