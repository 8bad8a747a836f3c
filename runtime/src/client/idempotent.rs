//! When a request may be sent again: the rule every retrying client of
//! rebuff follows ([`SendRetrying`](crate::client::reqwest::SendRetrying),
//! the reqwest-middleware [`RetryMiddleware`](crate::client::middleware::RetryMiddleware),
//! the tower [`RetryLayer`](crate::client::tower::RetryLayer)), written
//! once.
//!
//! A request is repeated as its errors advise when its method is
//! idempotent or it carries an `Idempotency-Key`; any other request only
//! when it never reached the server.

use http::Method;
#[cfg(any(feature = "reqwest", feature = "tower-client"))]
use {
    super::{ClientError, NetworkKind},
    crate::retry::IdempotencyKey,
    crate::{Advice, Retryable},
    http::{HeaderMap, HeaderValue},
};

/// The header that lets a server tell a retry from a new request.
pub const IDEMPOTENCY_KEY: &str = "idempotency-key";

/// Whether RFC 9110 calls `method` idempotent: repeating it has the effect
/// of sending it once (GET, HEAD, PUT, DELETE, OPTIONS, TRACE).
///
/// ```
/// use rebuff::client::is_idempotent;
/// use rebuff::http::Method;
///
/// assert!(is_idempotent(&Method::PUT));
/// assert!(!is_idempotent(&Method::POST));
/// ```
#[must_use]
pub fn is_idempotent(method: &Method) -> bool {
    idempotent_method(method.as_str())
}

/// [`is_idempotent`] of a method's name; the servers' idempotency keys
/// follow it too.
pub(crate) fn idempotent_method(method: &str) -> bool {
    matches!(
        method,
        "GET" | "HEAD" | "PUT" | "DELETE" | "OPTIONS" | "TRACE"
    )
}

/// Adds the call's `Idempotency-Key` to a non-idempotent request that has
/// none (if `auto_key`), and says whether the request is safe to repeat.
#[cfg(any(feature = "reqwest", feature = "tower-client"))]
pub(crate) fn prepare(
    method: &Method,
    headers: &mut HeaderMap,
    auto_key: bool,
    key: IdempotencyKey,
) -> bool {
    if is_idempotent(method) {
        return true;
    }
    if auto_key && !headers.contains_key(IDEMPOTENCY_KEY) {
        if let Ok(value) = HeaderValue::from_bytes(&key.to_ascii()) {
            headers.insert(IDEMPOTENCY_KEY, value);
        }
    }
    headers.contains_key(IDEMPOTENCY_KEY)
}

/// The advice for a request that is not safe to repeat: retried only if it
/// never reached the server.
#[cfg(any(feature = "reqwest", feature = "tower-client"))]
pub(crate) fn retry_if_unsent<E: Retryable>(err: &ClientError<E>) -> Advice {
    match err {
        ClientError::Network {
            kind: NetworkKind::Connect,
            ..
        } => err.retry_advice(),
        _ => Advice::Stop,
    }
}
