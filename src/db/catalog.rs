//! The symbol catalogue: whole-market reads without scanning the hypertable.
//!
//! Two small plain tables beside the hypertable, made by `tsapi migrate`:
//! - `tsapi_daily`: one row per (day, symbol) in the catalogue's zone: the daily bar and
//!   the day's last bar (answers `/v1/bars/grouped`);
//! - `tsapi_catalog`: one row per symbol: first and last bar time, the latest bar and the
//!   symbol's two newest daily bars (answers `/v1/symbols`, every latest bar, snapshots and
//!   previous closes with one read of a 10,000-row table).
//!
//! `tsapi_catalog` is derived from `tsapi_daily` ([`derive_symbols`]); writes through tsapi
//! update both in their own transaction (`catalog_write`), writes by other tools are found
//! by the refresh (`catalog_refresh`). Without the tables, readers scan instead.

use chrono::{DateTime, NaiveDate, Utc};
use chrono_tz::Tz;
use tokio_postgres::types::Type;
use tokio_postgres::{GenericClient, Row};

use super::rows::bar_values;
use super::{Conn, DbError};
use crate::domain::{Bar, CatalogEntry, DailyBarRow, Symbol};

/// The catalogue's zone when none is chosen: the US exchanges' day.
pub const DEFAULT_ZONE: Tz = chrono_tz::America::New_York;

/// Whether the catalogue has the columns of `trade_count` and `vwap` (made or upgraded by
/// this version of `tsapi migrate`).
const HAS_TRADE_STATS: &str = "SELECT count(*) = 2 FROM pg_attribute \
    WHERE attrelid = to_regclass('tsapi_catalog') AND attname IN ('trade_count', 'vwap') \
      AND NOT attisdropped";

/// Creates the catalogue tables when missing and adds the columns of `trade_count` and
/// `vwap` to older ones; `true` when either happened (the catalogue then needs filling).
pub async fn create_tables(client: &impl GenericClient, zone: Tz) -> Result<bool, DbError> {
    let existed: bool = client
        .query_one("SELECT to_regclass('tsapi_catalog_meta') IS NOT NULL", &[])
        .await?
        .get(0);
    let current = existed
        && client
            .query_one(HAS_TRADE_STATS, &[])
            .await?
            .get::<_, bool>(0);
    let day = |p: &str| {
        format!(
            "{p} date, {p}_open float8, {p}_high float8, {p}_low float8, {p}_close float8, \
             {p}_volume int8, {p}_bars int8"
        )
    };
    let day_stats = |p: &str| {
        format!(
            "ADD COLUMN IF NOT EXISTS {p}_trade_count int8, ADD COLUMN IF NOT EXISTS {p}_vwap float8"
        )
    };
    client
        .batch_execute(&format!(
            "CREATE TABLE IF NOT EXISTS tsapi_catalog_meta (
                 id boolean PRIMARY KEY DEFAULT true CHECK (id),
                 zone text NOT NULL);
             CREATE TABLE IF NOT EXISTS tsapi_daily (
                 day date NOT NULL, symbol text NOT NULL,
                 first_time timestamptz NOT NULL, last_time timestamptz NOT NULL,
                 price_open float8, price_high float8, price_low float8, price_close float8,
                 trading_volume int8, bars int8 NOT NULL,
                 last_open float8, last_high float8, last_low float8, last_volume int8,
                 PRIMARY KEY (day, symbol));
             CREATE INDEX IF NOT EXISTS tsapi_daily_symbol_day ON tsapi_daily (symbol, day DESC);
             CREATE TABLE IF NOT EXISTS tsapi_catalog (
                 symbol text PRIMARY KEY,
                 first_time timestamptz NOT NULL, last_time timestamptz NOT NULL,
                 price_open float8, price_high float8, price_low float8, price_close float8,
                 trading_volume int8, {}, {});
             CREATE TABLE IF NOT EXISTS tsapi_catalog_chunks (
                 chunk text PRIMARY KEY, range_start timestamptz, range_end timestamptz,
                 changes int8 NOT NULL, accounted int8 NOT NULL DEFAULT 0);
             ALTER TABLE tsapi_daily ADD COLUMN IF NOT EXISTS trade_count int8,
                 ADD COLUMN IF NOT EXISTS vwap_notional float8,
                 ADD COLUMN IF NOT EXISTS vwap_volume int8,
                 ADD COLUMN IF NOT EXISTS last_trade_count int8,
                 ADD COLUMN IF NOT EXISTS last_vwap float8;
             ALTER TABLE tsapi_catalog ADD COLUMN IF NOT EXISTS trade_count int8,
                 ADD COLUMN IF NOT EXISTS vwap float8, {}, {};",
            day("day1"),
            day("day2"),
            day_stats("day1"),
            day_stats("day2")
        ))
        .await?;
    client
        .execute(
            "INSERT INTO tsapi_catalog_meta (zone) VALUES ($1) ON CONFLICT DO NOTHING",
            &[&zone.name()],
        )
        .await?;
    Ok(!current)
}

/// The catalogue's zone, or `None` when the database has no catalogue.
pub async fn zone(client: &impl GenericClient) -> Result<Option<Tz>, DbError> {
    let row = client
        .query_one(
            "SELECT to_regclass('tsapi_catalog_meta') IS NOT NULL \
               AND to_regclass('tsapi_catalog') IS NOT NULL \
               AND to_regclass('tsapi_daily') IS NOT NULL",
            &[],
        )
        .await?;
    if !row.get::<_, bool>(0) {
        return Ok(None);
    }
    let name: String = client
        .query_one("SELECT zone FROM tsapi_catalog_meta", &[])
        .await?
        .get(0);
    name.parse()
        .map(Some)
        .map_err(|_| DbError::Schema(format!("tsapi_catalog_meta.zone {name:?} is not a zone")))
}

/// Every symbol with its first and last time, in byte order.
pub async fn spans(client: &Conn) -> Result<Vec<(String, DateTime<Utc>, DateTime<Utc>)>, DbError> {
    let rows = client
        .query(
            "SELECT symbol, first_time, last_time FROM tsapi_catalog",
            &[],
        )
        .await?;
    let mut spans: Vec<(String, DateTime<Utc>, DateTime<Utc>)> = rows
        .iter()
        .map(|r| (r.get(0), r.get(1), r.get(2)))
        .collect();
    // `str` orders by bytes: the order of `COLLATE "C"`.
    spans.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(spans)
}

/// The latest bar of every symbol, in byte order.
pub async fn latest_bars(client: &Conn) -> Result<Vec<Bar>, DbError> {
    let rows = client
        .query(
            "SELECT last_time, symbol, price_open, price_high, price_low, price_close, \
                    trading_volume, trade_count, vwap FROM tsapi_catalog",
            &[],
        )
        .await?;
    let mut bars: Vec<Bar> = rows.iter().map(super::rows::bar_from_row).collect();
    bars.sort_unstable_by(|a, b| a.symbol.as_str().cmp(b.symbol.as_str()));
    Ok(bars)
}

/// The catalogue's columns, in the order [`entry`] reads them.
const ENTRY_COLUMNS: &str = "symbol, first_time, last_time, price_open, price_high, price_low, \
    price_close, trading_volume, trade_count, vwap, \
    day1, day1_open, day1_high, day1_low, day1_close, day1_volume, day1_bars, day1_trade_count, \
    day1_vwap, day2, day2_open, day2_high, day2_low, day2_close, day2_volume, day2_bars, \
    day2_trade_count, day2_vwap";

/// A daily bar from the 9 columns at `at`: day, open, high, low, close, volume, bars,
/// trade count, vwap.
fn day_bar(row: &Row, at: usize) -> Option<DailyBarRow> {
    Some(DailyBarRow {
        day: row.get::<_, Option<NaiveDate>>(at)?,
        values: bar_values(row, at + 1, at + 7),
        bars: row.get::<_, Option<i64>>(at + 6).unwrap_or(0),
    })
}

fn entry(row: &Row) -> Option<CatalogEntry> {
    Some(CatalogEntry {
        first_time: row.get(1),
        latest: Bar {
            time: row.get(2),
            symbol: Symbol::from_stored(row.get(0)),
            values: bar_values(row, 3, 8),
        },
        day1: day_bar(row, 10)?,
        day2: day_bar(row, 19),
    })
}

/// The catalogue entries of `symbols` (every symbol when `None`), in byte order (sorted
/// here: PostgreSQL's sort of the whole catalogue cost more than reading it).
pub async fn entries(
    client: &Conn,
    symbols: Option<&[Symbol]>,
) -> Result<Vec<CatalogEntry>, DbError> {
    let rows = match symbols {
        None => {
            let sql = format!("SELECT {ENTRY_COLUMNS} FROM tsapi_catalog");
            client.query(&sql, &[]).await?
        }
        Some(symbols) => {
            let names: Vec<&str> = symbols.iter().map(Symbol::as_str).collect();
            let sql = format!("SELECT {ENTRY_COLUMNS} FROM tsapi_catalog WHERE symbol = ANY($1)");
            client.query(&sql, &[(&names, Type::TEXT_ARRAY)]).await?
        }
    };
    let mut entries: Vec<CatalogEntry> = rows.iter().filter_map(entry).collect();
    entries.sort_unstable_by(|a, b| a.latest.symbol.as_str().cmp(b.latest.symbol.as_str()));
    Ok(entries)
}

/// Every symbol's daily bar of `day` (symbols without bars that day are left out).
pub async fn daily_of(
    client: &Conn,
    day: NaiveDate,
) -> Result<Vec<(String, DailyBarRow)>, DbError> {
    let rows = client
        .query(
            &format!(
                "SELECT symbol, day, price_open, price_high, price_low, price_close, \
                        trading_volume, bars, trade_count, {DAILY_VWAP} \
                 FROM tsapi_daily d WHERE day = $1"
            ),
            &[(&day, Type::DATE)],
        )
        .await?;
    let mut days: Vec<(String, DailyBarRow)> = rows
        .iter()
        .filter_map(|r| Some((r.get(0), day_bar(r, 1)?)))
        .collect();
    days.sort_unstable_by(|a, b| a.0.cmp(&b.0));
    Ok(days)
}

/// The daily aggregate of a group of rows of the table `t`: first and last time, the
/// daily bar, the count, the last bar's open, high, low and volume, then the trade count,
/// the two sums the vwap is made of ([`DAILY_VWAP`]) and the last bar's trade count and
/// vwap. Casts make tables with `real` prices or `integer` volumes read alike.
pub const DAY_AGGREGATES: &str = "min(t.time), max(t.time), first(t.price_open::float8, t.time), \
    max(t.price_high)::float8, min(t.price_low)::float8, last(t.price_close::float8, t.time), \
    sum(t.trading_volume)::int8, count(*), last(t.price_open::float8, t.time), \
    last(t.price_high::float8, t.time), last(t.price_low::float8, t.time), \
    last(t.trading_volume::int8, t.time), sum(t.trade_count)::int8, \
    sum(t.vwap * t.trading_volume), \
    (sum(t.trading_volume) FILTER (WHERE t.vwap IS NOT NULL))::int8, \
    last(t.trade_count, t.time), last(t.vwap, t.time)";

/// The columns of `tsapi_daily` that [`DAY_AGGREGATES`] fills, after `day, symbol`.
pub const DAILY_COLUMNS: &str = "day, symbol, first_time, last_time, price_open, price_high, \
    price_low, price_close, trading_volume, bars, last_open, last_high, last_low, last_volume, \
    trade_count, vwap_notional, vwap_volume, last_trade_count, last_vwap";

/// A daily row `d`'s vwap: kept as the sum of vwap × volume and the sum of those volumes,
/// so that a write adds to a day without reading its bars back.
pub const DAILY_VWAP: &str = "d.vwap_notional / nullif(d.vwap_volume, 0)::float8";

/// Rebuilds the catalogue rows of `symbols` from their daily rows: the first day's first
/// time, the newest day's last bar, the two newest daily bars. Symbols without daily rows
/// any more are removed. Three index probes per symbol on a plain table.
pub async fn derive_symbols(client: &impl GenericClient, symbols: &[&str]) -> Result<(), DbError> {
    if symbols.is_empty() {
        return Ok(());
    }
    client.execute(&derive_symbols_sql(), &[&symbols]).await?;
    Ok(())
}

/// [`derive_symbols`]' statement: `$1` the symbols.
pub fn derive_symbols_sql() -> String {
    let day = |d: &str| {
        format!(
            "{d}.day, {d}.price_open, {d}.price_high, {d}.price_low, {d}.price_close, \
             {d}.trading_volume, {d}.bars, {d}.trade_count, {}",
            DAILY_VWAP.replace("d.", &format!("{d}."))
        )
    };
    format!(
        "INSERT INTO tsapi_catalog AS c ({ENTRY_COLUMNS}) \
         SELECT s.symbol, f.first_time, d1.last_time, d1.last_open, d1.last_high, d1.last_low, \
                d1.price_close, d1.last_volume, d1.last_trade_count, d1.last_vwap, {}, {} \
         FROM unnest($1::text[]) s(symbol) \
         CROSS JOIN LATERAL (SELECT * FROM tsapi_daily d WHERE d.symbol = s.symbol \
                             ORDER BY d.day DESC LIMIT 1) d1 \
         CROSS JOIN LATERAL (SELECT d.first_time FROM tsapi_daily d WHERE d.symbol = s.symbol \
                             ORDER BY d.day ASC LIMIT 1) f \
         LEFT JOIN LATERAL (SELECT * FROM tsapi_daily d WHERE d.symbol = s.symbol \
                            ORDER BY d.day DESC OFFSET 1 LIMIT 1) d2 ON true \
         ON CONFLICT (symbol) DO UPDATE SET ({ENTRY_COLUMNS}) = ROW({})",
        day("d1"),
        day("d2"),
        ENTRY_COLUMNS
            .split(", ")
            .map(|c| format!("EXCLUDED.{}", c.trim()))
            .collect::<Vec<_>>()
            .join(", ")
    )
}

/// Removes the catalogue rows of `symbols` that have no daily rows left.
pub async fn forget_gone(client: &impl GenericClient, symbols: &[&str]) -> Result<(), DbError> {
    client
        .execute(
            "DELETE FROM tsapi_catalog c WHERE c.symbol = ANY($1::text[]) \
             AND NOT EXISTS (SELECT 1 FROM tsapi_daily d WHERE d.symbol = c.symbol)",
            &[&symbols],
        )
        .await?;
    Ok(())
}

/// `t.time` bounds of the table covering whole days `[from, to]` in `zone`, as SQL text
/// with literal times (the planner then opens only the chunks they reach).
pub fn day_span_filter(zone: Tz, from: NaiveDate, to: NaiveDate) -> Result<String, DbError> {
    let start = |d: NaiveDate| -> Result<String, DbError> {
        let t = local_midnight(zone, d)
            .ok_or_else(|| DbError::Schema(format!("day {d} has no start in {zone}")))?;
        Ok(crate::render::rfc3339(t))
    };
    let end = to
        .succ_opt()
        .ok_or_else(|| DbError::Schema(format!("day {to} has no end")))?;
    Ok(format!(
        "t.time >= '{}'::timestamptz AND t.time < '{}'::timestamptz",
        start(from)?,
        start(end)?
    ))
}

/// The first instant of `day` in `zone`, as PostgreSQL's `day::timestamp AT TIME ZONE zone`
/// gives it (a skipped midnight moves forward).
pub fn local_midnight(zone: Tz, day: NaiveDate) -> Option<DateTime<Utc>> {
    use chrono::TimeZone;
    let midnight = day.and_hms_opt(0, 0, 0)?;
    (0..4).find_map(|h| {
        zone.from_local_datetime(&(midnight + chrono::Duration::hours(h)))
            .earliest()
            .map(|t| t.with_timezone(&Utc))
    })
}
