//! The latest bar of several named symbols.

use chrono::{DateTime, Utc};
use futures_util::future::try_join_all;

use super::{Conn, DbError, latest_bar};
use crate::domain::{Bar, Symbol};

/// Lookups sent at once on the one connection: enough to fill a pipeline, few enough that
/// a long symbol list does not queue thousands of statements ahead of other requests.
const IN_FLIGHT: usize = 32;

/// The latest bar of each of `symbols`, in their order; symbols without bars are left out.
/// Each is one index probe above `bound` first (see [`super::RecentWindow`]); the probes
/// are pipelined over the connection rather than sent one round trip after another. Behind
/// a transaction-mode pooler (see [`Conn::can_pipeline`]) that is safe only inside a
/// transaction, so there they run in one.
pub async fn latest_for(
    client: &Conn,
    bound: Option<DateTime<Utc>>,
    symbols: &[Symbol],
) -> Result<Vec<Bar>, DbError> {
    if client.can_pipeline() || symbols.len() < 2 {
        probe_all(client, bound, symbols).await
    } else {
        client
            .in_read_only_transaction(probe_all(client, bound, symbols))
            .await
    }
}

async fn probe_all(
    client: &Conn,
    bound: Option<DateTime<Utc>>,
    symbols: &[Symbol],
) -> Result<Vec<Bar>, DbError> {
    let mut bars = Vec::with_capacity(symbols.len());
    for group in symbols.chunks(IN_FLIGHT) {
        let found = try_join_all(group.iter().map(|s| latest_bar(client, bound, s))).await?;
        bars.extend(found.into_iter().flatten());
    }
    Ok(bars)
}
