//! Database failures and what each means to a client.

use tokio_postgres::error::SqlState;

use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The table is missing or has a shape we cannot use; the text is safe to show.
    #[error("{0}")]
    Schema(String),
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        use deadpool_postgres::{PoolError, TimeoutType};
        let unavailable = |what: &str| {
            tracing::warn!(error = %err, "database unavailable");
            ApiError::Unavailable(what.to_owned())
        };
        match &err {
            DbError::Schema(message) => ApiError::Unavailable(message.clone()),
            DbError::Pool(PoolError::Timeout(TimeoutType::Wait)) => {
                unavailable("all database connections are busy; retry shortly")
            }
            DbError::Pool(PoolError::Timeout(_) | PoolError::Backend(_)) => {
                unavailable("the database is unreachable; retry shortly")
            }
            DbError::Pool(_) => ApiError::Internal(err.to_string()),
            DbError::Postgres(pg) => from_postgres(pg, &err),
        }
    }
}

fn from_postgres(pg: &tokio_postgres::Error, err: &DbError) -> ApiError {
    let Some(code) = pg.code() else {
        // No SQLSTATE: the connection broke or could not be made.
        tracing::warn!(error = %err, "database connection failed");
        return ApiError::Unavailable("lost the connection to the database; retry shortly".into());
    };
    let class = &code.code()[..2];
    if *code == SqlState::UNIQUE_VIOLATION {
        let key = pg
            .as_db_error()
            .and_then(|db| db.detail())
            .and_then(duplicate_key)
            .unwrap_or_default();
        return ApiError::Conflict(format!(
            "a bar for this symbol and time already exists{key}"
        ));
    }
    if *code == SqlState::QUERY_CANCELED {
        return ApiError::Unavailable("the query ran longer than the statement timeout".into());
    }
    if *code == SqlState::UNDEFINED_TABLE {
        return ApiError::Unavailable(format!(
            "table {} does not exist; run `tsapi migrate`",
            super::TABLE
        ));
    }
    match class {
        // Data exceptions: a value the column cannot hold.
        "22" | "23" => {
            tracing::info!(error = %err, "database refused a value");
            ApiError::BadRequest("a value does not fit its column".into())
        }
        // Connection, resources, operator intervention, transaction rollback (retryable).
        "08" | "53" | "57" | "40" => {
            tracing::warn!(error = %err, "database unavailable");
            ApiError::Unavailable("the database cannot answer now; retry shortly".into())
        }
        _ => ApiError::Internal(err.to_string()),
    }
}

/// `Key (symbol, "time")=(AAPL, 2021-11-12 15:00:00+00) already exists.` becomes
/// `: AAPL at 2021-11-12T15:00:00Z`. The key holds only values the client sent.
fn duplicate_key(detail: &str) -> Option<String> {
    let values = detail
        .strip_suffix(") already exists.")?
        .split_once(")=(")?
        .1;
    // Symbols cannot contain commas, so the last ", " separates symbol and time.
    let (symbol, time) = values.rsplit_once(", ")?;
    let time = chrono::DateTime::parse_from_str(time, "%Y-%m-%d %H:%M:%S%.f%#z").ok()?;
    Some(format!(
        ": {symbol} at {}",
        crate::render::rfc3339(time.with_timezone(&chrono::Utc))
    ))
}

#[cfg(test)]
mod tests {
    #[test]
    fn shows_the_duplicate_key_only() {
        assert_eq!(
            super::duplicate_key(
                r#"Key (symbol, "time")=(AAPL, 2021-11-12 15:00:00+00) already exists."#
            )
            .as_deref(),
            Some(": AAPL at 2021-11-12T15:00:00Z")
        );
        assert_eq!(
            super::duplicate_key(
                r#"Key (symbol, "time")=(X, 2021-11-12 15:00:00.25+00) already exists."#
            )
            .as_deref(),
            Some(": X at 2021-11-12T15:00:00.250Z")
        );
        assert_eq!(super::duplicate_key("something else"), None);
    }
}
