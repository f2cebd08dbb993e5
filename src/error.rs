//! One error type for every request, rendered as RFC 9457 `application/problem+json`.
//!
//! Handlers return `Result<_, ApiError>`; this file is the only place that decides which
//! HTTP status a failure becomes. Database failures are classified here too, so that a
//! client sees "unavailable" or "conflict" but never a server message or a secret.

use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use serde::Serialize;

use crate::domain::FieldError;

/// Media type of every error body.
pub const PROBLEM_JSON: &str = "application/problem+json";

/// Upper bound on per-record errors echoed back, so a huge bad body gets a small answer.
pub const MAX_REPORTED_ERRORS: usize = 100;

/// Everything that can go wrong while answering a request.
#[derive(Debug, thiserror::Error)]
pub enum ApiError {
    /// A query parameter or the body as a whole is unusable.
    #[error("{0}")]
    BadRequest(String),
    /// The body parsed, but some records are invalid; each error names its record and field.
    #[error("{detail}")]
    InvalidRecords {
        detail: String,
        errors: Vec<FieldError>,
    },
    /// The request would store a row that already exists.
    #[error("{0}")]
    Conflict(String),
    /// No API key, or one that is not configured.
    #[error("{0}")]
    Unauthorized(String),
    /// A valid API key without the scope this request needs.
    #[error("{0}")]
    Forbidden(String),
    /// No such route.
    #[error("no resource at {0}")]
    NotFound(String),
    /// The route exists but not for this method.
    #[error("method {0} is not allowed here")]
    MethodNotAllowed(String),
    /// The body is larger than the configured limit.
    #[error("{0}")]
    PayloadTooLarge(String),
    /// The request target (path and query) is longer than the server reads.
    #[error("{0}")]
    UriTooLong(String),
    /// The `Accept` header allows none of the formats this endpoint answers in.
    #[error("{0}")]
    NotAcceptable(String),
    /// The body's `Content-Type` is not one this endpoint reads.
    #[error("{0}")]
    UnsupportedMediaType(String),
    /// The database cannot answer now (down, pool exhausted, statement timeout, schema missing).
    /// The string is safe to show; the cause is logged, not sent.
    #[error("{0}")]
    Unavailable(String),
    /// A bug or an unexpected failure on our side. The cause is logged, never sent.
    #[error("internal error: {0}")]
    Internal(String),
    /// A database failure, classified by `db::error`: `shown` is what the client gets;
    /// `failure` travels with the response for the log and metrics only.
    #[error("{shown}")]
    Database {
        shown: Box<ApiError>,
        failure: DatabaseFailure,
    },
}

/// What the log and the metrics need to know of a database failure that became an answer.
/// Attached to the response as an extension; the `observe` middleware counts and logs it,
/// so turning a failure into an error has no side effects.
#[derive(Debug, Clone)]
pub struct DatabaseFailure {
    /// A short label for `tsapi_db_errors_total{kind}`, e.g. `unique_violation`.
    pub kind: &'static str,
    /// The driver's and server's messages: logged, never sent.
    pub cause: String,
    /// What to change, when the failure is a known configuration mistake.
    pub hint: Option<&'static str>,
}

/// The JSON body of a problem response.
#[derive(Debug, Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: &'a str,
    title: &'a str,
    status: u16,
    detail: &'a str,
    #[serde(skip_serializing_if = "Option::is_none")]
    errors: Option<&'a [FieldError]>,
}

impl ApiError {
    /// HTTP status, problem type slug and short title of this error.
    fn classify(&self) -> (StatusCode, &'static str, &'static str) {
        match self {
            Self::Database { shown, .. } => shown.classify(),
            Self::BadRequest(_) => (StatusCode::BAD_REQUEST, "bad-request", "Bad request"),
            Self::InvalidRecords { .. } => (
                StatusCode::UNPROCESSABLE_ENTITY,
                "invalid-records",
                "Invalid records",
            ),
            Self::Conflict(_) => (StatusCode::CONFLICT, "conflict", "Conflict"),
            Self::Unauthorized(_) => (StatusCode::UNAUTHORIZED, "unauthorized", "Unauthorized"),
            Self::Forbidden(_) => (StatusCode::FORBIDDEN, "forbidden", "Forbidden"),
            Self::NotFound(_) => (StatusCode::NOT_FOUND, "not-found", "Not found"),
            Self::MethodNotAllowed(_) => (
                StatusCode::METHOD_NOT_ALLOWED,
                "method-not-allowed",
                "Method not allowed",
            ),
            Self::PayloadTooLarge(_) => (
                StatusCode::PAYLOAD_TOO_LARGE,
                "payload-too-large",
                "Payload too large",
            ),
            Self::UriTooLong(_) => (StatusCode::URI_TOO_LONG, "uri-too-long", "URI too long"),
            Self::NotAcceptable(_) => (
                StatusCode::NOT_ACCEPTABLE,
                "not-acceptable",
                "Not acceptable",
            ),
            Self::UnsupportedMediaType(_) => (
                StatusCode::UNSUPPORTED_MEDIA_TYPE,
                "unsupported-media-type",
                "Unsupported media type",
            ),
            Self::Unavailable(_) => (
                StatusCode::SERVICE_UNAVAILABLE,
                "unavailable",
                "Service unavailable",
            ),
            Self::Internal(_) => (
                StatusCode::INTERNAL_SERVER_ERROR,
                "internal",
                "Internal server error",
            ),
        }
    }

    /// Records rejected by validation; keeps at most [`MAX_REPORTED_ERRORS`] of them.
    /// `complete` when every record was checked; else the count is a lower bound.
    pub fn invalid_records(mut errors: Vec<FieldError>, complete: bool) -> Self {
        let records: std::collections::BTreeSet<usize> = errors.iter().map(|e| e.index).collect();
        let detail = format!(
            "{}{} invalid record{}; nothing was stored",
            if complete { "" } else { "at least " },
            records.len(),
            if records.len() == 1 { "" } else { "s" }
        );
        errors.truncate(MAX_REPORTED_ERRORS);
        Self::InvalidRecords { detail, errors }
    }
}

/// A bad query parameter is a 400 that names it.
impl From<crate::domain::ParamError> for ApiError {
    fn from(e: crate::domain::ParamError) -> Self {
        Self::BadRequest(format!("parameter `{}`: {}", e.param, e.message))
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        if let Self::Database { shown, failure } = self {
            let mut response = shown.into_response();
            response.extensions_mut().insert(failure);
            return response;
        }
        let (status, slug, title) = self.classify();
        let detail = match &self {
            Self::Internal(cause) => {
                tracing::error!(%cause, "internal error");
                "the server failed to answer; the failure has been logged".to_owned()
            }
            other => other.to_string(),
        };
        if status.is_server_error() {
            tracing::warn!(status = status.as_u16(), %detail, "request failed");
        }
        let kind = format!("urn:tsapi:problem:{slug}");
        let errors = match &self {
            Self::InvalidRecords { errors, .. } => Some(errors.as_slice()),
            _ => None,
        };
        let body = Problem {
            kind: &kind,
            title,
            status: status.as_u16(),
            detail: &detail,
            errors,
        };
        let json = serde_json::to_vec(&body).unwrap_or_else(|_| b"{}".to_vec());
        let mut response = (status, json).into_response();
        let headers = response.headers_mut();
        headers.insert(header::CONTENT_TYPE, HeaderValue::from_static(PROBLEM_JSON));
        if status == StatusCode::SERVICE_UNAVAILABLE {
            headers.insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        }
        if status == StatusCode::UNAUTHORIZED {
            headers.insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer"));
        }
        response
    }
}

/// Middleware: an error answered below the handlers (axum's extractor rejections, a body
/// over the size limit, tower's own refusals) comes as plain text or nothing; it becomes
/// problem+json like every other error, keeping its status and headers (`Allow`, ...).
/// Answers with a JSON body of their own (a dialect's error shape) are left alone.
pub async fn problem_for_bare_errors(request: Request, next: Next) -> Response {
    let response = next.run(request).await;
    let status = response.status();
    let bare = response
        .headers()
        .get(header::CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .is_none_or(|ct| ct.starts_with("text/plain"));
    if !(status.is_client_error() || status.is_server_error()) || !bare {
        return response;
    }
    let (parts, body) = response.into_parts();
    // A bare error body is a short reason, when there is one; read at most a little of it.
    let reason = match axum::body::to_bytes(body, 1024).await {
        Ok(bytes) if !bytes.is_empty() => String::from_utf8_lossy(&bytes).trim().to_owned(),
        _ => status
            .canonical_reason()
            .unwrap_or("refused")
            .to_lowercase(),
    };
    let mut problem = bare_problem(status, reason).into_response();
    for (name, value) in &parts.headers {
        if name != header::CONTENT_TYPE && name != header::CONTENT_LENGTH {
            problem.headers_mut().insert(name.clone(), value.clone());
        }
    }
    *problem.status_mut() = status;
    problem
}

/// The error a bare refusal stands for; the status is kept by the caller.
fn bare_problem(status: StatusCode, reason: String) -> ApiError {
    match status {
        StatusCode::PAYLOAD_TOO_LARGE => ApiError::PayloadTooLarge(reason),
        StatusCode::UNSUPPORTED_MEDIA_TYPE => ApiError::UnsupportedMediaType(reason),
        StatusCode::URI_TOO_LONG => ApiError::UriTooLong(reason),
        StatusCode::UNAUTHORIZED => ApiError::Unauthorized(reason),
        StatusCode::FORBIDDEN => ApiError::Forbidden(reason),
        StatusCode::NOT_FOUND => ApiError::NotFound(reason),
        StatusCode::METHOD_NOT_ALLOWED => ApiError::MethodNotAllowed(reason),
        s if s.is_server_error() => ApiError::Unavailable(reason),
        _ => ApiError::BadRequest(reason),
    }
}
