//! The symbols in the table, with their first and last bar times.

use chrono::{DateTime, Utc};
use serde::Serialize;
use utoipa::ToSchema;

use super::{Conn, DbError, TABLE};
use crate::render::serialize_time;

/// One symbol and the time span of its bars.
#[derive(Debug, Clone, PartialEq, Serialize, ToSchema)]
pub struct SymbolSpan {
    #[schema(example = "AAPL")]
    pub symbol: String,
    /// Time of its oldest bar.
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub first_time: DateTime<Utc>,
    /// Time of its newest bar.
    #[serde(serialize_with = "serialize_time")]
    #[schema(value_type = String, format = DateTime)]
    pub last_time: DateTime<Utc>,
}

/// Every symbol, in byte order (as `/v1/bars` sorts them), with its first and last time.
///
/// Distinct symbols come from a loose index scan: a recursive query that jumps from one
/// symbol to the next through the (symbol, time) index, one probe per symbol instead of
/// reading every row. First and last times are one index probe each; ordered by the time
/// dimension, TimescaleDB opens chunks in time order and stops at the first that has one.
pub async fn list_symbols(client: &Conn) -> Result<Vec<SymbolSpan>, DbError> {
    let sql = format!(
        "WITH RECURSIVE symbols AS ( \
           (SELECT symbol FROM {TABLE} ORDER BY symbol LIMIT 1) \
           UNION ALL \
           SELECT (SELECT t.symbol FROM {TABLE} t WHERE t.symbol > s.symbol \
                   ORDER BY t.symbol LIMIT 1) \
           FROM symbols s WHERE s.symbol IS NOT NULL) \
         SELECT s.symbol, \
           (SELECT t.time FROM {TABLE} t WHERE t.symbol = s.symbol ORDER BY t.time ASC LIMIT 1), \
           (SELECT t.time FROM {TABLE} t WHERE t.symbol = s.symbol ORDER BY t.time DESC LIMIT 1) \
         FROM symbols s WHERE s.symbol IS NOT NULL ORDER BY s.symbol COLLATE \"C\""
    );
    let rows = client.query(&sql, &[]).await?;
    Ok(rows
        .iter()
        .filter_map(|row| {
            Some(SymbolSpan {
                symbol: row.get(0),
                // A symbol whose rows were deleted between the two probes has no span.
                first_time: row.get::<_, Option<DateTime<Utc>>>(1)?,
                last_time: row.get::<_, Option<DateTime<Utc>>>(2)?,
            })
        })
        .collect())
}
