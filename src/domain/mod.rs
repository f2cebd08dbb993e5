//! Validated domain types. Everything the API receives is parsed into these before any
//! query runs, so the database layer never sees unchecked user input.

mod accept;
pub mod actions;
mod bar;
mod bar_values;
pub mod bars_query;
mod daily;
mod interval;
mod market;
mod page_token;
mod query_bar;
mod quote;
mod records;
pub mod signed_url;
mod symbol;
mod time;

pub use bar::{Bar, DailyBar, TickerBar, VolumeRange};
pub use bar_values::BarValues;
pub use bars_query::{BarsContext, BarsParams, BarsQuery, Fill, Order, ParamError, ResponseFormat};
pub use daily::{DayAgg, DayOf, WriteSummary, day_bounds};
pub use interval::{Interval, IntervalUnit};
pub use market::{Around, CatalogEntry, DailyBarRow, Snapshot, today_in};
pub use page_token::{Cursor, PageTokenKey, QueryFingerprint};
pub use query_bar::QueryBar;
pub use quote::quote;
pub use records::{Field, FieldError, InputBounds, Position, RecordBuilder, RecordRules};
pub use symbol::{Symbol, SymbolListText, SymbolText};
pub use time::{TimeParser, TimeRange, parse_zone};
