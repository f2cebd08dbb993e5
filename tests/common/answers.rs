//! What a test checks in an answer: a problem+json refusal, a 200 with JSON, the body of a
//! request as JSON, text or NDJSON lines.

use serde_json::Value;

/// Checks the problem+json shape and status, and returns the body.
pub async fn expect_problem(response: reqwest::Response, status: u16) -> Value {
    assert_eq!(response.status().as_u16(), status, "status");
    let content_type = response
        .headers()
        .get("content-type")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    assert_eq!(content_type, "application/problem+json");
    let body: Value = response.json().await.expect("problem body");
    assert_eq!(body["status"], status);
    assert!(
        body["type"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["title"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    assert!(
        body["detail"].as_str().is_some_and(|t| !t.is_empty()),
        "{body}"
    );
    body
}

/// [`expect_problem`] whose `detail` says `words`; returns the body.
pub async fn expect_problem_saying(response: reqwest::Response, status: u16, words: &str) -> Value {
    let problem = expect_problem(response, status).await;
    assert!(
        detail(&problem).contains(words),
        "not about {words:?}: {problem}"
    );
    problem
}

/// The `detail` of a problem body.
pub fn detail(problem: &Value) -> &str {
    problem["detail"].as_str().expect("a detail")
}

/// Checks that the answer is a 200 and returns its JSON body.
pub async fn expect_ok_json(response: reqwest::Response) -> Value {
    let status = response.status();
    let body: Value = response.json().await.expect("JSON answer");
    assert_eq!(status, 200, "{body}");
    body
}

/// Sends `request` and returns its body as JSON, whatever its status.
pub async fn json_of(request: reqwest::RequestBuilder) -> Value {
    let response = request.send().await.expect("send the request");
    response.json().await.expect("JSON body")
}

/// Sends `request` and returns its body as text, whatever its status.
pub async fn text_of(request: reqwest::RequestBuilder) -> String {
    let response = request.send().await.expect("send the request");
    response.text().await.expect("text body")
}

/// An NDJSON body, one JSON value per line.
pub fn ndjson_values(body: &str) -> Vec<Value> {
    body.lines()
        .map(|line| serde_json::from_str(line).expect("a JSON line"))
        .collect()
}

/// `field` of every element of the array `list`, as text (e.g. each bar's symbol).
pub fn texts<'a>(list: &'a Value, field: &str) -> Vec<&'a str> {
    list.as_array()
        .expect("an array")
        .iter()
        .map(|item| item[field].as_str().expect("a text field"))
        .collect()
}

/// `(symbol, time)` of every bar of the array `bars`, in order.
pub fn symbols_and_times(bars: &Value) -> Vec<(&str, &str)> {
    bars.as_array()
        .expect("an array of bars")
        .iter()
        .map(|bar| (text(&bar["symbol"]), text(&bar["time"])))
        .collect()
}

/// The `fields` of `item`, as one JSON array (a row to compare).
pub fn pick(item: &Value, fields: &[&str]) -> Value {
    fields.iter().map(|field| item[*field].clone()).collect()
}

fn text(value: &Value) -> &str {
    value.as_str().expect("a text value")
}

/// `(at, field)` of each error of a 422 problem, where `at` is `"index"` or `"line"`.
pub fn error_places<'a>(problem: &'a Value, at: &str) -> Vec<(u64, &'a str)> {
    problem["errors"]
        .as_array()
        .expect("a list of errors")
        .iter()
        .map(|error| {
            let place = error[at].as_u64().expect("a place");
            (place, error["field"].as_str().expect("a field"))
        })
        .collect()
}
