//! The tutorial's write path: `POST /insert`.

use axum::Json;
use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use serde::Serialize;
use utoipa::ToSchema;

use super::extract::BodyType;
use super::write::ingest_body;
use crate::db::OnConflict;
use crate::error::ApiError;
use crate::ingest::{BodyFormat, StreamLimits};
use crate::openapi::refusals::{BodyTooLarge, InvalidRecords, Unavailable};
use crate::openapi::{InsertBody, Problem};
use crate::state::AppState;

#[derive(Debug, Serialize, ToSchema)]
pub struct Inserted {
    /// Rows stored.
    inserted: u64,
}

/// `POST /insert` with `{"records": {...}}` or `{"records": [...]}`: all records are
/// stored, or none. The body may be `Content-Encoding: gzip`, as for `POST /v1/bars`.
#[utoipa::path(
    post,
    path = "/insert",
    tag = "tutorial",
    request_body(content = InsertBody, content_type = "application/json"),
    responses(
        (status = 200, description = "Every record was stored", body = Inserted),
        (status = 400, description = "The body is not JSON of this shape",
            body = Problem, content_type = "application/problem+json"),
        (status = 409, description = "A bar for a (symbol, time) already exists or appears twice in \
            the body; nothing was stored",
            body = Problem, content_type = "application/problem+json"),
        BodyTooLarge,
        (status = 415, description = "The body is not JSON, or its Content-Encoding is not gzip",
            body = Problem, content_type = "application/problem+json"),
        InvalidRecords,
        Unavailable,
    )
)]
pub async fn insert(
    State(state): State<AppState>,
    body_type: BodyType,
    headers: HeaderMap,
    body: Body,
) -> Result<Json<Inserted>, ApiError> {
    require_json(&body_type)?;
    let limits = StreamLimits {
        body_bytes: state.settings.body_limit as u64,
        rows: state.settings.max_rows as u64,
    };
    let source = (BodyFormat::Records, body_type.gzip);
    let counts = ingest_body(&state, &headers, body, source, limits, OnConflict::Error).await?;
    Ok(Json(Inserted {
        inserted: counts.inserted,
    }))
}

/// JSON, no type at all, or the form type `curl -d` sends by default (the tutorial's
/// examples use plain `curl -d`); anything else is surely not a JSON body.
fn require_json(body_type: &BodyType) -> Result<(), ApiError> {
    match body_type.media_type.as_deref() {
        None | Some("application/json" | "application/x-www-form-urlencoded") => Ok(()),
        Some(_) => Err(ApiError::UnsupportedMediaType(format!(
            "/insert reads application/json, not {}",
            body_type.describe()
        ))),
    }
}
