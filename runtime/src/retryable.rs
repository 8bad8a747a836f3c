use core::time::Duration;
use std::io;

use http::StatusCode;

use crate::ApiError;
use crate::retry::TimedOut;

/// What an error says about trying again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Advice {
    /// Trying again cannot help: a 4xx other than 408 and 429, bad input.
    Stop,
    /// Trying again may help, after the policy's backoff.
    Retry,
    /// Trying again may help, and the server said when: wait at least this
    /// long (still bounded by [`Policy::max_retry_after`](crate::Policy::max_retry_after)).
    RetryAfter(Duration),
}

impl Advice {
    /// Whether the advice is to try again.
    #[must_use]
    pub const fn is_retry(self) -> bool {
        !matches!(self, Advice::Stop)
    }

    /// The server's requested delay, if it gave one.
    #[must_use]
    pub const fn after(self) -> Option<Duration> {
        match self {
            Advice::RetryAfter(delay) => Some(delay),
            Advice::Stop | Advice::Retry => None,
        }
    }
}

/// An error that knows whether the operation that failed is worth
/// repeating.
///
/// The retry engine ([`crate::retry`](mod@crate::retry), `#[retry]`) asks it after each failed
/// attempt. Every [`ApiError`] is `Retryable` (its status and `retry_after`
/// decide), and so is [`std::io::Error`] (by kind: timeouts, resets and
/// refused connections retry; the rest does not).
///
/// ```
/// use rebuff::{Advice, Retryable};
///
/// // `Display` too, for `#[retry]` and the engine, which log each failure.
/// #[derive(Debug, thiserror::Error)]
/// enum FetchError {
///     #[error("offline")]
///     Offline,
///     #[error("bad url")]
///     BadUrl,
/// }
///
/// impl Retryable for FetchError {
///     fn retry_advice(&self) -> Advice {
///         match self {
///             FetchError::Offline => Advice::Retry,
///             FetchError::BadUrl => Advice::Stop,
///         }
///     }
/// }
/// # assert!(FetchError::Offline.retry_advice().is_retry());
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` does not say whether a failed call is worth retrying",
    label = "the retry engine needs `{Self}: rebuff::Retryable`",
    note = "derive `rebuff::ApiError` for it, implement `rebuff::Retryable`, or pick the advice per call with `when = ...`"
)]
pub trait Retryable {
    /// Whether to try again, and when.
    fn retry_advice(&self) -> Advice;

    /// The HTTP status behind the error, if any, for per-status minimum
    /// waits ([`Policy::min_wait`](crate::Policy::min_wait)).
    fn retry_status(&self) -> Option<StatusCode> {
        None
    }

    /// The server's request id, if the error carries one: retry logs
    /// include it so support can find the failed attempts.
    fn request_id(&self) -> Option<&str> {
        None
    }

    /// Whether the call got as far as the service the error is about: an
    /// answer, or a failure on the way to it (`true`, the default). One
    /// that did not (a request that could not be built, refused on this
    /// side) says nothing of the service: a [`Breaker`](crate::Breaker)
    /// counts it neither way, and a half-open breaker's probe goes to the
    /// next call.
    fn reached_service(&self) -> bool {
        true
    }

    /// How to make this error from an attempt cut off by
    /// [`Policy::attempt_timeout`](crate::Policy::attempt_timeout) or by the
    /// deadline.
    ///
    /// `None` (the default) means the type cannot represent a timeout: the
    /// engine then lets each attempt run to completion and logs once that
    /// the timeout was not applied.
    #[must_use]
    fn timeout_error() -> Option<fn(TimedOut) -> Self>
    where
        Self: Sized,
    {
        None
    }
}

/// An error that can stand for an attempt cut off by its time limit: its
/// [`Retryable::timeout_error`] returns `Some`.
///
/// `#[retry]` asks it of an async function's error type when the attribute
/// sets `attempt_timeout`, so that the key cannot be silently ignored (a
/// `policy`'s attempt timeout cannot be seen at compile time: the first
/// such run logs a warning instead). Implemented for
/// [`ClientError`](crate::client::ClientError), [`std::io::Error`] and
/// every derived type with a unit variant marked `#[api(timeout)]`;
/// implement it beside a `timeout_error` of your own.
///
/// ```
/// use rebuff::{ApiError, CanTimeOut};
///
/// #[derive(Debug, thiserror::Error, ApiError)]
/// enum CallError {
///     #[error("timed out")]
///     #[api(status = 504, timeout)]
///     Timeout,
/// }
///
/// fn times_out<E: CanTimeOut>() {}
/// times_out::<CallError>();
/// ```
#[diagnostic::on_unimplemented(
    message = "`{Self}` cannot stand for an attempt cut off by `attempt_timeout`, so no attempt would ever be cut off",
    label = "the error type of a function whose attempts have a time limit",
    note = "mark a unit variant of a derived error `#[api(timeout)]`; for an error of your own, return `Some` from `Retryable::timeout_error` and implement `rebuff::CanTimeOut`"
)]
pub trait CanTimeOut: Retryable {}

impl CanTimeOut for io::Error {}

/// A boxed error times out as the error it holds.
impl<T: ApiError + CanTimeOut> CanTimeOut for Box<T> {}

// Not offered as the fix when a type is not `Retryable`: the message of
// `Retryable` itself says both ways to make it one.
#[diagnostic::do_not_recommend]
impl<E: ApiError> Retryable for E {
    /// The variant marked `#[api(timeout)]`, if any ([`ApiError::from_timeout`]).
    fn timeout_error() -> Option<fn(TimedOut) -> Self> {
        E::from_timeout()
    }

    fn retry_advice(&self) -> Advice {
        if !self.retryable() {
            return Advice::Stop;
        }
        match self.retry_after() {
            Some(delay) => Advice::RetryAfter(delay),
            None => Advice::Retry,
        }
    }

    fn retry_status(&self) -> Option<StatusCode> {
        Some(self.status())
    }

    fn request_id(&self) -> Option<&str> {
        ApiError::request_id(self)
    }
}

impl Retryable for io::Error {
    fn retry_advice(&self) -> Advice {
        use io::ErrorKind::{
            BrokenPipe, ConnectionAborted, ConnectionRefused, ConnectionReset, HostUnreachable,
            Interrupted, NetworkDown, NetworkUnreachable, NotConnected, ResourceBusy, TimedOut,
            UnexpectedEof, WouldBlock,
        };
        match self.kind() {
            TimedOut | Interrupted | WouldBlock | ConnectionReset | ConnectionAborted
            | ConnectionRefused | NotConnected | BrokenPipe | UnexpectedEof | HostUnreachable
            | NetworkUnreachable | NetworkDown | ResourceBusy => Advice::Retry,
            _ => Advice::Stop,
        }
    }

    fn timeout_error() -> Option<fn(TimedOut) -> Self> {
        Some(|timeout| io::Error::new(io::ErrorKind::TimedOut, timeout))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn io_errors_retry_by_kind() {
        let retry = [
            io::ErrorKind::TimedOut,
            io::ErrorKind::ConnectionReset,
            io::ErrorKind::ConnectionRefused,
        ];
        for kind in retry {
            assert_eq!(
                io::Error::from(kind).retry_advice(),
                Advice::Retry,
                "{kind:?}"
            );
        }
        let stop = [
            io::ErrorKind::NotFound,
            io::ErrorKind::PermissionDenied,
            io::ErrorKind::InvalidData,
        ];
        for kind in stop {
            assert_eq!(
                io::Error::from(kind).retry_advice(),
                Advice::Stop,
                "{kind:?}"
            );
        }
        let timeout = io::Error::timeout_error().unwrap()(TimedOut {
            limit: Duration::from_secs(1),
        });
        assert_eq!(timeout.kind(), io::ErrorKind::TimedOut);
    }
}
