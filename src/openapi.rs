//! The OpenAPI 3.1 document, generated from the handlers' own `#[utoipa::path]`
//! attributes and the types' `ToSchema` derives, served at `GET /openapi.json`.
//!
//! To document a new operation: put `#[utoipa::path]` on its handler and add the handler to
//! `paths(...)` below (and its body types to `components(...)` when not reached from a path).

use axum::Json;
use serde::Serialize;
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::{Modify, OpenApi, ToSchema};

use crate::domain::FieldError;

/// An error: RFC 9457 problem details, `application/problem+json`.
#[derive(Debug, Serialize, ToSchema)]
pub struct Problem {
    /// A URN naming the kind of problem, e.g. `urn:tsapi:problem:bad-request`.
    #[serde(rename = "type")]
    #[schema(example = "urn:tsapi:problem:bad-request")]
    pub kind: String,
    /// Short summary of the kind.
    #[schema(example = "Bad request")]
    pub title: String,
    /// The HTTP status.
    #[schema(example = 400)]
    pub status: u16,
    /// What went wrong and where, e.g. which parameter.
    #[schema(example = "parameter `interval`: \"0d\": the number must be at least 1")]
    pub detail: String,
    /// For invalid records (422): up to 100 per-record errors.
    #[schema(nullable = false)]
    pub errors: Option<Vec<FieldError>>,
}

/// `{"status": ...}` of the health endpoints.
#[derive(Debug, Serialize, ToSchema)]
pub struct HealthStatus {
    #[schema(example = "ok")]
    pub status: String,
}

/// One bar to insert. Fields are matched by name; unknown fields are refused.
#[derive(Debug, Serialize, ToSchema)]
pub struct InsertRecord {
    /// RFC 3339, or `YYYY-MM-DD[ HH:MM:SS[.fff]]` read in the server's time zone.
    #[schema(example = "2021-11-12 15:00:00")]
    pub time: String,
    #[schema(example = "AAPL")]
    pub symbol: String,
    pub price_open: Option<f64>,
    pub price_high: Option<f64>,
    pub price_low: Option<f64>,
    pub price_close: Option<f64>,
    /// An integer (`17291.0` is read as 17291).
    pub trading_volume: Option<i64>,
}

/// The tutorial's insert body: one record or a list of them.
#[derive(Debug, Serialize, ToSchema)]
pub struct InsertBody {
    pub records: InsertRecords,
}

/// One record, or a list of records.
#[derive(Debug, Serialize, ToSchema)]
#[serde(untagged)]
pub enum InsertRecords {
    One(InsertRecord),
    Many(Vec<InsertRecord>),
}

#[derive(OpenApi)]
#[openapi(
    modifiers(&ApiKeys),
    security(("bearer" = []), ("api_key" = [])),
    info(
        title = "tsapi",
        description = "A data API for market bars in TimescaleDB.\n\n\
            Times out are RFC 3339 in UTC. Times in are RFC 3339 with an offset, or naive \
            `YYYY-MM-DD HH:MM:SS[.fff]` / `YYYY-MM-DD` read in the server's zone \
            (`TSAPI_TIMEZONE`; for `/v1/bars`, in `tz` when given). Unknown or repeated \
            query parameters are refused. Every error is `application/problem+json`."
    ),
    paths(
        crate::routes::ticker::latest,
        crate::routes::ticker::daily,
        crate::routes::insert::insert,
        crate::routes::bars::bars,
        crate::routes::write::write_bars,
        crate::routes::bars::latest,
        crate::routes::symbols::symbols,
        crate::routes::market::snapshots,
        crate::routes::market::grouped,
        crate::routes::market::previous,
        crate::routes::health::healthz,
        crate::routes::health::readyz,
        crate::routes::metrics::metrics,
        crate::routes::chart::page,
        crate::routes::chart::chart,
        serve,
    ),
    components(schemas(Problem, FieldError, InsertBody, InsertRecords, InsertRecord)),
    tags(
        (name = "tutorial", description = "The paths of TimescaleDB's data-API tutorial"),
        (name = "v1", description = "Ranges, aggregates, pagination, exports"),
        (name = "operations", description = "Health, metrics and the API description"),
        (name = "chart", description = "Candlestick charts and a page to browse them"),
    )
)]
pub struct ApiDoc;

/// API keys: `Authorization: Bearer KEY` or `X-API-Key: KEY` (see `tsapi keygen`). Reads need
/// the `read` scope (unless the server allows public reads), writes `write`; `/healthz`,
/// `/readyz`, `/metrics`, `/openapi.json` and `/` are public.
struct ApiKeys;

impl Modify for ApiKeys {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "bearer",
            SecurityScheme::Http(HttpBuilder::new().scheme(HttpAuthScheme::Bearer).build()),
        );
        components.add_security_scheme(
            "api_key",
            SecurityScheme::ApiKey(ApiKey::Header(ApiKeyValue::new("X-API-Key"))),
        );
    }
}

/// `GET /openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
pub async fn serve() -> Json<utoipa::openapi::OpenApi> {
    Json(ApiDoc::openapi())
}
