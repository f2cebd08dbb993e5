//! Everything that talks to PostgreSQL. All SQL of the program lives under this module,
//! parameterized; no statement is ever built from user text.

mod bars;
mod cells;
mod error;
mod ingest;
mod migrate;
mod pool;
mod replica;
mod schema;
mod statements;

pub use bars::{RecentWindow, daily_bars, latest_bar, latest_bars};
pub use error::DbError;
pub use ingest::{OnConflict, WriteCounts, write_bars};
pub use migrate::{MigrationReport, migrate};
pub use pool::{PgPool, connect_one, create_pool, ping};
pub use replica::{ReadPool, create_read_pool};
pub use schema::{TableInfo, TableInfoCache};
pub use statements::{Conn, Param, StatementMode};

/// The tutorial's table, kept by name so existing databases work unchanged.
pub const TABLE: &str = "stocks_intraday";
