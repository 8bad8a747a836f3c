//! The retry decision, written once: plain functions over the policy, the
//! run's history, the error's advice and the clock's reading. The driver
//! calls them; every loop (async or blocking, attribute or closure, reqwest
//! or middleware) runs the driver; nothing else decides.

use core::time::Duration;

use http::StatusCode;

use super::{Policy, RetryAfter, StopReason};
use crate::Advice;

/// What follows a failed attempt.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Decision {
    /// Sleep this long, then try again.
    Sleep(Duration),
    /// Return the error.
    GiveUp(StopReason),
}

/// What the decision reads of the run so far.
#[derive(Debug, Clone, Copy)]
pub(super) struct History {
    /// The attempt that just failed, from 1.
    pub(super) failed: u32,
    /// The sleep before it (zero before the first retry).
    pub(super) previous_delay: Duration,
    /// Time since the run started, if the run keeps time (it does whenever
    /// the policy has a deadline).
    pub(super) elapsed: Option<Duration>,
}

/// After a failed attempt: stop, or sleep how long.
///
/// 1. advice [`Advice::Stop`]: give up;
/// 2. [`Policy::max_retries`] retries made: give up;
/// 3. the delay is the backoff (with jitter from `rng`), raised to the
///    server's hint (capped at [`Policy::max_retry_after`], unless the
///    policy ignores hints) and to the status's [`Policy::min_wait`];
/// 4. a sleep that would end at or past the deadline is not slept: give up
///    now, saying whether the server's own hint was what did not fit.
pub(super) fn after_failure(
    policy: &Policy,
    history: &History,
    advice: Advice,
    status: Option<StatusCode>,
    rng: &mut fastrand::Rng,
) -> Decision {
    if !advice.is_retry() {
        return Decision::GiveUp(StopReason::NotRetryable);
    }
    let retry = history.failed.saturating_sub(1);
    if retry >= policy.get_max_retries() {
        return Decision::GiveUp(StopReason::OutOfAttempts);
    }
    let backoff = policy.backoff_delay(retry, history.previous_delay, rng);
    let hint = match policy.get_retry_after() {
        RetryAfter::Floor => advice.after().map(|h| h.min(policy.get_max_retry_after())),
        RetryAfter::Ignore => None,
    };
    let floor = status.and_then(|s| policy.get_min_wait(s));
    let delay = backoff
        .max(hint.unwrap_or_default())
        .max(floor.unwrap_or_default());
    if let (Some(deadline), Some(elapsed)) = (policy.get_deadline(), history.elapsed) {
        if elapsed.saturating_add(delay) >= deadline {
            let hinted = hint.is_some_and(|h| elapsed.saturating_add(h) >= deadline);
            return Decision::GiveUp(if hinted {
                StopReason::HintBeyondDeadline
            } else {
                StopReason::Deadline
            });
        }
    }
    Decision::Sleep(delay)
}

/// How long the next attempt may run: the attempt timeout, shortened to
/// what the deadline leaves (`elapsed` is time since the run started);
/// `None` when neither applies.
pub(super) fn attempt_limit(policy: &Policy, elapsed: Option<Duration>) -> Option<Duration> {
    let left = policy
        .get_deadline()
        .zip(elapsed)
        .map(|(deadline, elapsed)| deadline.saturating_sub(elapsed));
    match (policy.get_attempt_timeout(), left) {
        (Some(timeout), Some(left)) => Some(timeout.min(left)),
        (timeout, left) => timeout.or(left),
    }
}

/// Whether a caller refused by a paused host (a 429 another caller saw)
/// waits `wait` for the pause to end: only if the wait ends before the
/// deadline, or, without one, if it is no longer than the policy would
/// honour as a server's hint.
pub(super) fn waits_out_pause(policy: &Policy, elapsed: Option<Duration>, wait: Duration) -> bool {
    // Never longer than the policy honours a server's hint, whoever paused
    // the host (another caller's policy may bound it less).
    wait <= policy.get_max_retry_after()
        && match (policy.get_deadline(), elapsed) {
            (Some(deadline), Some(elapsed)) => elapsed.saturating_add(wait) < deadline,
            (Some(deadline), None) => wait < deadline,
            (None, _) => true,
        }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Jitter;

    const SECOND: Duration = Duration::from_secs(1);
    const PLAIN: Policy = Policy::exponential()
        .initial_delay(SECOND)
        .factor(2)
        .max_delay(Duration::from_secs(60))
        .max_retries(3)
        .jitter(Jitter::None);

    fn after(failed: u32, elapsed: Option<Duration>) -> History {
        History {
            failed,
            previous_delay: Duration::ZERO,
            elapsed,
        }
    }

    fn decide(policy: &Policy, history: History, advice: Advice) -> Decision {
        after_failure(
            policy,
            &history,
            advice,
            None,
            &mut fastrand::Rng::with_seed(1),
        )
    }

    #[test]
    fn stop_advice_gives_up_at_once() {
        assert_eq!(
            decide(&PLAIN, after(1, None), Advice::Stop),
            Decision::GiveUp(StopReason::NotRetryable)
        );
    }

    #[test]
    fn backoff_doubles_until_the_retries_run_out() {
        let delays: Vec<_> = (1..=4)
            .map(|failed| decide(&PLAIN, after(failed, None), Advice::Retry))
            .collect();
        assert_eq!(
            delays,
            [
                Decision::Sleep(SECOND),
                Decision::Sleep(2 * SECOND),
                Decision::Sleep(4 * SECOND),
                Decision::GiveUp(StopReason::OutOfAttempts),
            ]
        );
    }

    #[test]
    fn a_servers_hint_is_a_floor_capped_by_the_policy() {
        let hinted = Advice::RetryAfter(Duration::from_secs(30));
        assert_eq!(
            decide(&PLAIN, after(1, None), hinted),
            Decision::Sleep(Duration::from_secs(30))
        );
        // Shorter than the backoff: the backoff stands.
        let short = Advice::RetryAfter(Duration::from_millis(10));
        assert_eq!(
            decide(&PLAIN, after(2, None), short),
            Decision::Sleep(2 * SECOND)
        );
        // A hostile hint is capped at max_retry_after.
        let capped = PLAIN.max_retry_after(Duration::from_secs(5));
        let hostile = Advice::RetryAfter(Duration::from_secs(86_400));
        assert_eq!(
            decide(&capped, after(1, None), hostile),
            Decision::Sleep(Duration::from_secs(5))
        );
        // A policy that ignores hints backs off as if there were none.
        let ignoring = PLAIN.retry_after(RetryAfter::Ignore);
        assert_eq!(
            decide(&ignoring, after(1, None), hinted),
            Decision::Sleep(SECOND)
        );
    }

    #[test]
    fn a_status_minimum_wait_raises_the_delay() {
        let policy = PLAIN.min_wait(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(7));
        let decision = after_failure(
            &policy,
            &after(1, None),
            Advice::Retry,
            Some(StatusCode::SERVICE_UNAVAILABLE),
            &mut fastrand::Rng::with_seed(1),
        );
        assert_eq!(decision, Decision::Sleep(Duration::from_secs(7)));
        let other = after_failure(
            &policy,
            &after(1, None),
            Advice::Retry,
            Some(StatusCode::BAD_GATEWAY),
            &mut fastrand::Rng::with_seed(1),
        );
        assert_eq!(other, Decision::Sleep(SECOND));
    }

    #[test]
    fn a_sleep_that_would_end_past_the_deadline_is_not_slept() {
        let policy = PLAIN.deadline(Duration::from_secs(10));
        assert_eq!(
            decide(
                &policy,
                after(1, Some(Duration::from_secs(8))),
                Advice::Retry
            ),
            Decision::Sleep(SECOND)
        );
        assert_eq!(
            decide(
                &policy,
                after(2, Some(Duration::from_secs(8))),
                Advice::Retry
            ),
            Decision::GiveUp(StopReason::Deadline)
        );
        // Exactly at the deadline is past it: the retry would have no time.
        assert_eq!(
            decide(
                &policy,
                after(1, Some(Duration::from_secs(9))),
                Advice::Retry
            ),
            Decision::GiveUp(StopReason::Deadline)
        );
        // The server's hint is what does not fit.
        assert_eq!(
            decide(
                &policy,
                after(1, Some(Duration::from_secs(1))),
                Advice::RetryAfter(Duration::from_secs(20))
            ),
            Decision::GiveUp(StopReason::HintBeyondDeadline)
        );
    }

    #[test]
    fn jitter_draws_from_the_generator_it_is_given() {
        let policy = PLAIN.jitter(Jitter::Full);
        let draw = |seed| {
            after_failure(
                &policy,
                &after(3, None),
                Advice::Retry,
                None,
                &mut fastrand::Rng::with_seed(seed),
            )
        };
        assert_eq!(draw(5), draw(5));
        let Decision::Sleep(delay) = draw(5) else {
            panic!("retried")
        };
        assert!(delay <= 4 * SECOND);
    }

    #[test]
    fn an_attempt_gets_the_timeout_or_what_the_deadline_leaves() {
        let ms = Duration::from_millis;
        let timed = PLAIN.attempt_timeout(ms(150));
        assert_eq!(attempt_limit(&PLAIN, Some(ms(10))), None);
        assert_eq!(attempt_limit(&timed, None), Some(ms(150)));
        let both = timed.deadline(ms(600));
        assert_eq!(attempt_limit(&both, Some(ms(0))), Some(ms(150)));
        assert_eq!(attempt_limit(&both, Some(ms(500))), Some(ms(100)));
        assert_eq!(attempt_limit(&both, Some(ms(700))), Some(Duration::ZERO));
        let deadline_only = PLAIN.deadline(ms(600));
        assert_eq!(attempt_limit(&deadline_only, Some(ms(200))), Some(ms(400)));
    }

    #[test]
    fn a_host_pause_is_waited_out_only_within_the_deadline() {
        let s = Duration::from_secs;
        let policy = PLAIN.deadline(s(10));
        assert!(waits_out_pause(&policy, Some(s(2)), s(7)));
        assert!(!waits_out_pause(&policy, Some(s(2)), s(8)));
        assert!(waits_out_pause(&policy, None, s(9)));
        // Without a deadline, as long as the policy honours a hint.
        let capped = PLAIN.max_retry_after(s(30));
        assert!(waits_out_pause(&capped, None, s(30)));
        assert!(!waits_out_pause(&capped, None, s(31)));
        // With a deadline too: a pause another caller's policy set for an
        // hour is no wait for one that honours hints up to 5 s.
        let bounded = PLAIN.max_retry_after(s(5)).deadline(s(7200));
        assert!(!waits_out_pause(&bounded, Some(s(0)), s(3600)));
        assert!(waits_out_pause(&bounded, Some(s(0)), s(5)));
    }
}
