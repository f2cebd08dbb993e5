//! Whole-market reads: from the catalogue when there is one (and the asked zone is its
//! zone), else by reading the table, which is exact but scans (said once in the log).

use std::sync::atomic::{AtomicBool, Ordering};

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use tokio_postgres::Row;
use tokio_postgres::types::Type;

use super::catalog::{daily_of, entries, local_midnight, spans};
use super::rows::bar_values;
use super::{Conn, DbError, SymbolSpan, TABLE, latest_bars, list_symbols, trade_stats};
use crate::domain::{Bar, QueryBar, Snapshot, Symbol};

/// Whether the missing catalogue was already reported.
static SCAN_REPORTED: AtomicBool = AtomicBool::new(false);

fn report_scan() {
    if !SCAN_REPORTED.swap(true, Ordering::Relaxed) {
        tracing::warn!(
            "the database has no symbol catalogue (tables made without `tsapi migrate`): \
             whole-market reads scan {TABLE}; run `tsapi migrate` to add it"
        );
    }
}

/// Every symbol with its first and last time, in byte order.
pub async fn symbol_spans(client: &Conn, catalog: Option<Tz>) -> Result<Vec<SymbolSpan>, DbError> {
    if catalog.is_none() {
        report_scan();
        return list_symbols(client).await;
    }
    Ok(spans(client)
        .await?
        .into_iter()
        .map(|(symbol, first_time, last_time)| SymbolSpan {
            symbol,
            first_time,
            last_time,
        })
        .collect())
}

/// The latest bar of every symbol, in byte order.
pub async fn all_latest(client: &Conn, catalog: Option<Tz>) -> Result<Vec<Bar>, DbError> {
    if catalog.is_none() {
        report_scan();
        return latest_bars(client, i64::MAX).await;
    }
    super::catalog::latest_bars(client).await
}

/// Snapshots of `symbols` (every symbol when `None`) with days in `tz` and today being
/// `today`, in byte order of the symbol; unknown symbols are left out.
pub async fn snapshots(
    client: &Conn,
    catalog: Option<Tz>,
    tz: Tz,
    today: NaiveDate,
    symbols: Option<&[Symbol]>,
) -> Result<Vec<Snapshot>, DbError> {
    if catalog != Some(tz) {
        let names = match (symbols, catalog) {
            (Some(symbols), _) => symbols.iter().map(|s| s.as_str().to_owned()).collect(),
            (None, _) => symbol_spans(client, catalog)
                .await?
                .into_iter()
                .map(|s| s.symbol)
                .collect(),
        };
        return scan_snapshots(client, tz, today, names).await;
    }
    let mut out = Vec::new();
    let mut unsure = Vec::new();
    for entry in entries(client, symbols).await? {
        let around = entry.around(today);
        let symbol = entry.latest.symbol.as_str().to_owned();
        if !around.complete {
            unsure.push(symbol);
            continue;
        }
        out.push(Snapshot {
            day: around.today.map(|d| d.to_query_bar(&symbol, tz)),
            prev_day: around.previous.map(|d| d.to_query_bar(&symbol, tz)),
            latest_bar: entry.latest,
            symbol,
        });
    }
    if !unsure.is_empty() {
        out.extend(scan_snapshots(client, tz, today, unsure).await?);
        out.sort_by(|a, b| a.symbol.as_bytes().cmp(b.symbol.as_bytes()));
    }
    Ok(out)
}

/// The previous complete day's bar of each symbol (before `today` in `tz`).
pub async fn previous_bars(
    client: &Conn,
    catalog: Option<Tz>,
    tz: Tz,
    today: NaiveDate,
    symbols: Option<&[Symbol]>,
) -> Result<Vec<QueryBar>, DbError> {
    Ok(snapshots(client, catalog, tz, today, symbols)
        .await?
        .into_iter()
        .filter_map(|s| s.prev_day)
        .collect())
}

/// The daily bar of every symbol with bars on `day` in `tz`, in byte order.
pub async fn grouped(
    client: &Conn,
    catalog: Option<Tz>,
    tz: Tz,
    day: NaiveDate,
) -> Result<Vec<QueryBar>, DbError> {
    if catalog == Some(tz) {
        return Ok(daily_of(client, day)
            .await?
            .into_iter()
            .map(|(symbol, d)| d.to_query_bar(&symbol, tz))
            .collect());
    }
    if catalog.is_none() {
        report_scan();
    }
    let (start, end) = day_range(tz, day)?;
    // Literal bounds (our own instants, not user text): the planner opens only the chunks
    // of that day.
    let sql = format!(
        "SELECT t.symbol, {} FROM {TABLE} t \
         WHERE t.time >= '{}'::timestamptz AND t.time < '{}'::timestamptz \
         GROUP BY t.symbol ORDER BY t.symbol COLLATE \"C\"",
        day_bar_sql(client.trade_stats()),
        crate::render::rfc3339(start),
        crate::render::rfc3339(end)
    );
    let rows = client.query(&sql, &[]).await?;
    Ok(rows
        .iter()
        .filter_map(|r| day_bar(r, 1, start, r.get(0)))
        .collect())
}

/// A daily bar's aggregates over rows `t`: open, high, low, close, volume, count, trade
/// count, vwap.
fn day_bar_sql(stats: bool) -> String {
    format!(
        "first(t.price_open::float8, t.time), max(t.price_high)::float8, \
         min(t.price_low)::float8, last(t.price_close::float8, t.time), \
         sum(t.trading_volume)::int8, count(*), {}",
        trade_stats::aggregated(stats)
    )
}

fn day_bar(row: &Row, at: usize, time: DateTime<Utc>, symbol: String) -> Option<QueryBar> {
    let count: i64 = row.get(at + 5);
    (count > 0).then(|| QueryBar {
        time,
        symbol,
        values: bar_values(row, at, at + 6),
        count: Some(count),
    })
}

fn day_range(tz: Tz, day: NaiveDate) -> Result<(DateTime<Utc>, DateTime<Utc>), DbError> {
    let bounds = day
        .succ_opt()
        .and_then(|next| Some((local_midnight(tz, day)?, local_midnight(tz, next)?)));
    bounds.ok_or_else(|| DbError::Schema(format!("day {day} has no bounds in {tz}")))
}

/// Snapshots read from the table: per symbol its latest bar, today's bars and the last
/// day before today with bars (index probes per symbol).
async fn scan_snapshots(
    client: &Conn,
    tz: Tz,
    today: NaiveDate,
    mut symbols: Vec<String>,
) -> Result<Vec<Snapshot>, DbError> {
    symbols.sort_unstable_by(|a, b| a.as_bytes().cmp(b.as_bytes()));
    symbols.dedup();
    let (start, end) = day_range(tz, today)?;
    let zone = tz.name();
    let stats = client.trade_stats();
    let latest_stats = trade_stats::stored(stats).replace("t.", "l.");
    let day_bar_sql = day_bar_sql(stats);
    let sql = format!(
        "SELECT k.symbol, l.time, l.price_open::float8, l.price_high::float8, \
                l.price_low::float8, l.price_close::float8, l.trading_volume::int8, \
                {latest_stats}, d.*, p.start, q.* \
         FROM unnest($1::text[]) WITH ORDINALITY k(symbol, ord) \
         CROSS JOIN LATERAL (SELECT * FROM {TABLE} t WHERE t.symbol = k.symbol \
                             ORDER BY t.time DESC LIMIT 1) l \
         CROSS JOIN LATERAL (SELECT {day_bar_sql} FROM {TABLE} t WHERE t.symbol = k.symbol \
                             AND t.time >= $2 AND t.time < $3) d \
         LEFT JOIN LATERAL (SELECT (t.time AT TIME ZONE $4::text)::date AS day FROM {TABLE} t \
                            WHERE t.symbol = k.symbol AND t.time < $2 \
                            ORDER BY t.time DESC LIMIT 1) pd ON true \
         LEFT JOIN LATERAL (SELECT pd.day::timestamp AT TIME ZONE $4::text AS start) p ON true \
         LEFT JOIN LATERAL (SELECT {day_bar_sql} FROM {TABLE} t WHERE t.symbol = k.symbol \
                            AND t.time >= p.start \
                            AND t.time < ((pd.day + 1)::timestamp AT TIME ZONE $4::text)) q ON true \
         ORDER BY k.ord"
    );
    let rows = client
        .query(
            &sql,
            &[
                (&symbols, Type::TEXT_ARRAY),
                (&start, Type::TIMESTAMPTZ),
                (&end, Type::TIMESTAMPTZ),
                (&zone, Type::TEXT),
            ],
        )
        .await?;
    Ok(rows
        .iter()
        .map(|r| {
            let symbol: String = r.get(0);
            let prev_start: Option<DateTime<Utc>> = r.get(17);
            Snapshot {
                latest_bar: Bar {
                    time: r.get(1),
                    symbol: Symbol::from_stored(symbol.clone()),
                    values: bar_values(r, 2, 7),
                },
                day: day_bar(r, 9, start, symbol.clone()),
                prev_day: prev_start.and_then(|t| day_bar(r, 18, t, symbol.clone())),
                symbol,
            }
        })
        .collect())
}
