//! [`StoreError`]: a store that could not answer (the rate limiter's, the
//! idempotency keys').

use core::fmt;

/// A store could not answer: a remote one unreachable, timed out, or
/// answering something it should not.
///
/// ```
/// let err = rebuff::StoreError::new("connection refused");
/// assert_eq!(err.to_string(), "store unavailable: connection refused");
/// ```
#[derive(Debug)]
pub struct StoreError(Box<dyn std::error::Error + Send + Sync>);

impl StoreError {
    /// The error `cause` (any error, or a message).
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError(cause.into())
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store unavailable: {}", self.0)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.0)
    }
}
