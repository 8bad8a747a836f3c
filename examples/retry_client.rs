//! A retrying client against a flaky server: the local server answers 503,
//! then 429 with `Retry-After: 2`, then 200; the client, one `#[retry]`
//! attribute on a reqwest call, prints each failed attempt and how long it
//! waits, honouring the server's Retry-After, and sends one
//! `Idempotency-Key` with every attempt of its POST.
//!
//! Run: `cargo run --example retry_client` (the flaky server is part of
//! the program, on a free loopback port).

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Instant;

use axum::body::Body;
use axum::extract::State;
use axum::http::HeaderMap;
use axum::response::Response;
use axum::routing::post;
use rebuff::client::ClientError;
use rebuff::client::reqwest::RequestBuilderExt;
use rebuff::retry;
use rebuff::retry::RetryEvent;

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
///
/// A POST is safe to repeat only with an `Idempotency-Key`: the attempt is
/// bound (`attempt = attempt`) for the run's key, the same on every
/// attempt, so that a server honouring keys serves it once.
#[retry(
    max_retries = 4,
    initial_delay = "500ms",
    jitter = "none",
    deadline = "30s",
    on_retry = print_retry,
    attempt = attempt
)]
async fn analyze(client: &reqwest::Client, base: &str) -> Result<Analysis, ClientError> {
    client
        .post(format!("{base}/api/v1/calls/analyze"))
        .header("X-API-Key", "demo-key")
        .header("Idempotency-Key", attempt.idempotency_key().to_string())
        .send_api()
        .await
}

/// The flaky server: the first request gets a 503, the second a 429 asking
/// to wait 2 s, every later one the analysis. Every attempt carries the
/// run's one key.
async fn flaky(State(requests): State<Arc<AtomicU32>>, headers: HeaderMap) -> Response {
    println!(
        "  server: Idempotency-Key {}",
        headers
            .get("idempotency-key")
            .and_then(|key| key.to_str().ok())
            .unwrap_or("(none)")
    );
    let (status, headers, body): (u16, &[(&str, &str)], &str) = match requests
        .fetch_add(1, Ordering::SeqCst)
    {
        0 => (
            503,
            &[],
            r#"{"error":{"code":"service_unavailable","message":"Down for maintenance","request_id":"req_001"}}"#,
        ),
        1 => (
            429,
            &[
                ("retry-after", "2"),
                ("x-ratelimit-limit", "60"),
                ("x-ratelimit-remaining", "0"),
            ],
            r#"{"error":{"code":"rate_limit_exceeded","message":"Rate limit exceeded. Please try again in 2 seconds.","request_id":"req_002"}}"#,
        ),
        _ => (200, &[], r#"{"analysis_id":"an_123"}"#),
    };
    let mut response = Response::builder()
        .status(status)
        .header("content-type", "application/json");
    for (name, value) in headers {
        response = response.header(*name, *value);
    }
    response.body(Body::from(body)).expect("a valid response")
}

#[tokio::main(flavor = "current_thread")]
async fn main() -> std::io::Result<()> {
    let requests = Arc::new(AtomicU32::new(0));
    let app = axum::Router::new()
        .route("/api/v1/calls/analyze", post(flaky))
        .with_state(requests.clone());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await?;
    let base = format!("http://{}", listener.local_addr()?);
    tokio::spawn(axum::serve(listener, app).into_future());
    println!("flaky server at {base}");

    let started = Instant::now();
    match analyze(&reqwest::Client::new(), &base).await {
        Ok(analysis) => println!(
            "attempt {} succeeded: analysis {} after {:.1?}",
            requests.load(Ordering::SeqCst),
            analysis.analysis_id,
            started.elapsed()
        ),
        Err(err) => println!("gave up: {err}"),
    }
    Ok(())
}
