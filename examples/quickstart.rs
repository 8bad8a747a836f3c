//! rebuff in one screen: one error enum, rendered in each of the five built-in
//! envelopes, with the headers a response would carry and the error catalog.
//!
//! Run: `cargo run --example quickstart`

use std::time::SystemTime;

use rebuff::envelope::{Envelope, Flat, Nested, Plain, Problem, Success};
use rebuff::{ApiError, Context, RateLimit};

/// Errors of a call-analysis API (audio uploads, `X-API-Key`).
#[derive(Debug, thiserror::Error, ApiError)]
#[api(type_base = "https://api.example.com/errors/")]
enum CallError {
    /// The `X-API-Key` header is missing or names no active key.
    #[error("unauthorized")]
    #[api(status = 401, message = "Invalid or missing API key")]
    Unauthorized,

    /// The upload exceeds the size limit.
    #[error("file of {file_size_mb} MB too large")]
    #[api(
        status = 413,
        message = "Audio file exceeds maximum size of {max_size_mb} MB"
    )]
    FileTooLarge { file_size_mb: u64, max_size_mb: u64 },

    /// Too many requests for the plan.
    #[error("rate limited")]
    #[api(
        status = 429,
        message = "Rate limit exceeded. Please try again in {retry_after} seconds.",
        rejection = RateLimited
    )]
    RateLimited {
        #[api(retry_after)]
        retry_after: u64,
        limit: String,
        #[api(rate_limit)]
        limits: RateLimit,
    },

    /// Validation found several problems.
    #[error("invalid")]
    #[api(status = 422, code = "validation_error", message = "Invalid input")]
    Invalid {
        #[api(errors)]
        errors: Vec<&'static str>,
    },

    /// Storage failed; its cause stays on the server.
    #[error("storage: {0}")]
    #[api(status = 500)]
    Storage(#[source] std::io::Error),
}

fn show<V: Envelope>(name: &str, err: &CallError, ctx: &Context) {
    let response = V::to_response(err, ctx);
    let headers: Vec<String> = response
        .headers()
        .iter()
        .map(|(k, v)| format!("{k}: {}", v.to_str().unwrap_or("?")))
        .collect();
    println!(
        "  {name:<8} {} {}",
        response.status().as_u16(),
        String::from_utf8_lossy(response.body())
    );
    println!("  {:<8} {}", "", headers.join(" | "));
}

fn main() {
    let ctx = Context::new()
        .request_id("req_1a2b3c4d5e")
        .timestamp(SystemTime::now())
        .instance("/api/v1/calls/analyze");
    let errors = [
        CallError::Unauthorized,
        CallError::FileTooLarge {
            file_size_mb: 150,
            max_size_mb: 100,
        },
        CallError::RateLimited {
            retry_after: 32,
            limit: "60/minute".into(),
            limits: RateLimit {
                limit: 60,
                remaining: 0,
                reset: 1_699_564_832,
            },
        },
        CallError::Invalid {
            errors: vec!["agent_id is required", "contact_id is required"],
        },
        CallError::Storage(std::io::Error::other("disk /dev/sda1 full")),
    ];
    for err in &errors {
        let advice = match err.retry_after() {
            Some(delay) => format!("retry after {}", humantime::format_duration(delay)),
            None if err.retryable() => "retry with backoff".to_owned(),
            None => "do not retry".to_owned(),
        };
        println!("{err:?}\n  code `{}`, {advice}", err.code());
        show::<Nested>("Nested", err, &ctx);
        show::<Success>("Success", err, &ctx);
        show::<Plain>("Plain", err, &ctx);
        show::<Flat>("Flat", err, &ctx);
        show::<Problem>("Problem", err, &ctx);
        println!();
    }
    println!(
        "Error catalog:\n\n{}",
        rebuff::catalog::markdown::<CallError>()
    );
}
