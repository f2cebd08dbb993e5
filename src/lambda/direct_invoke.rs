//! `aws lambda invoke --function-name tsapi out.json` with no payload: the tutorial's test
//! step. It answers `GET /ticker` (the latest bar of every symbol) in the tutorial's shape,
//! `{"statusCode", "headers": {"Content-Type"}, "body"}`.

use axum::Router;
use axum::body::Body;
use http::header::CONTENT_TYPE;
use lambda_runtime::Diagnostic;
use serde_json::{Value, json};
use tower::ServiceExt;

pub async fn latest_bars(app: Router) -> Result<Value, Diagnostic> {
    let mut request = http::Request::get("/ticker")
        .body(Body::empty())
        .expect("a constant request is valid");
    request
        .extensions_mut()
        .insert(crate::auth::PlatformAuthenticated);
    let response = match app.oneshot(request).await {
        Ok(response) => response,
        Err(never) => match never {},
    };
    let status = response.status().as_u16();
    let content_type = response
        .headers()
        .get(CONTENT_TYPE)
        .and_then(|v| v.to_str().ok())
        .unwrap_or("application/json")
        .to_owned();
    let body = axum::body::to_bytes(response.into_body(), usize::MAX)
        .await
        .map_err(|e| Diagnostic {
            error_type: "ResponseBody".into(),
            error_message: format!("cannot read the response body: {e}"),
        })?;
    Ok(json!({
        "statusCode": status,
        "headers": {"Content-Type": content_type},
        "body": String::from_utf8_lossy(&body),
    }))
}
