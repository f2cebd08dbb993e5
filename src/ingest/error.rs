//! How an ingest fails, and what each failure means to a client.

use super::body::BodyFault;
use super::sink::BatchFailure;
use crate::db::DbError;
use crate::domain::FieldError;
use crate::error::ApiError;

#[derive(Debug, thiserror::Error)]
pub enum IngestError {
    /// Malformed input as a whole (syntax, shape, header, gzip); the text says where.
    #[error("{0}")]
    BadInput(String),
    /// Some records are invalid; each error names its record (and line) and field.
    /// `complete` when the whole input was read, so every invalid record was seen.
    #[error("{} invalid record(s)", .errors.len())]
    Invalid {
        errors: Vec<FieldError>,
        complete: bool,
    },
    /// One (symbol, time) twice in the input.
    #[error("{0}")]
    Duplicate(String),
    /// Over a size or row limit.
    #[error("{0}")]
    TooLarge(String),
    /// The database refused or failed.
    #[error(transparent)]
    Db(#[from] DbError),
    /// The batch receiver stopped; its own error is the one to report.
    #[error("the writer stopped")]
    WriterGone,
    /// A bug on our side.
    #[error("{0}")]
    Internal(String),
}

impl From<BodyFault> for IngestError {
    fn from(fault: BodyFault) -> Self {
        match fault {
            BodyFault::TooLarge(limit) => {
                Self::TooLarge(format!("the body exceeds the limit of {limit} bytes"))
            }
            BodyFault::Gzip(message) => Self::BadInput(message),
            BodyFault::Broken(cause) => Self::BadInput(format!("cannot read the body: {cause}")),
        }
    }
}

impl From<BatchFailure> for IngestError {
    fn from(failure: BatchFailure) -> Self {
        match failure {
            BatchFailure::Invalid(errors) => Self::Invalid {
                errors,
                complete: false,
            },
            BatchFailure::TooManyRows(limit) => Self::TooLarge(format!(
                "more than {limit} records exceed the limit of {limit} per request"
            )),
            BatchFailure::Duplicate(message) => Self::Duplicate(message),
            BatchFailure::Gone => Self::WriterGone,
        }
    }
}

impl From<IngestError> for ApiError {
    fn from(err: IngestError) -> Self {
        match err {
            IngestError::BadInput(m) => ApiError::BadRequest(m),
            IngestError::Invalid { errors, complete } => {
                ApiError::invalid_records(errors, complete)
            }
            IngestError::TooLarge(m) => ApiError::PayloadTooLarge(m),
            IngestError::Duplicate(m) => ApiError::Conflict(m),
            IngestError::Db(db) => db.into(),
            IngestError::WriterGone => ApiError::Internal("the batch writer stopped".into()),
            IngestError::Internal(m) => ApiError::Internal(m),
        }
    }
}
