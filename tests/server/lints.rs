//! The derive's output is warning-free under the strictest lints a user may
//! turn on (clippy's run over `--all-targets` checks the pedantic ones).
#![deny(warnings, unused_qualifications, missing_docs, rust_2018_idioms)]
#![deny(clippy::all, clippy::pedantic)]

use std::time::Duration;

use rebuff::{ApiError, Context, RateLimit};

/// Errors of a strict crate.
#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Problem, type_base = "https://example.com/errors/")]
pub enum StrictError {
    /// Missing lead.
    #[error("lead {0} not found")]
    #[api(status = 404)]
    LeadNotFound(u64),
    /// No route: the server's unknown routes.
    #[error("no route for {path}")]
    #[api(status = 404, message = "No such endpoint", rejection = NotFound)]
    RouteNotFound {
        /// The path asked for.
        path: String,
    },
    /// Limited.
    #[error("limited")]
    #[api(status = 429, message = "Again in {after:?}")]
    Limited {
        /// Delay.
        #[api(retry_after)]
        after: Duration,
        /// Limits.
        #[api(rate_limit)]
        limits: RateLimit,
    },
    /// Broken.
    #[error("broken: {0}")]
    #[api(status = 500)]
    Broken(#[source] std::io::Error),
}

/// A generic error.
#[derive(Debug, thiserror::Error, ApiError)]
#[error("bad {value}")]
#[api(status = 400, message = "Bad value {value}")]
pub struct BadValue<T: std::fmt::Display + serde::Serialize> {
    /// The value.
    pub value: T,
}

/// Retried under the strictest lints.
///
/// # Errors
///
/// When every attempt fails.
#[rebuff::retry(max_retries = 2, initial_delay = "10ms", jitter = "none")]
pub fn strict_retry(
    value: String,
    count: &std::sync::atomic::AtomicU32,
) -> Result<String, StrictError> {
    if count.fetch_add(1, std::sync::atomic::Ordering::SeqCst) == 0 {
        return Err(StrictError::Broken(std::io::Error::other("first")));
    }
    Ok(value)
}

/// Async and retried under the strictest lints.
///
/// # Errors
///
/// When every attempt fails.
#[rebuff::retry(policy = rebuff::Policy::DEFAULT, attempt = attempt)]
pub async fn strict_async_retry(value: u64) -> Result<u64, StrictError> {
    if attempt.number() > 10 {
        return Err(StrictError::LeadNotFound(value));
    }
    Ok(value + u64::from(attempt.number()))
}

#[test]
fn strict_retry_runs() {
    let _test_mode = rebuff::retry::testing::enable();
    let count = std::sync::atomic::AtomicU32::new(0);
    assert_eq!(strict_retry("v".to_owned(), &count).unwrap(), "v");
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    assert_eq!(runtime.block_on(strict_async_retry(1)).unwrap(), 2);
}

#[test]
fn strict_code_renders() {
    let err = StrictError::LeadNotFound(4);
    let body = rebuff::to_vec(&err, &Context::new());
    assert!(body.starts_with(br#"{"type":"https://example.com/errors/lead_not_found""#));
    let rejection = rebuff::Rejection::NotFound {
        path: "/v2".to_owned(),
    };
    assert!(matches!(
        StrictError::from_rejection(&rejection),
        Some(StrictError::RouteNotFound { path }) if path == "/v2"
    ));
    assert_eq!(BadValue { value: 3 }.message().to_string(), "Bad value 3");
    let limited = StrictError::Limited {
        after: Duration::from_secs(1),
        limits: RateLimit::default(),
    };
    assert_eq!(limited.message().to_string(), "Again in 1s");
    assert!(StrictError::Broken(std::io::Error::other("x")).retryable());
}
