//! Everything that talks to PostgreSQL. All SQL of the program lives under this module,
//! parameterized; no statement is ever built from user text.

mod bars;
mod copy_format;
mod error;
mod ingest;
mod latest;
mod migrate;
mod pool;
mod query;
mod schema;
mod symbols;

pub use bars::{RecentWindow, daily_bars, latest_bar, latest_bars};
pub use copy_format::{CopyEncoder, EncodedBatch};
pub use error::DbError;
pub use ingest::{BulkWrite, OnConflict, WriteCounts, write_bars};
pub use latest::latest_for;
pub use migrate::{MigrationReport, migrate};
pub use pool::{PgPool, connect_one, create_pool, ping};
pub use query::{PagedBar, query_bars, stream_bars};
pub use schema::{TableInfo, TableInfoCache};
pub use symbols::{SymbolSpan, list_symbols};

/// The tutorial's table, kept by name so existing databases work unchanged.
pub const TABLE: &str = "stocks_intraday";
