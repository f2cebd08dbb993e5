//! `GET /v1/symbols`: which symbols the table holds, and over which times.

use axum::Json;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::ToSchema;

use super::extract::ApiQuery;
use crate::db::{self, SymbolSpan};
use crate::error::ApiError;
use crate::openapi::refusals::{InvalidParameter, Unavailable};
use crate::state::AppState;

/// No parameters; declared so that unknown ones are refused like everywhere else.
#[derive(Debug, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct SymbolsParams {}

/// Every symbol in the table.
#[derive(Debug, Serialize, ToSchema)]
pub struct SymbolList {
    /// In byte order of the symbol.
    pub symbols: Vec<SymbolSpan>,
}

/// `GET /v1/symbols`: every symbol with the times of its first and last bar.
#[utoipa::path(
    get,
    path = "/v1/symbols",
    tag = "v1",
    responses(
        (status = 200, description = "Every symbol with its first and last bar time",
            body = SymbolList),
        InvalidParameter,
        Unavailable,
    )
)]
pub async fn symbols(
    State(state): State<AppState>,
    ApiQuery(_): ApiQuery<SymbolsParams>,
) -> Result<Json<SymbolList>, ApiError> {
    let catalog = state.catalog().await?;
    let client = state.read_db().await?;
    let symbols = db::symbol_spans(&client, catalog).await?;
    Ok(Json(SymbolList { symbols }))
}
