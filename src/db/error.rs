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
    /// A statement that returns one row returned another number of them: a bug here.
    #[error("the statement returned {0} rows, not one")]
    RowCount(usize),
}

/// PgBouncer's refusal of a startup parameter it does not know, such as `options`.
const POOLER_REFUSAL: &str = "unsupported startup parameter";

impl DbError {
    /// The error and every cause below it, as the server worded them. The driver's own
    /// text of a server error is only "db error"; the server's message is its source.
    pub fn report(&self) -> String {
        let mut report = self.to_string();
        let mut cause = std::error::Error::source(self);
        while let Some(error) = cause {
            let text = error.to_string();
            if !report.ends_with(&text) {
                report.push_str(": ");
                report.push_str(&text);
            }
            cause = error.source();
        }
        report
    }

    /// What to change when the failure is a known configuration mistake.
    pub fn hint(&self) -> Option<&'static str> {
        let server_message =
            std::iter::successors(Some(self as &(dyn std::error::Error + 'static)), |e| {
                e.source()
            })
            .find_map(|e| e.downcast_ref::<tokio_postgres::error::DbError>())
            .map(|db| db.message())?;
        server_message.starts_with(POOLER_REFUSAL).then_some(
            "a connection pooler (PgBouncer) refused a startup parameter: behind a \
             transaction-mode pooler set TSAPI_STATEMENT_CACHE=false, which sends no \
             `options` parameter and no named statements",
        )
    }
}

impl From<DbError> for ApiError {
    fn from(err: DbError) -> Self {
        let (kind, shown) = classify(&err);
        ApiError::Database {
            shown: Box::new(shown),
            failure: DatabaseFailure {
                kind,
                cause: err.report(),
                hint: err.hint(),
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
        DbError::Pool(_) | DbError::RowCount(_) => ("other", ApiError::Internal(err.report())),
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
        return ("driver", ApiError::Internal(err.report()));
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
        _ => ("other", ApiError::Internal(err.report())),
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
