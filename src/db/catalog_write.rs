//! Keeping the catalogue right inside every write's own transaction, so the write's
//! acknowledgement means the next whole-market read sees it.
//!
//! Plain inserts (`on_conflict=error`) merge the write's per-(symbol, day) summary into
//! `tsapi_daily` arithmetically (first open, max high, min low, last close, summed volume):
//! no read of the table. Upserts may replace or skip stored bars, so the days they touch
//! are recomputed from the table instead (one index range scan per symbol and day). Then
//! the written symbols' catalogue rows are derived again from their daily rows.

use chrono::{DateTime, NaiveDate, Utc};
use tokio_postgres::Transaction;

use super::catalog::{DAILY_COLUMNS, DAY_AGGREGATES, derive_symbols_sql};
use super::write_statements::Prepared;
use super::{DbError, OnConflict, TABLE};
use crate::domain::{DayAgg, WriteSummary};

/// Brings the catalogue up to date with a write's rows, before its commit.
pub async fn record_write(
    tx: &Transaction<'_>,
    prepared: Prepared<'_>,
    mode: OnConflict,
    summary: &WriteSummary,
    before: &ChunkCounts,
) -> Result<(), DbError> {
    if summary.is_empty() {
        return Ok(());
    }
    match mode {
        OnConflict::Error => merge_days(tx, prepared, summary).await?,
        OnConflict::Ignore | OnConflict::Update => recompute_days(tx, prepared, summary).await?,
    }
    let derive = prepared.prepare(tx, &derive_symbols_sql()).await?;
    tx.execute(&derive, &[&summary.symbols()]).await?;
    account_chunks(tx, prepared, before).await
}

/// The session's not yet published row counts of the chunks, by chunk oid.
#[derive(Debug, Default, Clone)]
pub struct ChunkCounts {
    oids: Vec<u32>,
    counts: Vec<i64>,
}

/// Each chunk's row count (inserted + updated + deleted) that this session has not
/// published yet. PostgreSQL publishes a session's counts at most once a second, so these
/// may include the session's previous transactions: a write reads them at its start, and
/// its own counts are the difference at its end.
const PENDING: &str = "SELECT i.inhrelid AS oid, pg_stat_get_xact_tuples_inserted(i.inhrelid) \
    + pg_stat_get_xact_tuples_updated(i.inhrelid) \
    + pg_stat_get_xact_tuples_deleted(i.inhrelid) AS n \
    FROM pg_inherits i WHERE i.inhparent = to_regclass($1)";

pub async fn pending_counts(
    tx: &Transaction<'_>,
    prepared: Prepared<'_>,
) -> Result<ChunkCounts, DbError> {
    let sql = format!("SELECT * FROM ({PENDING}) p WHERE p.n > 0");
    let rows = tx
        .query(&prepared.prepare(tx, &sql).await?, &[&TABLE])
        .await?;
    Ok(ChunkCounts {
        oids: rows.iter().map(|r| r.get(0)).collect(),
        counts: rows.iter().map(|r| r.get(1)).collect(),
    })
}

/// Credits the rows this transaction changed in each chunk to the refresh's chunk state,
/// so that the refresh does not rescan chunks for changes the catalogue already has.
/// Chunks in name order, like every writer.
async fn account_chunks(
    tx: &Transaction<'_>,
    prepared: Prepared<'_>,
    before: &ChunkCounts,
) -> Result<(), DbError> {
    let sql = format!(
        "INSERT INTO tsapi_catalog_chunks AS k (chunk, changes, accounted) \
         SELECT p.oid::regclass::text, 0, p.n - coalesce(b.n, 0) FROM ({PENDING}) p \
         LEFT JOIN unnest($2::oid[], $3::int8[]) b(oid, n) ON b.oid = p.oid \
         WHERE p.n - coalesce(b.n, 0) > 0 ORDER BY 1 \
         ON CONFLICT (chunk) DO UPDATE SET accounted = k.accounted + EXCLUDED.accounted"
    );
    let account = prepared.prepare(tx, &sql).await?;
    tx.execute(&account, &[&TABLE, &before.oids, &before.counts])
        .await?;
    Ok(())
}

/// The (symbol, day) keys of the summary's days, as two arrays to bind.
fn keys<'a>(days: &[(&'a str, NaiveDate, &DayAgg)]) -> (Vec<&'a str>, Vec<NaiveDate>) {
    days.iter().map(|(symbol, day, _)| (*symbol, *day)).unzip()
}

/// Adds the summary's daily bars to the stored ones.
async fn merge_days(
    tx: &Transaction<'_>,
    prepared: Prepared<'_>,
    summary: &WriteSummary,
) -> Result<(), DbError> {
    let days = summary.days();
    let col = |f: fn(&DayAgg) -> Option<f64>| -> Vec<Option<f64>> {
        days.iter().map(|(_, _, a)| f(a)).collect()
    };
    let (symbols, dates) = keys(&days);
    let firsts: Vec<DateTime<Utc>> = days.iter().map(|(_, _, a)| a.first_time).collect();
    let lasts: Vec<DateTime<Utc>> = days.iter().map(|(_, _, a)| a.last_time).collect();
    let volumes: Vec<Option<i64>> = days.iter().map(|(_, _, a)| a.volume).collect();
    let counts: Vec<i64> = days.iter().map(|(_, _, a)| a.bars).collect();
    let last_volumes: Vec<Option<i64>> =
        days.iter().map(|(_, _, a)| a.last.trading_volume).collect();
    let int = |f: fn(&DayAgg) -> Option<i64>| -> Vec<Option<i64>> {
        days.iter().map(|(_, _, a)| f(a)).collect()
    };
    // Sums skip nulls, as SQL's `sum` does: a null on either side keeps the other.
    let add = |c: &str| {
        format!(
            "{c} = CASE WHEN d.{c} IS NULL THEN EXCLUDED.{c} WHEN EXCLUDED.{c} IS NULL THEN d.{c} \
             ELSE d.{c} + EXCLUDED.{c} END"
        )
    };
    let newer = |c: &str| {
        format!(
            "{c} = CASE WHEN EXCLUDED.last_time >= d.last_time THEN EXCLUDED.{c} ELSE d.{c} END"
        )
    };
    let sql = format!(
        "INSERT INTO tsapi_daily AS d ({DAILY_COLUMNS}) \
         SELECT * FROM unnest($1::date[], $2::text[], $3::timestamptz[], $4::timestamptz[], \
           $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::int8[], $10::int8[], \
           $11::float8[], $12::float8[], $13::float8[], $14::int8[], $15::int8[], \
           $16::float8[], $17::int8[], $18::int8[], $19::float8[]) \
         ON CONFLICT (day, symbol) DO UPDATE SET \
           first_time = least(d.first_time, EXCLUDED.first_time), \
           price_open = CASE WHEN EXCLUDED.first_time < d.first_time \
                        THEN EXCLUDED.price_open ELSE d.price_open END, \
           last_time = greatest(d.last_time, EXCLUDED.last_time), \
           {}, {}, {}, {}, {}, {}, {}, \
           price_high = greatest(d.price_high, EXCLUDED.price_high), \
           price_low = least(d.price_low, EXCLUDED.price_low), \
           {}, {}, {}, {}, \
           bars = d.bars + EXCLUDED.bars",
        newer("price_close"),
        newer("last_open"),
        newer("last_high"),
        newer("last_low"),
        newer("last_volume"),
        newer("last_trade_count"),
        newer("last_vwap"),
        add("trading_volume"),
        add("trade_count"),
        add("vwap_notional"),
        add("vwap_volume"),
    );
    tx.execute(
        &prepared.prepare(tx, &sql).await?,
        &[
            &dates,
            &symbols,
            &firsts,
            &lasts,
            &col(|a| a.open),
            &col(|a| a.high),
            &col(|a| a.low),
            &col(|a| a.last.price_close),
            &volumes,
            &counts,
            &col(|a| a.last.price_open),
            &col(|a| a.last.price_high),
            &col(|a| a.last.price_low),
            &last_volumes,
            &int(|a| a.trade_count),
            &col(|a| a.vwap_notional),
            &int(|a| a.vwap_volume),
            &int(|a| a.last.trade_count),
            &col(|a| a.last.vwap),
        ],
    )
    .await?;
    Ok(())
}

/// Recomputes the daily rows of every (symbol, day) the summary touches from the table.
async fn recompute_days(
    tx: &Transaction<'_>,
    prepared: Prepared<'_>,
    summary: &WriteSummary,
) -> Result<(), DbError> {
    let days = summary.days();
    let (symbols, dates) = keys(&days);
    let zone = summary.zone().name();
    let set = DAILY_COLUMNS
        .split(", ")
        .skip(2)
        .map(|c| format!("{c} = EXCLUDED.{c}"))
        .collect::<Vec<_>>()
        .join(", ");
    let sql = format!(
        "INSERT INTO tsapi_daily AS d ({DAILY_COLUMNS}) \
         SELECT k.day, k.symbol, a.* FROM unnest($1::date[], $2::text[]) k(day, symbol) \
         CROSS JOIN LATERAL ( \
           SELECT {DAY_AGGREGATES} FROM {TABLE} t \
           WHERE t.symbol = k.symbol AND t.time >= (k.day::timestamp AT TIME ZONE $3::text) \
             AND t.time < ((k.day + 1)::timestamp AT TIME ZONE $3::text) \
           HAVING count(*) > 0) a \
         ON CONFLICT (day, symbol) DO UPDATE SET {set}"
    );
    tx.execute(
        &prepared.prepare(tx, &sql).await?,
        &[&dates, &symbols, &zone],
    )
    .await?;
    Ok(())
}
