//! Which kind of event an invocation carries, told apart by the fields each kind must have.

use lambda_http::aws_lambda_events::apigw::{ApiGatewayProxyRequest, ApiGatewayV2httpRequest};
use lambda_http::request::LambdaRequest;
use lambda_runtime::Diagnostic;
use serde_json::Value;

/// What tsapi can answer.
#[derive(Debug)]
pub enum Event {
    /// `{}`: `aws lambda invoke` without a payload, the tutorial's test step.
    DirectInvoke,
    /// An HTTP request from API Gateway (REST or HTTP API) or a Function URL, with the
    /// stage already taken out of its path.
    Proxy(Box<LambdaRequest>),
}

/// An event tsapi cannot answer; the message says what it expects instead.
#[derive(Debug, thiserror::Error)]
#[error("{0}")]
pub struct UnrecognizedEvent(String);

impl From<UnrecognizedEvent> for Diagnostic {
    fn from(err: UnrecognizedEvent) -> Self {
        Diagnostic {
            error_type: "UnrecognizedEvent".into(),
            error_message: err.0,
        }
    }
}

const EXPECTED: &str = "tsapi answers API Gateway REST API (payload 1.0) and HTTP API (2.0) \
                        proxy events, Function URL events, and the empty event {} (the latest \
                        bar of every symbol)";

impl Event {
    pub fn classify(payload: Value) -> Result<Self, UnrecognizedEvent> {
        let Value::Object(fields) = &payload else {
            return Err(UnrecognizedEvent(format!(
                "unrecognized event: not a JSON object; {EXPECTED}"
            )));
        };
        let has = |name: &str| fields.get(name).is_some_and(|v| !v.is_null());
        if fields.is_empty() {
            Ok(Self::DirectInvoke)
        } else if has("httpMethod") && has("requestContext") {
            let request = read::<ApiGatewayProxyRequest>(payload, "API Gateway REST API")?;
            let request = LambdaRequest::ApiGatewayV1(without_stage_v1(request));
            Ok(Self::Proxy(Box::new(request)))
        } else if fields.get("version").and_then(Value::as_str) == Some("2.0")
            && payload.pointer("/requestContext/http").is_some()
        {
            let request = read::<ApiGatewayV2httpRequest>(payload, "HTTP API or Function URL")?;
            let request = LambdaRequest::ApiGatewayV2(without_stage_v2(request));
            Ok(Self::Proxy(Box::new(request)))
        } else {
            let mut keys: Vec<&str> = fields.keys().map(String::as_str).take(8).collect();
            keys.sort_unstable();
            Err(UnrecognizedEvent(format!(
                "unrecognized event with fields {keys:?}; {EXPECTED}"
            )))
        }
    }
}

fn read<T: serde::de::DeserializeOwned>(
    payload: Value,
    kind: &str,
) -> Result<T, UnrecognizedEvent> {
    serde_json::from_value(payload)
        .map_err(|e| UnrecognizedEvent(format!("malformed {kind} event: {e}")))
}

/// A REST API event's `path` never holds the stage (`/ticker` for `/test/ticker`), but
/// `lambda_http` would put it back; dropping the stage keeps the route table stage-free.
fn without_stage_v1(mut request: ApiGatewayProxyRequest) -> ApiGatewayProxyRequest {
    request.request_context.stage = None;
    request
}

/// An HTTP API event's `rawPath` holds a named stage (`/test/ticker`); `$default` has none.
fn without_stage_v2(mut request: ApiGatewayV2httpRequest) -> ApiGatewayV2httpRequest {
    if let (Some(stage), Some(path)) = (&request.request_context.stage, &request.raw_path) {
        let prefix = format!("/{stage}");
        if let Some(rest) = path.strip_prefix(&prefix)
            && (rest.is_empty() || rest.starts_with('/'))
        {
            request.raw_path = Some(if rest.is_empty() {
                "/".into()
            } else {
                rest.into()
            });
        }
    }
    request.request_context.stage = None;
    request
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn path_of(event: Value) -> String {
        let Event::Proxy(request) = Event::classify(event).unwrap() else {
            panic!("not a proxy event")
        };
        lambda_http::Request::from(*request).uri().path().to_owned()
    }

    #[test]
    fn rest_api_paths_lose_the_stage() {
        let event = json!({
            "httpMethod": "GET", "path": "/ticker", "resource": "/{proxy+}",
            "requestContext": {"stage": "test", "path": "/test/ticker", "httpMethod": "GET"}
        });
        assert_eq!(path_of(event), "/ticker");
    }

    #[test]
    fn http_api_paths_lose_a_named_stage() {
        let event = |stage: &str, raw_path: &str| {
            json!({
                "version": "2.0", "routeKey": "$default", "rawPath": raw_path,
                "requestContext": {"stage": stage, "http": {"method": "GET", "path": raw_path}}
            })
        };
        assert_eq!(path_of(event("test", "/test/ticker")), "/ticker");
        assert_eq!(path_of(event("test", "/test")), "/");
        assert_eq!(path_of(event("test", "/testing/x")), "/testing/x");
        assert_eq!(path_of(event("$default", "/ticker/daily")), "/ticker/daily");
    }

    #[test]
    fn the_empty_event_is_the_direct_invoke() {
        assert!(matches!(
            Event::classify(json!({})).unwrap(),
            Event::DirectInvoke
        ));
    }

    #[test]
    fn anything_else_is_refused_with_what_is_expected() {
        for event in [
            json!({"key1": "value1"}),
            json!([1, 2]),
            json!("GET /ticker"),
            json!(null),
            json!({"httpMethod": 7, "requestContext": {}}),
        ] {
            let err = Event::classify(event).unwrap_err().to_string();
            assert!(err.contains("event"), "{err}");
        }
        let err = Event::classify(json!({"key1": "value1"}))
            .unwrap_err()
            .to_string();
        assert!(err.contains("HTTP API"), "{err}");
    }
}
