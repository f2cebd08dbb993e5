//! Fan-out: who listens to which symbols, each with a bounded queue, and the latest bar
//! of each symbol.
//!
//! The listener publishes bars here in commit order. Each bar goes only to subscribers of
//! its symbol (and of `*`), by `try_send`: a subscriber whose queue is full is dropped and
//! told it lagged, so a slow client never slows the listener, the writers or the others.

use std::collections::{HashMap, HashSet};
use std::sync::atomic::{AtomicBool, AtomicI64, Ordering};
use std::sync::{Arc, Mutex, OnceLock, RwLock};

use tokio::sync::mpsc;

use chrono::{DateTime, Utc};

use crate::db::FeedBar;
use crate::db::feed::RecentBars;
use crate::domain::Bar;

/// One bar of the feed as subscribers share it; its JSON is made once, on first use.
#[derive(Debug)]
pub struct FeedEvent {
    pub bar: FeedBar,
    json: OnceLock<String>,
}

impl FeedEvent {
    pub fn new(bar: FeedBar) -> Self {
        Self {
            bar,
            json: OnceLock::new(),
        }
    }

    /// The bar as JSON, with the tutorial's field names.
    pub fn json(&self) -> &str {
        self.json
            .get_or_init(|| serde_json::to_string(&self.bar.bar).unwrap_or_default())
    }
}

/// The state of the feed, as subscribers are told of it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Status {
    /// The listener lost the database; bars are delayed, not lost, until it is back.
    Reconnecting,
    /// The listener is connected and caught up.
    Live,
    /// Bars with ids in `(after, resumed_before)` are no longer in the log: they cannot be
    /// sent. Happens past the replay window.
    Gap { after: i64, resumed_before: i64 },
}

/// What a subscriber's queue carries.
#[derive(Debug, Clone)]
pub enum Item {
    Bar(Arc<FeedEvent>),
    Status(Status),
}

/// Which symbols a subscription wants.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Selection {
    All,
    Symbols(HashSet<String>),
}

impl Selection {
    pub fn matches(&self, symbol: &str) -> bool {
        match self {
            Self::All => true,
            Self::Symbols(set) => set.contains(symbol),
        }
    }
}

struct Sub {
    tx: mpsc::Sender<Item>,
    selection: Selection,
    lagged: Arc<AtomicBool>,
}

#[derive(Default)]
struct Registry {
    next_id: u64,
    subs: HashMap<u64, Sub>,
    by_symbol: HashMap<String, HashSet<u64>>,
    all: HashSet<u64>,
}

impl Registry {
    fn index(&mut self, id: u64, selection: &Selection) {
        match selection {
            Selection::All => {
                self.all.insert(id);
            }
            Selection::Symbols(set) => {
                for s in set {
                    self.by_symbol.entry(s.clone()).or_default().insert(id);
                }
            }
        }
    }

    fn unindex(&mut self, id: u64, selection: &Selection) {
        match selection {
            Selection::All => {
                self.all.remove(&id);
            }
            Selection::Symbols(set) => {
                for s in set {
                    if let Some(ids) = self.by_symbol.get_mut(s) {
                        ids.remove(&id);
                        if ids.is_empty() {
                            self.by_symbol.remove(s);
                        }
                    }
                }
            }
        }
    }

    fn remove(&mut self, id: u64) {
        if let Some(sub) = self.subs.remove(&id) {
            self.unindex(id, &sub.selection);
        }
    }

    /// Queues `item` for `id`; a full queue drops the subscriber as lagged.
    fn offer(&mut self, id: u64, item: Item, dropped: &mut Vec<u64>) {
        let Some(sub) = self.subs.get(&id) else {
            return;
        };
        match sub.tx.try_send(item) {
            Ok(()) => {}
            Err(mpsc::error::TrySendError::Full(_)) => {
                sub.lagged.store(true, Ordering::Release);
                dropped.push(id);
            }
            Err(mpsc::error::TrySendError::Closed(_)) => dropped.push(id),
        }
    }
}

/// Why a subscription was refused.
#[derive(Debug, thiserror::Error)]
pub enum Refusal {
    #[error("this server already streams to its limit of {0} subscribers; retry later")]
    TooManySubscribers(usize),
    #[error("the change feed has not reached the database yet; retry shortly")]
    NotStarted,
}

/// Each symbol's latest bar, held only where it is known for sure.
#[derive(Default)]
struct LatestBars {
    by_symbol: HashMap<String, Bar>,
    /// The fill read every symbol with a bar at or after this time. A new bar of a symbol
    /// not held is that symbol's latest only from this time on: an older one may be a
    /// backfill behind newer bars in the database. `None` until the first fill.
    complete_since: Option<DateTime<Utc>>,
}

impl LatestBars {
    fn offer(&mut self, bar: &Bar) {
        let latest = match self.by_symbol.get(bar.symbol.as_str()) {
            Some(held) => bar.time >= held.time,
            None => self.complete_since.is_some_and(|since| bar.time >= since),
        };
        if latest {
            self.by_symbol
                .insert(bar.symbol.as_str().to_owned(), bar.clone());
        }
    }
}

/// The shared fan-out state.
pub struct Hub {
    registry: Mutex<Registry>,
    latest: RwLock<LatestBars>,
    /// The id of the last bar published.
    cursor: AtomicI64,
    /// Connected and caught up: the latest bars in memory are current.
    live: AtomicBool,
    /// The highest feed id of a write this instance acknowledged: until the listener has
    /// passed it, latest-bar answers come from the database (read your own writes).
    acknowledged: AtomicI64,
    queue: usize,
    max_subscribers: usize,
    /// Set once the listener has found where the log stands; subscriptions wait for it.
    started: tokio::sync::watch::Sender<bool>,
}

/// A registered subscriber's end: its queue, and whether it was dropped for lagging.
pub struct Registration {
    pub id: u64,
    pub rx: mpsc::Receiver<Item>,
    pub lagged: Arc<AtomicBool>,
    /// The hub's cursor when registered: every later bar comes through `rx`.
    pub cursor: i64,
}

impl Hub {
    pub fn new(queue: usize, max_subscribers: usize) -> Self {
        Self {
            registry: Mutex::default(),
            latest: RwLock::default(),
            cursor: AtomicI64::new(0),
            live: AtomicBool::new(false),
            acknowledged: AtomicI64::new(0),
            queue: queue.max(1),
            max_subscribers,
            started: tokio::sync::watch::Sender::new(false),
        }
    }

    pub fn register(&self, selection: Selection) -> Result<Registration, Refusal> {
        let mut registry = self.registry.lock().expect("registry lock");
        if registry.subs.len() >= self.max_subscribers {
            return Err(Refusal::TooManySubscribers(self.max_subscribers));
        }
        let (tx, rx) = mpsc::channel(self.queue);
        let lagged = Arc::new(AtomicBool::new(false));
        registry.next_id += 1;
        let id = registry.next_id;
        registry.index(id, &selection);
        registry.subs.insert(
            id,
            Sub {
                tx,
                selection,
                lagged: lagged.clone(),
            },
        );
        metrics::gauge!("tsapi_stream_subscribers").set(registry.subs.len() as f64);
        Ok(Registration {
            id,
            rx,
            lagged,
            cursor: self.cursor.load(Ordering::Acquire),
        })
    }

    /// Changes what a subscriber receives from now on.
    pub fn reselect(&self, id: u64, selection: Selection) {
        let mut registry = self.registry.lock().expect("registry lock");
        let Some(old) = registry.subs.get(&id).map(|s| s.selection.clone()) else {
            return;
        };
        registry.unindex(id, &old);
        registry.index(id, &selection);
        if let Some(sub) = registry.subs.get_mut(&id) {
            sub.selection = selection;
        }
    }

    pub fn unregister(&self, id: u64) {
        let mut registry = self.registry.lock().expect("registry lock");
        registry.remove(id);
        metrics::gauge!("tsapi_stream_subscribers").set(registry.subs.len() as f64);
    }

    /// Sends bars (in id order) to their subscribers and keeps the latest bar per symbol.
    pub fn publish(&self, bars: Vec<FeedBar>) {
        let Some(last) = bars.last().map(|b| b.id) else {
            return;
        };
        {
            let mut latest = self.latest.write().expect("latest lock");
            for b in &bars {
                latest.offer(&b.bar);
            }
        }
        metrics::counter!("tsapi_stream_bars_total").increment(bars.len() as u64);
        let mut registry = self.registry.lock().expect("registry lock");
        let mut dropped = Vec::new();
        for bar in bars {
            let event = Arc::new(FeedEvent::new(bar));
            let symbol = event.bar.bar.symbol.as_str();
            let targets: Vec<u64> = registry
                .by_symbol
                .get(symbol)
                .into_iter()
                .flatten()
                .chain(registry.all.iter())
                .copied()
                .collect();
            for id in targets {
                registry.offer(id, Item::Bar(event.clone()), &mut dropped);
            }
        }
        // Under the registry lock: a subscriber registered after this sees the new cursor
        // and none of these bars, one registered before sees them all.
        self.cursor.store(last, Ordering::Release);
        for id in dropped {
            registry.remove(id);
        }
    }

    /// Tells every subscriber the feed's state.
    pub fn tell(&self, status: Status) {
        let mut registry = self.registry.lock().expect("registry lock");
        let mut dropped = Vec::new();
        let ids: Vec<u64> = registry.subs.keys().copied().collect();
        for id in ids {
            registry.offer(id, Item::Status(status.clone()), &mut dropped);
        }
        for id in dropped {
            registry.remove(id);
        }
    }

    pub fn cursor(&self) -> i64 {
        self.cursor.load(Ordering::Acquire)
    }

    /// Sets where publishing starts (the listener's first connection) without bars.
    pub fn start_at(&self, id: i64) {
        let registry = self.registry.lock().expect("registry lock");
        self.cursor.store(id, Ordering::Release);
        drop(registry);
        self.started.send_replace(true);
    }

    /// Waits until the listener has started, at most `wait`; whether it has.
    pub async fn wait_started(&self, wait: std::time::Duration) -> bool {
        let mut started = self.started.subscribe();
        tokio::time::timeout(wait, started.wait_for(|s| *s))
            .await
            .is_ok_and(|r| r.is_ok())
    }

    pub fn set_live(&self, live: bool) {
        self.live.store(live, Ordering::Release);
    }

    pub fn is_live(&self) -> bool {
        self.live.load(Ordering::Acquire)
    }

    pub fn acknowledge(&self, id: i64) {
        self.acknowledged.fetch_max(id, Ordering::AcqRel);
    }

    /// Starts the latest bars over from the database's (at the first connection, and after
    /// a gap in the log, when bars were missed).
    pub fn reset_latest(&self, recent: RecentBars) {
        let mut latest = self.latest.write().expect("latest lock");
        *latest = LatestBars {
            by_symbol: HashMap::with_capacity(recent.bars.len()),
            complete_since: Some(recent.complete_since),
        };
        for bar in recent.bars {
            latest.by_symbol.insert(bar.symbol.as_str().to_owned(), bar);
        }
    }

    /// The latest bar of `symbol` when memory is current (live, and past every write this
    /// instance acknowledged); `None` means: ask the database.
    pub fn latest(&self, symbol: &str) -> Option<Bar> {
        if !self.is_live() || self.cursor() < self.acknowledged.load(Ordering::Acquire) {
            return None;
        }
        self.latest
            .read()
            .expect("latest lock")
            .by_symbol
            .get(symbol)
            .cloned()
    }

    pub fn subscribers(&self) -> usize {
        self.registry.lock().expect("registry lock").subs.len()
    }
}
