//! Lambda mode: when `AWS_LAMBDA_RUNTIME_API` is set, the binary answers Lambda invocations
//! with the same router `tsapi serve` uses.
//!
//! Events from API Gateway REST APIs (payload 1.0), HTTP APIs (2.0) and Function URLs go
//! through `lambda_http`'s conversions; the empty event `{}` of `aws lambda invoke` is the
//! tutorial's test step and answers `GET /ticker` in the tutorial's response shape. The pool
//! lives as long as the execution environment, so warm invocations reuse its connection.

mod direct_invoke;
mod event;
mod init_error;

use std::process::ExitCode;

use axum::Router;
use clap::Parser;
use lambda_runtime::{Diagnostic, LambdaEvent, service_fn};
use serde_json::Value;
use tower::ServiceExt;

use crate::config::{LogFormat, ServeArgs};
use crate::router::router;
use crate::{db, telemetry};

use event::Event;

/// Set by the Lambda service: `host:port` of the Runtime API.
pub const RUNTIME_API_VAR: &str = "AWS_LAMBDA_RUNTIME_API";

/// Connections per execution environment when `TSAPI_POOL_SIZE` is unset: an environment
/// handles one invocation at a time, so a second connection is only a spare.
pub const DEFAULT_POOL_SIZE: usize = 2;

/// Whether this process was started by the Lambda service.
pub fn is_lambda() -> bool {
    std::env::var_os(RUNTIME_API_VAR).is_some()
}

/// The function's settings: exactly those of `tsapi serve`, from the environment alone.
#[derive(Debug, Parser)]
#[command(name = "tsapi")]
struct LambdaSettings {
    /// JSON by default: CloudWatch Logs Insights reads it field by field.
    #[arg(long, env = "TSAPI_LOG_FORMAT", default_value = "json")]
    log_format: LogFormat,
    /// Largest answer, in bytes of the encoded response, that tsapi returns from an
    /// invocation: Lambda refuses larger ones (6 MB for a synchronous call) with an error
    /// that tells the caller nothing. Past it tsapi answers 413 problem+json instead.
    #[arg(
        long,
        env = "TSAPI_LAMBDA_MAX_RESPONSE_BYTES",
        default_value_t = 6_291_456
    )]
    max_response_bytes: usize,
    #[command(flatten)]
    serve: ServeArgs,
}

/// Runs until the Runtime API goes away. A configuration mistake is reported to the Runtime
/// API as an init error (shown in the function's logs and to the caller), then the process
/// exits.
pub async fn main() -> ExitCode {
    let api = std::env::var(RUNTIME_API_VAR).unwrap_or_default();
    let settings = match LambdaSettings::try_parse_from(["tsapi"]) {
        Ok(settings) => settings,
        Err(e) => return init_failed(&api, &e.to_string()).await,
    };
    telemetry::init_direct(settings.log_format);
    let app = match build(settings.serve) {
        Ok(app) => app,
        Err(e) => return init_failed(&api, &format!("{e:#}")).await,
    };
    if let Some(missing) = init_error::missing_runtime_vars() {
        return init_failed(&api, &missing).await;
    }
    tracing::info!("tsapi Lambda runtime ready");
    let limit = settings.max_response_bytes;
    let handler = service_fn(move |event: LambdaEvent<Value>| {
        let app = app.clone();
        async move { handle(app, event).await.map(|r| within_limit(r, limit)) }
    });
    match lambda_runtime::run(handler).await {
        Ok(()) => ExitCode::SUCCESS,
        Err(e) => {
            tracing::error!(error = %e, "Lambda runtime stopped");
            ExitCode::FAILURE
        }
    }
}

/// The router over a lazily connecting pool: nothing touches the network before the first
/// invocation, which keeps the cold start short.
fn build(mut settings: ServeArgs) -> anyhow::Result<Router> {
    if std::env::var_os("TSAPI_POOL_SIZE").is_none() {
        settings.pool.pool_size = DEFAULT_POOL_SIZE;
    }
    // One request at a time: nothing to pipeline, and a shared connection would be one
    // more per execution environment.
    settings.pool.pipeline_reads = false;
    // Verified: a connection may have died while the environment was frozen.
    let state = crate::server::app_state(&settings, db::Recycling::Verified)?;
    Ok(router(state))
}

/// `response`, or a 413 problem+json when its encoding is over `limit` bytes.
fn within_limit(response: Value, limit: usize) -> Value {
    let size = serde_json::to_vec(&response).map_or(usize::MAX, |v| v.len());
    if size <= limit {
        return response;
    }
    tracing::warn!(
        size,
        limit,
        "answer over the Lambda response limit: 413 instead"
    );
    let problem = serde_json::json!({
        "type": "urn:tsapi:problem:response-too-large",
        "title": "Response too large",
        "status": 413,
        "detail": format!(
            "the answer takes {size} bytes, over the {limit}-byte limit of a Lambda response; \
             ask for fewer symbols (e.g. /v1/bars/latest?symbols=..., or CSV), or use `tsapi serve`"
        ),
    });
    serde_json::json!({
        "statusCode": 413,
        "headers": {"content-type": "application/problem+json"},
        "body": problem.to_string(),
        "isBase64Encoded": false,
    })
}

async fn init_failed(api: &str, message: &str) -> ExitCode {
    eprintln!("tsapi: {message}");
    init_error::report(api, message).await;
    ExitCode::FAILURE
}

/// One invocation. Failures of the request itself (bad input, database down) are HTTP
/// answers inside the proxy response; only an event tsapi cannot read is a Lambda error.
async fn handle(app: Router, event: LambdaEvent<Value>) -> Result<Value, Diagnostic> {
    let (payload, context) = event.into_parts();
    match Event::classify(payload)? {
        Event::DirectInvoke => direct_invoke::latest_bars(app).await,
        Event::Proxy(request) => {
            let adapter = lambda_http::Adapter::from(app);
            let response = match adapter.oneshot(LambdaEvent::new(*request, context)).await {
                Ok(response) => response,
                Err(never) => match never {},
            };
            serde_json::to_value(response).map_err(|e| Diagnostic {
                error_type: "ResponseEncoding".into(),
                error_message: format!("cannot encode the response: {e}"),
            })
        }
    }
}
