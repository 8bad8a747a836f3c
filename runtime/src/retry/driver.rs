//! The retry engine: one driver that makes every decision of a run, and one
//! loop (the [`__rebuff_retry!`](crate::__rebuff_retry) macro) that runs it.
//!
//! Every way of retrying goes through the loop: `#[retry]` on async,
//! blocking and `impl Future` functions, [`run`](super::run),
//! [`run_blocking`](super::run_blocking), the [`Retry`](super::Retry)
//! builder's runs, the reqwest client's
//! [`SendRetrying`](crate::client::reqwest::SendRetrying), and the client
//! middlewares (reqwest-middleware's `RetryMiddleware`, the tower
//! `RetryLayer`). The loop is a
//! macro rather than a function because an attempt is often an `async`
//! block borrowing the caller's arguments for one attempt only, which no
//! closure can return; the proc-macro hands the attempt over and knows
//! nothing of the protocol below.
//!
//! The protocol, per attempt: [`Driver::admit`] (the breaker's gate, a
//! host-wide pause), [`Driver::begin`] or [`Driver::count`], the attempt
//! under [`Driver::limited`] (attempt timeout and deadline), then
//! [`Driver::conclude`] (breaker, budget, the error's advice, the delay).
//!
//! Nothing is computed before it is needed: without a deadline or an
//! attempt binding, the clock is not read, the random generator not seeded
//! and the retry state not built until an attempt fails, so a call that
//! succeeds at once costs a counter and a branch. The state a failure needs
//! (jitter, previous delay, report) lives in a box built on the first
//! failure: every retrying future stays small, and moving or starting one
//! stays cheap.

use core::fmt;
use core::future::Future;
use core::time::Duration;
use std::time::Instant;

use super::decide::{self, Decision, History};
use super::extras::{Extras, NoExtras};
use super::log::{log_give_up, log_retry};
use super::sleep::{Clock, DefaultSleeper, Sleeper, ThreadSleep};
use super::timeout::{Limited, warn_timeout_unsupported};
use super::{Attempt, AttemptRecord, GiveUp, IdempotencyKey, Report, RetryAfter, RetryEvent};
use super::{Policy, StopReason, testing};
use crate::breaker::{Breaker, CircuitOpen};
use crate::{Advice, Budget, Retryable};

/// Runs a retry loop. Hidden: the expansion of `#[retry]` and rebuff's own
/// entry points call it; users call those.
///
/// ```text
/// __rebuff_retry!(async, POLICY, EXTRAS, ATTEMPT => WORK)    // builds its driver
/// __rebuff_retry!(blocking, POLICY, EXTRAS, ATTEMPT => WORK)
/// __rebuff_retry!(@loop async DRIVER, ATTEMPT => WORK)       // runs a driver the caller keeps
/// __rebuff_retry!(@loop blocking DRIVER, ATTEMPT => WORK)
/// ```
///
/// `ATTEMPT` is `_` (attempts are only counted) or a name bound to each
/// attempt's [`Attempt`] inside `WORK`. `WORK` is evaluated once per
/// attempt: a future giving `Result<T, E>` (async) or that result itself
/// (blocking). The loop evaluates to the run's `Result<T, E>`.
#[doc(hidden)]
#[macro_export]
macro_rules! __rebuff_retry {
    (async, $policy:expr, $extras:expr, $attempt:tt => $work:expr) => {{
        // Built here, inside the retrying future, where it lives: built
        // elsewhere it would be moved in. The work cannot name it.
        let mut driver = $crate::__private::Driver::new(
            $policy,
            $crate::__rebuff_retry!(@bind $attempt),
            $extras,
        );
        $crate::__rebuff_retry!(@loop async driver, $attempt => $work)
    }};
    (blocking, $policy:expr, $extras:expr, $attempt:tt => $work:expr) => {{
        let mut driver = $crate::__private::Driver::blocking(
            $policy,
            $crate::__rebuff_retry!(@bind $attempt),
            $extras,
        );
        $crate::__rebuff_retry!(@loop blocking driver, $attempt => $work)
    }};
    (@loop async $driver:ident, $attempt:tt => $work:expr) => {
        loop {
            match $driver.admit() {
                $crate::__private::Admission::Go => {}
                $crate::__private::Admission::Wait(delay) => {
                    $driver.sleep(delay).await;
                    continue;
                }
                $crate::__private::Admission::Refuse(refused) => {
                    break $crate::__private::Result::Err(refused);
                }
            }
            $crate::__rebuff_retry!(@begin $driver, $attempt);
            let result = $driver.limited($work).await;
            match $driver.conclude(result) {
                $crate::__private::Verdict::Done(done) => break done,
                $crate::__private::Verdict::Retry(delay) => $driver.sleep(delay).await,
            }
        }
    };
    (@loop blocking $driver:ident, $attempt:tt => $work:expr) => {
        loop {
            match $driver.admit() {
                $crate::__private::Admission::Go => {}
                $crate::__private::Admission::Wait(delay) => {
                    $driver.sleep_blocking(delay);
                    continue;
                }
                $crate::__private::Admission::Refuse(refused) => {
                    break $crate::__private::Result::Err(refused);
                }
            }
            $crate::__rebuff_retry!(@begin $driver, $attempt);
            let result = $work;
            match $driver.conclude(result) {
                $crate::__private::Verdict::Done(done) => break done,
                $crate::__private::Verdict::Retry(delay) => $driver.sleep_blocking(delay),
            }
        }
    };
    (@begin $driver:ident, _) => {
        $driver.count();
    };
    (@begin $driver:ident, $attempt:ident) => {
        let $attempt = $driver.begin();
    };
    (@bind _) => {
        $crate::__private::Bind::Count
    };
    (@bind $attempt:ident) => {
        $crate::__private::Bind::Attempt
    };
}

/// Whether a run shows each attempt an [`Attempt`] (its number, elapsed
/// time, limit and idempotency key) or only counts them.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Bind {
    /// Attempts are counted; nothing reads the clock for them.
    Count,
    /// Each attempt gets its [`Attempt`].
    Attempt,
}

/// Whether an attempt may start, from [`Driver::admit`].
#[doc(hidden)]
pub enum Admission<E> {
    /// Go ahead.
    Go,
    /// The host asked every caller to wait: sleep this long, then ask again.
    Wait(Duration),
    /// Refused: return this error.
    Refuse(E),
}

/// What follows an attempt, from [`Driver::conclude`].
#[doc(hidden)]
pub enum Verdict<T, E> {
    /// Return this.
    Done(Result<T, E>),
    /// Sleep this long, then try again.
    Retry(Duration),
}

/// The engine's state and decisions for one run.
///
/// Hooks, a breaker and a budget are carried by `X`: a run without them
/// ([`NoExtras`]) has none of their checks to make.
#[doc(hidden)]
pub struct Driver<'p, E, C = DefaultSleeper, X = NoExtras> {
    policy: &'p Policy,
    attempts: u32,
    /// The policy cuts attempts off (a deadline or an attempt timeout),
    /// read once here so that an untimed attempt checks one flag.
    timed: bool,
    extras: X,
    /// When the run started, if elapsed time matters (a deadline, or an
    /// attempt binding that reports it).
    start: Option<Instant>,
    /// The run's idempotency key (drawn only when attempts are bound).
    key: IdempotencyKey,
    /// Built on the first failure.
    state: Option<Box<State<'p>>>,
    clock: C,
    _error: core::marker::PhantomData<fn() -> E>,
}

/// What only a failing run needs.
struct State<'p> {
    /// Sleeps skipped in test mode, counted as elapsed time.
    skipped: Duration,
    previous_delay: Duration,
    rng: fastrand::Rng,
    /// Only when the run keeps a report.
    report: Option<Report>,
    stop: Option<StopReason>,
    /// The retry the budget paid for, until it goes out.
    owed: Owed<'p>,
}

/// A retry taken from a budget that has not gone out yet: given back if it
/// never does (refused by the breaker after its sleep, or its call dropped
/// while it slept).
struct Owed<'p>(Option<&'p Budget>);

impl Owed<'_> {
    /// The retry went out: the budget keeps what it paid.
    fn settle(&mut self) {
        self.0 = None;
    }
}

impl Drop for Owed<'_> {
    fn drop(&mut self) {
        if let Some(budget) = self.0.take() {
            budget.refund();
        }
    }
}

impl<'p, E, X: Extras<'p, E>> Driver<'p, E, DefaultSleeper, X> {
    /// A driver for an async run, on the default sleeper.
    #[must_use]
    #[inline]
    pub fn new(policy: &'p Policy, bind: Bind, extras: X) -> Self {
        Self::with_clock(policy, DefaultSleeper::default(), bind, extras)
    }
}

impl<'p, E, X: Extras<'p, E>> Driver<'p, E, ThreadSleep, X> {
    /// A driver for a blocking run.
    #[must_use]
    #[inline]
    pub fn blocking(policy: &'p Policy, bind: Bind, extras: X) -> Self {
        // A blocking attempt can be bounded only by what it is handed: its
        // attempt's limit, which an unbound attempt never sees.
        if bind != Bind::Attempt && policy.get_attempt_timeout().is_some() {
            super::timeout::warn_blocking_timeout_unbound();
        }
        Self::with_clock(policy, ThreadSleep, bind, extras)
    }
}

impl<'p, E, C: Clock, X: Extras<'p, E>> Driver<'p, E, C, X> {
    /// A driver on `clock`.
    #[inline]
    pub(super) fn with_clock(policy: &'p Policy, clock: C, bind: Bind, extras: X) -> Self {
        // Built in one expression, the cold setup returning its parts: the
        // driver's address is never taken, so it is built where it lives
        // (in a retrying future) instead of on the stack and then moved.
        let timed = policy.get_deadline().is_some() || policy.get_attempt_timeout().is_some();
        let (start, key) = if timed || bind == Bind::Attempt {
            setup(policy, &clock, bind)
        } else {
            (None, IdempotencyKey::UNUSED)
        };
        Driver {
            policy,
            attempts: 0,
            timed,
            extras,
            start,
            key,
            state: None,
            clock,
            _error: core::marker::PhantomData,
        }
    }
}

/// What a run reads before its first attempt, when it needs anything: the
/// clock (for a deadline or an attempt binding) and the idempotency key
/// (for a binding).
#[cold]
fn setup(policy: &Policy, clock: &impl Clock, bind: Bind) -> (Option<Instant>, IdempotencyKey) {
    let key = match bind {
        Bind::Count => IdempotencyKey::UNUSED,
        // Always fresh, a seeded run's too: the seed repeats the delays,
        // and two calls under one key would be taken for one by a server.
        Bind::Attempt => IdempotencyKey::new(),
    };
    let keeps_time = bind == Bind::Attempt || policy.get_deadline().is_some();
    (keeps_time.then(|| clock.now()), key)
}

impl<'p, E, C: Clock, X: Extras<'p, E>> Driver<'p, E, C, X> {
    /// Time since the run started (sleeps skipped in test mode included),
    /// if the run keeps time.
    fn elapsed(&self) -> Option<Duration> {
        let start = self.start?;
        let skipped = self.state.as_ref().map_or(Duration::ZERO, |s| s.skipped);
        Some(
            self.clock
                .now()
                .saturating_duration_since(start)
                .saturating_add(skipped),
        )
    }

    /// The failure state, built on first use.
    fn state(&mut self) -> &mut State<'p> {
        let (seed, report) = (self.extras.seed(), self.extras.keeps_report());
        self.state.get_or_insert_with(|| {
            Box::new(State {
                skipped: Duration::ZERO,
                previous_delay: Duration::ZERO,
                rng: seed.map_or_else(fastrand::Rng::new, fastrand::Rng::with_seed),
                report: report.then(Report::default),
                stop: None,
                owed: Owed(None),
            })
        })
    }

    /// Whether the next attempt may start: always, without a breaker; with
    /// one, as it says. A host-wide pause (a 429 seen by any caller) is
    /// waited out if the deadline allows it.
    #[inline]
    pub fn admit(&mut self) -> Admission<E> {
        let Some((breaker, refuse)) = self.extras.breaker() else {
            return Admission::Go;
        };
        let past_pause = self.extras.take_past_pause();
        let allowed = if past_pause {
            breaker.allow_after_pause()
        } else {
            breaker.allow()
        };
        match allowed {
            Ok(permit) => {
                self.extras.set_permit(permit);
                Admission::Go
            }
            Err(open) => self.refused(breaker, refuse, open, past_pause),
        }
    }

    /// A refused attempt: the host's pause waited out, once, when the
    /// deadline and the policy's bound allow it; an open breaker, or a
    /// pause the call cannot wait for, fails the call at once. A retry so
    /// refused ends the run as any give-up does (logged, `on_give_up`).
    #[cold]
    fn refused(
        &mut self,
        breaker: &Breaker,
        refuse: fn(CircuitOpen) -> E,
        open: CircuitOpen,
        past_pause: bool,
    ) -> Admission<E> {
        // Refused after waiting out a pause, it is the breaker that is open:
        // that is not waited out (nor, in test mode, whose skipped sleeps do
        // not end the pause on the real clock, waited for again and again).
        if let (false, true, Some(wait)) = (past_pause, breaker.is_paused(), open.retry_after) {
            if decide::waits_out_pause(self.policy, self.elapsed(), wait) {
                tracing::debug!(
                    target: "rebuff::retry",
                    wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX),
                    "host paused; waiting"
                );
                self.extras.set_past_pause(true);
                return Admission::Wait(wait);
            }
        }
        tracing::debug!(target: "rebuff::retry", "circuit open; failing fast");
        self.state().stop = Some(StopReason::CircuitOpen);
        let err = refuse(open);
        if self.attempts > 0 {
            // Without the error's text: the engine asks nothing of an
            // error here, so that a type the engine cannot retry is told
            // so once, where its failures are judged.
            tracing::warn!(
                target: "rebuff::retry",
                attempts = self.attempts,
                reason = %StopReason::CircuitOpen,
                "giving up"
            );
            if let Some(hook) = self.extras.on_give_up() {
                hook(&GiveUp {
                    attempts: self.attempts,
                    error: &err,
                    reason: StopReason::CircuitOpen,
                });
            }
        }
        Admission::Refuse(err)
    }

    /// Starts the next attempt, telling it about itself.
    #[inline]
    pub fn begin(&mut self) -> Attempt {
        self.count();
        Attempt {
            number: self.attempts,
            elapsed: self.elapsed().unwrap_or_default(),
            limit: self.attempt_limit(),
            key: self.key,
        }
    }

    /// Starts the next attempt, for a run that only counts them (no clock
    /// read for an [`Attempt`]).
    #[inline]
    pub fn count(&mut self) {
        self.attempts = self.attempts.saturating_add(1);
        testing::record_attempt();
        if self.attempts == 1 {
            if let Some(budget) = self.extras.budget() {
                budget.deposit();
            }
        } else if let Some(state) = &mut self.state {
            state.owed.settle();
        }
    }

    /// Whether the policy's deadline has passed.
    fn deadline_spent(&self) -> bool {
        self.policy
            .get_deadline()
            .zip(self.elapsed())
            .is_some_and(|(deadline, elapsed)| elapsed >= deadline)
    }

    /// How long the next attempt may run, if the policy cuts attempts off.
    #[inline]
    fn attempt_limit(&self) -> Option<Duration> {
        if self.timed {
            decide::attempt_limit(self.policy, self.elapsed())
        } else {
            None
        }
    }

    /// Decides what follows an attempt's result.
    #[inline]
    pub fn conclude<T>(&mut self, result: Result<T, E>) -> Verdict<T, E>
    where
        E: Retryable + fmt::Display,
    {
        match result {
            Ok(value) => {
                if let (Some((breaker, _)), Some(permit)) =
                    (self.extras.breaker(), self.extras.take_permit())
                {
                    breaker.record_success(permit);
                }
                Verdict::Done(Ok(value))
            }
            Err(err) => self.failed(err),
        }
    }

    /// A failed attempt: reported to the breaker (a rate limit pauses every
    /// caller of the host), then retried or returned.
    #[cold]
    fn failed<T>(&mut self, err: E) -> Verdict<T, E>
    where
        E: Retryable + fmt::Display,
    {
        let policy = self.policy;
        let mut paused = None;
        if let Some((breaker, _)) = self.extras.breaker() {
            if let Some(permit) = self.extras.take_permit() {
                // An attempt the engine cut off at the deadline (an async
                // one, of a type that can say "timed out", that ended with
                // the deadline spent: the deadline left it less than its
                // attempt timeout) was stopped by the caller's own clock,
                // which says nothing of the service. One that ran to its
                // own end, however late, is counted.
                if C::CUTS_ATTEMPTS && E::timeout_error().is_some() && self.deadline_spent() {
                    breaker.release(permit);
                } else {
                    breaker.record_error(permit, &err);
                }
            }
            // A rate limit with a reset: everyone calling this host waits
            // (unless this call's policy ignores servers' hints).
            if err.retry_status() == Some(http::StatusCode::TOO_MANY_REQUESTS)
                && !matches!(policy.get_retry_after(), RetryAfter::Ignore)
            {
                if let Advice::RetryAfter(delay) = err.retry_advice() {
                    let pause = delay.min(policy.get_max_retry_after());
                    breaker.pause_for(pause);
                    paused = Some(pause);
                }
            }
        }
        let advice = self
            .extras
            .when()
            .map_or_else(|| err.retry_advice(), |when| when(&err));
        if let Some(pause) = paused {
            // This call may go past the pause only if its own sleep lasts
            // it out: a policy that follows hints, and advice (its `when`'s,
            // if any) that still waits at least as long. Otherwise it waits
            // out the pause like everyone else.
            let outlasts = matches!(policy.get_retry_after(), RetryAfter::Floor)
                && matches!(advice, Advice::RetryAfter(delay)
                    if delay.min(policy.get_max_retry_after()) >= pause);
            self.extras.set_past_pause(outlasts);
        }
        let failed = self.attempts;
        let elapsed = self.elapsed();
        let budget = self.extras.budget();
        let open_for = self
            .extras
            .breaker()
            .and_then(|(breaker, _)| breaker.open_for());
        let state = self.state();
        let history = History {
            failed,
            previous_delay: state.previous_delay,
            elapsed,
        };
        let mut decision =
            decide::after_failure(policy, &history, advice, err.retry_status(), &mut state.rng);
        // The breaker open past the sleep (this failure may have opened
        // it): the retry would only be refused once the sleep is over, so
        // the error returns now instead of a `CircuitOpen` later.
        if let (Decision::Sleep(delay), Some(open_for)) = (decision, open_for) {
            if open_for > delay {
                decision = Decision::GiveUp(StopReason::CircuitOpen);
            }
        }
        if let (Decision::Sleep(_), Some(budget)) = (decision, budget) {
            if budget.try_withdraw() {
                state.owed = Owed(Some(budget));
            } else {
                decision = Decision::GiveUp(StopReason::BudgetExhausted);
            }
        }
        if let Some(report) = &mut state.report {
            report.failures.push(AttemptRecord {
                number: failed,
                advice,
                status: err.retry_status(),
                error: err.to_string(),
                delay: match decision {
                    Decision::Sleep(delay) => Some(delay),
                    Decision::GiveUp(_) => None,
                },
            });
        }
        match decision {
            Decision::Sleep(delay) => {
                state.previous_delay = delay;
                log_retry(failed, delay, advice, &err);
                if let Some(hook) = self.extras.on_retry() {
                    hook(&RetryEvent {
                        attempt: failed,
                        error: &err,
                        advice,
                        delay,
                    });
                }
                Verdict::Retry(delay)
            }
            Decision::GiveUp(reason) => {
                state.stop = Some(reason);
                log_give_up(failed, reason, &err);
                if let Some(hook) = self.extras.on_give_up() {
                    hook(&GiveUp {
                        attempts: failed,
                        error: &err,
                        reason,
                    });
                }
                Verdict::Done(Err(err))
            }
        }
    }

    /// Sleeps the thread for `delay` (or records it in test mode).
    pub fn sleep_blocking(&mut self, delay: Duration) {
        if testing::record_sleep(delay) {
            let state = self.state();
            state.skipped = state.skipped.saturating_add(delay);
        } else {
            std::thread::sleep(delay);
        }
    }

    /// The run's history: attempts made, why it stopped, and (if the run
    /// keeps a report) every failure.
    pub(super) fn report(&mut self) -> Report {
        let attempts = self.attempts;
        let (stop, failures) = match &mut self.state {
            Some(state) => (
                state.stop,
                state.report.take().map(|r| r.failures).unwrap_or_default(),
            ),
            None => (None, Vec::new()),
        };
        Report {
            attempts,
            stop,
            failures,
        }
    }
}

impl<'p, E, C: Sleeper, X: Extras<'p, E>> Driver<'p, E, C, X> {
    /// One attempt, cut off at the attempt timeout or the deadline. The
    /// attempt runs inside the returned future, so a retrying function has
    /// one suspension point per attempt; the timer, only for timed attempts
    /// of an error type that can say "timed out", is boxed so that every
    /// other retrying future stays small.
    #[inline]
    pub fn limited<T, F>(&self, work: F) -> Limited<F, impl Future<Output = ()>, E>
    where
        E: Retryable,
        F: Future<Output = Result<T, E>>,
    {
        let limit = if self.timed { self.timer_limit() } else { None };
        Limited::new(work, limit, |limit| self.clock.sleep(limit))
    }

    /// The limit an async attempt's timer enforces: none for an error type
    /// that cannot say "timed out" (said once per error type).
    #[cold]
    fn timer_limit(&self) -> Option<Duration>
    where
        E: Retryable,
    {
        if E::timeout_error().is_none() {
            if self.attempts == 1 {
                warn_timeout_unsupported::<E>();
            }
            return None;
        }
        self.attempt_limit()
    }

    /// Sleeps `delay` on the sleeper (or records it in test mode).
    ///
    /// The timer is boxed: this path runs only after a failure, and keeping
    /// the timer out of line keeps every retried future (and so every call
    /// that succeeds at once) smaller.
    pub async fn sleep(&mut self, delay: Duration) {
        if testing::record_sleep(delay) {
            let state = self.state();
            state.skipped = state.skipped.saturating_add(delay);
        } else {
            Box::pin(self.clock.sleep(delay)).await;
        }
    }
}
