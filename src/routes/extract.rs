//! Extractors whose rejections are the API's own problem+json errors.

use axum::extract::FromRequestParts;
use axum::http::header;
use axum::http::request::Parts;
use serde::de::DeserializeOwned;

use crate::domain::{Symbol, bars_query};
use crate::error::ApiError;
use crate::ingest::BodyFormat;

/// Query parameters into `T`; unknown or repeated parameters are refused with a 400 that
/// names them, so a typo like `symbl=` is not silently ignored.
pub struct ApiQuery<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequestParts<S> for ApiQuery<T> {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        parse_query(parts.uri.query().unwrap_or_default()).map(ApiQuery)
    }
}

/// A query string into `T`, as [`ApiQuery`] reads it.
pub fn parse_query<T: DeserializeOwned>(query: &str) -> Result<T, ApiError> {
    serde_urlencoded::from_str(query).map_err(|e| ApiError::BadRequest(query_error(&e.to_string())))
}

/// serde's words for a bad query (`unknown field`, `there are no fields`) in the API's:
/// parameters, and which ones the endpoint takes.
fn query_error(serde_message: &str) -> String {
    let named = |prefix: &str| {
        let rest = serde_message.strip_prefix(prefix)?;
        let (name, rest) = rest.split_once('`')?;
        Some((crate::domain::quote(name), rest.trim_start_matches(", ")))
    };
    if let Some((name, known)) = named("unknown field `") {
        return match known.strip_prefix("expected one of ") {
            Some(list) => format!("unknown parameter {name}; this endpoint takes {list}"),
            None if known.starts_with("expected ") => format!(
                "unknown parameter {name}; this endpoint takes {}",
                &known["expected ".len()..]
            ),
            None => format!("unknown parameter {name}; this endpoint takes no parameters"),
        };
    }
    if let Some((name, _)) = named("duplicate field `") {
        return format!("parameter {name} is given more than once");
    }
    format!("query parameters: {serde_message}")
}

/// Parses one query parameter, naming it in the error.
pub fn param<T>(name: &str, parsed: Result<T, String>) -> Result<T, ApiError> {
    parsed.map_err(|message| ApiError::BadRequest(format!("parameter `{name}`: {message}")))
}

/// `symbols=` of a read that may take every symbol: comma-separated, at most `max`; absent
/// (`None`): every symbol.
pub fn symbols_param(raw: Option<&str>, max: usize) -> Result<Option<Vec<Symbol>>, ApiError> {
    raw.map(|raw| param("symbols", bars_query::parse_symbol_list(raw, max)))
        .transpose()
}

/// What a request body is, from its headers: the media type of `Content-Type` (its essence,
/// in lower case; `None` without the header) and whether `Content-Encoding` is gzip. Any
/// other encoding is a 415; which media types a route reads is the route's to say.
pub struct BodyType {
    pub media_type: Option<String>,
    pub gzip: bool,
}

impl<S: Send + Sync> FromRequestParts<S> for BodyType {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, ApiError> {
        let media_type = parts.headers.get(header::CONTENT_TYPE).map(|value| {
            let value = value.to_str().unwrap_or_default();
            let essence = value.split(';').next().unwrap_or_default();
            essence.trim().to_ascii_lowercase()
        });
        let gzip = match parts.headers.get(header::CONTENT_ENCODING) {
            None => false,
            Some(value) => {
                let encoding = value
                    .to_str()
                    .unwrap_or_default()
                    .trim()
                    .to_ascii_lowercase();
                match encoding.as_str() {
                    "gzip" | "x-gzip" => true,
                    "identity" | "" => false,
                    other => {
                        return Err(ApiError::UnsupportedMediaType(format!(
                            "Content-Encoding {} is not supported; send gzip or no encoding",
                            crate::domain::quote(other)
                        )));
                    }
                }
            }
        };
        Ok(Self { media_type, gzip })
    }
}

impl BodyType {
    /// The decoder of a route (`route` names it) that reads JSON, NDJSON or CSV; any other
    /// media type is a 415 naming it.
    pub fn json_ndjson_or_csv(&self, route: &str) -> Result<BodyFormat, ApiError> {
        self.media_type
            .as_deref()
            .and_then(BodyFormat::from_media_type)
            .ok_or_else(|| {
                ApiError::UnsupportedMediaType(format!(
                    "{route} reads application/json, application/x-ndjson or text/csv, not {}",
                    self.describe()
                ))
            })
    }

    /// The media type for messages: quoted, or said to be missing.
    pub fn describe(&self) -> String {
        self.media_type.as_deref().map_or_else(
            || "a body without Content-Type".to_owned(),
            crate::domain::quote,
        )
    }
}
