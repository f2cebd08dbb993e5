//! The latest bar of several named symbols.

use super::{Conn, DbError, RecentWindow, latest_bar};
use crate::domain::{Bar, Symbol};

/// The latest bar of each of `symbols`, in their order; symbols without bars are left out.
/// Each is one index probe into the newest chunks first (see [`RecentWindow`]).
pub async fn latest_for(
    client: &Conn,
    window: &RecentWindow,
    symbols: &[Symbol],
) -> Result<Vec<Bar>, DbError> {
    let mut bars = Vec::with_capacity(symbols.len());
    for symbol in symbols {
        if let Some(bar) = latest_bar(client, window, symbol).await? {
            bars.push(bar);
        }
    }
    Ok(bars)
}
