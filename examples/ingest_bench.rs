//! Ingest benchmark client: posts an NDJSON file to a running tsapi in batches, from
//! several concurrent clients, and prints the rows per second.
//!
//! ```sh
//! cargo run --release --example ingest_bench -- URL FILE.ndjson insert|bars CLIENTS [BATCH]
//! ```
//! `insert` posts `{"records": [...]}` to `/insert`; `bars` posts NDJSON to `/v1/bars`.
//! Bodies are built before the clock starts, so only the server is measured.

use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Instant;

#[tokio::main]
async fn main() -> Result<(), Box<dyn std::error::Error>> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let [url, file, endpoint, clients, rest @ ..] = args.as_slice() else {
        return Err("usage: ingest_bench URL FILE.ndjson insert|bars CLIENTS [BATCH]".into());
    };
    let clients: usize = clients.parse()?;
    let batch: usize = rest.first().map_or(Ok(5_000), |b| b.parse())?;
    let text = std::fs::read_to_string(file)?;
    let lines: Vec<&str> = text.lines().filter(|l| !l.trim().is_empty()).collect();
    let (path, content_type) = match endpoint.as_str() {
        "insert" => ("/insert", "application/json"),
        "bars" => ("/v1/bars", "application/x-ndjson"),
        other => return Err(format!("unknown endpoint {other:?}").into()),
    };
    let bodies: Arc<Vec<Vec<u8>>> = Arc::new(
        lines
            .chunks(batch)
            .map(|chunk| match endpoint.as_str() {
                "insert" => format!("{{\"records\":[{}]}}", chunk.join(",")).into_bytes(),
                _ => chunk.join("\n").into_bytes(),
            })
            .collect(),
    );
    let target = format!("{url}{path}");
    let next = Arc::new(AtomicUsize::new(0));
    let http = reqwest::Client::new();
    let started = Instant::now();
    let mut tasks = Vec::new();
    for _ in 0..clients {
        let (bodies, next, http, target) =
            (bodies.clone(), next.clone(), http.clone(), target.clone());
        tasks.push(tokio::spawn(async move {
            loop {
                let i = next.fetch_add(1, Ordering::Relaxed);
                let Some(body) = bodies.get(i) else {
                    return Ok::<_, String>(());
                };
                let response = http
                    .post(&target)
                    .header("content-type", content_type)
                    .body(body.clone())
                    .send()
                    .await
                    .map_err(|e| e.to_string())?;
                if !response.status().is_success() {
                    let status = response.status();
                    let text = response.text().await.unwrap_or_default();
                    return Err(format!("batch {i}: {status}: {text}"));
                }
            }
        }));
    }
    for task in tasks {
        task.await??;
    }
    let secs = started.elapsed().as_secs_f64();
    println!(
        "rows={} secs={secs:.3} rows_per_s={:.0}",
        lines.len(),
        lines.len() as f64 / secs
    );
    Ok(())
}
