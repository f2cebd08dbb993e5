//! A local stand-in of the AWS Lambda Runtime API, following its documented HTTP contract
//! (`/2018-06-01/runtime/...`), so the real binary can be driven in Lambda mode without AWS.
//! Events are queued by the test; each long poll of `/invocation/next` takes one.

use std::sync::{Arc, OnceLock};
use std::time::{Duration, Instant, SystemTime, UNIX_EPOCH};

use axum::Router;
use axum::body::Bytes;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use serde_json::Value;
use tokio::sync::{Mutex, mpsc};

/// What the function sent back for an invocation, or at start-up.
#[derive(Debug, Clone)]
pub enum Outcome {
    /// `POST /invocation/{id}/response`.
    Response { request_id: String, body: Value },
    /// `POST /invocation/{id}/error`.
    Error {
        request_id: String,
        error_type: Option<String>,
        body: Value,
    },
    /// `POST /init/error`.
    InitError {
        error_type: Option<String>,
        body: Value,
    },
}

struct Shared {
    events: Mutex<mpsc::UnboundedReceiver<(String, Value)>>,
    outcomes: mpsc::UnboundedSender<(Instant, Outcome)>,
    /// When the function first asked for an invocation: the end of its cold start.
    first_next: OnceLock<Instant>,
}

pub struct RuntimeApi {
    /// `host:port`, the value of `AWS_LAMBDA_RUNTIME_API`.
    pub address: String,
    shared: Arc<Shared>,
    events: mpsc::UnboundedSender<(String, Value)>,
    outcomes: Mutex<mpsc::UnboundedReceiver<(Instant, Outcome)>>,
    server: tokio::task::JoinHandle<()>,
}

const BASE: &str = "/2018-06-01/runtime";
pub const FUNCTION_ARN: &str = "arn:aws:lambda:us-east-1:123456789012:function:tsapi";

/// Longest wait for the function to answer; a hang fails the test instead of blocking CI.
const PATIENCE: Duration = Duration::from_secs(60);

impl RuntimeApi {
    pub async fn start() -> Self {
        let (events_tx, events_rx) = mpsc::unbounded_channel();
        let (outcomes_tx, outcomes_rx) = mpsc::unbounded_channel();
        let shared = Arc::new(Shared {
            events: Mutex::new(events_rx),
            outcomes: outcomes_tx,
            first_next: OnceLock::new(),
        });
        let app = Router::new()
            .route(&format!("{BASE}/invocation/next"), get(next))
            .route(
                &format!("{BASE}/invocation/{{id}}/response"),
                post(response),
            )
            .route(&format!("{BASE}/invocation/{{id}}/error"), post(error))
            .route(&format!("{BASE}/init/error"), post(init_error))
            .with_state(shared.clone());
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0")
            .await
            .expect("bind the Runtime API");
        let address = listener.local_addr().expect("address").to_string();
        let server = tokio::spawn(async move {
            axum::serve(listener, app).await.expect("Runtime API");
        });
        Self {
            address,
            shared,
            events: events_tx,
            outcomes: Mutex::new(outcomes_rx),
            server,
        }
    }

    /// Queues an event for the function's next poll; returns its request id.
    pub fn queue(&self, event: Value) -> String {
        let request_id = uuid::Uuid::new_v4().to_string();
        self.events
            .send((request_id.clone(), event))
            .expect("queue the event");
        request_id
    }

    /// Queues an event and waits for what the function sends back for it.
    pub async fn invoke(&self, event: Value) -> Outcome {
        let request_id = self.queue(event);
        let outcome = self.next_outcome().await;
        match &outcome {
            Outcome::Response { request_id: id, .. } | Outcome::Error { request_id: id, .. } => {
                assert_eq!(id, &request_id, "answer for another invocation")
            }
            Outcome::InitError { .. } => {}
        }
        outcome
    }

    /// Queues an event and returns the proxy response, failing on a Lambda error.
    pub async fn invoke_ok(&self, event: Value) -> Value {
        match self.invoke(event).await {
            Outcome::Response { body, .. } => body,
            other => panic!("expected a response, got {other:?}"),
        }
    }

    /// The next thing the function posts, with when it arrived.
    pub async fn next_outcome_at(&self) -> (Instant, Outcome) {
        let mut outcomes = self.outcomes.lock().await;
        tokio::time::timeout(PATIENCE, outcomes.recv())
            .await
            .expect("the function did not answer in time")
            .expect("the Runtime API stopped")
    }

    pub async fn next_outcome(&self) -> Outcome {
        self.next_outcome_at().await.1
    }

    /// When the function first polled for an invocation, if it has.
    pub fn first_next(&self) -> Option<Instant> {
        self.shared.first_next.get().copied()
    }
}

impl Drop for RuntimeApi {
    fn drop(&mut self) {
        self.server.abort();
    }
}

async fn next(State(shared): State<Arc<Shared>>) -> Response {
    let _ = shared.first_next.set(Instant::now());
    let Some((request_id, event)) = shared.events.lock().await.recv().await else {
        return StatusCode::SERVICE_UNAVAILABLE.into_response();
    };
    let deadline = SystemTime::now() + Duration::from_secs(30);
    let deadline_ms = deadline.duration_since(UNIX_EPOCH).unwrap().as_millis();
    let headers = [
        ("content-type", "application/json".to_owned()),
        ("lambda-runtime-aws-request-id", request_id),
        ("lambda-runtime-deadline-ms", deadline_ms.to_string()),
        (
            "lambda-runtime-invoked-function-arn",
            FUNCTION_ARN.to_owned(),
        ),
        (
            "lambda-runtime-trace-id",
            "Root=1-6566a0c1-0a1b2c3d4e5f60718293a4b5;Parent=53995c3f42cd8ad8;Sampled=0".to_owned(),
        ),
    ];
    (headers, event.to_string()).into_response()
}

fn json(body: &Bytes) -> Value {
    serde_json::from_slice(body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(body).into()))
}

fn error_type(headers: &HeaderMap) -> Option<String> {
    headers
        .get("lambda-runtime-function-error-type")
        .and_then(|v| v.to_str().ok())
        .map(str::to_owned)
}

async fn response(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    body: Bytes,
) -> StatusCode {
    let body = json(&body);
    let _ = shared.outcomes.send((
        Instant::now(),
        Outcome::Response {
            request_id: id,
            body,
        },
    ));
    StatusCode::ACCEPTED
}

async fn error(
    State(shared): State<Arc<Shared>>,
    Path(id): Path<String>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let outcome = Outcome::Error {
        request_id: id,
        error_type: error_type(&headers),
        body: json(&body),
    };
    let _ = shared.outcomes.send((Instant::now(), outcome));
    StatusCode::ACCEPTED
}

async fn init_error(
    State(shared): State<Arc<Shared>>,
    headers: HeaderMap,
    body: Bytes,
) -> StatusCode {
    let outcome = Outcome::InitError {
        error_type: error_type(&headers),
        body: json(&body),
    };
    let _ = shared.outcomes.send((Instant::now(), outcome));
    StatusCode::ACCEPTED
}
