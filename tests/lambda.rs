//! The real binary in Lambda mode, driven through a local stand-in of the Lambda Runtime API
//! with events shaped like AWS's, against a real TimescaleDB.

mod common;

use common::answers::pick;
use common::lambda_process::{LambdaProcess, runtime_env};
use common::runtime_api::{Outcome, RuntimeApi};
use common::{Schema, TUTORIAL_PAYLOAD, TestDb};
use serde_json::{Value, json};

const REST_EVENT: &str = include_str!("fixtures/lambda/example-apigw-request.json");
const HTTP_API_EVENT: &str =
    include_str!("fixtures/lambda/example-apigw-v2-request-no-authorizer.json");
const FUNCTION_URL_EVENT: &str = include_str!("fixtures/lambda/function-url-request.json");

/// A function instance: its Runtime API, its process and its database.
struct Function {
    api: RuntimeApi,
    process: LambdaProcess,
    db: TestDb,
}

impl Function {
    /// A function with API keys off (the tutorial's behaviour), to test event handling.
    async fn start() -> Self {
        let db = TestDb::new(Schema::Migrated).await;
        Self::start_with(db, &[("TSAPI_AUTH", "none")]).await
    }

    async fn start_with(db: TestDb, settings: &[(&str, &str)]) -> Self {
        let api = RuntimeApi::start().await;
        let mut env = runtime_env(&api.address);
        env.push(("DATABASE_URL".into(), db.url.clone()));
        env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let process = LambdaProcess::start(env!("CARGO_BIN_EXE_tsapi"), &env);
        Self { api, process, db }
    }

    /// [`Function::start`] over [`Function::seed`]'s bars.
    async fn seeded() -> Self {
        let function = Self::start().await;
        function.seed().await;
        function
    }

    /// Two AAPL bars and one MSFT bar.
    async fn seed(&self) {
        self.db
            .client()
            .await
            .batch_execute(
                "INSERT INTO stocks_intraday \
                 (time, symbol, price_open, price_high, price_low, price_close, trading_volume) VALUES \
                 ('2021-11-12 15:00:00+00', 'AAPL', 149.8, 149.9, 149.7, 149.81, 17291), \
                 ('2021-11-12 15:01:00+00', 'AAPL', 149.81, 150.2, 149.8, 150.1, 20000), \
                 ('2021-11-12 15:00:00+00', 'MSFT', 337.15, 337.5, 337.0, 337.4, 562)",
            )
            .await
            .expect("seed bars");
        self.db.refresh_catalog().await;
    }

    /// The backends serving this function's database.
    async fn backends(&self) -> Vec<i32> {
        self.db
            .client()
            .await
            .query(
                "SELECT pid FROM pg_stat_activity WHERE datname = $1 AND pid <> pg_backend_pid() \
                 AND application_name = 'tsapi' ORDER BY pid",
                &[&self.db.name],
            )
            .await
            .expect("pg_stat_activity")
            .iter()
            .map(|r| r.get(0))
            .collect()
    }
}

fn latest_aapl() -> Value {
    json!({"time": "2021-11-12T15:01:00Z", "symbol": "AAPL", "price_open": 149.81,
           "price_high": 150.2, "price_low": 149.8, "price_close": 150.1, "trading_volume": 20000})
}

fn latest_msft() -> Value {
    json!({"time": "2021-11-12T15:00:00Z", "symbol": "MSFT", "price_open": 337.15,
           "price_high": 337.5, "price_low": 337.0, "price_close": 337.4, "trading_volume": 562})
}

/// AWS's REST API example event, sent to `path` on stage `test` (as `/test{path}` is called).
fn rest_event(method: &str, path: &str, query: &[(&str, &str)], body: Option<&str>) -> Value {
    let mut event: Value = serde_json::from_str(REST_EVENT).unwrap();
    event["httpMethod"] = json!(method);
    event["path"] = json!(path);
    event["pathParameters"] = json!({"proxy": path.trim_start_matches('/')});
    event["requestContext"]["stage"] = json!("test");
    event["requestContext"]["path"] = json!(format!("/test{path}"));
    event["requestContext"]["httpMethod"] = json!(method);
    let single: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), json!(v)))
        .collect();
    let multi: serde_json::Map<String, Value> = query
        .iter()
        .map(|(k, v)| (k.to_string(), json!([v])))
        .collect();
    event["queryStringParameters"] = if query.is_empty() {
        Value::Null
    } else {
        Value::Object(single)
    };
    event["multiValueQueryStringParameters"] = if query.is_empty() {
        Value::Null
    } else {
        Value::Object(multi)
    };
    event["body"] = body.map_or(Value::Null, |b| json!(b));
    event
}

/// AWS's HTTP API example event for `method raw_path?raw_query` on `stage`.
fn http_api_event(stage: &str, method: &str, raw_path: &str, raw_query: &str) -> Value {
    let mut event: Value = serde_json::from_str(HTTP_API_EVENT).unwrap();
    event["rawPath"] = json!(raw_path);
    event["rawQueryString"] = json!(raw_query);
    event["requestContext"]["http"]["method"] = json!(method);
    event["requestContext"]["http"]["path"] = json!(raw_path);
    event["requestContext"]["stage"] = json!(stage);
    event
}

fn body_json(response: &Value) -> Value {
    let body = response["body"].as_str().expect("a text body");
    serde_json::from_str(body).expect("a JSON body")
}

/// The Content-Type of a proxy response: REST APIs get `multiValueHeaders`, HTTP APIs `headers`.
fn content_type(response: &Value) -> String {
    let single = response["headers"]["content-type"].as_str();
    let multi = response["multiValueHeaders"]["content-type"][0].as_str();
    single.or(multi).unwrap_or_default().to_owned()
}

#[tokio::test]
async fn rest_api_event_on_a_stage_answers_the_route() {
    let function = Function::seeded().await;
    let response = function
        .api
        .invoke_ok(rest_event("GET", "/ticker", &[("symbol", "AAPL")], None))
        .await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(response["isBase64Encoded"], false);
    assert_eq!(content_type(&response), "application/json");
    assert_eq!(body_json(&response), json!([latest_aapl()]));
}

#[tokio::test]
async fn http_api_events_answer_on_the_default_and_a_named_stage() {
    let function = Function::seeded().await;
    let expected = json!([{"bucket_day": "2021-11-12T00:00:00Z", "symbol": "AAPL",
                            "avg_price": (149.81 + 150.1) / 2.0, "max_price": 150.2, "min_price": 149.7}]);
    for (stage, path) in [
        ("$default", "/ticker/daily"),
        ("test", "/test/ticker/daily"),
    ] {
        let event = http_api_event(
            stage,
            "GET",
            path,
            "symbol=AAPL&start=2021-11-12&end=2021-11-13",
        );
        let response = function.api.invoke_ok(event).await;
        assert_eq!(response["statusCode"], 200, "{stage}: {response}");
        assert_eq!(content_type(&response), "application/json");
        assert_eq!(body_json(&response), expected, "{stage}");
    }
}

#[tokio::test]
async fn function_url_event_answers_the_route() {
    let function = Function::seeded().await;
    let event: Value = serde_json::from_str(FUNCTION_URL_EVENT).unwrap();
    let response = function.api.invoke_ok(event).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(content_type(&response), "application/json");
    assert_eq!(body_json(&response), json!([latest_msft()]));
}

#[tokio::test]
async fn empty_event_answers_in_the_tutorials_shape() {
    let function = Function::seeded().await;
    let response = function.api.invoke_ok(json!({})).await;
    let keys: Vec<&String> = response.as_object().expect("an object").keys().collect();
    assert_eq!(keys, ["body", "headers", "statusCode"], "{response}");
    assert_eq!(response["statusCode"], 200);
    assert_eq!(
        response["headers"],
        json!({"Content-Type": "application/json"})
    );
    assert_eq!(body_json(&response), json!([latest_aapl(), latest_msft()]));

    // Logs are JSON lines, one object each, for CloudWatch Logs Insights.
    let logs = function.process.log_lines();
    assert!(!logs.is_empty());
    for line in logs {
        let entry: Value =
            serde_json::from_str(&line).unwrap_or_else(|_| panic!("not JSON: {line}"));
        assert!(entry["level"].is_string(), "{line}");
    }
}

#[tokio::test]
async fn tutorial_payload_is_inserted_through_a_rest_api_event() {
    let function = Function::start().await;
    let response = function
        .api
        .invoke_ok(rest_event("POST", "/insert", &[], Some(TUTORIAL_PAYLOAD)))
        .await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body_json(&response), json!({"inserted": 3}));
    assert_eq!(
        function.db.rows().await,
        vec![
            "AAPL|2021-11-12T15:00:00Z|149.8|149.73|149.73|149.81|17291",
            "FB|2021-11-12T15:00:00Z|341.35|341.35|341.3|341.3|556",
            "MSFT|2021-11-12T15:00:00Z|337.15|337.15|337.15|337.15|562",
        ]
    );
}

#[tokio::test]
async fn bad_input_is_a_4xx_inside_the_proxy_response() {
    let function = Function::start().await;
    let cases = [
        (
            rest_event("GET", "/ticker", &[("symbol", "no spaces")], None),
            400,
        ),
        (rest_event("GET", "/ticker", &[("sym", "AAPL")], None), 400),
        (
            rest_event(
                "POST",
                "/insert",
                &[],
                Some(
                    r#"{"records": [{"time": "2021-11-12 15:00:00", "symbol": "AAPL", "trading_volume": 1.5}]}"#,
                ),
            ),
            422,
        ),
        (rest_event("POST", "/insert", &[], Some("{not json")), 400),
        (rest_event("GET", "/nowhere", &[], None), 404),
        (http_api_event("$default", "DELETE", "/ticker", ""), 405),
    ];
    for (event, status) in cases {
        let response = function.api.invoke_ok(event).await;
        assert_eq!(response["statusCode"], status, "{response}");
        assert_eq!(content_type(&response), "application/problem+json");
        let problem = body_json(&response);
        assert_eq!(problem["status"], status, "{problem}");
        assert!(
            problem["detail"].as_str().is_some_and(|d| !d.is_empty()),
            "{problem}"
        );
    }
    assert_eq!(function.db.count().await, 0);
}

#[tokio::test]
async fn unrecognized_event_is_a_lambda_error_and_serving_goes_on() {
    let mut function = Function::start().await;
    for event in [
        json!({"key1": "value1", "key2": "value2"}),
        json!([1, 2, 3]),
        json!("GET /ticker"),
    ] {
        match function.api.invoke(event).await {
            Outcome::Error { body, .. } => {
                assert_eq!(body["errorType"], "UnrecognizedEvent", "{body}");
                let message = body["errorMessage"].as_str().unwrap_or_default();
                assert!(message.contains("unrecognized event"), "{message}");
                assert!(message.contains("HTTP API"), "{message}");
            }
            other => panic!("expected a Lambda error, got {other:?}"),
        }
    }
    assert!(function.process.is_running());
    let response = function.api.invoke_ok(json!({})).await;
    assert_eq!(response["statusCode"], 200, "{response}");
}

#[tokio::test]
async fn one_connection_serves_every_invocation_and_a_dropped_one_is_replaced() {
    let function = Function::seeded().await;
    // Lazy: no connection before the first invocation.
    assert_eq!(function.backends().await, Vec::<i32>::new());

    let event = rest_event("GET", "/ticker", &[("symbol", "AAPL")], None);
    assert_eq!(
        function.api.invoke_ok(event.clone()).await["statusCode"],
        200
    );
    let first = function.backends().await;
    assert_eq!(first.len(), 1, "{first:?}");
    for _ in 0..4 {
        assert_eq!(
            function.api.invoke_ok(event.clone()).await["statusCode"],
            200
        );
    }
    assert_eq!(
        function.backends().await,
        first,
        "the connection was not reused"
    );

    // The server drops the connection between invocations (an idle timeout, a failover).
    let admin = function.db.client().await;
    admin
        .execute("SELECT pg_terminate_backend($1)", &[&first[0]])
        .await
        .expect("terminate the backend");
    while function.backends().await == first {
        tokio::time::sleep(std::time::Duration::from_millis(20)).await;
    }

    let response = function.api.invoke_ok(event).await;
    assert_eq!(response["statusCode"], 200, "{response}");
    assert_eq!(body_json(&response), json!([latest_aapl()]));
    let replaced = function.backends().await;
    assert_eq!(replaced.len(), 1, "{replaced:?}");
    assert_ne!(replaced, first);
}

#[tokio::test]
async fn a_configuration_mistake_is_an_init_error() {
    let unreadable_ca = [
        ("DATABASE_URL", "postgres://tsapi@127.0.0.1:5432/x"),
        ("DB_SSLMODE", "require"),
        ("DB_SSLROOTCERT", "/nonexistent/rds-ca.pem"),
    ];
    /// Settings of the function, and what the init error must name.
    type Case<'a> = (&'a [(&'a str, &'a str)], &'a [&'a str]);
    let cases: [Case; 2] = [
        (&[], &["DATABASE_URL", "DB_HOST"]),
        (
            &unreadable_ca,
            &["DB_SSLROOTCERT", "/nonexistent/rds-ca.pem"],
        ),
    ];
    for (settings, named) in cases {
        let api = RuntimeApi::start().await;
        let mut env = runtime_env(&api.address);
        env.extend(settings.iter().map(|(k, v)| (k.to_string(), v.to_string())));
        let mut process = LambdaProcess::start(env!("CARGO_BIN_EXE_tsapi"), &env);
        match api.next_outcome().await {
            Outcome::InitError { body, .. } => {
                let message = body["errorMessage"].as_str().unwrap_or_default();
                for name in named {
                    assert!(message.contains(name), "{message}");
                }
            }
            other => panic!("expected an init error, got {other:?}"),
        }
        assert!(!process.wait_exit().success());
        assert!(
            api.first_next().is_none(),
            "asked for work despite the error"
        );
    }
}

#[tokio::test]
async fn the_lambda_request_id_is_the_request_id() {
    let function = Function::start().await;
    let outcome = function
        .api
        .invoke(rest_event("GET", "/healthz", &[], None))
        .await;
    let Outcome::Response { request_id, body } = outcome else {
        panic!("expected a response, got {outcome:?}");
    };
    assert_eq!(body["statusCode"], 200, "{body}");
    let echoed = body["headers"]["x-request-id"]
        .as_str()
        .or_else(|| body["multiValueHeaders"]["x-request-id"][0].as_str());
    assert_eq!(echoed, Some(request_id.as_str()), "{body}");
}

#[tokio::test]
async fn api_keys_guard_proxy_events_but_not_iam_authorized_direct_invokes() {
    let db = TestDb::new(Schema::Migrated).await;
    // The digest of "tsapi_test_key", as `tsapi keygen` would print it.
    let digest = "ff4de0b86aaff332d9e8b4995a1b57d35f3fcba9c471fe4ec5bf393d119bb074";
    let keys = format!("reader:read:{digest}");
    let function = Function::start_with(db, &[("TSAPI_API_KEYS", keys.as_str())]).await;
    function.seed().await;

    let refused = function
        .api
        .invoke_ok(rest_event("GET", "/ticker", &[("symbol", "AAPL")], None))
        .await;
    assert_eq!(refused["statusCode"], 401, "{refused}");

    // A direct invocation was already authorized by IAM (lambda:InvokeFunction).
    let direct = function.api.invoke_ok(json!({})).await;
    assert_eq!(direct["statusCode"], 200, "{direct}");
    assert_eq!(body_json(&direct).as_array().map(Vec::len), Some(2));
}

/// 10,500 symbols, one bar each (a second, older one for every tenth), straight into the
/// table, then `tsapi catalog refresh`.
async fn seed_market(db: &TestDb) {
    db.client()
        .await
        .batch_execute(
            "INSERT INTO stocks_intraday \
             SELECT '2021-11-12 15:00:00+00'::timestamptz + (i % 7) * interval '1 minute', \
                    format('S%s', lpad(i::text, 5, '0')), i, i + 1, i - 1, i + 0.5, i * 10 \
             FROM generate_series(1, 10500) i; \
             INSERT INTO stocks_intraday \
             SELECT '2021-11-01 15:00:00+00', format('S%s', lpad(i::text, 5, '0')), 1, 1, 1, 1, 1 \
             FROM generate_series(10, 10500, 10) i",
        )
        .await
        .expect("seed the market");
    db.refresh_catalog().await;
}

#[tokio::test]
async fn empty_event_answers_every_latest_bar_of_more_than_10000_symbols() {
    let db = TestDb::new(Schema::Migrated).await;
    seed_market(&db).await;
    let expected: Vec<Value> = db
        .client()
        .await
        .query(
            "SELECT DISTINCT ON (symbol) symbol, time, price_open, price_close, trading_volume \
             FROM stocks_intraday ORDER BY symbol, time DESC",
            &[],
        )
        .await
        .unwrap()
        .iter()
        .map(|r| {
            let t: chrono::DateTime<chrono::Utc> = r.get(1);
            json!([
                r.get::<_, String>(0),
                t.to_rfc3339_opts(chrono::SecondsFormat::Secs, true),
                r.get::<_, f64>(2),
                r.get::<_, f64>(3),
                r.get::<_, i64>(4)
            ])
        })
        .collect();
    let function = Function::start_with(db, &[("TSAPI_AUTH", "none")]).await;
    let response = function.api.invoke_ok(json!({})).await;
    assert_eq!(response["statusCode"], 200);
    let got: Vec<Value> = body_json(&response)
        .as_array()
        .unwrap()
        .iter()
        .map(|b| {
            let fields = [
                "symbol",
                "time",
                "price_open",
                "price_close",
                "trading_volume",
            ];
            pick(b, &fields)
        })
        .collect();
    assert_eq!(got.len(), 10_500);
    assert_eq!(got, expected);
}

#[tokio::test]
async fn an_answer_over_the_lambda_response_limit_is_a_clear_413() {
    let db = TestDb::new(Schema::Migrated).await;
    seed_market(&db).await;
    // The same answer (about 1.6 MB) against a 1 MB limit; the real one is 6 MB, which
    // the latest bars of some 35,000 symbols pass.
    let function = Function::start_with(
        db,
        &[
            ("TSAPI_AUTH", "none"),
            ("TSAPI_LAMBDA_MAX_RESPONSE_BYTES", "1000000"),
        ],
    )
    .await;
    for event in [json!({}), rest_event("GET", "/v1/bars/latest", &[], None)] {
        let response = function.api.invoke_ok(event).await;
        assert_eq!(response["statusCode"], 413, "{response}");
        assert_eq!(
            response["headers"]["content-type"],
            "application/problem+json"
        );
        let problem = body_json(&response);
        assert_eq!(problem["status"], 413);
        let detail = problem["detail"].as_str().unwrap();
        assert!(
            detail.contains("1000000-byte limit") && detail.contains("symbols"),
            "{detail}"
        );
    }
    // Narrower questions still work.
    let one = function
        .api
        .invoke_ok(rest_event("GET", "/ticker", &[("symbol", "S00042")], None))
        .await;
    assert_eq!(one["statusCode"], 200, "{one}");
    assert_eq!(body_json(&one)[0]["price_close"], 42.5);
}
