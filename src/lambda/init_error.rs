//! Reporting a start-up failure to the Runtime API (`POST /2018-06-01/runtime/init/error`),
//! so the caller and the function's logs see the reason instead of a bare timeout.

use std::time::Duration;

use tokio::io::{AsyncReadExt, AsyncWriteExt};
use tokio::net::TcpStream;

/// Variables the Lambda service always sets; `lambda_runtime` cannot start without them.
const RUNTIME_VARS: [&str; 3] = [
    "AWS_LAMBDA_FUNCTION_NAME",
    "AWS_LAMBDA_FUNCTION_MEMORY_SIZE",
    "AWS_LAMBDA_FUNCTION_VERSION",
];

/// A message naming the Lambda variables that are missing, if any.
pub fn missing_runtime_vars() -> Option<String> {
    let missing: Vec<&str> = RUNTIME_VARS
        .into_iter()
        .filter(|name| std::env::var_os(name).is_none())
        .collect();
    (!missing.is_empty()).then(|| {
        format!(
            "AWS_LAMBDA_RUNTIME_API is set but {} not: Lambda mode needs the variables the \
             Lambda service sets",
            missing.join(", ")
        )
    })
}

/// Best effort: a Runtime API that cannot be reached leaves only the log line.
pub async fn report(api: &str, message: &str) {
    if api.is_empty() {
        return;
    }
    let body = serde_json::json!({
        "errorType": "Runtime.ConfigError",
        "errorMessage": message,
    })
    .to_string();
    let request = format!(
        "POST /2018-06-01/runtime/init/error HTTP/1.1\r\nHost: {api}\r\n\
         Content-Type: application/json\r\n\
         Lambda-Runtime-Function-Error-Type: Runtime.ConfigError\r\n\
         Content-Length: {}\r\nConnection: close\r\n\r\n{body}",
        body.len()
    );
    let exchange = async {
        let mut stream = TcpStream::connect(api).await?;
        stream.write_all(request.as_bytes()).await?;
        let mut answer = Vec::new();
        stream.read_to_end(&mut answer).await?;
        std::io::Result::Ok(())
    };
    match tokio::time::timeout(Duration::from_secs(2), exchange).await {
        Ok(Ok(())) => {}
        Ok(Err(e)) => eprintln!("tsapi: cannot report the init error to the Runtime API: {e}"),
        Err(_) => eprintln!("tsapi: the Runtime API did not take the init error in time"),
    }
}
