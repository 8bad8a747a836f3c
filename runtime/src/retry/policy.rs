use core::time::Duration;

use http::StatusCode;

/// How the delay grows from one retry to the next, before jitter.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Backoff {
    /// `initial_delay * factor^n`, capped at `max_delay`.
    Exponential,
    /// `initial_delay` every time.
    Constant,
    /// `initial_delay + step * n`, capped at `max_delay`.
    Linear,
}

/// How the computed delay is randomised, so that clients failing together do
/// not retry together.
///
/// With `d` the backoff delay of this retry (see [`Backoff`]):
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum Jitter {
    /// Exactly `d`. What API guides' sample code does; fine for one
    /// client, a thundering herd for many.
    None,
    /// Uniform in `[0, d]`: the spread AWS measured as the least total work
    /// for competing clients. The default.
    Full,
    /// `d/2` plus uniform in `[0, d/2]`: never shorter than half the delay.
    Equal,
    /// Uniform in `[initial_delay, 3 * previous]`, capped at `max_delay`
    /// ("decorrelated jitter"): grows from the last sleep rather than the
    /// attempt number.
    Decorrelated,
}

/// Whether a server's own retry hint (`Retry-After`, `X-RateLimit-Reset`, a
/// body's `retry_after`) is followed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum RetryAfter {
    /// Wait at least as long as the server asked (capped at
    /// [`Policy::max_retry_after`]), longer if the backoff says so. The
    /// default: `max_delay` caps our own backoff, not the server's request.
    Floor,
    /// Ignore the hint and use the backoff alone.
    Ignore,
}

/// A minimum wait for one status.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
struct MinWait {
    status: u16,
    at_least: Duration,
}

/// How many per-status minimum waits a policy holds.
const MIN_WAITS: usize = 4;

/// How to retry: backoff, jitter, limits and how to treat the server's hints.
///
/// Built with `const fn`s, so a policy is a `const` or `static` and costs
/// nothing to hold or share:
///
/// ```
/// use std::time::Duration;
/// use rebuff::{Policy, Jitter};
///
/// const STANDARD: Policy = Policy::exponential()
///     .initial_delay(Duration::from_secs(1))
///     .factor(2)
///     .max_delay(Duration::from_secs(60))
///     .max_retries(5)
///     .jitter(Jitter::Full)
///     .deadline(Duration::from_secs(120));
/// # let _ = STANDARD;
/// ```
///
/// # Default
///
/// [`Policy::exponential`] (also [`Policy::DEFAULT`] and `Policy::default()`):
///
/// | setting | value | why |
/// |---|---|---|
/// | backoff | exponential, 1 s × 2 | the usual advice: double from one second |
/// | `max_delay` | 60 s | the usual cap on upload retries |
/// | `max_retries` | 3 (4 attempts) | API guides stop after 3 or 4 attempts; uploads get 5 ([`presets::UPLOADS`](crate::retry::presets::UPLOADS): 4 retries) |
/// | jitter | [`Jitter::Full`] | API guides' sample code adds none, which synchronises clients that failed together; full jitter spreads them best |
/// | Retry-After | [`RetryAfter::Floor`], at most 5 minutes | most API guides tell clients to honour it; the cap keeps a hostile or broken server from parking the client |
/// | deadline, attempt timeout | none | only the caller knows its budget |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Policy {
    backoff: Backoff,
    initial_delay: Duration,
    factor: u32,
    step: Duration,
    max_delay: Duration,
    jitter: Jitter,
    max_retries: u32,
    deadline: Option<Duration>,
    attempt_timeout: Option<Duration>,
    retry_after: RetryAfter,
    max_retry_after: Duration,
    min_waits: [MinWait; MIN_WAITS],
    min_waits_len: usize,
}

impl Default for Policy {
    fn default() -> Self {
        Self::DEFAULT
    }
}

impl Policy {
    /// The default policy; see the table above.
    pub const DEFAULT: Policy = Policy::exponential();

    /// Exponential backoff with the defaults above.
    #[must_use]
    pub const fn exponential() -> Self {
        Self {
            backoff: Backoff::Exponential,
            initial_delay: Duration::from_secs(1),
            factor: 2,
            step: Duration::ZERO,
            max_delay: Duration::from_secs(60),
            jitter: Jitter::Full,
            max_retries: 3,
            deadline: None,
            attempt_timeout: None,
            retry_after: RetryAfter::Floor,
            max_retry_after: Duration::from_secs(300),
            min_waits: [MinWait {
                status: 0,
                at_least: Duration::ZERO,
            }; MIN_WAITS],
            min_waits_len: 0,
        }
    }

    /// The same delay before every retry, without jitter.
    #[must_use]
    pub const fn constant(delay: Duration) -> Self {
        let mut policy = Self::exponential();
        policy.backoff = Backoff::Constant;
        policy.initial_delay = delay;
        policy.jitter = Jitter::None;
        policy
    }

    /// A delay growing by `step` each retry: `initial, initial + step, ...`,
    /// capped at `max_delay`.
    #[must_use]
    pub const fn linear(initial: Duration, step: Duration) -> Self {
        let mut policy = Self::exponential();
        policy.backoff = Backoff::Linear;
        policy.initial_delay = initial;
        policy.step = step;
        policy
    }

    /// The delay before the first retry.
    #[must_use]
    pub const fn initial_delay(mut self, delay: Duration) -> Self {
        self.initial_delay = delay;
        self
    }

    /// How much an exponential delay grows per retry (at least 1).
    #[must_use]
    pub const fn factor(mut self, factor: u32) -> Self {
        self.factor = if factor == 0 { 1 } else { factor };
        self
    }

    /// How much a linear delay grows per retry.
    #[must_use]
    pub const fn step(mut self, step: Duration) -> Self {
        self.step = step;
        self
    }

    /// The longest our own backoff waits. A server's `Retry-After` may ask
    /// for longer: see [`Policy::max_retry_after`].
    #[must_use]
    pub const fn max_delay(mut self, delay: Duration) -> Self {
        self.max_delay = delay;
        self
    }

    /// How the delay is randomised.
    #[must_use]
    pub const fn jitter(mut self, jitter: Jitter) -> Self {
        self.jitter = jitter;
        self
    }

    /// Retries after the first attempt: `3` means at most 4 calls.
    #[must_use]
    pub const fn max_retries(mut self, retries: u32) -> Self {
        self.max_retries = retries;
        self
    }

    /// The total time the call may take, attempts and sleeps included. A
    /// retry whose sleep would end past it is not made: the last error
    /// returns at once. An async attempt still running at the deadline is
    /// cut off, for an error type that can say "timed out" (as for
    /// [`attempt_timeout`](Self::attempt_timeout)); otherwise it runs to
    /// completion. An attempt the deadline cuts off is not counted by a
    /// circuit breaker: the caller's clock stopped it, which says nothing of
    /// the service (an attempt timeout's cut, and an attempt that fails on
    /// its own past the deadline, do count).
    #[must_use]
    pub const fn deadline(mut self, deadline: Duration) -> Self {
        self.deadline = Some(deadline);
        self
    }

    /// The time one async attempt may take before it is cancelled and
    /// counted as a failure (a timeout, which is retried). Needs an error
    /// type that can say "timed out": see
    /// [`Retryable::timeout_error`](crate::Retryable::timeout_error); a
    /// derived error says it with a unit variant marked `#[api(timeout)]`,
    /// and [`ClientError`](crate::client::ClientError) with its `Timeout`.
    /// A zero timeout cuts off every attempt that is not done when first
    /// polled; for none, leave it unset.
    #[must_use]
    pub const fn attempt_timeout(mut self, timeout: Duration) -> Self {
        self.attempt_timeout = Some(timeout);
        self
    }

    /// Whether the server's own retry hint is followed.
    #[must_use]
    pub const fn retry_after(mut self, mode: RetryAfter) -> Self {
        self.retry_after = mode;
        self
    }

    /// The longest a server's hint may make us wait; longer hints are cut to
    /// this.
    #[must_use]
    pub const fn max_retry_after(mut self, limit: Duration) -> Self {
        self.max_retry_after = limit;
        self
    }

    /// Waits at least `at_least` after an error of this status, whatever the
    /// backoff says (as a published retry table has it: a 503 "waits 30+
    /// seconds", a 502 retries "after 1-2 seconds"). Up to four statuses;
    /// setting a fifth replaces the last, setting one twice replaces it.
    #[must_use]
    pub const fn min_wait(mut self, status: StatusCode, at_least: Duration) -> Self {
        let code = status.as_u16();
        let mut i = 0;
        while i < self.min_waits_len {
            if self.min_waits[i].status == code {
                self.min_waits[i].at_least = at_least;
                return self;
            }
            i += 1;
        }
        let slot = if self.min_waits_len < MIN_WAITS {
            self.min_waits_len += 1;
            self.min_waits_len - 1
        } else {
            MIN_WAITS - 1
        };
        self.min_waits[slot] = MinWait {
            status: code,
            at_least,
        };
        self
    }

    /// The backoff kind.
    #[must_use]
    pub const fn get_backoff(&self) -> Backoff {
        self.backoff
    }

    /// The delay before the first retry.
    #[must_use]
    pub const fn get_initial_delay(&self) -> Duration {
        self.initial_delay
    }

    /// The longest backoff delay.
    #[must_use]
    pub const fn get_max_delay(&self) -> Duration {
        self.max_delay
    }

    /// The jitter kind.
    #[must_use]
    pub const fn get_jitter(&self) -> Jitter {
        self.jitter
    }

    /// The number of retries after the first attempt.
    #[must_use]
    pub const fn get_max_retries(&self) -> u32 {
        self.max_retries
    }

    /// The total deadline, if any.
    #[must_use]
    pub const fn get_deadline(&self) -> Option<Duration> {
        self.deadline
    }

    /// The per-attempt timeout, if any.
    #[must_use]
    pub const fn get_attempt_timeout(&self) -> Option<Duration> {
        self.attempt_timeout
    }

    /// The longest wait a server's hint can cause.
    #[must_use]
    pub const fn get_max_retry_after(&self) -> Duration {
        self.max_retry_after
    }

    /// Whether server hints are followed.
    #[must_use]
    pub const fn get_retry_after(&self) -> RetryAfter {
        self.retry_after
    }

    /// The minimum wait after an error of `status`, if one is set.
    #[must_use]
    pub fn get_min_wait(&self, status: StatusCode) -> Option<Duration> {
        self.min_waits[..self.min_waits_len]
            .iter()
            .find(|w| w.status == status.as_u16())
            .map(|w| w.at_least)
    }

    /// The delay before retry number `retry` (0 for the first retry) before
    /// jitter: the backoff curve, capped at `max_delay` (a constant
    /// backoff's delay is its `initial_delay` as given).
    #[must_use]
    pub fn base_delay(&self, retry: u32) -> Duration {
        let delay = match self.backoff {
            Backoff::Constant => return self.initial_delay,
            Backoff::Exponential => match self.factor.checked_pow(retry) {
                Some(growth) => self.initial_delay.saturating_mul(growth),
                None if self.initial_delay.is_zero() => Duration::ZERO,
                None => Duration::MAX,
            },
            Backoff::Linear => self
                .initial_delay
                .saturating_add(self.step.saturating_mul(retry)),
        };
        delay.min(self.max_delay)
    }

    /// The jittered delay before retry number `retry`, drawing from `rng`;
    /// `previous` is the delay slept before the last retry (decorrelated
    /// jitter grows from it).
    pub(crate) fn backoff_delay(
        &self,
        retry: u32,
        previous: Duration,
        rng: &mut fastrand::Rng,
    ) -> Duration {
        let base = self.base_delay(retry);
        match self.jitter {
            Jitter::None => base,
            Jitter::Full => uniform(rng, Duration::ZERO, base),
            Jitter::Equal => {
                let half = base / 2;
                half + uniform(rng, Duration::ZERO, base.saturating_sub(half))
            }
            Jitter::Decorrelated => {
                let low = self.initial_delay.min(self.max_delay);
                let previous = if retry == 0 { low } else { previous.max(low) };
                uniform(rng, low, previous.saturating_mul(3)).min(self.max_delay)
            }
        }
    }
}

/// Uniform in `[low, high]`, at nanosecond resolution.
fn uniform(rng: &mut fastrand::Rng, low: Duration, high: Duration) -> Duration {
    if high <= low {
        return low;
    }
    let low_ns = u64::try_from(low.as_nanos()).unwrap_or(u64::MAX);
    let high_ns = u64::try_from(high.as_nanos()).unwrap_or(u64::MAX);
    Duration::from_nanos(rng.u64(low_ns..=high_ns))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn every_curve_starts_with_the_cap_retrys_checks_assume() {
        // `#[retry]` refuses an inline `initial_delay` above this default
        // `max_delay` when none is given (macros/src/retry/args.rs).
        for policy in [
            Policy::exponential(),
            Policy::linear(Duration::from_secs(1), Duration::from_secs(1)),
            Policy::constant(Duration::from_secs(1)),
        ] {
            assert_eq!(policy.get_max_delay(), Duration::from_secs(60));
        }
    }

    #[test]
    fn exponential_curve_is_capped_and_never_overflows() {
        let policy = Policy::exponential().max_delay(Duration::from_secs(10));
        let delays: Vec<u64> = (0..6).map(|n| policy.base_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 2, 4, 8, 10, 10]);
        assert_eq!(policy.base_delay(u32::MAX), Duration::from_secs(10));
        let huge = Policy::exponential()
            .max_delay(Duration::MAX)
            .factor(u32::MAX);
        assert_eq!(huge.base_delay(1000), Duration::MAX);
    }

    #[test]
    fn linear_and_constant_curves() {
        let linear = Policy::linear(Duration::from_secs(1), Duration::from_secs(2))
            .max_delay(Duration::from_secs(6));
        let delays: Vec<u64> = (0..5).map(|n| linear.base_delay(n).as_secs()).collect();
        assert_eq!(delays, [1, 3, 5, 6, 6]);
        let constant = Policy::constant(Duration::from_millis(250));
        assert!((0..5).all(|n| constant.base_delay(n) == Duration::from_millis(250)));
    }

    #[test]
    fn min_waits_replace_and_overflow_into_the_last_slot() {
        let policy = Policy::DEFAULT
            .min_wait(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30))
            .min_wait(StatusCode::BAD_GATEWAY, Duration::from_secs(1))
            .min_wait(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(31));
        assert_eq!(
            policy.get_min_wait(StatusCode::SERVICE_UNAVAILABLE),
            Some(Duration::from_secs(31))
        );
        assert_eq!(
            policy.get_min_wait(StatusCode::BAD_GATEWAY),
            Some(Duration::from_secs(1))
        );
        assert_eq!(policy.get_min_wait(StatusCode::GATEWAY_TIMEOUT), None);
        let full = policy
            .min_wait(StatusCode::from_u16(520).unwrap(), Duration::from_secs(1))
            .min_wait(StatusCode::from_u16(521).unwrap(), Duration::from_secs(2))
            .min_wait(StatusCode::from_u16(522).unwrap(), Duration::from_secs(3));
        assert_eq!(
            full.get_min_wait(StatusCode::from_u16(522).unwrap()),
            Some(Duration::from_secs(3))
        );
        assert_eq!(full.get_min_wait(StatusCode::from_u16(521).unwrap()), None);
    }

    #[test]
    fn jitter_stays_in_its_bounds() {
        let mut rng = fastrand::Rng::with_seed(7);
        let policy = Policy::DEFAULT;
        for retry in 0..8 {
            let base = policy.base_delay(retry);
            let full = policy
                .jitter(Jitter::Full)
                .backoff_delay(retry, Duration::ZERO, &mut rng);
            assert!(full <= base);
            let equal = policy
                .jitter(Jitter::Equal)
                .backoff_delay(retry, Duration::ZERO, &mut rng);
            assert!(equal >= base / 2 && equal <= base);
            let previous = Duration::from_secs(3);
            let decorrelated = policy
                .jitter(Jitter::Decorrelated)
                .backoff_delay(retry, previous, &mut rng);
            assert!(decorrelated >= policy.get_initial_delay());
            assert!(decorrelated <= Duration::from_secs(9).max(policy.get_initial_delay() * 3));
        }
    }
}
