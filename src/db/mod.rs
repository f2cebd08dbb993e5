//! Everything that talks to PostgreSQL. All SQL of the program lives under this module,
//! parameterized; no statement is ever built from user text.

pub mod actions;
mod bulk_write;
mod catalog;
mod catalog_refresh;
pub mod catalog_version;
mod catalog_write;
mod copy_format;
mod error;
mod feed_log;
mod feed_trigger;
mod latest;
mod market;
mod migrate;
mod pool;
mod pooled;
mod query;
mod replica;
mod rows;
mod schema;
mod shared;
mod statements;
mod symbols;
mod ticker;
mod tls;
mod trade_stats;
mod write_statements;

pub use bulk_write::{BulkWrite, OnConflict, WriteCounts, write_all};
pub use catalog::{DEFAULT_ZONE, local_midnight};
pub use catalog_refresh::{RefreshReport, rebuild_catalog, refresh_catalog};
pub use copy_format::{CopyEncoder, EncodedBatch};
pub use error::DbError;
pub use feed_log::{FeedBar, LogCursor};
pub use ticker::{RecentWindow, daily_bars, latest_bar, latest_bars};
pub mod feed {
    //! The change feed's log, for the listener (see `feed_log`).
    pub use super::feed_log::{
        CHANNEL, LogRead, READ_AFTER, RecentBars, SCHEMA, cursor_for, latest_recent, listen,
        log_bounds, prune, read_after,
    };
}
pub use feed_trigger::FeedTrigger;
pub use latest::latest_for;
pub use market::{all_latest, grouped, previous_bars, snapshots, symbol_spans};
pub use migrate::{MigrationReport, migrate, migrate_with};
pub use pool::{PgPool, connect, create_pool, ping};
pub use pool::{Recycling, connect_one_with, create_pool_with};
pub use pooled::{PooledClient, Work};
pub use query::{PagedBar, query_bars, stream_bars, stream_paged_bars};
pub use replica::{ReadPool, create_read_pool};
pub use schema::{TableInfo, TableInfoCache};
pub use shared::SharedConnection;
pub use statements::{Conn, Param, StatementMode};
pub use symbols::{SymbolSpan, list_symbols};
pub use tls::DbTls;
pub use write_statements::Prepared;

/// The tutorial's table, kept by name so existing databases work unchanged.
pub const TABLE: &str = "stocks_intraday";
