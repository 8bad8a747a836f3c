//! Cutting an async attempt off: the [`TimedOut`] error and the future that
//! races an attempt against its timer.

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::Poll;
use core::time::Duration;

use crate::Retryable;

/// An attempt cut off by [`Policy::attempt_timeout`](crate::Policy::attempt_timeout)
/// (or by the deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    /// How long the attempt was allowed.
    pub limit: Duration,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "attempt timed out after {}", readable(self.limit))
    }
}

/// A time limit as people read it: to the nearest millisecond from one
/// up (what a deadline left an attempt is rarely whole, and `2s 999ms
/// 999us 396ns` says less than `3s`), exact below.
pub(crate) fn readable(limit: Duration) -> humantime::FormattedDuration {
    let shown = if limit >= Duration::from_millis(1) {
        let millis = limit.as_micros().saturating_add(500) / 1000;
        Duration::from_millis(u64::try_from(millis).unwrap_or(u64::MAX))
    } else {
        limit
    };
    humantime::format_duration(shown)
}

impl std::error::Error for TimedOut {}

pin_project_lite::pin_project! {
    /// One attempt, racing its timer when it has one: the attempt's result,
    /// or a timeout error when the timer fires first.
    #[doc(hidden)]
    pub struct Limited<F, S, E> {
        #[pin]
        work: F,
        // Boxed with the limit it stands for: an untimed attempt (nearly
        // every one) carries one empty pointer.
        timer: Option<Pin<Box<Timer<S>>>>,
        _error: core::marker::PhantomData<fn() -> E>,
    }
}

pin_project_lite::pin_project! {
    /// An attempt's timer and the limit it enforces.
    #[doc(hidden)]
    pub struct Timer<S> {
        #[pin]
        sleep: S,
        limit: Duration,
    }
}

impl<F, S, E> Limited<F, S, E> {
    /// `work`, cut off after `limit` by the sleep `timer` makes.
    #[inline]
    pub(super) fn new(work: F, limit: Option<Duration>, timer: impl FnOnce(Duration) -> S) -> Self {
        Limited {
            work,
            timer: limit.map(|limit| {
                Box::pin(Timer {
                    sleep: timer(limit),
                    limit,
                })
            }),
            _error: core::marker::PhantomData,
        }
    }
}

impl<T, E, F, S> Future for Limited<F, S, E>
where
    E: Retryable,
    F: Future<Output = Result<T, E>>,
    S: Future<Output = ()>,
{
    type Output = Result<T, E>;

    #[inline]
    fn poll(self: Pin<&mut Self>, cx: &mut core::task::Context<'_>) -> Poll<Self::Output> {
        let this = self.project();
        if let Poll::Ready(result) = this.work.poll(cx) {
            return Poll::Ready(result);
        }
        if let Some(timer) = this.timer {
            let timer = timer.as_mut().project();
            if timer.sleep.poll(cx).is_ready() {
                // The driver gives a timer only to errors that can say so.
                if let Some(make) = E::timeout_error() {
                    return Poll::Ready(Err(make(TimedOut {
                        limit: *timer.limit,
                    })));
                }
            }
        }
        Poll::Pending
    }
}

/// Logged once, for the first blocking run (`#[retry]` on a blocking
/// function, `run_blocking`) whose policy sets an attempt timeout that its
/// attempts are not handed (the attempt not bound): the `attempt_timeout`
/// key is a compile error there, a policy's is not.
#[cold]
pub(super) fn warn_blocking_timeout_unbound() {
    static WARNED: std::sync::atomic::AtomicBool = std::sync::atomic::AtomicBool::new(false);
    if WARNED.swap(true, std::sync::atomic::Ordering::Relaxed) {
        return;
    }
    tracing::warn!(
        target: "rebuff::retry",
        "a blocking run's policy sets an attempt timeout, but its attempts cannot be cut \
         off: bind the attempt (#[retry(attempt = attempt, ...)], or \
         run_blocking_with_attempt) and hand attempt.limit() to what it waits on (a \
         socket's read timeout); until then attempts run to completion"
    );
}

/// Logged once per error type, for the first run whose policy sets an
/// attempt timeout or a deadline the type cannot enforce on its attempts.
#[cold]
pub(super) fn warn_timeout_unsupported<E>() {
    static WARNED: std::sync::Mutex<Vec<&'static str>> = std::sync::Mutex::new(Vec::new());
    let name = core::any::type_name::<E>();
    let mut warned = WARNED
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner);
    if warned.contains(&name) {
        return;
    }
    warned.push(name);
    drop(warned);
    tracing::warn!(
        target: "rebuff::retry",
        error_type = name,
        "the policy sets an attempt timeout or a deadline, but the error type cannot represent \
         a timeout (Retryable::timeout_error returns None; for a derived error, mark a unit \
         variant #[api(timeout)]): attempts run to completion, and the deadline only bounds \
         the sleeps"
    );
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_limit_reads_to_the_millisecond() {
        let shown = |limit| readable(limit).to_string();
        assert_eq!(shown(Duration::from_nanos(2_999_999_396)), "3s");
        assert_eq!(shown(Duration::from_micros(1_234_400)), "1s 234ms");
        assert_eq!(shown(Duration::from_secs(90)), "1m 30s");
        assert_eq!(shown(Duration::from_micros(250)), "250us");
        assert_eq!(shown(Duration::ZERO), "0s");
        // No overflow at the top.
        assert!(
            shown(Duration::MAX).ends_with("ms"),
            "{}",
            shown(Duration::MAX)
        );
    }
}
