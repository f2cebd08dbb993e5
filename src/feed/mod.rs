//! The change feed: committed bars pushed to subscribers, on any number of instances.
//!
//! Writers announce their commits through the database (see `db::feed_log`): every bar
//! gets an event id in commit order. Each instance runs one [`listener`] that follows the
//! log and hands bars to the [`hub`], which fans them out to subscribers (SSE, WebSocket,
//! the Alpaca stream) and keeps each symbol's latest bar in memory.
//!
//! "Missed" is by commit, not by bar time: a subscriber resuming after id N gets every bar
//! committed after N, in commit order, whatever its time (a backfilled bar from last year
//! is a new event), exactly once, as long as the log still holds it (the replay window).

pub mod hub;
pub mod listener;
pub mod subscription;

use std::sync::Arc;

use chrono::TimeDelta;

pub use hub::{FeedEvent, Item, Refusal, Selection, Status};
pub use listener::ListenConfig;
pub use subscription::Subscription;

use crate::db::PgPool;
use crate::domain::Bar;

/// Limits of subscriptions.
#[derive(Debug, Clone, Copy)]
pub struct FeedLimits {
    /// Events a subscriber may have waiting before it is dropped as lagged.
    pub queue: usize,
    /// Most subscribers at once on this instance.
    pub max_subscribers: usize,
    /// Most symbols in one subscription.
    pub max_symbols: usize,
}

/// A handle on the running feed; cheap to clone.
#[derive(Clone)]
pub struct Feed {
    hub: Arc<Hub>,
    /// Connections for replays from the log.
    pool: PgPool,
    pub limits: FeedLimits,
}

use hub::Hub;

impl Feed {
    /// Starts the listener in the background; the feed is live once it has connected.
    pub fn start(config: ListenConfig, pool: PgPool, limits: FeedLimits) -> Self {
        let hub = Arc::new(Hub::new(limits.queue, limits.max_subscribers));
        tokio::spawn(listener::run(hub.clone(), config));
        Self { hub, pool, limits }
    }

    /// Subscribes to `selection`; with `since`, first every bar committed after that id
    /// (still in the log), then live ones.
    pub async fn subscribe(
        &self,
        selection: Selection,
        since: Option<i64>,
    ) -> Result<Subscription, Refusal> {
        if !self
            .hub
            .wait_started(std::time::Duration::from_secs(5))
            .await
        {
            return Err(Refusal::NotStarted);
        }
        let registration = self.hub.register(selection.clone())?;
        Ok(Subscription::new(
            self.hub.clone(),
            self.pool.clone(),
            registration,
            selection,
            since,
        ))
    }

    /// The latest bar of `symbol` from memory, or `None` when the database must answer
    /// (the feed is down, behind this instance's own writes, or holds nothing for it).
    pub fn latest(&self, symbol: &str) -> Option<Bar> {
        self.hub.latest(symbol)
    }

    /// Records that this instance acknowledged a write announced as `id`.
    pub fn acknowledge(&self, id: Option<i64>) {
        if let Some(id) = id {
            self.hub.acknowledge(id);
        }
    }

    pub fn is_live(&self) -> bool {
        self.hub.is_live()
    }

    pub fn subscribers(&self) -> usize {
        self.hub.subscribers()
    }
}

/// How far back from the newest bar the latest bars are read at start.
pub const FILL_SPAN: TimeDelta = TimeDelta::days(1);

/// The feed as `tsapi serve`'s settings ask for it.
pub fn start_for(args: &crate::config::ServeArgs, pool: PgPool) -> anyhow::Result<Feed> {
    let stream = &args.stream;
    let pg = match &stream.listen_database_url {
        Some(url) => {
            let mut pg: tokio_postgres::Config = url.expose().parse().map_err(|e| {
                crate::config::ConfigError(format!(
                    "TSAPI_LISTEN_DATABASE_URL is not a valid PostgreSQL URL: {e}"
                ))
            })?;
            pg.connect_timeout(std::time::Duration::from_secs(5));
            pg
        }
        None => args.database.pg_config()?,
    };
    let mut pg = pg;
    pg.application_name("tsapi-feed");
    let tls = crate::db::DbTls::for_database(&args.database, &pg)?;
    let window = TimeDelta::from_std(stream.stream_replay_window).unwrap_or(TimeDelta::hours(1));
    let config = ListenConfig {
        pg,
        tls,
        window,
        fill_span: FILL_SPAN,
    };
    let limits = FeedLimits {
        queue: stream.stream_queue,
        max_subscribers: stream.stream_max_subscribers,
        max_symbols: stream.stream_max_symbols,
    };
    Ok(Feed::start(config, pool, limits))
}
