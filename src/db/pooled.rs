//! Pooled connections that go back to the pool only when nothing is in flight on them.
//!
//! A request cut off mid-query (its client hung up, or it ran out of time) leaves answers
//! on their way. On a direct connection that is harmless: the driver reads and drops them
//! before the next statement's answer. Behind a transaction-mode pooler it is not: the
//! pooler hands its server connection on at the first answer that ends a transaction, and
//! a statement sent behind an unanswered one can be lost, leaving the next user of the
//! connection waiting forever. So there, a connection with work still in flight is closed
//! instead of reused.
//!
//! A streamed export cut off is the exception on a direct connection too: the server would
//! go on computing and sending every remaining row (millions, for a year of bars) while the
//! driver drops them, and the next statement on the connection would wait behind them.
//! Closing the connection stops the server's work at once.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::StatementMode;

/// A connection from the pool that is closed, not reused, if dropped with work in flight
/// behind a transaction-mode pooler, or with a streamed answer cut off.
pub struct PooledClient {
    client: Option<deadpool_postgres::Client>,
    /// Work started and not yet seen to its end: every piece behind a pooler, streams only
    /// on a direct connection.
    in_flight: Arc<AtomicUsize>,
    mode: StatementMode,
}

/// One piece of work on a [`PooledClient`], from its first message to its last answer.
/// [`Work::end`] it when done; a piece dropped without that (cancelled) keeps counting.
#[must_use = "end the work when its last answer has come"]
pub struct Work(Option<Arc<AtomicUsize>>);

impl PooledClient {
    pub fn new(client: deadpool_postgres::Client, mode: StatementMode) -> Self {
        Self {
            client: Some(client),
            in_flight: Arc::default(),
            mode,
        }
    }

    /// The connection's statement cache for writes (see [`super::Prepared`]): none behind
    /// a transaction-mode pooler. A handle, so that a write can borrow the client too.
    pub fn write_cache(&self) -> Option<Arc<deadpool_postgres::StatementCache>> {
        (self.mode == StatementMode::Cached).then(|| self.statement_cache.clone())
    }

    /// Marks the start of work whose answers must all arrive before the connection may
    /// be reused.
    pub fn start(&self) -> Work {
        if self.mode == StatementMode::Unnamed {
            self.track()
        } else {
            Work::untracked()
        }
    }

    /// [`PooledClient::start`] for a streamed answer: tracked on any connection.
    pub fn start_stream(&self) -> Work {
        self.track()
    }

    fn track(&self) -> Work {
        self.in_flight.fetch_add(1, Ordering::AcqRel);
        Work(Some(self.in_flight.clone()))
    }
}

impl Work {
    /// Work on a connection that is never pooled (shared point reads).
    pub fn untracked() -> Self {
        Self(None)
    }

    pub fn end(self) {
        if let Some(count) = &self.0 {
            count.fetch_sub(1, Ordering::AcqRel);
        }
    }
}

impl Drop for PooledClient {
    fn drop(&mut self) {
        let cut_off = self.in_flight.load(Ordering::Acquire) > 0;
        if cut_off && let Some(client) = self.client.take() {
            // Taken out of the pool and dropped: the connection closes.
            drop(deadpool_postgres::Object::take(client));
        }
    }
}

impl Deref for PooledClient {
    type Target = deadpool_postgres::Client;
    fn deref(&self) -> &Self::Target {
        self.client.as_ref().expect("present until dropped")
    }
}

impl DerefMut for PooledClient {
    fn deref_mut(&mut self) -> &mut Self::Target {
        self.client.as_mut().expect("present until dropped")
    }
}
