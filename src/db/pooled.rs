//! Pooled connections that go back to the pool only when nothing is in flight on them.
//!
//! A request cut off mid-query (its client hung up, or it ran out of time) leaves answers
//! on their way. On a direct connection that is harmless: the driver reads and drops them
//! before the next statement's answer. Behind a transaction-mode pooler it is not: the
//! pooler hands its server connection on at the first answer that ends a transaction, and
//! a statement sent behind an unanswered one can be lost, leaving the next user of the
//! connection waiting forever. So there, a connection with work still in flight is closed
//! instead of reused.

use std::ops::{Deref, DerefMut};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use super::StatementMode;

/// A connection from the pool that is closed, not reused, if dropped with work in flight
/// behind a transaction-mode pooler.
pub struct PooledClient {
    client: Option<deadpool_postgres::Client>,
    /// Work started and not yet seen to its end; tracked only behind a pooler.
    in_flight: Option<Arc<AtomicUsize>>,
}

/// One piece of work on a [`PooledClient`], from its first message to its last answer.
/// [`Work::end`] it when done; a piece dropped without that (cancelled) keeps counting.
#[must_use = "end the work when its last answer has come"]
pub struct Work(Option<Arc<AtomicUsize>>);

impl PooledClient {
    pub fn new(client: deadpool_postgres::Client, mode: StatementMode) -> Self {
        let in_flight = (mode == StatementMode::Unnamed).then(Arc::default);
        Self {
            client: Some(client),
            in_flight,
        }
    }

    /// The connection's statement cache for writes (see [`super::Prepared`]): none behind
    /// a transaction-mode pooler. A handle, so that a write can borrow the client too.
    pub fn write_cache(&self) -> Option<Arc<deadpool_postgres::StatementCache>> {
        self.in_flight
            .is_none()
            .then(|| self.statement_cache.clone())
    }

    /// Marks the start of work whose answers must all arrive before the connection may
    /// be reused.
    pub fn start(&self) -> Work {
        if let Some(count) = &self.in_flight {
            count.fetch_add(1, Ordering::AcqRel);
        }
        Work(self.in_flight.clone())
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
        let cut_off = self
            .in_flight
            .as_ref()
            .is_some_and(|count| count.load(Ordering::Acquire) > 0);
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
