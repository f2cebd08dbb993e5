//! The 200 answers of the reads that negotiate their format, each described once for the
//! OpenAPI document: JSON in the route's own shape, CSV, NDJSON (one JSON value per line)
//! and the columnar formats (Arrow IPC stream, Parquet). A handler names its answer in
//! `#[utoipa::path(responses(...))]` next to the [`super::refusals`] it may give.
//!
//! A response type named in `responses(...)` adds no schemas to the document's components
//! (only inline `content(...)` does), so [`AnswerSchemas`] registers the schemas every
//! answer refers to.

use std::collections::BTreeMap;

use utoipa::openapi::schema::Schema;
use utoipa::openapi::{
    ContentBuilder, HeaderBuilder, Ref, RefOr, Response, ResponseBuilder, ResponsesBuilder,
};
use utoipa::{Modify, PartialSchema, ToSchema};

use crate::columnar::{ARROW_STREAM, PARQUET};
use crate::domain::{Bar, QueryBar, Snapshot};
use crate::routes::bars::{BarsPage, LatestBars};
use crate::routes::columnar::{ColumnarBody, SnapshotsColumnarBody};
use crate::routes::market::{DailyBars, Snapshots};

/// Declares each answer as a response type of status 200 whose body is `$json` as JSON,
/// CSV text, `$line` per NDJSON line and `$columnar` as Arrow or Parquet, and
/// [`AnswerSchemas`], which registers those schemas.
macro_rules! answers {
    ($(
        $(#[$doc:meta])*
        $name:ident {
            description: $description:expr,
            $(headers: [$(($header:literal, $header_description:literal)),* $(,)?],)?
            json: $json:ty,
            ndjson: $line:ty,
            columnar: $columnar:ty $(,)?
        }
    )*) => {
        $(
            $(#[$doc])*
            pub struct $name;

            impl utoipa::IntoResponses for $name {
                fn responses() -> BTreeMap<String, RefOr<Response>> {
                    let headers: &[(&str, &str)] = &[$($(($header, $header_description)),*)?];
                    formats::<$json, $line, $columnar>($description, headers)
                }
            }
        )*

        /// Registers the schemas the answers refer to (see the module's documentation).
        pub struct AnswerSchemas;

        impl Modify for AnswerSchemas {
            fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
                let mut schemas = Vec::new();
                $(
                    register::<$json>(&mut schemas);
                    register::<$line>(&mut schemas);
                    register::<$columnar>(&mut schemas);
                )*
                let components = openapi.components.get_or_insert_with(Default::default);
                components.schemas.extend(schemas);
            }
        }
    };
}

answers! {
    /// 200 of `GET /v1/bars`.
    BarsAnswer {
        description: "A page of bars (JSON), or every row as a stream \
            (CSV with a header line, or NDJSON: one bar per line, no page token). \
            Arrow IPC stream: every row, or with `limit` or `page_token` one page whose \
            next token is in the `Next-Page-Token` header. Parquet: every row up to \
            `limit` (default and most `TSAPI_MAX_PARQUET_ROWS`); the footer metadata's \
            `next_page_token` resumes a range that holds more",
        headers: [("Next-Page-Token",
            "Arrow pages only: `page_token` of the next page; absent on the last")],
        json: BarsPage,
        ndjson: QueryBar,
        columnar: ColumnarBody,
    }
    /// 200 of `GET /v1/bars/latest`.
    LatestAnswer {
        description: "The latest bar per symbol",
        json: LatestBars,
        ndjson: Bar,
        columnar: ColumnarBody,
    }
    /// 200 of `GET /v1/snapshots`.
    SnapshotsAnswer {
        description: "One snapshot per symbol",
        json: Snapshots,
        ndjson: Snapshot,
        columnar: SnapshotsColumnarBody,
    }
    /// 200 of `GET /v1/bars/grouped`.
    GroupedAnswer {
        description: "One daily bar per symbol that traded that day",
        json: DailyBars,
        ndjson: QueryBar,
        columnar: ColumnarBody,
    }
    /// 200 of `GET /v1/bars/previous`.
    PreviousAnswer {
        description: "One daily bar per symbol",
        json: DailyBars,
        ndjson: QueryBar,
        columnar: ColumnarBody,
    }
}

/// The 200 response of a format-negotiating read, with its media types in the order the
/// negotiation prefers them.
fn formats<Json: ToSchema, Line: ToSchema, Columnar: ToSchema>(
    description: &str,
    headers: &[(&str, &str)],
) -> BTreeMap<String, RefOr<Response>> {
    let named = |name| ContentBuilder::new().schema(Some(Ref::from_schema_name(name)));
    let mut response = ResponseBuilder::new()
        .description(description)
        .content("application/json", named(Json::name()).build())
        .content(
            "text/csv",
            ContentBuilder::new().schema(Some(String::schema())).build(),
        )
        .content("application/x-ndjson", named(Line::name()).build())
        .content(ARROW_STREAM, named(Columnar::name()).build())
        .content(PARQUET, named(Columnar::name()).build());
    for (name, description) in headers {
        let header = HeaderBuilder::new()
            .schema(String::schema())
            .description(Some(*description));
        response = response.header(*name, header.build());
    }
    ResponsesBuilder::new()
        .response("200", response)
        .build()
        .responses
}

/// `T`'s schema under its name, and the schemas it refers to.
fn register<T: ToSchema>(schemas: &mut Vec<(String, RefOr<Schema>)>) {
    schemas.push((T::name().into_owned(), T::schema()));
    T::schemas(schemas);
}
