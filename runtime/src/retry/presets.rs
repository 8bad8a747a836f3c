//! Named policies for the retry advice of the API guides rebuff implements.
//!
//! Each constant says where its numbers come from. They are starting points:
//! copy one and change what your API needs.

use core::time::Duration;

use http::StatusCode;

use super::{Jitter, Policy};

/// Long uploads, as upload APIs advise retrying them: up to 5 attempts, 1 s
/// doubling to at most 60 s, Retry-After honoured on 429. Their sample code
/// usually adds no jitter; this preset does ([`Jitter::Full`]), so that
/// clients that failed together do not retry together.
pub const UPLOADS: Policy = Policy::exponential()
    .initial_delay(Duration::from_secs(1))
    .factor(2)
    .max_delay(Duration::from_secs(60))
    .max_retries(4)
    .jitter(Jitter::Full);

/// The retry table of an API with the success envelope: 3 attempts; 429
/// waits for the rate-limit reset; 500 backs off exponentially
/// (`2^attempt + 0.5` s, i.e. 1.5 s then 2.5 s: here 1.5 s doubling); 502
/// retries "after 1-2 seconds" (at least 1 s); 503 "waits 30+ seconds"; 504
/// retries with backoff.
pub const STATUS_AWARE: Policy = Policy::exponential()
    .initial_delay(Duration::from_millis(1500))
    .factor(2)
    .max_delay(Duration::from_secs(60))
    .max_retries(2)
    .jitter(Jitter::Equal)
    .min_wait(StatusCode::BAD_GATEWAY, Duration::from_secs(1))
    .min_wait(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30));

/// APIs with the plain envelope or with SCREAMING codes: 3 attempts, backing
/// off `2^attempt` seconds (1 s, then 2 s) with equal jitter, so the sleeps
/// fall in 0.5-1 s, then 1-2 s; 429 waits the server's `retry_after`
/// (commonly 60 s).
pub const SHORT: Policy = Policy::exponential()
    .initial_delay(Duration::from_secs(1))
    .factor(2)
    .max_delay(Duration::from_secs(4))
    .max_retries(2)
    .jitter(Jitter::Equal);

/// A lead-management API (`create_lead_with_retry`): 3 retries after the
/// first call, backing off 1 s, 2 s, 4 s on 5xx with equal jitter (sleeps
/// of 0.5-1 s, 1-2 s, 2-4 s); 429 waits `Retry-After`.
pub const PATIENT: Policy = Policy::exponential()
    .initial_delay(Duration::from_secs(1))
    .factor(2)
    .max_delay(Duration::from_secs(8))
    .max_retries(3)
    .jitter(Jitter::Equal);
