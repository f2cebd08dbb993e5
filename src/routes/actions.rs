//! `POST /v1/corporate-actions` and `GET /v1/corporate-actions`: the splits, dividends and
//! symbol changes that adjusted reads (`adjustment=`, `asof=`) use.

use axum::Json;
use axum::body::Bytes;
use axum::extract::State;
use serde::{Deserialize, Serialize};
use utoipa::{IntoParams, ToSchema};

use super::extract::{ApiQuery, BodyType, param, symbols_param};
use crate::db;
use crate::db::actions::ActionCounts;
use crate::domain::actions::{ActionRecord, MAX_ACTIONS_PER_REQUEST, parse_ex_date};
use crate::domain::{SymbolListText, bars_query};
use crate::error::ApiError;
use crate::ingest::actions::decode_actions;
use crate::openapi::Problem;
use crate::openapi::refusals::{
    BodyTooLarge, InvalidParameter, InvalidRecords, Unavailable, UnsupportedBody,
};
use crate::state::AppState;

/// Rows of `GET /v1/corporate-actions` when `limit` is absent, and the most.
const DEFAULT_LIMIT: i64 = 1_000;
const MAX_LIMIT: i64 = 10_000;

/// Store corporate actions.
///
/// The body is a JSON array of records (or `{"records": [...]}`), NDJSON, or CSV with a
/// header row naming the fields (empty cells are absent), optionally `Content-Encoding:
/// gzip`; at most 10,000 records. Records by `type`:
/// `{"type": "split", "symbol", "ex_date", "split_from", "split_to"}` (a 4-for-1 is from 1
/// to 4), `{"type": "dividend", "symbol", "ex_date", "cash_amount", "currency"}` (currency
/// defaults to USD) and `{"type": "symbol_change", "symbol", "new_symbol", "ex_date"}`.
///
/// All or nothing: one invalid record is a 422 naming every bad record's `index`, `line`
/// and `field`, and nothing is stored. An action is identified by (`type`, `symbol`,
/// `ex_date`): posting one again replaces its values, so re-posting the same data is
/// harmless.
#[utoipa::path(
    post,
    path = "/v1/corporate-actions",
    tag = "v1",
    request_body(
        description = "Records as a JSON array (or `{\"records\": [...]}`), NDJSON, or CSV \
            with a header row; optionally `Content-Encoding: gzip`",
        content(
            (Vec<ActionRecord> = "application/json"),
            (ActionRecord = "application/x-ndjson"),
            (String = "text/csv"),
        )
    ),
    responses(
        (status = 200, description = "All records stored", body = ActionCounts),
        (status = 400, description = "Malformed body; `detail` says where",
            body = Problem, content_type = "application/problem+json"),
        BodyTooLarge,
        UnsupportedBody,
        InvalidRecords,
        Unavailable,
    )
)]
pub async fn write_actions(
    State(state): State<AppState>,
    body_type: BodyType,
    body: Bytes,
) -> Result<Json<ActionCounts>, ApiError> {
    let format = body_type.json_ndjson_or_csv("/v1/corporate-actions")?;
    let actions = decode_actions(
        &body[..],
        body_type.gzip,
        format,
        state.settings.body_limit as u64,
        state.settings.max_value_bytes,
        MAX_ACTIONS_PER_REQUEST,
    )?;
    let client = state.db().await?;
    let work = client.start();
    let counts = db::actions::write_actions(&***client, &actions).await;
    work.end();
    Ok(Json(counts?))
}

/// `GET /v1/corporate-actions` parameters.
#[derive(Debug, Deserialize, IntoParams)]
#[serde(deny_unknown_fields)]
#[into_params(parameter_in = Query)]
pub struct ActionsParams {
    /// Comma-separated symbols; an action matches by its `symbol` or its `new_symbol`.
    /// Absent: every symbol.
    #[param(value_type = Option<SymbolListText>)]
    symbols: Option<String>,
    /// Inclusive first ex-date, `YYYY-MM-DD`.
    #[param(example = "2020-01-01", format = Date)]
    start: Option<String>,
    /// Exclusive last ex-date, `YYYY-MM-DD`.
    #[param(example = "2021-01-01", format = Date)]
    end: Option<String>,
    /// Most actions in the answer, 1 to 10000 (default 1000).
    #[param(value_type = Option<u64>, minimum = 1, maximum = 10000)]
    limit: Option<String>,
}

/// Stored corporate actions.
#[derive(Debug, Serialize, ToSchema)]
pub struct Actions {
    /// By ex-date, then symbol (byte order), then type.
    pub actions: Vec<ActionRecord>,
    /// More actions match than `limit`: narrow `start` and `end` to see the rest.
    pub truncated: bool,
}

/// `GET /v1/corporate-actions`: the stored actions of some symbols over a range of ex-dates.
#[utoipa::path(
    get,
    path = "/v1/corporate-actions",
    tag = "v1",
    params(ActionsParams),
    responses(
        (status = 200, description = "The matching actions", body = Actions),
        InvalidParameter,
        Unavailable,
    )
)]
pub async fn list_actions(
    State(state): State<AppState>,
    ApiQuery(params): ApiQuery<ActionsParams>,
) -> Result<Json<Actions>, ApiError> {
    let symbols = symbols_param(params.symbols.as_deref(), bars_query::MAX_SYMBOLS)?;
    let date = |name: &str, raw: &Option<String>| {
        raw.as_deref()
            .map(|r| param(name, parse_ex_date(r.trim())))
            .transpose()
    };
    let (start, end) = (date("start", &params.start)?, date("end", &params.end)?);
    if let (Some(s), Some(e)) = (start, end)
        && e <= s
    {
        return Err(ApiError::BadRequest(
            "parameter `end`: must be after `start`".into(),
        ));
    }
    let limit = match params.limit.as_deref() {
        None => DEFAULT_LIMIT,
        Some(raw) => param(
            "limit",
            raw.parse::<i64>()
                .ok()
                .filter(|n| (1..=MAX_LIMIT).contains(n))
                .ok_or_else(|| format!("{raw:?} is not an integer from 1 to {MAX_LIMIT}")),
        )?,
    };
    let client = state.read_db().await?;
    let mut found =
        db::actions::list_actions(&client, symbols.as_deref(), start, end, limit + 1).await?;
    let truncated = found.len() as i64 > limit;
    found.truncate(limit as usize);
    Ok(Json(Actions {
        actions: found.iter().map(ActionRecord::from).collect(),
        truncated,
    }))
}
