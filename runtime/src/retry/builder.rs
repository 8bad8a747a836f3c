//! [`Retry`]: a run configured in code (hooks, a breaker, a budget, a seed,
//! a sleeper) and run over a closure.

use core::fmt;
use core::future::Future;

use super::driver::{Bind, Driver};
use super::extras::WithExtras;
use super::sleep::{DefaultSleeper, Sleeper};
use super::{Attempt, GiveUp, Policy, Report, RetryEvent};
use crate::breaker::{Breaker, CircuitOpen};
use crate::budget::Budget;
use crate::{Advice, Retryable};

/// A retry run being configured: a policy plus optional overrides and hooks.
///
/// ```
/// # #[cfg(feature = "tokio")]
/// # async fn demo() {
/// use rebuff::{Advice, Policy, retry::{Retry, RetryEvent}};
///
/// fn log(event: &RetryEvent<'_, std::io::Error>) {
///     eprintln!("attempt {} failed: {}; again in {:?}", event.attempt, event.error, event.delay);
/// }
///
/// let result = Retry::new(&Policy::DEFAULT)
///     .when(|err: &std::io::Error| if err.kind() == std::io::ErrorKind::NotFound { Advice::Retry } else { Advice::Stop })
///     .on_retry(log)
///     .seed(42)
///     .run(async || std::fs::read_to_string("/tmp/appears-soon"))
///     .await;
/// # let _ = result;
/// # }
/// ```
#[must_use = "a retry does nothing until run"]
pub struct Retry<'p, E, S = DefaultSleeper> {
    policy: &'p Policy,
    extras: WithExtras<'p, E>,
    sleeper: S,
}

impl<E, S: fmt::Debug> fmt::Debug for Retry<'_, E, S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Retry")
            .field("policy", self.policy)
            .field("extras", &self.extras)
            .field("sleeper", &self.sleeper)
            .finish()
    }
}

impl<'p, E> Retry<'p, E> {
    /// A run with `policy` and the default sleeper.
    pub fn new(policy: &'p Policy) -> Self {
        Retry {
            policy,
            extras: WithExtras::NONE,
            sleeper: DefaultSleeper::default(),
        }
    }
}

impl<'p, E, S> Retry<'p, E, S> {
    /// Decides retries with `when` instead of the error's own
    /// [`Retryable::retry_advice`].
    pub fn when(mut self, when: fn(&E) -> Advice) -> Self {
        self.extras = self.extras.when(when);
        self
    }

    /// Called before each sleep between attempts.
    pub fn on_retry(mut self, hook: fn(&RetryEvent<'_, E>)) -> Self {
        self.extras = self.extras.on_retry(hook);
        self
    }

    /// Called once when the engine stops retrying and returns an error.
    pub fn on_give_up(mut self, hook: fn(&GiveUp<'_, E>)) -> Self {
        self.extras = self.extras.on_give_up(hook);
        self
    }

    /// Seeds the jitter, so the delays are the same on every run (tests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.extras = self.extras.seed(seed);
        self
    }

    /// Calls only while `breaker` lets them through: an open breaker fails
    /// the call at once with [`CircuitOpen`] (converted into `E`), and each
    /// outcome is recorded with it.
    pub fn breaker(mut self, breaker: &'p Breaker) -> Self
    where
        E: From<CircuitOpen>,
    {
        self.extras = self.extras.breaker(breaker);
        self
    }

    /// Draws every retry from `budget`; when it is spent, the error returns
    /// instead of being retried.
    pub fn budget(mut self, budget: &'p Budget) -> Self {
        self.extras = self.extras.budget(budget);
        self
    }

    /// Sleeps with `sleeper` instead of the default.
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> Retry<'p, E, S2> {
        Retry {
            policy: self.policy,
            extras: self.extras,
            sleeper,
        }
    }
}

impl<E: Retryable + fmt::Display, S: Sleeper> Retry<'_, E, S> {
    /// Calls `f` until it succeeds or the policy says stop.
    ///
    /// `f` is an async closure, so its body may borrow from the caller. (A
    /// current compiler limitation makes the future of a borrowing async
    /// closure not `Send`; inside a spawned task use `#[retry]` or
    /// [`Retry::run_futures`].)
    #[inline]
    pub fn run<T, F>(self, f: F) -> impl Future<Output = Result<T, E>>
    where
        F: AsyncFnMut() -> Result<T, E>,
    {
        super::drive(
            move || Driver::with_clock(self.policy, self.sleeper, Bind::Count, self.extras),
            f,
        )
    }

    /// Like [`Retry::run`], telling each call which attempt it is.
    pub async fn run_with_attempt<T, F>(self, mut f: F) -> Result<T, E>
    where
        F: AsyncFnMut(Attempt) -> Result<T, E>,
    {
        let mut driver = Driver::with_clock(self.policy, self.sleeper, Bind::Attempt, self.extras);
        crate::__rebuff_retry!(@loop async driver, attempt => f(attempt))
    }

    /// Like [`Retry::run_with_attempt`], also returning every failed
    /// attempt and why the engine stopped.
    pub async fn run_report<T, F>(self, mut f: F) -> (Result<T, E>, Report)
    where
        F: AsyncFnMut(Attempt) -> Result<T, E>,
    {
        let extras = self.extras.keep_report();
        let mut driver = Driver::with_clock(self.policy, self.sleeper, Bind::Attempt, extras);
        let result = crate::__rebuff_retry!(@loop async driver, attempt => f(attempt));
        (result, driver.report())
    }

    /// Calls `f` for a new future per attempt until one succeeds or the
    /// policy says stop. The futures own what they use (`async move`), so
    /// the run is `Send` whenever they are.
    pub async fn run_futures<T, F, Fut>(self, mut f: F) -> Result<T, E>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        let mut driver = Driver::with_clock(self.policy, self.sleeper, Bind::Attempt, self.extras);
        crate::__rebuff_retry!(@loop async driver, attempt => f(attempt))
    }
}

impl<E: Retryable + fmt::Display, S> Retry<'_, E, S> {
    /// Calls `f` on this thread until it succeeds or the policy says stop,
    /// sleeping the thread between attempts. A blocking call cannot be cut
    /// off: to honour the attempt timeout and the deadline, use
    /// [`Retry::run_blocking_with_attempt`] and hand
    /// [`Attempt::limit`] to what the call waits on.
    #[inline]
    pub fn run_blocking<T, F>(self, mut f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
    {
        let mut driver = Driver::blocking(self.policy, Bind::Count, self.extras);
        crate::__rebuff_retry!(@loop blocking driver, _ => f())
    }

    /// Like [`Retry::run_blocking`], telling each call which attempt it is
    /// (and how long it may take: [`Attempt::limit`]).
    pub fn run_blocking_with_attempt<T, F>(self, mut f: F) -> Result<T, E>
    where
        F: FnMut(Attempt) -> Result<T, E>,
    {
        let mut driver = Driver::blocking(self.policy, Bind::Attempt, self.extras);
        crate::__rebuff_retry!(@loop blocking driver, attempt => f(attempt))
    }

    /// Like [`Retry::run_blocking_with_attempt`], also returning every failed
    /// attempt and why the engine stopped.
    pub fn run_blocking_report<T, F>(self, mut f: F) -> (Result<T, E>, Report)
    where
        F: FnMut(Attempt) -> Result<T, E>,
    {
        let extras = self.extras.keep_report();
        let mut driver = Driver::blocking(self.policy, Bind::Attempt, extras);
        let result = crate::__rebuff_retry!(@loop blocking driver, attempt => f(attempt));
        (result, driver.report())
    }
}
