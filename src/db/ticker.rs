//! The tutorial's reads (`/ticker`, `/ticker/daily`): the latest bar of a symbol, found in the
//! newest chunks first, the latest bar of every symbol, and daily aggregates.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{LazyLock, Mutex};
use std::time::{Duration, Instant};

use chrono::{DateTime, Utc};
use tokio_postgres::types::Type;

use super::rows::bar_from_row;
use super::statements::{Conn, Param};
use super::{DbError, TABLE, trade_stats};
use crate::domain::{Bar, DailyBar, Symbol, TimeRange};

/// The select list of a bar of rows `t`; casts make `integer` volumes and `real` prices
/// read alike.
fn bar_columns(stats: bool) -> String {
    format!(
        "t.time, t.symbol, t.price_open::float8, t.price_high::float8, t.price_low::float8, \
         t.price_close::float8, t.trading_volume::int8, {}",
        trade_stats::stored(stats)
    )
}

/// The start of the newest chunks of the hypertable, cached for a few seconds.
///
/// Asking for a symbol's latest bar with `time >= <this bound>` lets TimescaleDB plan and
/// open only the newest chunks instead of every chunk of the table. The answer is correct
/// whatever the bound: a bar found above it is the latest, and when none is found the
/// search continues below it. A stale bound only makes the first step search more.
#[derive(Debug, Default)]
pub struct RecentWindow {
    cached: Mutex<Option<(Instant, Option<DateTime<Utc>>)>>,
    /// Set while one request refreshes an expired bound; the others meanwhile keep using
    /// the old one instead of all querying the catalog at once.
    refreshing: AtomicBool,
}

/// Clears [`RecentWindow::refreshing`] however the refresh ends (even if cancelled).
struct RefreshGuard<'a>(&'a AtomicBool);

impl Drop for RefreshGuard<'_> {
    fn drop(&mut self) {
        self.0.store(false, Ordering::Release);
    }
}

impl RecentWindow {
    const TTL: Duration = Duration::from_secs(10);
    /// How many of the newest chunks the first step searches.
    const CHUNKS: i64 = 2;

    /// The bound: cached, or when expired read from the catalog over a connection from
    /// `connect`, which is awaited only then. The catalog query takes milliseconds, too long
    /// to queue on the connection shared by point reads.
    pub async fn lower_bound(
        &self,
        connect: impl Future<Output = Result<Conn, DbError>>,
    ) -> Result<Option<DateTime<Utc>>, DbError> {
        let cached = *self.cached.lock().expect("window lock");
        let _guard = match cached {
            Some((at, bound)) if at.elapsed() < Self::TTL => return Ok(bound),
            Some((_, stale)) if self.refreshing.swap(true, Ordering::AcqRel) => return Ok(stale),
            Some(_) => Some(RefreshGuard(&self.refreshing)),
            None => None,
        };
        let sql = "SELECT min(range_start) FROM ( \
                     SELECT c.range_start FROM timescaledb_information.chunks c \
                     WHERE format('%I.%I', c.hypertable_schema, c.hypertable_name)::regclass \
                           = to_regclass($1) \
                     ORDER BY c.range_start DESC LIMIT $2) newest";
        let bound: Option<DateTime<Utc>> = connect
            .await?
            .query_one(sql, &[(&TABLE, Type::TEXT), (&Self::CHUNKS, Type::INT8)])
            .await?
            .get(0);
        *self.cached.lock().expect("window lock") = Some((Instant::now(), bound));
        Ok(bound)
    }
}

/// The statements of [`latest_bar`], made once: anywhere, above a bound, below it; for
/// tables without and with `trade_count` and `vwap`.
static LATEST_SQL: LazyLock<[[String; 3]; 2]> = LazyLock::new(|| {
    [false, true].map(|stats| {
        let base = format!(
            "SELECT {} FROM {TABLE} t WHERE t.symbol = $1",
            bar_columns(stats)
        );
        let order = "ORDER BY t.time DESC LIMIT 1";
        [
            format!("{base} {order}"),
            format!("{base} AND t.time >= $2 {order}"),
            format!("{base} AND t.time < $2 {order}"),
        ]
    })
});

/// The latest bar of `symbol`, searching above `bound` (the newest chunks, see
/// [`RecentWindow`]) first.
pub async fn latest_bar(
    client: &Conn,
    bound: Option<DateTime<Utc>>,
    symbol: &Symbol,
) -> Result<Option<Bar>, DbError> {
    let [anywhere, above, below] = &LATEST_SQL[usize::from(client.trade_stats())];
    let Some(bound) = bound else {
        let row = client
            .query_opt(anywhere, &[(&symbol.as_str(), Type::TEXT)])
            .await?;
        return Ok(row.as_ref().map(bar_from_row));
    };
    for sql in [above, below] {
        if let Some(row) = client
            .query_opt(
                sql,
                &[(&symbol.as_str(), Type::TEXT), (&bound, Type::TIMESTAMPTZ)],
            )
            .await?
        {
            return Ok(Some(bar_from_row(&row)));
        }
    }
    Ok(None)
}

/// The latest bar of every symbol, ordered by symbol, at most `limit` of them.
///
/// Distinct symbols are found by walking the (symbol, time) index one symbol at a time
/// (a loose index scan) instead of reading every row.
pub async fn latest_bars(client: &Conn, limit: i64) -> Result<Vec<Bar>, DbError> {
    let sql = format!(
        "WITH RECURSIVE symbols AS ( \
           (SELECT symbol FROM {TABLE} WHERE symbol IS NOT NULL ORDER BY symbol LIMIT 1) \
           UNION ALL \
           SELECT (SELECT t.symbol FROM {TABLE} t WHERE t.symbol > s.symbol \
                   ORDER BY t.symbol LIMIT 1) \
           FROM symbols s WHERE s.symbol IS NOT NULL) \
         SELECT b.* FROM symbols s CROSS JOIN LATERAL ( \
           SELECT {} FROM {TABLE} t WHERE t.symbol = s.symbol \
           ORDER BY t.time DESC LIMIT 1) b \
         WHERE s.symbol IS NOT NULL ORDER BY b.symbol LIMIT $1",
        bar_columns(client.trade_stats())
    );
    let rows = client.query(&sql, &[(&limit, Type::INT8)]).await?;
    Ok(rows.iter().map(bar_from_row).collect())
}

/// One row per UTC day of `symbol` within `range`: average close, highest high, lowest low.
pub async fn daily_bars(
    client: &Conn,
    symbol: &Symbol,
    range: &TimeRange,
    limit: i64,
) -> Result<Vec<DailyBar>, DbError> {
    let symbol = symbol.as_str();
    let mut params: Vec<Param> = vec![(&symbol, Type::TEXT)];
    let mut filter = String::from("symbol = $1");
    if let Some(start) = &range.start {
        params.push((start, Type::TIMESTAMPTZ));
        filter.push_str(&format!(" AND time >= ${}", params.len()));
    }
    if let Some(end) = &range.end {
        params.push((end, Type::TIMESTAMPTZ));
        filter.push_str(&format!(" AND time < ${}", params.len()));
    }
    params.push((&limit, Type::INT8));
    let sql = format!(
        "SELECT time_bucket('1 day', time) AS bucket_day, symbol, avg(price_close)::float8, \
                max(price_high)::float8, min(price_low)::float8 \
         FROM {TABLE} WHERE {filter} GROUP BY 1, 2 ORDER BY 1 LIMIT ${}",
        params.len()
    );
    let rows = client.query(&sql, &params).await?;
    Ok(rows
        .iter()
        .map(|row| DailyBar {
            bucket_day: row.get(0),
            symbol: row.get(1),
            avg_price: row.get(2),
            max_price: row.get(3),
            min_price: row.get(4),
        })
        .collect())
}
