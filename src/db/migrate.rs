//! `tsapi migrate`: create what is missing, never drop or rewrite what exists.

use tokio_postgres::Client;
use tokio_postgres::error::SqlState;

use super::feed_trigger::{self, FeedTrigger};
use super::{DbError, TABLE};

/// What a migration did, and what it chose to leave alone.
#[derive(Debug, Default)]
pub struct MigrationReport {
    /// Advice about an existing table that works but could be better.
    pub notes: Vec<String>,
}

/// Serializes concurrent migrations (several Lambda cold starts, parallel deploys).
const MIGRATION_LOCK: i64 = 0x7473_6170_6900; // "tsapi"

pub async fn migrate(client: &mut Client) -> Result<MigrationReport, DbError> {
    migrate_with(client, None).await
}

/// [`migrate`], installing or removing the trigger that streams other tools' writes
/// (`None` leaves it as it is).
pub async fn migrate_with(
    client: &mut Client,
    feed_trigger: Option<FeedTrigger>,
) -> Result<MigrationReport, DbError> {
    let mut report = MigrationReport::default();
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    tx.batch_execute(&format!(
        "CREATE EXTENSION IF NOT EXISTS timescaledb;
         CREATE TABLE IF NOT EXISTS {TABLE} (
             time            timestamptz      NOT NULL,
             symbol          text             NOT NULL,
             price_open      double precision,
             price_high      double precision,
             price_low       double precision,
             price_close     double precision,
             trading_volume  bigint
         );
         SELECT create_hypertable('{TABLE}', 'time', if_not_exists => TRUE, migrate_data => TRUE);
         ALTER TABLE {TABLE} ADD COLUMN IF NOT EXISTS trade_count bigint,
             ADD COLUMN IF NOT EXISTS vwap double precision;"
    ))
    .await?;
    tx.batch_execute(super::feed_log::SCHEMA).await?;
    feed_trigger::apply(&tx, feed_trigger).await?;
    tx.batch_execute(super::actions::SCHEMA).await?;
    tx.commit().await?;

    // A table made the tutorial's way may hold duplicate bars; then the unique index cannot
    // be built. Everything else still works, so say so instead of failing.
    let index = format!(
        "CREATE UNIQUE INDEX IF NOT EXISTS {TABLE}_symbol_time_key ON {TABLE} (symbol, time DESC)"
    );
    match client.batch_execute(&index).await {
        Ok(()) => {}
        Err(e) if e.code() == Some(&SqlState::UNIQUE_VIOLATION) => report.notes.push(format!(
            "{TABLE} holds duplicate (symbol, time) bars, so the unique index was not created; \
             inserts work, upserts (on_conflict=ignore|update) need it"
        )),
        Err(e) => return Err(e.into()),
    }

    let volume_type: Option<String> = client
        .query_opt(
            "SELECT format_type(atttypid, atttypmod) FROM pg_attribute \
             WHERE attrelid = to_regclass($1) AND attname = 'trading_volume'",
            &[&TABLE],
        )
        .await?
        .map(|row| row.get(0));
    if super::catalog_refresh::create_catalog(client, MIGRATION_LOCK).await? {
        report.notes.push(
            "made the symbol catalogue (tsapi_catalog, tsapi_daily) and filled it from the table"
                .into(),
        );
    }

    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&MIGRATION_LOCK])
        .await?;
    super::catalog_version::create(&tx).await?;
    tx.commit().await?;

    if let Some(ty) = volume_type.filter(|t| t != "bigint") {
        report.notes.push(format!(
            "{TABLE}.trading_volume is {ty}: larger volumes are refused with 422; \
             `ALTER TABLE {TABLE} ALTER COLUMN trading_volume TYPE bigint` widens it \
             (it rewrites the table, so it is left to you)"
        ));
    }
    Ok(report)
}
