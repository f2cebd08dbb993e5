//! The change feed's log: every committed write announces its bars through the database.
//!
//! A write stages its bars during its transaction (`tsapi_feed_batch`: the batch's binary
//! COPY bytes for plain inserts, column arrays of the merged rows for upserts), then at
//! commit takes the feed lock, appends one row to `tsapi_feed` naming the range of event
//! ids its bars get, and sends `NOTIFY tsapi_feed`. The lock is held only from that append
//! to the commit, so ids follow commit order: a listener that has read up to id N has seen
//! every bar with an id up to N, and a rolled-back write is never announced. Listeners
//! read bars from the log, which also serves catch-up after a disconnect.

use bytes::{Buf, Bytes};
use chrono::{DateTime, TimeDelta, Utc};
use tokio_postgres::ToStatement;
use tokio_postgres::{Client, GenericClient, Statement, Transaction};

use super::write_statements::Prepared;
use super::{DbError, TABLE};
use crate::domain::{Bar, BarValues, Symbol};

/// The channel writers notify and listeners listen on.
pub const CHANNEL: &str = "tsapi_feed";

/// Serializes the appends to `tsapi_feed` with the commits that follow them.
pub(super) const FEED_LOCK: i64 = 0x7473_6170_6901;

/// The feed's tables, created by `tsapi migrate`. Payloads are stored uncompressed
/// (`EXTERNAL`): they are written once and read a few times, so compressing them costs
/// the writer more than it saves.
pub const SCHEMA: &str = "
    CREATE TABLE IF NOT EXISTS tsapi_feed (
        last_id      bigint PRIMARY KEY,
        first_id     bigint NOT NULL,
        xid          xid8 NOT NULL,
        committed_at timestamptz NOT NULL DEFAULT now()
    );
    CREATE INDEX IF NOT EXISTS tsapi_feed_committed_at ON tsapi_feed (committed_at);
    CREATE TABLE IF NOT EXISTS tsapi_feed_batch (
        xid      xid8 NOT NULL,
        part     integer NOT NULL,
        first    bigint NOT NULL,
        copy     bytea,
        symbols  text[],
        times    timestamptz[],
        opens    float8[],
        highs    float8[],
        lows     float8[],
        closes   float8[],
        volumes  int8[],
        updated  bool[]
    );
    ALTER TABLE tsapi_feed_batch ADD COLUMN IF NOT EXISTS trade_counts int8[],
        ADD COLUMN IF NOT EXISTS vwaps float8[];
    CREATE INDEX IF NOT EXISTS tsapi_feed_batch_xid ON tsapi_feed_batch (xid, part);
    ALTER TABLE tsapi_feed_batch ALTER COLUMN copy SET STORAGE EXTERNAL;";

/// Whether the feed's tables exist as this version writes them (a table made the
/// tutorial's way has none, and one migrated by an older tsapi lacks the columns of
/// `trade_count` and `vwap` until `tsapi migrate` runs again: then writes are not
/// announced).
pub async fn feed_exists(client: &impl GenericClient) -> Result<bool, DbError> {
    Ok(client
        .query_one(
            "SELECT to_regclass('tsapi_feed') IS NOT NULL \
               AND (SELECT count(*) = 2 FROM pg_attribute \
                    WHERE attrelid = to_regclass('tsapi_feed_batch') \
                      AND attname IN ('trade_counts', 'vwaps') AND NOT attisdropped)",
            &[],
        )
        .await?
        .get(0))
}

/// A write's share of the feed: its staged batches and their bar count.
pub struct FeedWriter {
    stage: Statement,
    parts: i32,
    bars: i64,
}

impl FeedWriter {
    /// Prepared at the start of a write whose table has a feed.
    pub async fn prepare(tx: &Transaction<'_>, prepared: Prepared<'_>) -> Result<Self, DbError> {
        // Pipelined with the prepare: marks the transaction as announcing its own bars, so
        // the opt-in trigger for other tools' writes (`feed_trigger`) skips them.
        let mark = format!(
            "SELECT set_config('{}', 'on', true)",
            super::feed_trigger::ANNOUNCED_BY_WRITER
        );
        let (stage, ()) = tokio::try_join!(
            prepared.prepare(
                tx,
                "INSERT INTO tsapi_feed_batch (xid, part, first, copy) \
                 VALUES (pg_current_xact_id(), $1, $2, $3)",
            ),
            async { Ok(tx.batch_execute(&mark).await?) },
        )?;
        Ok(Self {
            stage,
            parts: 0,
            bars: 0,
        })
    }

    /// Stages one batch of inserted bars (binary COPY bytes, as sent to the table).
    pub async fn stage_copy(
        &mut self,
        tx: &Transaction<'_>,
        bytes: &Bytes,
        rows: u64,
    ) -> Result<(), DbError> {
        let payload: &[u8] = bytes;
        tx.execute(&self.stage, &[&self.parts, &self.bars, &payload])
            .await?;
        self.parts += 1;
        self.bars += rows as i64;
        Ok(())
    }

    /// Counts the bars an upsert staged through [`MERGE_FEED_CTE`] (always part 0).
    pub fn staged_merge(&mut self, rows: u64) {
        self.bars += rows as i64;
    }

    /// Appends the commit's row and notifies; call last before `COMMIT`. The id of the
    /// write's last bar, or `None` when it stored nothing.
    pub async fn announce(self, tx: &Transaction<'_>) -> Result<Option<i64>, DbError> {
        if self.bars == 0 {
            return Ok(None);
        }
        // Simple-query protocol: the lock, then the append in a new snapshot that sees the
        // commit of the lock's previous holder, in one round trip.
        let sql = format!(
            "SELECT pg_advisory_xact_lock({FEED_LOCK}); \
             WITH last AS (SELECT coalesce(max(last_id), 0) AS id FROM tsapi_feed), \
             appended AS (INSERT INTO tsapi_feed (first_id, last_id, xid) \
               SELECT id + 1, id + {n}, pg_current_xact_id() FROM last RETURNING last_id) \
             SELECT last_id, pg_notify('{CHANNEL}', last_id::text) FROM appended",
            n = self.bars
        );
        let messages = tx.simple_query(&sql).await?;
        let id = messages.iter().find_map(|m| match m {
            tokio_postgres::SimpleQueryMessage::Row(row) => row.get(0)?.parse::<i64>().ok(),
            _ => None,
        });
        Ok(id)
    }
}

/// The part of an upsert's merge statement that stages the merged rows for the feed. It
/// reads the `merged` CTE (columns plus `inserted`). Array aggregates over the same rows
/// keep their order, so the arrays line up.
pub const MERGE_FEED_CTE: &str = ", feed AS ( \
    INSERT INTO tsapi_feed_batch (xid, part, first, symbols, times, opens, highs, lows, closes, \
      volumes, updated, trade_counts, vwaps) \
    SELECT pg_current_xact_id(), 0, 0, array_agg(symbol::text), array_agg(time), \
      array_agg(price_open::float8), array_agg(price_high::float8), array_agg(price_low::float8), \
      array_agg(price_close::float8), array_agg(trading_volume::int8), array_agg(NOT inserted), \
      array_agg(trade_count), array_agg(vwap) \
    FROM merged HAVING count(*) > 0)";

/// One bar of the feed with its event id.
#[derive(Debug, Clone, PartialEq)]
pub struct FeedBar {
    /// Commit order across every writer: the resume point of subscribers.
    pub id: i64,
    /// An upsert replaced a stored bar (rather than inserting a new one).
    pub updated: bool,
    pub bar: Bar,
}

/// Where a reader of the log stands: the last staged batch it has read.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LogCursor {
    pub commit: i64,
    pub part: i32,
}

/// Batches read per query: bounds the memory of one read (a batch holds up to the
/// writer's batch size of bars).
const BATCHES_PER_READ: i64 = 8;

/// The log's bars after a cursor: `$1`, `$2` = the cursor, `$3` = most batches. The bound
/// on `last_id` alone lets the planner walk `tsapi_feed`'s primary key from the cursor on
/// (a row comparison over both tables would hash-join the whole log, which grows with the
/// replay window). Prepare it once where a connection reads the log repeatedly.
pub const READ_AFTER: &str = "SELECT f.last_id, f.first_id, b.part, b.first, b.copy, b.symbols, \
        b.times, b.opens, b.highs, b.lows, b.closes, b.volumes, b.updated, b.trade_counts, b.vwaps \
     FROM tsapi_feed f JOIN tsapi_feed_batch b ON b.xid = f.xid \
     WHERE f.last_id >= $1 AND (f.last_id > $1 OR b.part > $2) \
     ORDER BY f.last_id, b.part LIMIT $3";

/// What one read of the log found.
pub struct LogRead {
    /// Oldest first.
    pub bars: Vec<FeedBar>,
    /// Past the batches read (the same cursor when none were).
    pub cursor: LogCursor,
    /// The read was full: more batches may follow at once.
    pub more: bool,
}

/// Bars committed after `after` (by batch), through [`READ_AFTER`] (as text or prepared).
/// Staged batches hold every bar of their commit from `first` on.
pub async fn read_after<S>(
    client: &impl GenericClient,
    read: &S,
    after: LogCursor,
) -> Result<LogRead, DbError>
where
    S: ?Sized + ToStatement + Sync + Send,
{
    let rows = client
        .query(read, &[&after.commit, &after.part, &BATCHES_PER_READ])
        .await?;
    let mut bars = Vec::new();
    let mut cursor = after;
    for row in &rows {
        let first_id: i64 = row.get(1);
        let offset: i64 = row.get(3);
        let start = first_id + offset;
        match row.get::<_, Option<&[u8]>>(4) {
            Some(copy) => decode_copy(copy, start, &mut bars)?,
            None => decode_arrays(row, start, &mut bars)?,
        }
        cursor = LogCursor {
            commit: row.get(0),
            part: row.get(2),
        };
    }
    Ok(LogRead {
        bars,
        cursor,
        more: rows.len() as i64 == BATCHES_PER_READ,
    })
}

/// The newest id in the log (0 when nothing was ever announced), and the oldest still
/// kept: bars with ids below it are gone from the log.
pub async fn log_bounds(client: &impl GenericClient) -> Result<(i64, i64), DbError> {
    let row = client
        .query_one(
            "SELECT coalesce(max(last_id), 0), coalesce(min(first_id), 1) FROM tsapi_feed",
            &[],
        )
        .await?;
    Ok((row.get(0), row.get(1)))
}

/// The cursor from which reading yields every bar with an id above `after`: past the last
/// commit that ends at or before it. The commit holding `after` is read whole, so the
/// caller skips its bars up to `after`.
pub async fn cursor_for(client: &impl GenericClient, after: i64) -> Result<LogCursor, DbError> {
    let commit: Option<i64> = client
        .query_one(
            "SELECT max(last_id) FROM tsapi_feed WHERE last_id <= $1",
            &[&after],
        )
        .await?
        .get(0);
    Ok(LogCursor {
        commit: commit.unwrap_or(0),
        part: i32::MAX,
    })
}

/// Drops commits older than `window`, keeping the newest so ids never start over.
pub async fn prune(client: &Client, window: TimeDelta) -> Result<u64, DbError> {
    let cutoff: DateTime<Utc> = Utc::now() - window;
    let removed = client
        .execute(
            "WITH gone AS (DELETE FROM tsapi_feed WHERE committed_at < $1 \
               AND last_id < (SELECT max(last_id) FROM tsapi_feed) RETURNING xid) \
             DELETE FROM tsapi_feed_batch b USING gone WHERE b.xid = gone.xid",
            &[&cutoff],
        )
        .await?;
    Ok(removed)
}

/// A session connection that listens on [`CHANNEL`]: the client for reading the log, and
/// a receiver that yields once per notification (closed when the connection drops).
pub async fn listen(
    pg: &tokio_postgres::Config,
    tls: &super::DbTls,
) -> Result<(Client, tokio::sync::mpsc::Receiver<()>), DbError> {
    use futures_util::StreamExt;
    use tokio_postgres::AsyncMessage;
    let (ping, notes) = tokio::sync::mpsc::channel(1);
    // A notification only says "read the log": one pending wake-up is enough.
    async fn drive<S, T>(
        mut connection: tokio_postgres::Connection<S, T>,
        ping: tokio::sync::mpsc::Sender<()>,
    ) where
        S: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
        T: tokio::io::AsyncRead + tokio::io::AsyncWrite + Unpin,
    {
        let mut messages = futures_util::stream::poll_fn(move |cx| connection.poll_message(cx));
        while let Some(message) = messages.next().await {
            match message {
                Ok(AsyncMessage::Notification(_)) => {
                    let _ = ping.try_send(());
                }
                Ok(_) => {}
                Err(e) => {
                    tracing::warn!(error = %e, "the feed's listening connection failed");
                    break;
                }
            }
        }
    }
    let client = match tls {
        super::DbTls::Off => {
            let (client, connection) = pg.connect(tokio_postgres::NoTls).await?;
            tokio::spawn(drive(connection, ping));
            client
        }
        super::DbTls::Verified(rustls) => {
            let (client, connection) = pg.connect(rustls.clone()).await?;
            tokio::spawn(drive(connection, ping));
            client
        }
    };
    client.batch_execute(&format!("LISTEN {CHANNEL}")).await?;
    Ok((client, notes))
}

/// The latest bar of each symbol with bars since `complete_since`, and that bound.
pub struct RecentBars {
    /// Every symbol with a bar at or after this time has its latest bar in `bars`.
    pub complete_since: DateTime<Utc>,
    pub bars: Vec<Bar>,
}

/// The latest bar of each symbol with bars in the last `span` before the newest bar: the
/// feed's starting point for latest-bar answers, cheap because the time bound keeps the
/// scan to the newest chunks.
pub async fn latest_recent(
    client: &impl GenericClient,
    span: TimeDelta,
) -> Result<RecentBars, DbError> {
    let newest: Option<DateTime<Utc>> = client
        .query_one(&format!("SELECT max(time) FROM {TABLE}"), &[])
        .await?
        .get(0);
    let Some(newest) = newest else {
        return Ok(RecentBars {
            complete_since: DateTime::<Utc>::MIN_UTC,
            bars: Vec::new(),
        });
    };
    let complete_since = newest - span;
    let rows = client
        .query(
            &format!(
                "SELECT time, symbol::text, price_open::float8, price_high::float8, \
                        price_low::float8, price_close::float8, trading_volume::int8, \
                        trade_count, vwap \
                 FROM {TABLE} WHERE time >= $1 ORDER BY symbol, time DESC"
            ),
            &[&complete_since],
        )
        .await?;
    let mut bars: Vec<Bar> = Vec::new();
    for row in rows {
        let symbol: &str = row.get(1);
        if bars.last().is_some_and(|b| b.symbol.as_str() == symbol) {
            continue;
        }
        bars.push(super::rows::bar_from_row(&row));
    }
    Ok(RecentBars {
        complete_since,
        bars,
    })
}

/// Microseconds from the Unix epoch to PostgreSQL's (2000-01-01 UTC).
const PG_EPOCH_MICROS: i64 = 946_684_800_000_000;

fn bad(what: &str) -> DbError {
    DbError::Schema(format!("the feed log holds a malformed batch: {what}"))
}

/// Reads a binary COPY stream of (time, symbol, open, high, low, close, volume[, trade
/// count, vwap]) rows. Widths tell the types apart (real or double, smallint, integer or
/// bigint).
fn decode_copy(mut buf: &[u8], start: i64, out: &mut Vec<FeedBar>) -> Result<(), DbError> {
    if buf.len() < 19 || &buf[..11] != b"PGCOPY\n\xff\r\n\0" {
        return Err(bad("no COPY header"));
    }
    buf.advance(19);
    let mut id = start;
    loop {
        if buf.remaining() < 2 {
            return Err(bad("truncated"));
        }
        let fields = buf.get_i16();
        if fields == -1 {
            return Ok(());
        }
        if fields != 7 && fields != 9 {
            return Err(bad("unexpected column count"));
        }
        let mut cells: [Option<&[u8]>; 9] = [None; 9];
        for cell in &mut cells[..fields as usize] {
            if buf.remaining() < 4 {
                return Err(bad("truncated"));
            }
            let len = buf.get_i32();
            if len >= 0 {
                let len = len as usize;
                if buf.remaining() < len {
                    return Err(bad("truncated"));
                }
                *cell = Some(&buf[..len]);
                buf.advance(len);
            }
        }
        let micros = cells[0]
            .filter(|c| c.len() == 8)
            .ok_or_else(|| bad("time"))?;
        let micros = i64::from_be_bytes(micros.try_into().expect("8 bytes")) + PG_EPOCH_MICROS;
        let time = DateTime::from_timestamp_micros(micros).ok_or_else(|| bad("time"))?;
        let symbol = cells[1]
            .and_then(|s| std::str::from_utf8(s).ok())
            .ok_or_else(|| bad("symbol"))?;
        let price = |c: Option<&[u8]>| match c {
            Some(b) if b.len() == 4 => Some(f32::from_be_bytes(b.try_into().unwrap()) as f64),
            Some(b) if b.len() == 8 => Some(f64::from_be_bytes(b.try_into().unwrap())),
            _ => None,
        };
        let integer = |c: Option<&[u8]>| match c {
            Some(b) if b.len() == 2 => Some(i16::from_be_bytes(b.try_into().unwrap()) as i64),
            Some(b) if b.len() == 4 => Some(i32::from_be_bytes(b.try_into().unwrap()) as i64),
            Some(b) if b.len() == 8 => Some(i64::from_be_bytes(b.try_into().unwrap())),
            _ => None,
        };
        out.push(FeedBar {
            id,
            updated: false,
            bar: Bar {
                time,
                symbol: Symbol::from_stored(symbol.to_owned()),
                values: BarValues {
                    price_open: price(cells[2]),
                    price_high: price(cells[3]),
                    price_low: price(cells[4]),
                    price_close: price(cells[5]),
                    trading_volume: integer(cells[6]),
                    trade_count: integer(cells[7]),
                    vwap: price(cells[8]),
                },
            },
        });
        id += 1;
    }
}

/// Reads the column arrays an upsert staged.
fn decode_arrays(
    row: &tokio_postgres::Row,
    start: i64,
    out: &mut Vec<FeedBar>,
) -> Result<(), DbError> {
    let symbols: Vec<String> = row.try_get(5)?;
    let times: Vec<DateTime<Utc>> = row.try_get(6)?;
    let prices: [Vec<Option<f64>>; 4] = [
        row.try_get(7)?,
        row.try_get(8)?,
        row.try_get(9)?,
        row.try_get(10)?,
    ];
    let volumes: Vec<Option<i64>> = row.try_get(11)?;
    let updated: Vec<bool> = row.try_get(12)?;
    let n = symbols.len();
    // Null in batches staged before the columns existed.
    let trade_counts: Vec<Option<i64>> = row.try_get::<_, Option<_>>(13)?.unwrap_or(vec![None; n]);
    let vwaps: Vec<Option<f64>> = row.try_get::<_, Option<_>>(14)?.unwrap_or(vec![None; n]);
    if [
        times.len(),
        volumes.len(),
        updated.len(),
        trade_counts.len(),
        vwaps.len(),
    ]
    .iter()
    .any(|len| *len != n)
    {
        return Err(bad("arrays of different lengths"));
    }
    if prices.iter().any(|p| p.len() != n) {
        return Err(bad("arrays of different lengths"));
    }
    for (i, symbol) in symbols.into_iter().enumerate() {
        out.push(FeedBar {
            id: start + i as i64,
            updated: updated[i],
            bar: Bar {
                time: times[i],
                symbol: Symbol::from_stored(symbol),
                values: BarValues {
                    price_open: prices[0][i],
                    price_high: prices[1][i],
                    price_low: prices[2][i],
                    price_close: prices[3][i],
                    trading_volume: volumes[i],
                    trade_count: trade_counts[i],
                    vwap: vwaps[i],
                },
            },
        });
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::db::{CopyEncoder, TableInfo};
    use crate::domain::VolumeRange;
    use tokio_postgres::types::Type;

    #[test]
    fn copy_bytes_decode_to_the_bars_encoded() {
        let table = TableInfo {
            column_types: vec![
                Type::TIMESTAMPTZ,
                Type::TEXT,
                Type::FLOAT8,
                Type::FLOAT4,
                Type::FLOAT8,
                Type::FLOAT8,
                Type::INT4,
                Type::INT8,
                Type::FLOAT8,
            ],
            trade_stats: true,
            volume: VolumeRange::INTEGER,
            has_unique_key: true,
            has_feed: true,
            catalog_zone: None,
        };
        let bar = |s: &str, close: Option<f64>, v: Option<i64>| Bar {
            time: "2024-03-01T14:30:00.123456Z".parse().unwrap(),
            symbol: Symbol::parse(s).unwrap(),
            values: BarValues {
                price_open: Some(1.25),
                price_high: Some(2.5),
                price_low: None,
                price_close: close,
                trading_volume: v,
                trade_count: v.map(|v| v / 2),
                vwap: close.map(|c| c - 0.125),
            },
        };
        let bars = vec![bar("AAPL", Some(3.0), Some(17)), bar("BRK.B", None, None)];
        let batch = CopyEncoder::new(&table).encode(&bars);
        let mut out = Vec::new();
        decode_copy(&batch.bytes, 41, &mut out).unwrap();
        assert_eq!(out.len(), 2);
        assert_eq!((out[0].id, out[1].id), (41, 42));
        assert_eq!(out[0].bar, bars[0]);
        assert_eq!(out[1].bar, bars[1]);
        assert!(decode_copy(&batch.bytes[..batch.bytes.len() - 3], 1, &mut out).is_err());
    }
}
