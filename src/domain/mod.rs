//! Validated domain types. Everything the API receives is parsed into these before any
//! query runs, so the database layer never sees unchecked user input.

mod bar;
mod records;
mod symbol;
mod time;

pub use bar::{Bar, DailyBar, VolumeRange};
pub use records::{
    Field, FieldError, Position, RecordBuilder, RecordRules, RecordsError, parse_insert_body,
};
pub use symbol::Symbol;
pub use time::{TimeParser, TimeRange};
