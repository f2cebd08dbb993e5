//! The OpenAPI 3.1 document, generated from the handlers' own `#[utoipa::path]`
//! attributes and the types' `ToSchema` derives, served at `GET /openapi.json`.
//!
//! To document a new operation: put `#[utoipa::path]` on its handler and register it with
//! `routes!` in `router.rs`, which adds both the route and its entry here. Security is not
//! written per handler: [`mark_keyed`] and [`mark_public`] set it from the table a route
//! sits in. The refusals many operations give (a bad parameter, a body too large, the
//! database unavailable, ...) are described once in [`refusals`] and named in `responses`.

use axum::Extension;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use serde::Serialize;
use utoipa::openapi::path::Operation;
use utoipa::openapi::schema::{AdditionalProperties, ObjectBuilder, Schema, Type};
use utoipa::openapi::security::{ApiKey, ApiKeyValue, HttpAuthScheme, HttpBuilder, SecurityScheme};
use utoipa::openapi::{ContentBuilder, Ref, RefOr, ResponseBuilder};
use utoipa::{Modify, OpenApi, ToSchema};
use utoipa_axum::router::OpenApiRouter;

use crate::domain::{BarValues, FieldError, SymbolListText, SymbolText};
use crate::error::PROBLEM_JSON;
use answers::AnswerSchemas;

pub mod answers;
pub mod refusals;

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

/// One bar to insert: `time`, `symbol` and the fields of [`BarValues`], matched by name.
/// Only documented: the writes parse records themselves (`crate::ingest`); the derives let
/// the body types that hold it carry serde's attributes into their schemas.
#[derive(Debug, Serialize)]
pub struct InsertRecord;

impl utoipa::PartialSchema for InsertRecord {
    fn schema() -> RefOr<Schema> {
        let string = |description: &str, example: &str| {
            ObjectBuilder::new()
                .schema_type(Type::String)
                .description(Some(description))
                .examples([serde_json::json!(example)])
        };
        let mut record = ObjectBuilder::new()
            .description(Some(
                "One bar to insert. Fields are matched by name; unknown fields are refused. A \
                 table without `trade_count` and `vwap` (made before `tsapi migrate` added \
                 them) refuses non-null values of those with 422.",
            ))
            .property(
                "time",
                string(
                    "RFC 3339, or `YYYY-MM-DD[ HH:MM:SS[.fff]]` read in the server's time zone.",
                    "2021-11-12 15:00:00",
                ),
            )
            .required("time")
            .property("symbol", string("The symbol.", "AAPL"))
            .required("symbol")
            .additional_properties(Some(AdditionalProperties::FreeForm(false)));
        if let RefOr::T(Schema::Object(values)) = BarValues::schema() {
            for (name, mut value) in values.properties {
                // Stored vwaps are shown as they are; written ones must be above 0.
                if let (RefOr::T(Schema::Object(vwap)), "vwap") = (&mut value, name.as_str()) {
                    vwap.exclusive_minimum = Some(0.into());
                }
                record = record.property(name, value);
            }
        }
        record.into()
    }
}

impl ToSchema for InsertRecord {}

/// The tutorial's insert body: one record or a list of them.
#[derive(Debug, Serialize, ToSchema)]
#[serde(deny_unknown_fields)]
pub struct InsertBody {
    pub records: InsertRecords,
}

/// One record, or a list of at least one record.
#[derive(Debug, Serialize)]
#[serde(untagged)]
pub enum InsertRecords {
    One(InsertRecord),
    Many(Vec<InsertRecord>),
}

impl utoipa::PartialSchema for InsertRecords {
    fn schema() -> RefOr<Schema> {
        use utoipa::openapi::schema::{ArrayBuilder, OneOfBuilder};
        let record = Ref::from_schema_name("InsertRecord");
        OneOfBuilder::new()
            .description(Some("One record, or a list of at least one record."))
            .item(record.clone())
            .item(ArrayBuilder::new().items(record).min_items(Some(1)))
            .into()
    }
}

impl ToSchema for InsertRecords {}

#[derive(OpenApi)]
#[openapi(
    modifiers(&ApiKeys, &AnswerSchemas),
    security(("bearer" = []), ("api_key" = [])),
    info(
        title = "tsapi",
        description = "A data API for market bars in TimescaleDB.\n\n\
            Times out are RFC 3339 in UTC. Times in are RFC 3339 with an offset, or naive \
            `YYYY-MM-DD HH:MM:SS[.fff]` / `YYYY-MM-DD` read in the server's zone \
            (`TSAPI_TIMEZONE`; for `/v1/bars`, in `tz` when given). Unknown or repeated \
            query parameters are refused. Every error is `application/problem+json`."
    ),
    components(schemas(
        Problem,
        FieldError,
        InsertBody,
        InsertRecords,
        InsertRecord,
        SymbolText,
        SymbolListText
    )),
    tags(
        (name = "tutorial", description = "The paths of TimescaleDB's data-API tutorial"),
        (name = "v1", description = "Ranges, aggregates, pagination, exports"),
        (name = "operations", description = "Health, metrics and the API description"),
        (name = "chart", description = "Candlestick charts and a page to browse them"),
        (name = "alpaca", description = "Alpaca Market Data v2 dialect (stock bars and the \
            stream): `alpaca-py` with `url_override=.../alpaca`; errors as `{code, message}`"),
        (name = "polygon", description = "Polygon (Massive) aggregates dialect: \
            `massive.RESTClient(base=.../polygon)`; errors as `{status, request_id, error}`"),
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

/// The document as served, rendered once when the router is built.
#[derive(Clone)]
pub struct OpenApiJson(Bytes);

impl OpenApiJson {
    pub fn new(document: &utoipa::openapi::OpenApi) -> Self {
        Self(Bytes::from(
            serde_json::to_vec(document).expect("the OpenAPI document serializes"),
        ))
    }
}

/// `GET /openapi.json`: this API's OpenAPI 3.1 document.
#[utoipa::path(
    get,
    path = "/openapi.json",
    tag = "operations",
    responses((status = 200, description = "The OpenAPI 3.1 document", body = Object))
)]
pub async fn serve(Extension(document): Extension<OpenApiJson>) -> Response {
    ([(header::CONTENT_TYPE, "application/json")], document.0).into_response()
}

/// Routes anyone may call: their operations require no security (`security: []`).
pub fn mark_public<S>(mut routes: OpenApiRouter<S>) -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    for operation in operations(routes.get_openapi_mut()) {
        operation.security = Some(Vec::new());
    }
    routes
}

/// Routes that need a key: the document's global security applies, and every operation
/// lists the answers the key check gives.
pub fn mark_keyed<S>(mut routes: OpenApiRouter<S>) -> OpenApiRouter<S>
where
    S: Clone + Send + Sync + 'static,
{
    for operation in operations(routes.get_openapi_mut()) {
        for (status, description) in [
            ("401", "No API key, or one that is not configured"),
            ("403", "The API key lacks the scope this request needs"),
        ] {
            operation
                .responses
                .responses
                .entry(status.to_owned())
                .or_insert_with(|| problem_response(description));
        }
    }
    routes
}

/// A problem+json response of the given description.
pub fn problem_response(description: &str) -> RefOr<utoipa::openapi::Response> {
    RefOr::T(
        ResponseBuilder::new()
            .description(description)
            .content(
                PROBLEM_JSON,
                ContentBuilder::new()
                    .schema(Some(Ref::from_schema_name("Problem")))
                    .build(),
            )
            .build(),
    )
}

/// Every operation of every path in a document.
fn operations(document: &mut utoipa::openapi::OpenApi) -> impl Iterator<Item = &mut Operation> {
    document.paths.paths.values_mut().flat_map(|item| {
        [
            &mut item.get,
            &mut item.put,
            &mut item.post,
            &mut item.delete,
            &mut item.options,
            &mut item.head,
            &mut item.patch,
            &mut item.trace,
        ]
        .into_iter()
        .filter_map(Option::as_mut)
    })
}

#[cfg(test)]
mod tests {
    use utoipa::PartialSchema;

    use super::*;

    #[test]
    fn an_insert_record_is_time_symbol_and_every_bar_value_and_nothing_else() {
        let record = serde_json::to_value(InsertRecord::schema()).unwrap();
        let values = serde_json::to_value(BarValues::schema()).unwrap();
        let mut names: Vec<&str> = record["properties"]
            .as_object()
            .unwrap()
            .keys()
            .map(String::as_str)
            .collect();
        names.sort_unstable();
        let mut expected = vec!["symbol", "time"];
        expected.extend(
            values["properties"]
                .as_object()
                .unwrap()
                .keys()
                .map(String::as_str),
        );
        expected.sort_unstable();
        assert_eq!(names, expected);
        assert_eq!(record["required"], serde_json::json!(["time", "symbol"]));
        assert_eq!(record["additionalProperties"], false);
        assert_eq!(record["properties"]["vwap"]["exclusiveMinimum"], 0);
        assert_eq!(record["properties"]["trade_count"]["minimum"], 0);
    }
}
