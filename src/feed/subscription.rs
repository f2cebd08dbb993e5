//! One subscriber's stream: a replay from the log (when resuming), then live bars, each
//! id once and in order.

use std::collections::VecDeque;
use std::sync::Arc;
use std::sync::atomic::Ordering;

use super::hub::{FeedEvent, Hub, Item, Registration, Selection, Status};
use crate::db::{self, DbError, LogCursor, PgPool};

/// What a subscriber is sent next.
#[derive(Debug, Clone)]
pub enum Next {
    Bar(Arc<FeedEvent>),
    Status(Status),
    /// The queue overflowed: the subscriber was dropped and should resume from `last_id`.
    Lagged {
        last_id: i64,
    },
}

/// Reading the log from a resume point up to where live bars take over.
struct Replay {
    cursor: Option<LogCursor>,
    /// The hub's cursor at registration: live bars in the queue are all past it.
    upto: i64,
    pending: VecDeque<Arc<FeedEvent>>,
}

pub struct Subscription {
    hub: Arc<Hub>,
    pool: PgPool,
    registration: Registration,
    selection: Selection,
    replay: Option<Replay>,
    /// The id of the last bar sent (or skipped as already seen): never sent again.
    last_id: i64,
    ended: bool,
}

impl Subscription {
    pub(super) fn new(
        hub: Arc<Hub>,
        pool: PgPool,
        registration: Registration,
        selection: Selection,
        since: Option<i64>,
    ) -> Self {
        let live_from = registration.cursor;
        let replay = since.filter(|s| *s < live_from).map(|_| Replay {
            cursor: None,
            upto: live_from,
            pending: VecDeque::new(),
        });
        Self {
            hub,
            pool,
            registration,
            selection,
            replay,
            last_id: since.unwrap_or(live_from).max(0),
            ended: false,
        }
    }

    /// The id of the last bar sent (the resume point of this subscriber).
    pub fn last_id(&self) -> i64 {
        self.last_id
    }

    /// Changes the symbols received from now on (a replay in progress keeps its own).
    pub fn reselect(&mut self, selection: Selection) {
        self.hub.reselect(self.registration.id, selection.clone());
        self.selection = selection;
    }

    /// The next thing to send; `None` once the subscription has ended (after `Lagged`).
    pub async fn next(&mut self) -> Option<Result<Next, DbError>> {
        if self.ended {
            return None;
        }
        if self.replay.is_some() {
            match self.next_replayed().await {
                Ok(Some(next)) => return Some(Ok(next)),
                Ok(None) => self.replay = None,
                Err(e) => {
                    self.ended = true;
                    return Some(Err(e));
                }
            }
        }
        loop {
            match self.registration.rx.recv().await {
                Some(Item::Bar(event)) => {
                    if event.bar.id <= self.last_id || !self.selection.matches(symbol(&event)) {
                        continue;
                    }
                    self.last_id = event.bar.id;
                    return Some(Ok(Next::Bar(event)));
                }
                Some(Item::Status(status)) => return Some(Ok(Next::Status(status))),
                None => {
                    self.ended = true;
                    if self.registration.lagged.load(Ordering::Acquire) {
                        return Some(Ok(Next::Lagged {
                            last_id: self.last_id,
                        }));
                    }
                    return None;
                }
            }
        }
    }

    /// The next replayed bar, or a gap notice first; `None` when the replay is done.
    async fn next_replayed(&mut self) -> Result<Option<Next>, DbError> {
        let last_id = self.last_id;
        let replay = self.replay.as_mut().expect("replaying");
        loop {
            if let Some(event) = replay.pending.pop_front() {
                self.last_id = event.bar.id;
                return Ok(Some(Next::Bar(event)));
            }
            let client = self.pool.get().await?;
            let cursor = match replay.cursor {
                Some(cursor) => cursor,
                None => {
                    let (_, oldest) = db::feed::log_bounds(&**client).await?;
                    let cursor = db::feed::cursor_for(&**client, last_id).await?;
                    replay.cursor = Some(cursor);
                    if last_id + 1 < oldest {
                        self.last_id = oldest - 1;
                        return Ok(Some(Next::Status(Status::Gap {
                            after: last_id,
                            resumed_before: oldest,
                        })));
                    }
                    cursor
                }
            };
            if cursor.commit >= replay.upto {
                return Ok(None);
            }
            let read = db::feed::read_after(&**client, db::feed::READ_AFTER, cursor).await?;
            if read.cursor == cursor {
                return Ok(None);
            }
            replay.cursor = Some(read.cursor);
            replay.pending.extend(
                read.bars
                    .into_iter()
                    .filter(|b| b.id > last_id && b.id <= replay.upto)
                    .filter(|b| self.selection.matches(b.bar.symbol.as_str()))
                    .map(|b| Arc::new(FeedEvent::new(b))),
            );
        }
    }
}

fn symbol(event: &FeedEvent) -> &str {
    event.bar.bar.symbol.as_str()
}

impl Drop for Subscription {
    fn drop(&mut self) {
        self.hub.unregister(self.registration.id);
    }
}
