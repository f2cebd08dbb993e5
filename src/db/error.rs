//! Database failures, and what each means to a client (`observe` counts and logs them).

use tokio_postgres::error::SqlState;

use crate::error::{ApiError, DatabaseFailure};

#[derive(Debug, thiserror::Error)]
pub enum DbError {
    #[error("connection pool: {0}")]
    Pool(#[from] deadpool_postgres::PoolError),
    #[error("postgres: {0}")]
    Postgres(#[from] tokio_postgres::Error),
    /// The table is missing or has a shape we cannot use; the text is safe to show.
    #[error("{0}")]
    Schema(String),
    /// The table cannot do what this request asks (an upsert without the unique index);
    /// retrying will not help. The text is safe to show.
    #[error("{0}")]
    Unsupported(String),
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        let (kind, shown) = classify(&err);
        ApiError::Database {
            shown: Box::new(shown),
            failure: DatabaseFailure {
                kind,
                cause: err.to_string(),
            },
        }
    }
}

/// A short label for metrics, and the error the client sees.
fn classify(err: &DbError) -> (&'static str, ApiError) {
    use deadpool_postgres::{PoolError, TimeoutType};
    let unavailable = |kind, what: &str| (kind, ApiError::Unavailable(what.to_owned()));
    match err {
        DbError::Schema(message) => ("schema", ApiError::Unavailable(message.clone())),
        DbError::Unsupported(message) => ("unsupported", ApiError::Conflict(message.clone())),
        DbError::Pool(PoolError::Timeout(TimeoutType::Wait)) => unavailable(
            "pool_timeout",
            "all database connections are busy; retry shortly",
        ),
        DbError::Pool(PoolError::Timeout(_) | PoolError::Backend(_)) => {
            unavailable("connect", "the database is unreachable; retry shortly")
        }
        DbError::Pool(_) => ("other", ApiError::Internal(err.to_string())),
        DbError::Postgres(pg) => classify_postgres(pg, err),
    }
}

fn classify_postgres(pg: &tokio_postgres::Error, err: &DbError) -> (&'static str, ApiError) {
    let Some(code) = pg.code() else {
        // No SQLSTATE: the server did not refuse anything. Either the connection broke,
        // which a retry on a new one fixes, or the driver could not convert a value or
        // message, which is a bug here.
        let socket_failed = std::error::Error::source(pg)
            .is_some_and(|source| source.downcast_ref::<std::io::Error>().is_some());
        if pg.is_closed() || socket_failed {
            return (
                "connection",
                ApiError::Unavailable("lost the connection to the database; retry shortly".into()),
            );
        }
        return ("driver", ApiError::Internal(err.to_string()));
    };
    if *code == SqlState::UNIQUE_VIOLATION {
        let key = pg
            .as_db_error()
            .and_then(|db| db.detail())
            .and_then(duplicate_key)
            .unwrap_or_default();
        let detail = format!("a bar for this symbol and time already exists{key}");
        return ("unique_violation", ApiError::Conflict(detail));
    }
    if *code == SqlState::QUERY_CANCELED {
        let detail = "the query ran longer than the statement timeout";
        return ("statement_timeout", ApiError::Unavailable(detail.into()));
    }
    if *code == SqlState::UNDEFINED_TABLE {
        let detail = format!("table {} does not exist; run `tsapi migrate`", super::TABLE);
        return ("schema", ApiError::Unavailable(detail));
    }
    match &code.code()[..2] {
        // Data exceptions and integrity violations: a value the column cannot hold.
        "22" | "23" => (
            "data",
            ApiError::BadRequest("a value does not fit its column".into()),
        ),
        // Connection, resources, operator intervention, transaction rollback (retryable).
        "08" | "53" | "57" | "40" => (
            "unavailable",
            ApiError::Unavailable("the database cannot answer now; retry shortly".into()),
        ),
        _ => ("other", ApiError::Internal(err.to_string())),
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
