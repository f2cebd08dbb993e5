//! The opt-in trigger that puts writes made by other tools (`psql \copy`, the tutorial's
//! Lambda, an old tsapi) on the change feed: `tsapi migrate --feed-trigger on`.
//!
//! tsapi's own writers stage their bars in bulk and mark their transaction
//! ([`ANNOUNCED_BY_WRITER`]), so the trigger skips them. For any other transaction, a row
//! trigger copies each written bar into a session's temporary table (cheap: no WAL, no
//! index) and, on its first bar, enqueues one marker row whose deferred constraint trigger
//! runs at commit: it moves the bars into `tsapi_feed_batch` as column arrays of up to
//! [`ROWS_PER_PART`] bars and appends the commit to `tsapi_feed` under the feed lock, just
//! as tsapi's writers do. A rolled-back write leaves nothing. Ids follow commit order only
//! under READ COMMITTED (PostgreSQL's default): a transaction at a stricter level cannot see
//! the newest commits, so its bars are stored and not streamed, and a warning says so.

use tokio_postgres::Transaction;

use super::feed_log::{CHANNEL, FEED_LOCK};
use super::{DbError, TABLE};

/// The transaction-local setting tsapi's writers turn on: their bars are announced by
/// tsapi itself.
pub const ANNOUNCED_BY_WRITER: &str = "tsapi.announced";

/// Bars per staged part: the listener reads a few parts per query, so its memory per read
/// stays bounded as for tsapi's own writes.
const ROWS_PER_PART: i64 = 5_000;

/// Whether `tsapi migrate` installs or removes the trigger (absent: leaves it as it is).
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum FeedTrigger {
    On,
    Off,
}

const TRIGGER: &str = "tsapi_feed_capture";

/// The functions and the marker table; created whatever the choice, so that turning the
/// trigger on later needs nothing else.
fn functions() -> String {
    format!(
        r#"
    CREATE TABLE IF NOT EXISTS tsapi_feed_pending (xid xid8 NOT NULL);
    CREATE OR REPLACE FUNCTION tsapi_feed_capture() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        n bigint := coalesce(nullif(current_setting('tsapi.captured', true), ''), '0')::bigint;
    BEGIN
        IF n = 0 THEN
            IF to_regclass('pg_temp.tsapi_feed_rows') IS NULL THEN
                CREATE TEMP TABLE tsapi_feed_rows (
                    ord bigint, symbol text, time timestamptz, o float8, h float8, l float8,
                    c float8, v int8, updated bool, tc int8, vw float8
                ) ON COMMIT DELETE ROWS;
            END IF;
            INSERT INTO tsapi_feed_pending VALUES (pg_current_xact_id());
        END IF;
        PERFORM set_config('tsapi.captured', (n + 1)::text, true);
        INSERT INTO pg_temp.tsapi_feed_rows VALUES (n, NEW.symbol, NEW.time,
            NEW.price_open, NEW.price_high, NEW.price_low, NEW.price_close,
            NEW.trading_volume, TG_OP = 'UPDATE', NEW.trade_count, NEW.vwap);
        RETURN NULL;
    END $fn$;
    CREATE OR REPLACE FUNCTION tsapi_feed_announce() RETURNS trigger LANGUAGE plpgsql AS $fn$
    DECLARE
        n bigint := current_setting('tsapi.captured', true)::bigint;
        previous_id bigint;
    BEGIN
        DELETE FROM tsapi_feed_pending WHERE xid = pg_current_xact_id();
        IF current_setting('transaction_isolation') <> 'read committed' THEN
            RAISE WARNING 'tsapi: % bars written at % isolation are stored but not streamed to live subscribers (the change feed needs read committed)',
                n, current_setting('transaction_isolation');
            RETURN NULL;
        END IF;
        INSERT INTO tsapi_feed_batch (xid, part, first, symbols, times, opens, highs, lows,
                                      closes, volumes, updated, trade_counts, vwaps)
        SELECT pg_current_xact_id(), (ord / {ROWS_PER_PART})::int, ord / {ROWS_PER_PART} * {ROWS_PER_PART},
               array_agg(symbol ORDER BY ord), array_agg(time ORDER BY ord),
               array_agg(o ORDER BY ord), array_agg(h ORDER BY ord), array_agg(l ORDER BY ord),
               array_agg(c ORDER BY ord), array_agg(v ORDER BY ord),
               array_agg(updated ORDER BY ord), array_agg(tc ORDER BY ord),
               array_agg(vw ORDER BY ord)
        FROM pg_temp.tsapi_feed_rows GROUP BY ord / {ROWS_PER_PART};
        PERFORM pg_advisory_xact_lock({FEED_LOCK});
        SELECT coalesce(max(last_id), 0) INTO previous_id FROM tsapi_feed;
        INSERT INTO tsapi_feed (first_id, last_id, xid)
        VALUES (previous_id + 1, previous_id + n, pg_current_xact_id());
        PERFORM pg_notify('{CHANNEL}', (previous_id + n)::text);
        RETURN NULL;
    END $fn$;
    DROP TRIGGER IF EXISTS tsapi_feed_announce ON tsapi_feed_pending;
    CREATE CONSTRAINT TRIGGER tsapi_feed_announce AFTER INSERT ON tsapi_feed_pending
        DEFERRABLE INITIALLY DEFERRED FOR EACH ROW EXECUTE FUNCTION tsapi_feed_announce();"#
    )
}

/// Installs or removes the trigger on the bars table, in the migration's transaction.
pub async fn apply(tx: &Transaction<'_>, choice: Option<FeedTrigger>) -> Result<(), DbError> {
    // `DROP ... IF EXISTS` of a missing trigger is routine here, not news.
    tx.batch_execute("SET LOCAL client_min_messages = warning")
        .await?;
    tx.batch_execute(&functions()).await?;
    match choice {
        None => Ok(()),
        Some(FeedTrigger::Off) => Ok(tx
            .batch_execute(&format!("DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE}"))
            .await?),
        Some(FeedTrigger::On) => Ok(tx
            .batch_execute(&format!(
                "DROP TRIGGER IF EXISTS {TRIGGER} ON {TABLE};
                 CREATE TRIGGER {TRIGGER} AFTER INSERT OR UPDATE ON {TABLE} FOR EACH ROW
                 WHEN (current_setting('{ANNOUNCED_BY_WRITER}', true) IS DISTINCT FROM 'on')
                 EXECUTE FUNCTION tsapi_feed_capture()"
            ))
            .await?),
    }
}
