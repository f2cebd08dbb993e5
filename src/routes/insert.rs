//! The tutorial's write path: `POST /insert`.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use axum::extract::rejection::BytesRejection;
use axum::http::{HeaderMap, StatusCode, header};
use serde::Serialize;
use utoipa::ToSchema;

use crate::db::{self, OnConflict};
use crate::domain::{RecordRules, parse_insert_body};
use crate::error::ApiError;
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
        (status = 413, description = "The body exceeds the size limit",
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
    body: Result<Bytes, BytesRejection>,
) -> Result<Json<Inserted>, ApiError> {
    require_json(&headers)?;
    let body = body.map_err(|rejection| body_error(rejection, state.settings.body_limit))?;
    let table = state.table.get(state.db()).await?;
    let rules = RecordRules {
        times: state.settings.time_parser(),
        volume: table.volume,
        max_rows: state.settings.max_rows,
    };
    let bars = parse_insert_body(&body, &rules)?;
    let mut client = state.db().await?;
    let work = client.start();
    let counts = db::write_bars(&mut client, table, &bars, OnConflict::Error).await;
    // Failed or not, the transaction has ended: the connection may be reused.
    work.end();
    let counts = counts?;
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

/// The body could not be read: too large (413) or broken off.
pub fn body_error(rejection: BytesRejection, limit: usize) -> ApiError {
    if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE {
        ApiError::PayloadTooLarge(format!("the body exceeds the limit of {limit} bytes"))
    } else {
        ApiError::BadRequest(format!("cannot read the body: {}", rejection.body_text()))
    }
}
