//! JSON bodies, decoded record by record as they stream in: `{"records": [...]}`,
//! `{"records": {...}}`, or (for `/v1/bars`) a bare array. Each record is read straight
//! into a [`RecordBuilder`]; no intermediate JSON tree is built.

use std::cell::Cell;
use std::fmt;
use std::io::{BufReader, Read};

use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use super::DecodeError;
use super::bounds::Guard;
use super::sink::RecordSink;
use crate::domain::{Bar, Field, FieldError, Position, RecordBuilder, RecordRules};

/// Which top-level shapes are accepted.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Shape {
    /// Only `{"records": ...}` (the tutorial's `/insert`).
    Records,
    /// `{"records": ...}` or a bare array of records.
    RecordsOrArray,
}

/// What the parser is reading, for an error about a value over its bound.
#[derive(Debug, Clone, Copy)]
pub enum Where {
    /// Outside any record.
    Body,
    /// Record `index`: the value of `field`, or a field name or unknown field's value.
    Record { index: usize, field: Option<Field> },
}

/// Decodes a JSON body from a reader; no string or number may pass the value bound.
pub fn decode_reader(
    input: impl Read,
    shape: Shape,
    rules: &RecordRules,
    sink: &mut dyn RecordSink,
) -> Result<(), DecodeError> {
    let guard = Guard::json(input, rules.bounds.value_bytes);
    let scan = guard.scan();
    let mut de = serde_json::Deserializer::from_reader(BufReader::with_capacity(64 * 1024, guard));
    let place = Cell::new(Where::Body);
    match decode_with(&mut de, shape, rules, sink, &place) {
        Err(DecodeError::Io(_)) if scan.overrun().is_some() => {
            let too_long = rules.bounds.value_too_long();
            let Where::Record { index, field } = place.get() else {
                return Err(DecodeError::Syntax(format!(
                    "a value in the body {too_long}"
                )));
            };
            let (field, message) = match field {
                Some(field) => (Some(field.name().to_owned()), too_long),
                None => (None, format!("a field name or value {too_long}")),
            };
            let at = Position { index, line: None };
            let error = FieldError {
                index,
                line: None,
                field,
                message,
            };
            sink.accept(at, Err(vec![error]));
            Err(DecodeError::Stopped)
        }
        other => other,
    }
}

/// What the visitors learned besides the records: why they stopped.
#[derive(Default)]
struct Outcome {
    /// The sink asked to stop.
    stopped: bool,
    /// The body has the wrong shape; this says how.
    shape_error: Option<String>,
}

fn decode_with<'de, R: serde_json::de::Read<'de>>(
    de: &mut serde_json::Deserializer<R>,
    shape: Shape,
    rules: &RecordRules,
    sink: &mut dyn RecordSink,
    place: &Cell<Where>,
) -> Result<(), DecodeError> {
    let mut outcome = Outcome::default();
    let top = Top {
        shape,
        rules,
        sink,
        outcome: &mut outcome,
        place,
    };
    let result = top.deserialize(&mut *de).and_then(|()| de.end());
    match result {
        Ok(()) => Ok(()),
        Err(_) if outcome.stopped => Err(DecodeError::Stopped),
        Err(_) if outcome.shape_error.is_some() => {
            Err(DecodeError::Syntax(outcome.shape_error.unwrap_or_default()))
        }
        Err(e) if e.is_io() => Err(DecodeError::Io(e.into())),
        Err(e) => Err(DecodeError::Syntax(format!(
            "the body is not valid JSON: {}",
            shorten(&e.to_string())
        ))),
    }
}

/// The top level: an object holding `records`, or a bare array.
struct Top<'a, 'r> {
    shape: Shape,
    rules: &'r RecordRules,
    sink: &'a mut dyn RecordSink,
    outcome: &'a mut Outcome,
    place: &'a Cell<Where>,
}

impl Top<'_, '_> {
    fn wrong_shape<E: de::Error>(self, message: String) -> E {
        self.outcome.shape_error = Some(message);
        E::custom("wrong shape")
    }

    fn expected(&self) -> &'static str {
        match self.shape {
            Shape::Records => "the body must be a JSON object with a \"records\" field",
            Shape::RecordsOrArray => {
                "the body must be a JSON array of records or an object with a \"records\" field"
            }
        }
    }
}

impl<'de> DeserializeSeed<'de> for Top<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for Top<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str(self.expected())
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        let mut seen = false;
        while let Some(key) = map.next_key::<String>()? {
            if key != "records" {
                return Err(self.wrong_shape(format!(
                    "unknown top-level field {}; the body holds only \"records\"",
                    crate::domain::quote(&key)
                )));
            }
            if seen {
                return Err(self.wrong_shape("\"records\" is given more than once".into()));
            }
            seen = true;
            map.next_value_seed(Records {
                rules: self.rules,
                sink: &mut *self.sink,
                outcome: &mut *self.outcome,
                place: self.place,
            })?;
        }
        if !seen {
            return Err(self.wrong_shape("the body has no \"records\" field".into()));
        }
        Ok(())
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        if self.shape == Shape::Records {
            let message = self.expected().to_owned();
            return Err(self.wrong_shape(message));
        }
        stream_records(seq, self.rules, self.sink, self.outcome, self.place)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        let message = self.expected().to_owned();
        Err(self.wrong_shape(message))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.visit_bool(false)
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.visit_bool(false)
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.visit_bool(false)
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.visit_bool(false)
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.visit_bool(false)
    }
}

/// The value of `records`: one record or a list of them.
struct Records<'a, 'r> {
    rules: &'r RecordRules,
    sink: &'a mut dyn RecordSink,
    outcome: &'a mut Outcome,
    place: &'a Cell<Where>,
}

impl<'de> DeserializeSeed<'de> for Records<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl Records<'_, '_> {
    fn wrong<E: de::Error>(self, what: &str) -> Result<(), E> {
        self.outcome.shape_error = Some(format!(
            "\"records\" must be an object or an array of objects, not {what}"
        ));
        Err(E::custom("wrong shape"))
    }
}

impl<'de> Visitor<'de> for Records<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("an object or an array of objects")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<(), A::Error> {
        stream_records(seq, self.rules, self.sink, self.outcome, self.place)
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<(), A::Error> {
        let at = Position {
            index: 0,
            line: None,
        };
        let record = record_from_map(map, RecordBuilder::new(self.rules, at), self.place, 0)?;
        if !self.sink.accept(at, record) {
            self.outcome.stopped = true;
            return Err(de::Error::custom("stopped"));
        }
        Ok(())
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.wrong("a boolean")
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<(), E> {
        self.wrong("a number")
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<(), E> {
        self.wrong("a number")
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<(), E> {
        self.wrong("a number")
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<(), E> {
        self.wrong("a string")
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.wrong("null")
    }
}

/// Hands each element of a list to the sink as soon as it is parsed.
fn stream_records<'de, A: SeqAccess<'de>>(
    mut seq: A,
    rules: &RecordRules,
    sink: &mut dyn RecordSink,
    outcome: &mut Outcome,
    place: &Cell<Where>,
) -> Result<(), A::Error> {
    let mut index = 0;
    loop {
        let at = Position { index, line: None };
        place.set(Where::Record { index, field: None });
        let Some(record) = seq.next_element_seed(RecordSeed { rules, at, place })? else {
            return Ok(());
        };
        place.set(Where::Body);
        if !sink.accept(at, record) {
            outcome.stopped = true;
            return Err(de::Error::custom("stopped"));
        }
        index += 1;
    }
}

/// One record: a JSON object whose fields are checked as they are read.
pub struct RecordSeed<'r> {
    pub rules: &'r RecordRules,
    pub at: Position,
    /// Updated as the record is read.
    pub place: &'r Cell<Where>,
}

impl<'de> DeserializeSeed<'de> for RecordSeed<'_> {
    type Value = Result<Bar, Vec<FieldError>>;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Self::Value, D::Error> {
        d.deserialize_any(self)
    }
}

impl RecordSeed<'_> {
    fn not_a_record(self, what: &str) -> Result<Bar, Vec<FieldError>> {
        let mut builder = RecordBuilder::new(self.rules, self.at);
        builder.not_a_record(format!("a record must be an object, not {what}"));
        builder.finish()
    }
}

impl<'de> Visitor<'de> for RecordSeed<'_> {
    type Value = Result<Bar, Vec<FieldError>>;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a record (a JSON object)")
    }

    fn visit_map<A: MapAccess<'de>>(self, map: A) -> Result<Self::Value, A::Error> {
        record_from_map(
            map,
            RecordBuilder::new(self.rules, self.at),
            self.place,
            self.at.index,
        )
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<Self::Value, A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(self.not_a_record("an array"))
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<Self::Value, E> {
        Ok(self.not_a_record("a boolean"))
    }
    fn visit_i64<E: de::Error>(self, _: i64) -> Result<Self::Value, E> {
        Ok(self.not_a_record("a number"))
    }
    fn visit_u64<E: de::Error>(self, _: u64) -> Result<Self::Value, E> {
        Ok(self.not_a_record("a number"))
    }
    fn visit_f64<E: de::Error>(self, _: f64) -> Result<Self::Value, E> {
        Ok(self.not_a_record("a number"))
    }
    fn visit_str<E: de::Error>(self, _: &str) -> Result<Self::Value, E> {
        Ok(self.not_a_record("a string"))
    }
    fn visit_unit<E: de::Error>(self) -> Result<Self::Value, E> {
        Ok(self.not_a_record("null"))
    }
}

fn record_from_map<'de, A: MapAccess<'de>>(
    mut map: A,
    mut builder: RecordBuilder<'_>,
    place: &Cell<Where>,
    index: usize,
) -> Result<Result<Bar, Vec<FieldError>>, A::Error> {
    let unnamed = Where::Record { index, field: None };
    place.set(unnamed);
    while let Some(key) = map.next_key_seed(KeySeed)? {
        match key {
            Key::Known(field) => {
                place.set(Where::Record {
                    index,
                    field: Some(field),
                });
                map.next_value_seed(ValueSeed {
                    field,
                    builder: &mut builder,
                })?;
                place.set(unnamed);
            }
            Key::Unknown(name) => {
                builder.unknown(&name);
                map.next_value::<IgnoredAny>()?;
            }
        }
    }
    Ok(builder.finish())
}

/// A serde_json message cut to a bounded length (it may quote the input).
fn shorten(message: &str) -> String {
    match message.char_indices().nth(200) {
        Some((cut, _)) => format!("{}…", &message[..cut]),
        None => message.to_owned(),
    }
}

/// A field name; only unknown names are copied.
enum Key {
    Known(Field),
    Unknown(String),
}

struct KeySeed;

impl<'de> DeserializeSeed<'de> for KeySeed {
    type Value = Key;
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<Key, D::Error> {
        d.deserialize_str(self)
    }
}

impl<'de> Visitor<'de> for KeySeed {
    type Value = Key;

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field name")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Key, E> {
        Ok(match Field::from_name(name) {
            Some(field) => Key::Known(field),
            None => Key::Unknown(name.to_owned()),
        })
    }
}

/// The value of one known field, handed to the builder as its JSON type.
struct ValueSeed<'b, 'r> {
    field: Field,
    builder: &'b mut RecordBuilder<'r>,
}

impl<'de> DeserializeSeed<'de> for ValueSeed<'_, '_> {
    type Value = ();
    fn deserialize<D: Deserializer<'de>>(self, d: D) -> Result<(), D::Error> {
        d.deserialize_any(self)
    }
}

impl<'de> Visitor<'de> for ValueSeed<'_, '_> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter) -> fmt::Result {
        f.write_str("a field value")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> Result<(), E> {
        self.builder.json_str(self.field, v);
        Ok(())
    }
    fn visit_i64<E: de::Error>(self, v: i64) -> Result<(), E> {
        self.builder.json_int(self.field, v.into());
        Ok(())
    }
    fn visit_u64<E: de::Error>(self, v: u64) -> Result<(), E> {
        self.builder.json_int(self.field, v.into());
        Ok(())
    }
    fn visit_f64<E: de::Error>(self, v: f64) -> Result<(), E> {
        self.builder.json_float(self.field, v);
        Ok(())
    }
    fn visit_unit<E: de::Error>(self) -> Result<(), E> {
        self.builder.null(self.field);
        Ok(())
    }
    fn visit_none<E: de::Error>(self) -> Result<(), E> {
        self.visit_unit()
    }
    fn visit_bool<E: de::Error>(self, _: bool) -> Result<(), E> {
        self.builder.wrong_type(self.field, "a boolean");
        Ok(())
    }
    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        self.builder.wrong_type(self.field, "an array");
        Ok(())
    }
    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<(), A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        self.builder.wrong_type(self.field, "an object");
        Ok(())
    }
}

#[cfg(test)]
#[path = "json_tests.rs"]
mod tests;
