//! The one listener per instance: `LISTEN tsapi_feed` on a session connection, reading
//! the log after every notification (and every second, in case one is missed), and
//! reconnecting with backoff when the connection drops. While it is down, subscribers are
//! told so; once back, it reads the log from where it stopped, so they are caught up
//! with every bar in id order, and told of a gap only if the log no longer holds it.

use std::sync::Arc;
use std::time::Duration;

use chrono::TimeDelta;

use super::hub::{Hub, Status};
use tokio_postgres::Statement;

use crate::db::{self, DbError, DbTls, LogCursor};

/// How the listener connects and what it keeps.
#[derive(Clone)]
pub struct ListenConfig {
    pub pg: tokio_postgres::Config,
    pub tls: DbTls,
    /// How long the log keeps bars (the resume window of subscribers).
    pub window: TimeDelta,
    /// How far back from the newest bar the latest bars are read at start.
    pub fill_span: TimeDelta,
}

const POLL: Duration = Duration::from_secs(1);
const PRUNE_EVERY: Duration = Duration::from_secs(60);
const BACKOFF_MIN: Duration = Duration::from_millis(100);
const BACKOFF_MAX: Duration = Duration::from_secs(5);

/// Runs forever (until the runtime stops).
pub async fn run(hub: Arc<Hub>, config: ListenConfig) {
    let mut cursor: Option<LogCursor> = None;
    let mut backoff = BACKOFF_MIN;
    loop {
        match session(&hub, &config, &mut cursor).await {
            Ok(()) => {}
            Err(e) => tracing::warn!(error = %e, "the change feed lost the database"),
        }
        if hub.is_live() {
            hub.set_live(false);
            hub.tell(Status::Reconnecting);
            backoff = BACKOFF_MIN;
        }
        tokio::time::sleep(backoff).await;
        backoff = (backoff * 2).min(BACKOFF_MAX);
    }
}

/// One connection's life: catch up, then follow notifications until it fails.
async fn session(
    hub: &Hub,
    config: &ListenConfig,
    cursor: &mut Option<LogCursor>,
) -> Result<(), DbError> {
    let (client, mut notes) = db::feed::listen(&config.pg, &config.tls).await?;
    // A session connection of its own (LISTEN needs one), so a named statement is safe.
    let read = client.prepare(db::feed::READ_AFTER).await?;
    let (newest, oldest) = db::feed::log_bounds(&client).await?;
    // Subscribers were told of the loss only after a first connection.
    let recovering = cursor.is_some();
    match cursor {
        None => {
            *cursor = Some(LogCursor {
                commit: newest,
                part: i32::MAX,
            });
            hub.start_at(newest);
            let recent = db::feed::latest_recent(&client, config.fill_span).await?;
            tracing::info!(
                from_id = newest,
                symbols = recent.bars.len(),
                "change feed started"
            );
            hub.reset_latest(recent);
        }
        Some(at) => {
            let seen = hub.cursor();
            if seen + 1 < oldest {
                tracing::warn!(
                    seen,
                    oldest,
                    "the change feed's log no longer holds bars it missed"
                );
                hub.tell(Status::Gap {
                    after: seen,
                    resumed_before: oldest,
                });
                *at = db::feed::cursor_for(&client, oldest - 1).await?;
                // Missed bars may have changed any symbol's latest: read them again.
                hub.reset_latest(db::feed::latest_recent(&client, config.fill_span).await?);
            }
        }
    }
    catch_up(hub, &client, &read, cursor).await?;
    hub.set_live(true);
    if recovering {
        hub.tell(Status::Live);
    }
    let mut prune_at = tokio::time::Instant::now();
    loop {
        tokio::select! {
            note = notes.recv() => {
                if note.is_none() {
                    tracing::warn!("the change feed's listening connection closed");
                    return Ok(());
                }
            }
            () = tokio::time::sleep(POLL) => {}
        }
        catch_up(hub, &client, &read, cursor).await?;
        if prune_at.elapsed() >= PRUNE_EVERY {
            prune_at = tokio::time::Instant::now();
            match db::feed::prune(&client, config.window).await {
                Ok(n) if n > 0 => tracing::debug!(batches = n, "pruned the change feed's log"),
                Ok(_) => {}
                Err(e) => tracing::warn!(error = %e, "cannot prune the change feed's log"),
            }
        }
    }
}

/// Reads and publishes everything after the cursor, until a read comes back short: what
/// commits after it is announced by a notification of its own.
async fn catch_up(
    hub: &Hub,
    client: &tokio_postgres::Client,
    read: &Statement,
    cursor: &mut Option<LogCursor>,
) -> Result<(), DbError> {
    let Some(at) = cursor else { return Ok(()) };
    loop {
        let found = db::feed::read_after(client, read, *at).await?;
        *at = found.cursor;
        let seen = hub.cursor();
        let fresh: Vec<_> = found.bars.into_iter().filter(|b| b.id > seen).collect();
        hub.publish(fresh);
        if !found.more {
            return Ok(());
        }
    }
}
