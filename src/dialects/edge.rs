//! Errors in each dialect's own shape: the handlers and layers answer problem+json, and
//! this middleware rewrites those answers for requests under `/alpaca/` and `/polygon/`.

use axum::body::Body;
use axum::extract::Request;
use axum::http::{HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::Response;
use serde_json::{Value, json};

use crate::error::PROBLEM_JSON;

/// Largest problem body read back (they are a few hundred bytes).
const MAX_PROBLEM_BYTES: usize = 64 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Dialect {
    Alpaca,
    Polygon,
}

impl Dialect {
    fn of(path: &str) -> Option<Self> {
        if path.starts_with("/alpaca/") {
            Some(Self::Alpaca)
        } else if path.starts_with("/polygon/") {
            Some(Self::Polygon)
        } else {
            None
        }
    }

    /// The body a client of this dialect expects for an error.
    fn body(self, status: StatusCode, message: &str, request_id: &str) -> Value {
        match self {
            // Alpaca's codes are the status followed by a sub-code; 40010001 is its
            // "invalid parameter".
            Self::Alpaca => {
                let sub = if status == StatusCode::BAD_REQUEST {
                    10001
                } else {
                    10000
                };
                json!({"code": u32::from(status.as_u16()) * 100_000 + sub, "message": message})
            }
            Self::Polygon => json!({
                "status": if status == StatusCode::NOT_FOUND { "NOT_FOUND" } else { "ERROR" },
                "request_id": request_id,
                "error": message,
            }),
        }
    }
}

/// Middleware: a problem+json answer to a dialect request becomes the dialect's error
/// body, with the same status and headers (`Allow`, `Retry-After`, ...).
pub async fn dialect_errors(request: Request, next: Next) -> Response {
    let dialect = Dialect::of(request.uri().path());
    let request_id = super::polygon::request_id(request.headers());
    let response = next.run(request).await;
    let Some(dialect) = dialect else {
        return response;
    };
    let is_problem = response
        .headers()
        .get(header::CONTENT_TYPE)
        .is_some_and(|v| v.as_bytes().starts_with(PROBLEM_JSON.as_bytes()));
    if !is_problem {
        return response;
    }
    let (mut parts, body) = response.into_parts();
    let problem: Value = axum::body::to_bytes(body, MAX_PROBLEM_BYTES)
        .await
        .ok()
        .and_then(|bytes| serde_json::from_slice(&bytes).ok())
        .unwrap_or(Value::Null);
    let message = problem["detail"]
        .as_str()
        .or_else(|| problem["title"].as_str())
        .or_else(|| parts.status.canonical_reason())
        .unwrap_or("error")
        .to_owned();
    let body = dialect.body(parts.status, &message, &request_id);
    parts.headers.remove(header::CONTENT_LENGTH);
    parts.headers.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static("application/json"),
    );
    Response::from_parts(parts, Body::from(body.to_string()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shapes() {
        assert_eq!(Dialect::of("/alpaca/v2/stocks/bars"), Some(Dialect::Alpaca));
        assert_eq!(Dialect::of("/polygon/v2/aggs"), Some(Dialect::Polygon));
        assert_eq!(Dialect::of("/v1/bars"), None);
        assert_eq!(Dialect::of("/alpacas"), None);
        let a = Dialect::Alpaca.body(StatusCode::BAD_REQUEST, "bad", "r");
        assert_eq!(a, json!({"code": 40010001, "message": "bad"}));
        let a = Dialect::Alpaca.body(StatusCode::UNAUTHORIZED, "no", "r");
        assert_eq!(a["code"], 40110000);
        let p = Dialect::Polygon.body(StatusCode::BAD_REQUEST, "bad", "r1");
        assert_eq!(
            p,
            json!({"status": "ERROR", "request_id": "r1", "error": "bad"})
        );
    }
}
