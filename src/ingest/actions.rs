//! Corporate-action bodies and files: a JSON array (or `{"records": [...]}`), NDJSON or
//! CSV with a header row, into validated [`CorporateAction`]s. Action lists are small (a
//! symbol has a few a year), so the input is read whole, within the caller's byte bound,
//! and validated completely before anything is stored.

use std::collections::HashMap;
use std::io::Read;

use serde_json::{Map, Value};

use super::{BodyFormat, IngestError};
use crate::domain::FieldError;
use crate::domain::actions::{ALL_FIELDS, CorporateAction, parse_action};

/// Reads `input` (at most `max_bytes`, gunzipped first when `gzip`) in `format`; at most
/// `max_records` records. Every invalid record is reported; a (type, symbol, ex_date)
/// given twice is an error of the later record.
pub fn decode_actions(
    input: impl Read,
    gzip: bool,
    format: BodyFormat,
    max_bytes: u64,
    max_value_bytes: usize,
    max_records: usize,
) -> Result<Vec<CorporateAction>, IngestError> {
    let mut bytes = Vec::new();
    let read = if gzip {
        flate2::read::MultiGzDecoder::new(input)
            .take(max_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| IngestError::BadInput(format!("the body is not valid gzip: {e}")))
    } else {
        input
            .take(max_bytes + 1)
            .read_to_end(&mut bytes)
            .map_err(|e| IngestError::BadInput(format!("cannot read the input: {e}")))
    };
    read?;
    if bytes.len() as u64 > max_bytes {
        return Err(IngestError::TooLarge(format!(
            "the body exceeds the limit of {max_bytes} bytes"
        )));
    }
    let records = match format {
        BodyFormat::Json | BodyFormat::Records => json_records(&bytes)?,
        BodyFormat::Ndjson => ndjson_records(&bytes)?,
        BodyFormat::Csv => csv_records(&bytes)?,
    };
    if records.len() > max_records {
        return Err(IngestError::TooLarge(format!(
            "{} records exceed the limit of {max_records} per request",
            records.len()
        )));
    }
    let mut errors: Vec<FieldError> = Vec::new();
    let mut actions = Vec::with_capacity(records.len());
    let mut seen: HashMap<(String, &'static str, chrono::NaiveDate), usize> = HashMap::new();
    for (index, (line, record)) in records.into_iter().enumerate() {
        let Some(fields) = record else {
            errors.push(FieldError {
                index,
                line,
                field: None,
                message: "must be an object".into(),
            });
            continue;
        };
        match parse_action(&fields, index, line, max_value_bytes) {
            Ok(action) => {
                let key = (
                    action.symbol.to_string(),
                    action.kind.name(),
                    action.ex_date,
                );
                if let Some(first) = seen.insert(key, index) {
                    errors.push(FieldError {
                        index,
                        line,
                        field: Some("ex_date".into()),
                        message: format!(
                            "record {first} has the same type, symbol and ex_date; \
                             give each action once"
                        ),
                    });
                }
                actions.push(action);
            }
            Err(mut e) => errors.append(&mut e),
        }
    }
    if !errors.is_empty() {
        return Err(IngestError::Invalid {
            errors,
            complete: true,
        });
    }
    Ok(actions)
}

/// A record and its line (NDJSON, CSV); `None` when it is not an object.
type Raw = (Option<u64>, Option<Map<String, Value>>);

fn object(value: Value) -> Option<Map<String, Value>> {
    match value {
        Value::Object(map) => Some(map),
        _ => None,
    }
}

fn json_records(bytes: &[u8]) -> Result<Vec<Raw>, IngestError> {
    let value: Value = serde_json::from_slice(bytes)
        .map_err(|e| IngestError::BadInput(format!("the body is not JSON: {e}")))?;
    let list = match value {
        Value::Array(list) => list,
        Value::Object(mut map) if map.len() == 1 && map.contains_key("records") => {
            match map.remove("records") {
                Some(Value::Array(list)) => list,
                _ => return Err(shape()),
            }
        }
        _ => return Err(shape()),
    };
    if list.is_empty() {
        return Err(IngestError::BadInput(
            "the body holds no records; send at least one".into(),
        ));
    }
    Ok(list.into_iter().map(|v| (None, object(v))).collect())
}

fn shape() -> IngestError {
    IngestError::BadInput(
        "the body must be a JSON array of records, or {\"records\": [...]}".into(),
    )
}

fn ndjson_records(bytes: &[u8]) -> Result<Vec<Raw>, IngestError> {
    let mut out = Vec::new();
    for (i, line) in bytes.split(|b| *b == b'\n').enumerate() {
        let line = line.trim_ascii();
        if line.is_empty() {
            continue;
        }
        let value: Value = serde_json::from_slice(line).map_err(|e| {
            IngestError::BadInput(format!("line {}: not a JSON record: {e}", i + 1))
        })?;
        out.push((Some(i as u64 + 1), object(value)));
    }
    Ok(out)
}

fn csv_records(bytes: &[u8]) -> Result<Vec<Raw>, IngestError> {
    let mut reader = ::csv::ReaderBuilder::new()
        .trim(::csv::Trim::All)
        .from_reader(bytes);
    let bad = |e: ::csv::Error| IngestError::BadInput(format!("CSV: {e}"));
    let header: Vec<String> = reader
        .headers()
        .map_err(bad)?
        .iter()
        .map(str::to_owned)
        .collect();
    if let Some(unknown) = header.iter().find(|h| !ALL_FIELDS.contains(&h.as_str())) {
        return Err(IngestError::BadInput(format!(
            "line 1: the CSV header names an unknown column {}; columns are {}",
            crate::domain::quote(unknown),
            ALL_FIELDS.join(", ")
        )));
    }
    let mut out = Vec::new();
    for row in reader.records() {
        let row = row.map_err(bad)?;
        let line = row.position().map(|p| p.line());
        let fields: Map<String, Value> = header
            .iter()
            .zip(row.iter())
            .filter(|(_, cell)| !cell.is_empty())
            .map(|(name, cell)| (name.clone(), Value::String(cell.to_owned())))
            .collect();
        out.push((line, Some(fields)));
    }
    Ok(out)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn decode(body: &str, format: BodyFormat) -> Result<Vec<CorporateAction>, IngestError> {
        decode_actions(body.as_bytes(), false, format, 1 << 20, 256, 100)
    }

    #[test]
    fn reads_every_format() {
        let json =
            r#"[{"type":"split","symbol":"A","ex_date":"2020-08-31","split_from":1,"split_to":4}]"#;
        assert_eq!(decode(json, BodyFormat::Json).unwrap().len(), 1);
        let ndjson = format!("{}\n\n", &json[1..json.len() - 1]);
        assert_eq!(decode(&ndjson, BodyFormat::Ndjson).unwrap().len(), 1);
        let csv = "type,symbol,ex_date,split_from,split_to,cash_amount\n\
                   split,A,2020-08-31,1,4,\ndividend,A,2020-08-07,,,0.82\n";
        assert_eq!(decode(csv, BodyFormat::Csv).unwrap().len(), 2);
    }

    #[test]
    fn reports_every_bad_record_and_repeats() {
        let json = r#"[{"type":"split","symbol":"A","ex_date":"2020-08-31","split_from":1,"split_to":4},
                       7,
                       {"type":"split","symbol":"A","ex_date":"2020-08-31","split_from":1,"split_to":2}]"#;
        let Err(IngestError::Invalid { errors, .. }) = decode(json, BodyFormat::Json) else {
            panic!("invalid")
        };
        let at: Vec<(usize, Option<&str>)> = errors
            .iter()
            .map(|e| (e.index, e.field.as_deref()))
            .collect();
        assert_eq!(at, [(1, None), (2, Some("ex_date"))]);
        assert!(matches!(
            decode("{}", BodyFormat::Json),
            Err(IngestError::BadInput(_))
        ));
        assert!(matches!(
            decode("{}", BodyFormat::Csv),
            Err(IngestError::BadInput(_))
        ));
    }
}
