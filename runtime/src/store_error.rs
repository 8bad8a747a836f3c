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
pub struct StoreError {
    cause: Box<dyn std::error::Error + Send + Sync>,
    sent: bool,
}

impl StoreError {
    /// The error `cause` (any error, or a message), of a call that may have
    /// reached the store: one that timed out may still have landed.
    pub fn new(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError {
            cause: cause.into(),
            sent: true,
        }
    }

    /// The error `cause` of a call the store was never asked (its breaker
    /// open, say): nothing of it can have landed, so there is nothing to
    /// undo. An idempotency claim that failed so is not given back.
    ///
    /// ```
    /// let err = rebuff::StoreError::unsent("breaker open");
    /// assert!(!err.may_have_landed());
    /// assert!(rebuff::StoreError::new("timed out").may_have_landed());
    /// ```
    pub fn unsent(cause: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> Self {
        StoreError {
            cause: cause.into(),
            sent: false,
        }
    }

    /// Whether the failed call may have reached the store (`false` only
    /// for [`unsent`](Self::unsent)).
    #[must_use]
    pub fn may_have_landed(&self) -> bool {
        self.sent
    }
}

impl fmt::Display for StoreError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "store unavailable: {}", self.cause)
    }
}

impl std::error::Error for StoreError {
    fn source(&self) -> Option<&(dyn std::error::Error + 'static)> {
        Some(&*self.cause)
    }
}
