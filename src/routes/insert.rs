//! The tutorial's write path: `POST /insert`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::{HeaderMap, header};
use serde::Serialize;
use utoipa::ToSchema;

use super::write::ingest_body;
use crate::db::OnConflict;
use crate::error::ApiError;
use crate::ingest::{Format, StreamLimits};
use crate::openapi::{InsertBody, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Inserted {
    /// Rows stored.
    inserted: u64,
}

/// `POST /insert` with `{"records": {...}}` or `{"records": [...]}`: all records are
/// stored, or none.
#[utoipa::path(
    post,
    path = "/insert",
    tag = "tutorial",
    request_body(content = InsertBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Every record was stored", body = Inserted),
        (status = 400, description = "The body is not JSON of this shape",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A bar for a (symbol, time) already exists; nothing was stored",
            body = Problem, content_type = "application/problem+json"),
        (status = 413, description = "Over the body size or row limit",
            body = Problem, content_type = "application/problem+json"),
        (status = 415, description = "The body is not JSON",
            body = Problem, content_type = "application/problem+json"),
        (status = 422, description = "Some records are invalid (listed in `errors`); nothing was stored",
            body = Problem, content_type = "application/problem+json"),
        (status = 503, description = "The database is unavailable or too slow",
            body = Problem, content_type = "application/problem+json"),
    )
)]
pub async fn insert(
    State(state): State<AppState>,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Inserted>, ApiError> {
    require_json(&headers)?;
    let limits = StreamLimits {
        body_bytes: state.settings.body_limit as u64,
        rows: state.settings.max_rows as u64,
    };
    let source = (Format::Records, false);
    let counts = ingest_body(&state, &headers, body, source, limits, OnConflict::Error).await?;
    Ok(Json(Inserted {
        inserted: counts.inserted,
    }))
}

/// JSON, no type at all, or the form type `curl -d` sends by default (the tutorial's
/// examples use plain `curl -d`); anything else is surely not a JSON body.
fn require_json(headers: &HeaderMap) -> Result<(), ApiError> {
    let Some(value) = headers.get(header::CONTENT_TYPE) else {
        return Ok(());
    };
    let essence = value
        .to_str()
        .unwrap_or_default()
        .split(';')
        .next()
        .unwrap_or_default()
        .trim()
        .to_ascii_lowercase();
    match essence.as_str() {
        "application/json" | "application/x-www-form-urlencoded" => Ok(()),
        other => Err(ApiError::UnsupportedMediaType(format!(
            "/insert reads application/json, not {other:?}"
        ))),
    }
}
