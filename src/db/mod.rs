//! Everything that talks to PostgreSQL. All SQL of the program lives under this module,
//! parameterized; no statement is ever built from user text.

mod bars;
mod copy_format;
mod error;
mod ingest;
mod migrate;
mod pool;
mod schema;

pub use bars::{RecentWindow, daily_bars, latest_bar, latest_bars};
pub use copy_format::{CopyEncoder, EncodedBatch};
pub use error::DbError;
pub use ingest::{BulkWrite, OnConflict, WriteCounts, write_bars};
pub use migrate::{MigrationReport, migrate};
pub use pool::{PgPool, connect_one, create_pool, ping};
pub use schema::{TableInfo, TableInfoCache};

/// The tutorial's table, kept by name so existing databases work unchanged.
pub const TABLE: &str = "stocks_intraday";
