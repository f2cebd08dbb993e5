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

use super::catalog::{DAILY_COLUMNS, DAY_AGGREGATES, derive_symbols};
use super::{DbError, OnConflict, TABLE};
use crate::domain::WriteSummary;

/// Brings the catalogue up to date with a write's rows, before its commit.
pub async fn record_write(
    tx: &Transaction<'_>,
    mode: OnConflict,
    summary: &WriteSummary,
) -> Result<(), DbError> {
    if summary.is_empty() {
        return Ok(());
    }
    match mode {
        OnConflict::Error => merge_days(tx, summary).await?,
        OnConflict::Ignore | OnConflict::Update => recompute_days(tx, summary).await?,
    }
    derive_symbols(tx, &summary.symbols()).await
}

/// Adds the summary's daily bars to the stored ones.
async fn merge_days(tx: &Transaction<'_>, summary: &WriteSummary) -> Result<(), DbError> {
    let days = summary.days();
    let col = |f: fn(&crate::domain::DayAgg) -> Option<f64>| -> Vec<Option<f64>> {
        days.iter().map(|(_, _, a)| f(a)).collect()
    };
    let dates: Vec<NaiveDate> = days.iter().map(|(_, d, _)| *d).collect();
    let symbols: Vec<&str> = days.iter().map(|(s, _, _)| *s).collect();
    let firsts: Vec<DateTime<Utc>> = days.iter().map(|(_, _, a)| a.first_time).collect();
    let lasts: Vec<DateTime<Utc>> = days.iter().map(|(_, _, a)| a.last_time).collect();
    let volumes: Vec<Option<i64>> = days.iter().map(|(_, _, a)| a.volume).collect();
    let counts: Vec<i64> = days.iter().map(|(_, _, a)| a.bars).collect();
    let last_volumes: Vec<Option<i64>> = days.iter().map(|(_, _, a)| a.last_volume).collect();
    let newer = |c: &str| {
        format!(
            "{c} = CASE WHEN EXCLUDED.last_time >= d.last_time THEN EXCLUDED.{c} ELSE d.{c} END"
        )
    };
    let sql = format!(
        "INSERT INTO tsapi_daily AS d ({DAILY_COLUMNS}) \
         SELECT * FROM unnest($1::date[], $2::text[], $3::timestamptz[], $4::timestamptz[], \
           $5::float8[], $6::float8[], $7::float8[], $8::float8[], $9::int8[], $10::int8[], \
           $11::float8[], $12::float8[], $13::float8[], $14::int8[]) \
         ON CONFLICT (day, symbol) DO UPDATE SET \
           first_time = least(d.first_time, EXCLUDED.first_time), \
           price_open = CASE WHEN EXCLUDED.first_time < d.first_time \
                        THEN EXCLUDED.price_open ELSE d.price_open END, \
           last_time = greatest(d.last_time, EXCLUDED.last_time), \
           {}, {}, {}, {}, {}, \
           price_high = greatest(d.price_high, EXCLUDED.price_high), \
           price_low = least(d.price_low, EXCLUDED.price_low), \
           trading_volume = CASE WHEN d.trading_volume IS NULL THEN EXCLUDED.trading_volume \
             WHEN EXCLUDED.trading_volume IS NULL THEN d.trading_volume \
             ELSE d.trading_volume + EXCLUDED.trading_volume END, \
           bars = d.bars + EXCLUDED.bars",
        newer("price_close"),
        newer("last_open"),
        newer("last_high"),
        newer("last_low"),
        newer("last_volume"),
    );
    tx.execute(
        &sql,
        &[
            &dates,
            &symbols,
            &firsts,
            &lasts,
            &col(|a| a.open),
            &col(|a| a.high),
            &col(|a| a.low),
            &col(|a| a.close),
            &volumes,
            &counts,
            &col(|a| a.last_open),
            &col(|a| a.last_high),
            &col(|a| a.last_low),
            &last_volumes,
        ],
    )
    .await?;
    Ok(())
}

/// Recomputes the daily rows of every (symbol, day) the summary touches from the table.
async fn recompute_days(tx: &Transaction<'_>, summary: &WriteSummary) -> Result<(), DbError> {
    let days = summary.days();
    let dates: Vec<NaiveDate> = days.iter().map(|(_, d, _)| *d).collect();
    let symbols: Vec<&str> = days.iter().map(|(s, _, _)| *s).collect();
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
    tx.execute(&sql, &[&dates, &symbols, &zone]).await?;
    Ok(())
}
