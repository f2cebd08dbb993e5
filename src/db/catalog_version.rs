//! A counter of the catalogue's committed changes, so that whole-market answers can be
//! kept in memory and served again while nothing has changed.
//!
//! Statement triggers on `tsapi_catalog` and `tsapi_daily` add one to a counter in the
//! changing transaction, whatever wrote (tsapi's writes, the refresh, a rebuild, SQL by
//! hand). The counter is spread over [`SHARDS`] rows picked by backend pid, so concurrent
//! writers rarely wait on each other's row lock; a reader sums the rows. Every committed
//! change raises the sum and a rolled-back one leaves it alone, so an unchanged sum means an
//! unchanged catalogue.

use tokio_postgres::GenericClient;

use super::{Conn, DbError};

/// Counter rows: enough that a few concurrent writers seldom share one.
const SHARDS: i32 = 16;

/// Creates the counter and its triggers when missing (idempotent).
pub async fn create(client: &impl GenericClient) -> Result<(), DbError> {
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS tsapi_catalog_version (
                 shard int PRIMARY KEY, version int8 NOT NULL DEFAULT 0);
             INSERT INTO tsapi_catalog_version (shard)
                 SELECT generate_series(0, {last}) ON CONFLICT DO NOTHING;
             CREATE OR REPLACE FUNCTION tsapi_catalog_changed() RETURNS trigger
             LANGUAGE plpgsql AS $$
             BEGIN
                 UPDATE tsapi_catalog_version SET version = version + 1
                 WHERE shard = pg_backend_pid() % {SHARDS};
                 RETURN NULL;
             END $$;
             CREATE OR REPLACE TRIGGER tsapi_catalog_changed
                 AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tsapi_catalog
                 FOR EACH STATEMENT EXECUTE FUNCTION tsapi_catalog_changed();
             CREATE OR REPLACE TRIGGER tsapi_daily_changed
                 AFTER INSERT OR UPDATE OR DELETE OR TRUNCATE ON tsapi_daily
                 FOR EACH STATEMENT EXECUTE FUNCTION tsapi_catalog_changed();",
            last = SHARDS - 1
        ))
        .await?;
    Ok(())
}

/// Whether the database has the counter (a catalogue made before it existed has not:
/// `tsapi migrate` adds it).
pub async fn exists(client: &Conn) -> Result<bool, DbError> {
    let row = client
        .query_one(
            "SELECT to_regclass('tsapi_catalog_version') IS NOT NULL",
            &[],
        )
        .await?;
    Ok(row.get(0))
}

/// The catalogue's change count as this connection sees it (the counter must exist).
pub async fn read(client: &Conn) -> Result<i64, DbError> {
    let row = client
        .query_one("SELECT sum(version)::int8 FROM tsapi_catalog_version", &[])
        .await?;
    Ok(row.get::<_, Option<i64>>(0).unwrap_or(0))
}
