//! Finding writes that did not go through tsapi (`psql \copy`, the tutorial's Lambda, an
//! older tsapi, deletes) and bringing the catalogue up to date with them.
//!
//! PostgreSQL counts the rows inserted, updated and deleted in every table, chunks
//! included. The refresh keeps each chunk's count (and range) as it last saw them in
//! `tsapi_catalog_chunks`, and tsapi writes add there the rows they changed in each chunk
//! (`accounted`, from their transaction's own counts). A chunk whose count grew by more
//! than tsapi accounts for, a new chunk and a dropped one are "changed", and the days they
//! span are recomputed from the table (a scan of those chunks only), then the catalogue
//! rows of every symbol with bars in those days. Writes through tsapi alone cause no
//! rescan. An idle table
//! costs one catalog query per refresh. PostgreSQL publishes a session's counts when it
//! goes idle, at most once a second, and at the latest 10 s after its last write, so a
//! refresh sees a write some time after its commit; [`rebuild_catalog`] does not depend
//! on the counts.
//!
//! Both take EXCLUSIVE locks on the catalogue tables (readers go on; tsapi writers wait at
//! their catalogue step), so no write commits between the scan and the update.

use std::collections::HashMap;

use chrono::{DateTime, Duration, NaiveDate, Utc};
use chrono_tz::Tz;
use tokio_postgres::{Client, GenericClient, Transaction};

use super::catalog::{DAILY_COLUMNS, DAY_AGGREGATES, day_span_filter, derive_symbols, forget_gone};
use super::{DbError, TABLE};

/// What a refresh did.
#[derive(Debug, Default, Clone, PartialEq, Eq)]
pub struct RefreshReport {
    /// Chunks found new, changed or dropped (every chunk for a rebuild).
    pub chunks: usize,
    /// Days recomputed; for a rebuild, the daily bars written.
    pub days: i64,
    /// Symbols whose catalogue rows were derived again.
    pub symbols: usize,
}

/// A chunk's time range; `None` ends are unbounded.
type Range = (Option<DateTime<Utc>>, Option<DateTime<Utc>>);

/// One chunk as the statistics show it: range and rows inserted + updated + deleted.
#[derive(Debug, Clone, PartialEq)]
struct ChunkState {
    /// `None` for a plain table (not a hypertable): all of time.
    start: Option<DateTime<Utc>>,
    end: Option<DateTime<Utc>>,
    changes: i64,
    /// Rows tsapi writes changed in the chunk since `changes` was read (stored state only).
    accounted: i64,
}

/// The chunks of the table now. A table that is not a hypertable is one "chunk" spanning
/// all time.
async fn current_chunks(
    client: &impl GenericClient,
) -> Result<HashMap<String, ChunkState>, DbError> {
    let rows = client
        .query(
            "SELECT format('%I.%I', c.chunk_schema, c.chunk_name), c.range_start, c.range_end, \
                    pg_stat_get_tuples_inserted(r.oid) + pg_stat_get_tuples_updated(r.oid) \
                    + pg_stat_get_tuples_deleted(r.oid), 0::int8 \
             FROM timescaledb_information.chunks c \
             JOIN pg_class r ON r.oid = format('%I.%I', c.chunk_schema, c.chunk_name)::regclass \
             WHERE format('%I.%I', c.hypertable_schema, c.hypertable_name)::regclass \
                   = to_regclass($1) \
             UNION ALL \
             SELECT $1, NULL::timestamptz, NULL::timestamptz, pg_stat_get_tuples_inserted(r.oid) \
                    + pg_stat_get_tuples_updated(r.oid) + pg_stat_get_tuples_deleted(r.oid), 0::int8 \
             FROM pg_class r WHERE r.oid = to_regclass($1) AND NOT EXISTS ( \
               SELECT 1 FROM timescaledb_information.hypertables h \
               WHERE format('%I.%I', h.hypertable_schema, h.hypertable_name)::regclass \
                     = to_regclass($1))",
            &[&TABLE],
        )
        .await?;
    Ok(chunk_states(&rows))
}

async fn stored_chunks(
    client: &impl GenericClient,
) -> Result<HashMap<String, ChunkState>, DbError> {
    let rows = client
        .query(
            "SELECT chunk, range_start, range_end, changes, accounted FROM tsapi_catalog_chunks",
            &[],
        )
        .await?;
    Ok(chunk_states(&rows))
}

/// Rows of `(chunk, range_start, range_end, changes, accounted)`, keyed by chunk.
fn chunk_states(rows: &[tokio_postgres::Row]) -> HashMap<String, ChunkState> {
    let state = |r: &tokio_postgres::Row| ChunkState {
        start: r.get(1),
        end: r.get(2),
        changes: r.get(3),
        accounted: r.get(4),
    };
    rows.iter().map(|r| (r.get(0), state(r))).collect()
}

/// The time ranges of chunks that are new, changed or gone since the last refresh.
fn changed(now: &HashMap<String, ChunkState>, seen: &HashMap<String, ChunkState>) -> Vec<Range> {
    let mut ranges: Vec<_> = now
        .iter()
        .filter(|(name, state)| match seen.get(*name) {
            None => true,
            // More changes than tsapi's writes account for (or the counters were reset).
            Some(old) => {
                let grown = state.changes - old.changes;
                grown < 0 || grown > old.accounted
            }
        })
        .chain(seen.iter().filter(|(name, _)| !now.contains_key(*name)))
        .map(|(_, s)| (s.start, s.end))
        .collect();
    ranges.sort();
    ranges
}

/// Whole days `[first, last]` in `zone` covering the time ranges, merged where they touch.
/// `None` for a range without end (a plain table): then everything is rebuilt.
fn day_spans(zone: Tz, ranges: &[Range]) -> Option<Vec<(NaiveDate, NaiveDate)>> {
    let mut spans: Vec<(NaiveDate, NaiveDate)> = Vec::new();
    for range in ranges {
        let (Some(start), Some(end)) = range else {
            return None;
        };
        let first = start.with_timezone(&zone).date_naive();
        let last = (*end - Duration::microseconds(1))
            .with_timezone(&zone)
            .date_naive();
        match spans.last_mut() {
            Some((_, to)) if first <= to.succ_opt().unwrap_or(*to) => *to = (*to).max(last),
            _ => spans.push((first, last)),
        }
    }
    Some(spans)
}

/// Brings the catalogue up to date with writes made around tsapi: recomputes the days of
/// changed chunks only. Does nothing (one catalog query) when no chunk changed; `None`
/// when the database has no catalogue.
pub async fn refresh_catalog(client: &mut Client) -> Result<Option<RefreshReport>, DbError> {
    let Some(zone) = super::catalog::zone(&*client).await? else {
        return Ok(None);
    };
    let seen = stored_chunks(&*client).await?;
    if changed(&current_chunks(&*client).await?, &seen).is_empty() {
        return Ok(Some(RefreshReport::default()));
    }
    refresh_changed(client, zone).await.map(Some)
}

async fn refresh_changed(client: &mut Client, zone: Tz) -> Result<RefreshReport, DbError> {
    let tx = lock(client).await?;
    // Counts read before the scan: a write counted after it shows as a change next time.
    let now = current_chunks(&tx).await?;
    let seen = stored_chunks(&tx).await?;
    let ranges = changed(&now, &seen);
    let Some(spans) = day_spans(zone, &ranges) else {
        return rebuild_in(tx, zone, now, seen).await;
    };
    let mut report = RefreshReport {
        chunks: ranges.len(),
        ..RefreshReport::default()
    };
    let mut symbols: Vec<String> = Vec::new();
    for (first, last) in spans {
        report.days += (last - first).num_days() + 1;
        for row in tx
            .query(
                "DELETE FROM tsapi_daily WHERE day BETWEEN $1 AND $2 RETURNING symbol",
                &[&first, &last],
            )
            .await?
        {
            symbols.push(row.get(0));
        }
        let sql = format!(
            "INSERT INTO tsapi_daily ({DAILY_COLUMNS}) \
             SELECT (t.time AT TIME ZONE $1::text)::date, t.symbol, {DAY_AGGREGATES} \
             FROM {TABLE} t WHERE {} AND t.symbol IS NOT NULL GROUP BY 1, 2 RETURNING symbol",
            day_span_filter(zone, first, last)?
        );
        for row in tx.query(&sql, &[&zone.name()]).await? {
            symbols.push(row.get(0));
        }
    }
    symbols.sort_unstable();
    symbols.dedup();
    let names: Vec<&str> = symbols.iter().map(String::as_str).collect();
    derive_symbols(&tx, &names).await?;
    forget_gone(&tx, &names).await?;
    report.symbols = names.len();
    store_chunks(&tx, &now, &seen).await?;
    tx.commit().await?;
    Ok(report)
}

/// Recomputes the whole catalogue from the table, exactly: `tsapi catalog refresh`, and
/// `tsapi migrate` when it makes the catalogue. With `zone`, daily bars follow that zone
/// from now on.
pub async fn rebuild_catalog(
    client: &mut Client,
    zone: Option<Tz>,
) -> Result<RefreshReport, DbError> {
    let tx = lock(client).await?;
    if let Some(zone) = zone {
        tx.execute("UPDATE tsapi_catalog_meta SET zone = $1", &[&zone.name()])
            .await?;
    }
    let zone = super::catalog::zone(&tx)
        .await?
        .ok_or_else(|| DbError::Schema("there is no catalogue; run `tsapi migrate`".into()))?;
    let now = current_chunks(&tx).await?;
    let seen = stored_chunks(&tx).await?;
    rebuild_in(tx, zone, now, seen).await
}

/// Makes the catalogue tables when missing and fills them, in one transaction (under
/// `migration_lock`, an advisory lock): `true` when they were made.
pub async fn create_catalog(client: &mut Client, migration_lock: i64) -> Result<bool, DbError> {
    let tx = client.transaction().await?;
    tx.execute("SELECT pg_advisory_xact_lock($1)", &[&migration_lock])
        .await?;
    if !super::catalog::create_tables(&tx, super::catalog::DEFAULT_ZONE).await? {
        tx.commit().await?;
        return Ok(false);
    }
    let now = current_chunks(&tx).await?;
    rebuild_in(tx, super::catalog::DEFAULT_ZONE, now, HashMap::new()).await?;
    Ok(true)
}

async fn rebuild_in(
    tx: Transaction<'_>,
    zone: Tz,
    now: HashMap<String, ChunkState>,
    seen: HashMap<String, ChunkState>,
) -> Result<RefreshReport, DbError> {
    tx.batch_execute("DELETE FROM tsapi_daily; DELETE FROM tsapi_catalog")
        .await?;
    let sql = format!(
        "INSERT INTO tsapi_daily ({DAILY_COLUMNS}) \
         SELECT (t.time AT TIME ZONE $1::text)::date, t.symbol, {DAY_AGGREGATES} \
         FROM {TABLE} t WHERE t.symbol IS NOT NULL GROUP BY 1, 2"
    );
    let days = tx.execute(&sql, &[&zone.name()]).await?;
    let symbols: Vec<String> = tx
        .query("SELECT DISTINCT symbol FROM tsapi_daily", &[])
        .await?
        .iter()
        .map(|r| r.get(0))
        .collect();
    let names: Vec<&str> = symbols.iter().map(String::as_str).collect();
    derive_symbols(&tx, &names).await?;
    store_chunks(&tx, &now, &seen).await?;
    tx.commit().await?;
    Ok(RefreshReport {
        chunks: now.len(),
        days: days as i64,
        symbols: names.len(),
    })
}

/// A transaction holding the catalogue tables against tsapi writers, in the order writers
/// take them (daily rows, then catalogue rows).
async fn lock(client: &mut Client) -> Result<Transaction<'_>, DbError> {
    let tx = client.transaction().await?;
    tx.batch_execute(
        "LOCK TABLE tsapi_daily, tsapi_catalog, tsapi_catalog_chunks IN EXCLUSIVE MODE",
    )
    .await?;
    Ok(tx)
}

/// Stores the counts read before the scan. tsapi's accounted changes that the counts do not
/// show yet (PostgreSQL publishes them later) stay credited, so they cause no rescan.
async fn store_chunks(
    tx: &Transaction<'_>,
    now: &HashMap<String, ChunkState>,
    seen: &HashMap<String, ChunkState>,
) -> Result<(), DbError> {
    let names: Vec<&str> = now.keys().map(String::as_str).collect();
    let starts: Vec<Option<DateTime<Utc>>> = now.values().map(|s| s.start).collect();
    let ends: Vec<Option<DateTime<Utc>>> = now.values().map(|s| s.end).collect();
    let changes: Vec<i64> = now.values().map(|s| s.changes).collect();
    let credits: Vec<i64> = now
        .iter()
        .map(|(name, s)| {
            seen.get(name)
                .map_or(0, |old| (old.accounted - (s.changes - old.changes)).max(0))
        })
        .collect();
    tx.execute("DELETE FROM tsapi_catalog_chunks", &[]).await?;
    tx.execute(
        "INSERT INTO tsapi_catalog_chunks (chunk, range_start, range_end, changes, accounted) \
         SELECT * FROM unnest($1::text[], $2::timestamptz[], $3::timestamptz[], $4::int8[], \
                              $5::int8[])",
        &[&names, &starts, &ends, &changes, &credits],
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn t(s: &str) -> DateTime<Utc> {
        s.parse().unwrap()
    }

    #[test]
    fn changed_chunks_become_whole_local_days() {
        let chunk = |start: &str, end: &str, changes| ChunkState {
            start: Some(t(start)),
            end: Some(t(end)),
            changes,
            accounted: 0,
        };
        let seen = HashMap::from([
            (
                "a".to_owned(),
                chunk("2021-11-04T00:00:00Z", "2021-11-11T00:00:00Z", 5),
            ),
            (
                "b".to_owned(),
                chunk("2021-11-11T00:00:00Z", "2021-11-18T00:00:00Z", 5),
            ),
            (
                "gone".to_owned(),
                chunk("2021-10-28T00:00:00Z", "2021-11-04T00:00:00Z", 1),
            ),
        ]);
        let mut now = seen.clone();
        now.remove("gone");
        assert_eq!(
            changed(&now, &seen),
            [(
                Some(t("2021-10-28T00:00:00Z")),
                Some(t("2021-11-04T00:00:00Z"))
            )]
        );
        // Changes that tsapi's writes account for are no reason to rescan.
        let mut credited = seen.clone();
        credited.get_mut("b").unwrap().accounted = 3;
        now.get_mut("b").unwrap().changes = 8;
        assert_eq!(changed(&now, &credited).len(), 1);
        now.get_mut("b").unwrap().changes = 9;
        assert_eq!(changed(&now, &credited).len(), 2);
        now.get_mut("b").unwrap().changes = 6;
        let ranges = changed(&now, &seen);
        assert_eq!(ranges.len(), 2);
        // In New York the UTC midnights fall on the previous evening: each chunk reaches
        // back one local day; the two spans do not touch, so they stay apart.
        let spans = day_spans(chrono_tz::America::New_York, &ranges).unwrap();
        let text: Vec<String> = spans.iter().map(|(a, b)| format!("{a}..{b}")).collect();
        assert_eq!(text, ["2021-10-27..2021-11-03", "2021-11-10..2021-11-17"]);
        let plain = [(None, None)];
        assert!(day_spans(chrono_tz::UTC, &plain).is_none());
    }
}
