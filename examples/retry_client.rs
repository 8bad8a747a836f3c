//! A retrying client against a flaky server: the local server answers 503,
//! then 429 with `Retry-After: 2`, then 200; the client, one `#[retry]`
//! attribute on a reqwest call, prints each failed attempt and how long it
//! waits, honouring the server's Retry-After.
//!
//! Run: `cargo run --example retry_client`

// The test suite's scripted server; the example uses part of it.
#[allow(dead_code)]
#[path = "../tests/support/scripted.rs"]
mod scripted;

use std::time::Instant;

use rebuff::client::ClientError;
use rebuff::client::reqwest::RequestBuilderExt;
use rebuff::retry;
use rebuff::retry::RetryEvent;
use scripted::Reply;

#[derive(Debug, serde::Deserialize)]
struct Analysis {
    analysis_id: String,
}

fn print_retry(event: &RetryEvent<'_, ClientError>) {
    println!(
        "attempt {} failed: {}\n  advice {:?}; retrying in {}",
        event.attempt,
        event.error,
        event.advice,
        humantime::format_duration(event.delay)
    );
}

/// Submits a call for analysis, retrying what the server says is transient.
#[retry(max_retries = 4, initial_delay = "500ms", jitter = "none", deadline = "30s", on_retry = print_retry)]
async fn analyze(client: &reqwest::Client, base: &str) -> Result<Analysis, ClientError> {
    client
        .post(format!("{base}/api/v1/calls/analyze"))
        .header("X-API-Key", "demo-key")
        .send_api()
        .await
}

#[tokio::main(flavor = "current_thread")]
async fn main() {
    let (base, log) = scripted::start(vec![
        Reply::json(503, r#"{"error":{"code":"service_unavailable","message":"Down for maintenance","request_id":"req_001"}}"#),
        Reply::json(429, r#"{"error":{"code":"rate_limit_exceeded","message":"Rate limit exceeded. Please try again in 2 seconds.","request_id":"req_002"}}"#)
            .header("retry-after", "2")
            .header("x-ratelimit-limit", "60")
            .header("x-ratelimit-remaining", "0"),
        Reply::json(200, r#"{"analysis_id":"an_123"}"#),
    ])
    .await;
    println!("flaky server at {base}");
    let started = Instant::now();
    match analyze(&reqwest::Client::new(), &base).await {
        Ok(analysis) => println!(
            "attempt {} succeeded: analysis {} after {:.1?}",
            log.lock().unwrap().len(),
            analysis.analysis_id,
            started.elapsed()
        ),
        Err(err) => println!("gave up: {err}"),
    }
}
