//! What a run tells about itself: why it stopped, the events its hooks
//! see, and the history [`Retry::run_report`](super::Retry::run_report)
//! returns.

use core::fmt;
use core::time::Duration;

use crate::Advice;

/// Why the engine stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// The error's advice was [`Advice::Stop`].
    NotRetryable,
    /// [`Policy::max_retries`](crate::Policy::max_retries) retries were made.
    OutOfAttempts,
    /// The next sleep would have ended past
    /// [`Policy::deadline`](crate::Policy::deadline).
    Deadline,
    /// The server asked to wait longer than the deadline leaves.
    HintBeyondDeadline,
    /// The shared [`Budget`](crate::Budget) had no retry left.
    BudgetExhausted,
    /// The [`Breaker`](crate::Breaker) is open: the call was refused at
    /// once, or a failure found it open for longer than the sleep before
    /// the retry (which would only have been refused), and was returned.
    CircuitOpen,
}

impl fmt::Display for StopReason {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(match self {
            StopReason::NotRetryable => "the error is not retryable",
            StopReason::OutOfAttempts => "out of attempts",
            StopReason::Deadline => "the next retry would end past the deadline",
            StopReason::HintBeyondDeadline => "the server asked to wait past the deadline",
            StopReason::BudgetExhausted => "the retry budget is spent",
            StopReason::CircuitOpen => "the circuit breaker is open",
        })
    }
}

/// A failed attempt about to be retried, as
/// [`Retry::on_retry`](super::Retry::on_retry) sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct RetryEvent<'a, E> {
    /// The attempt that failed (1 for the first call).
    pub attempt: u32,
    /// Its error.
    pub error: &'a E,
    /// What the error advised.
    pub advice: Advice,
    /// How long the engine sleeps before the next attempt.
    pub delay: Duration,
}

/// The last failed attempt, as [`Retry::on_give_up`](super::Retry::on_give_up)
/// sees it.
#[derive(Debug)]
#[non_exhaustive]
pub struct GiveUp<'a, E> {
    /// Attempts made in all.
    pub attempts: u32,
    /// The error returned to the caller.
    pub error: &'a E,
    /// Why no further attempt is made.
    pub reason: StopReason,
}

/// One failed attempt in a [`Report`].
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub struct AttemptRecord {
    /// 1 for the first call.
    pub number: u32,
    /// What the error advised.
    pub advice: Advice,
    /// The error's HTTP status, if it has one.
    pub status: Option<http::StatusCode>,
    /// The error's `Display` text.
    pub error: String,
    /// The sleep that followed, or `None` for the last attempt.
    pub delay: Option<Duration>,
}

/// The history of a call, from [`Retry::run_report`](super::Retry::run_report).
#[derive(Debug, Clone, Default, PartialEq, Eq)]
#[non_exhaustive]
pub struct Report {
    /// Attempts made in all.
    pub attempts: u32,
    /// Why the engine stopped, or `None` if the last attempt succeeded.
    pub stop: Option<StopReason>,
    /// Every failed attempt, in order.
    pub failures: Vec<AttemptRecord>,
}
