//! Retrying failed calls: backoff, jitter, server hints, deadlines.
//!
//! The usual entry point is the [`#[retry]`](macro@crate::retry) attribute;
//! the functions here are the same engine for code that cannot carry an
//! attribute:
//!
//! ```no_run
//! # async fn fetch(_: &str) -> Result<String, std::io::Error> { Ok(String::new()) }
//! # async fn demo() -> Result<(), std::io::Error> {
//! use rebuff::{Policy, retry};
//!
//! let url = "https://api.example.com/v1/leads";
//! let body = retry::run(&Policy::DEFAULT, async || fetch(url).await).await?;
//! # Ok(()) }
//! ```
//!
//! After each failed attempt the error's [`Retryable`] advice decides:
//!
//! 1. [`Advice::Stop`]: the error returns at once;
//! 2. out of retries ([`Policy::max_retries`]): the error returns;
//! 3. otherwise the delay is the policy's backoff with jitter, raised to the
//!    server's hint if it gave one ([`Advice::RetryAfter`], capped at
//!    [`Policy::max_retry_after`]) and to the status's minimum wait
//!    ([`Policy::min_wait`]);
//! 4. if that sleep would end past the [`Policy::deadline`], the error
//!    returns now instead of after a pointless wait.
//!
//! Every retry and every give-up is a `tracing` event (target
//! `rebuff::retry`) with the attempt, the delay, the advice, the error and
//! the server's request id; [`Retry::on_retry`] and [`Retry::on_give_up`]
//! hook the same moments, and [`Retry::run_report`] returns the whole
//! history.
//!
//! Nothing is allocated unless an attempt fails, with one exception: an
//! async attempt cut off by an attempt timeout or a deadline keeps its timer
//! in a box of its own, so that every other retrying future (the common
//! case) carries no room for one. A failed attempt builds the retry state
//! (jitter, previous delay) in a box too, for the same reason.

mod hint;
mod policy;
pub mod presets;
pub mod testing;

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::Poll;
use core::time::Duration;
use std::time::Instant;

pub use hint::parse_retry_after;
pub use policy::{Backoff, Jitter, Policy, RetryAfter};

use crate::breaker::{Breaker, CircuitOpen, Permit};
use crate::budget::Budget;

use crate::{Advice, Retryable};

/// An attempt cut off by [`Policy::attempt_timeout`] (or by the deadline).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct TimedOut {
    /// How long the attempt was allowed.
    pub limit: Duration,
}

impl fmt::Display for TimedOut {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(
            f,
            "attempt timed out after {}",
            humantime::format_duration(self.limit)
        )
    }
}

impl std::error::Error for TimedOut {}

/// Why the engine stopped retrying.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum StopReason {
    /// The error's advice was [`Advice::Stop`].
    NotRetryable,
    /// [`Policy::max_retries`] retries were made.
    OutOfAttempts,
    /// The next sleep would have ended past [`Policy::deadline`].
    Deadline,
    /// The server asked to wait longer than the deadline leaves.
    HintBeyondDeadline,
    /// The shared [`Budget`] had no retry left.
    BudgetExhausted,
    /// The [`Breaker`] is open: the call was refused at once.
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

/// What an attempt is told about itself (`#[retry(attempt = name)]`,
/// [`Retry::run_with_attempt`]).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Attempt {
    number: u32,
    elapsed: Duration,
    key: IdempotencyKey,
}

impl Attempt {
    /// 1 for the first call, 2 for the first retry, and so on.
    #[must_use]
    pub const fn number(&self) -> u32 {
        self.number
    }

    /// Whether this is a retry rather than the first call.
    #[must_use]
    pub const fn is_retry(&self) -> bool {
        self.number > 1
    }

    /// Time since the first attempt began (including skipped sleeps in test
    /// mode).
    #[must_use]
    pub const fn elapsed(&self) -> Duration {
        self.elapsed
    }

    /// A random key, the same for every attempt of one call: send it as
    /// `Idempotency-Key` so the server can tell a retry from a new request.
    #[must_use]
    pub const fn idempotency_key(&self) -> IdempotencyKey {
        self.key
    }
}

/// A random version 4 UUID naming one logical call across its attempts.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct IdempotencyKey([u8; 16]);

impl IdempotencyKey {
    fn random(rng: &mut fastrand::Rng) -> Self {
        let mut bytes = rng.u128(..).to_be_bytes();
        bytes[6] = (bytes[6] & 0x0f) | 0x40; // version 4
        bytes[8] = (bytes[8] & 0x3f) | 0x80; // RFC 4122 variant
        Self(bytes)
    }

    /// The key as 36 ASCII bytes, `xxxxxxxx-xxxx-4xxx-yxxx-xxxxxxxxxxxx`.
    #[must_use]
    pub fn to_ascii(&self) -> [u8; 36] {
        const HEX: &[u8; 16] = b"0123456789abcdef";
        let mut out = [b'-'; 36];
        let mut at = 0;
        for (i, byte) in self.0.iter().enumerate() {
            if matches!(i, 4 | 6 | 8 | 10) {
                at += 1;
            }
            out[at] = HEX[usize::from(byte >> 4)];
            out[at + 1] = HEX[usize::from(byte & 0x0f)];
            at += 2;
        }
        out
    }
}

impl fmt::Display for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let ascii = self.to_ascii();
        f.write_str(core::str::from_utf8(&ascii).map_err(|_| fmt::Error)?)
    }
}

impl fmt::Debug for IdempotencyKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "IdempotencyKey({self})")
    }
}

/// A failed attempt about to be retried, as [`Retry::on_retry`] sees it.
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

/// The last failed attempt, as [`Retry::on_give_up`] sees it.
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

/// The history of a call, from [`Retry::run_report`].
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

/// A clock the engine reads to measure elapsed time against the deadline.
pub trait Clock {
    /// The current time on this clock.
    fn now(&self) -> Instant;
}

/// Sleeps for the async engine: tokio's timer by default, anything else by
/// implementing this.
pub trait Sleeper: Clock {
    /// Waits `delay`.
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()>;
}

/// tokio's timer: honours `tokio::time::pause`, so tests on a paused clock run
/// instantly and deterministically.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
#[derive(Debug, Clone, Copy, Default)]
pub struct Tokio;

#[cfg(feature = "tokio")]
impl Clock for Tokio {
    fn now(&self) -> Instant {
        tokio::time::Instant::now().into_std()
    }
}

#[cfg(feature = "tokio")]
impl Sleeper for Tokio {
    fn sleep(&self, delay: Duration) -> impl Future<Output = ()> {
        tokio::time::sleep(delay)
    }
}

/// The blocking engine's clock: `std::time::Instant`, and the thread sleeps.
#[derive(Debug, Clone, Copy, Default)]
pub struct ThreadSleep;

impl Clock for ThreadSleep {
    fn now(&self) -> Instant {
        Instant::now()
    }
}

/// The sleeper [`Retry::new`] uses: [`Tokio`] with the `tokio` feature.
#[cfg(feature = "tokio")]
pub type DefaultSleeper = Tokio;
/// The sleeper [`Retry::new`] uses: [`ThreadSleep`] without the `tokio`
/// feature (async runs then need [`Retry::sleeper`]).
#[cfg(not(feature = "tokio"))]
pub type DefaultSleeper = ThreadSleep;

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
#[derive(Debug)]
#[must_use = "a retry does nothing until run"]
pub struct Retry<'p, E, S = DefaultSleeper> {
    policy: &'p Policy,
    hooks: Hooks<E>,
    seed: Option<u64>,
    sleeper: S,
    breaker: Option<BreakerRef<'p, E>>,
    budget: Option<&'p Budget>,
}

/// The overrides and hooks of a run.
struct Hooks<E> {
    when: Option<fn(&E) -> Advice>,
    on_retry: Option<fn(&RetryEvent<'_, E>)>,
    on_give_up: Option<fn(&GiveUp<'_, E>)>,
}

impl<E> fmt::Debug for Hooks<E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Hooks")
            .field("when", &self.when.is_some())
            .field("on_retry", &self.on_retry.is_some())
            .field("on_give_up", &self.on_give_up.is_some())
            .finish()
    }
}

impl<E> Clone for Hooks<E> {
    fn clone(&self) -> Self {
        *self
    }
}

impl<E> Copy for Hooks<E> {}

impl<E> Hooks<E> {
    const NONE: Self = Hooks {
        when: None,
        on_retry: None,
        on_give_up: None,
    };
}

impl<'p, E> Retry<'p, E> {
    /// A run with `policy` and the default sleeper.
    pub fn new(policy: &'p Policy) -> Self {
        Retry {
            policy,
            hooks: Hooks::NONE,
            seed: None,
            sleeper: DefaultSleeper::default(),
            breaker: None,
            budget: None,
        }
    }
}

impl<'p, E, S> Retry<'p, E, S> {
    /// Decides retries with `when` instead of the error's own
    /// [`Retryable::retry_advice`].
    pub fn when(mut self, when: fn(&E) -> Advice) -> Self {
        self.hooks.when = Some(when);
        self
    }

    /// Called before each sleep between attempts.
    pub fn on_retry(mut self, hook: fn(&RetryEvent<'_, E>)) -> Self {
        self.hooks.on_retry = Some(hook);
        self
    }

    /// Called once when the engine stops retrying and returns an error.
    pub fn on_give_up(mut self, hook: fn(&GiveUp<'_, E>)) -> Self {
        self.hooks.on_give_up = Some(hook);
        self
    }

    /// Seeds the jitter, so the delays are the same on every run (tests).
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Calls only while `breaker` lets them through: an open breaker fails
    /// the call at once with [`CircuitOpen`] (converted into `E`), and each
    /// outcome is recorded with it.
    pub fn breaker(mut self, breaker: &'p Breaker) -> Self
    where
        E: From<CircuitOpen>,
    {
        self.breaker = Some((breaker, E::from));
        self
    }

    /// Draws every retry from `budget`; when it is spent, the error returns
    /// instead of being retried.
    pub fn budget(mut self, budget: &'p Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Sleeps with `sleeper` instead of the default.
    pub fn sleeper<S2: Sleeper>(self, sleeper: S2) -> Retry<'p, E, S2> {
        Retry {
            policy: self.policy,
            hooks: self.hooks,
            seed: self.seed,
            sleeper,
            breaker: self.breaker,
            budget: self.budget,
        }
    }

    #[inline]
    fn driver(self, track: bool, report: bool) -> Driver<'p, E, S, Full<'p, E>>
    where
        S: Clock,
        E: Retryable,
    {
        let extras = Full {
            hooks: self.hooks,
            breaker: self.breaker,
            budget: self.budget,
            permit: None,
            past_pause: false,
        };
        Driver::with_clock(self.policy, self.sleeper, track, report, self.seed).with(extras)
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
        drive(move || self.driver(false, false), f)
    }

    /// Like [`Retry::run`], telling each call which attempt it is.
    pub async fn run_with_attempt<T, F>(self, f: F) -> Result<T, E>
    where
        F: AsyncFnMut(Attempt) -> Result<T, E>,
    {
        self.run_report(f).await.0
    }

    /// Like [`Retry::run_with_attempt`], also returning every failed
    /// attempt and why the engine stopped.
    pub async fn run_report<T, F>(self, mut f: F) -> (Result<T, E>, Report)
    where
        F: AsyncFnMut(Attempt) -> Result<T, E>,
    {
        let mut driver = self.driver(true, true);
        loop {
            match driver.gate() {
                Gate::Go => {}
                Gate::Wait(delay) => {
                    driver.sleep(delay).await;
                    continue;
                }
                Gate::Refuse(err) => return (Err(err), driver.report()),
            }
            let attempt = driver.begin();
            let result = driver.limited(f(attempt)).await;
            match driver.step(result) {
                Next::Done(result) => return (result, driver.report()),
                Next::Retry(delay) => driver.sleep(delay).await,
            }
        }
    }

    /// Calls `f` for a new future per attempt until one succeeds or the
    /// policy says stop. The futures own what they use (`async move`), so
    /// the run is `Send` whenever they are.
    pub async fn run_futures<T, F, Fut>(self, mut f: F) -> Result<T, E>
    where
        F: FnMut(Attempt) -> Fut,
        Fut: Future<Output = Result<T, E>>,
    {
        // Its own loop, not `run_report`'s: passing `f` on as an async
        // closure would make the run's future not `Send` (a compiler
        // limitation; `tests/retry.rs` spawns one to hold this).
        let mut driver = self.driver(true, false);
        loop {
            match driver.gate() {
                Gate::Go => {}
                Gate::Wait(delay) => {
                    driver.sleep(delay).await;
                    continue;
                }
                Gate::Refuse(err) => return Err(err),
            }
            let attempt = driver.begin();
            let result = driver.limited(f(attempt)).await;
            match driver.step(result) {
                Next::Done(result) => return result,
                Next::Retry(delay) => driver.sleep(delay).await,
            }
        }
    }
}

/// The async engine's loop for [`Retry::run`] and [`run`]: attempts and
/// sleeps until the driver says done.
///
/// The driver is built inside the run's future (by `driver`), not passed
/// in: passed in, it would be built on the caller's stack and then copied
/// into the future.
#[inline]
async fn drive<'p, T, E, S, X, F>(
    driver: impl FnOnce() -> Driver<'p, E, S, X>,
    mut f: F,
) -> Result<T, E>
where
    E: Retryable + fmt::Display,
    S: Sleeper,
    X: Extras<'p, E>,
    F: AsyncFnMut() -> Result<T, E>,
{
    let mut driver = driver();
    loop {
        match driver.gate() {
            Gate::Go => {}
            Gate::Wait(delay) => {
                driver.sleep(delay).await;
                continue;
            }
            Gate::Refuse(err) => return Err(err),
        }
        driver.count();
        let result = driver.limited(f()).await;
        match driver.step(result) {
            Next::Done(result) => return result,
            Next::Retry(delay) => driver.sleep(delay).await,
        }
    }
}

impl<'p, E: Retryable + fmt::Display, S> Retry<'p, E, S> {
    /// Calls `f` on this thread until it succeeds or the policy says stop,
    /// sleeping the thread between attempts. (The attempt timeout does not
    /// apply: a blocking call cannot be cancelled.)
    #[inline]
    pub fn run_blocking<T, F>(self, mut f: F) -> Result<T, E>
    where
        F: FnMut() -> Result<T, E>,
    {
        let mut driver = self.blocking_driver(false, false);
        drive_blocking(&mut driver, |_| f())
    }

    /// Like [`Retry::run_blocking`], telling each call which attempt it is.
    pub fn run_blocking_with_attempt<T, F>(self, f: F) -> Result<T, E>
    where
        F: FnMut(Attempt) -> Result<T, E>,
    {
        let mut driver = self.blocking_driver(true, false);
        drive_blocking(&mut driver, f)
    }

    /// Like [`Retry::run_blocking_with_attempt`], also returning every failed
    /// attempt and why the engine stopped.
    pub fn run_blocking_report<T, F>(self, f: F) -> (Result<T, E>, Report)
    where
        F: FnMut(Attempt) -> Result<T, E>,
    {
        let mut driver = self.blocking_driver(true, true);
        let result = drive_blocking(&mut driver, f);
        (result, driver.report())
    }

    /// The run's driver, sleeping the thread.
    #[inline]
    fn blocking_driver(self, track: bool, report: bool) -> Driver<'p, E, ThreadSleep, Full<'p, E>> {
        Retry {
            policy: self.policy,
            hooks: self.hooks,
            seed: self.seed,
            sleeper: ThreadSleep,
            breaker: self.breaker,
            budget: self.budget,
        }
        .driver(track, report)
    }
}

/// The blocking engine's loop: attempts and sleeps until `driver` says done.
#[inline]
fn drive_blocking<'p, T, E, X, F>(
    driver: &mut Driver<'p, E, ThreadSleep, X>,
    mut f: F,
) -> Result<T, E>
where
    E: Retryable + fmt::Display,
    X: Extras<'p, E>,
    F: FnMut(Attempt) -> Result<T, E>,
{
    loop {
        match driver.gate() {
            Gate::Go => {}
            Gate::Wait(delay) => {
                driver.sleep_blocking(delay);
                continue;
            }
            Gate::Refuse(err) => return Err(err),
        }
        let attempt = driver.begin();
        match driver.step(f(attempt)) {
            Next::Done(result) => return result,
            Next::Retry(delay) => driver.sleep_blocking(delay),
        }
    }
}

/// Retries `f` under `policy` on tokio's timer. Shorthand for
/// `Retry::new(policy).run(f)`.
#[cfg(feature = "tokio")]
#[cfg_attr(docsrs, doc(cfg(feature = "tokio")))]
pub fn run<T, E, F>(policy: &Policy, f: F) -> impl Future<Output = Result<T, E>>
where
    E: Retryable + fmt::Display,
    F: AsyncFnMut() -> Result<T, E>,
{
    // Not an `async fn`: the run's own future is returned as is, without a
    // second state machine around it. Without hooks, a breaker or a budget
    // (`Plain`), their checks compile away.
    drive(
        move || Driver::with_clock(policy, Tokio, false, false, None),
        f,
    )
}

/// Retries `f` under `policy`, sleeping the thread between attempts.
/// Shorthand for `Retry::new(policy).run_blocking(f)`.
pub fn run_blocking<T, E, F>(policy: &Policy, mut f: F) -> Result<T, E>
where
    E: Retryable + fmt::Display,
    F: FnMut() -> Result<T, E>,
{
    let mut driver = Driver::with_clock(policy, ThreadSleep, false, false, None);
    drive_blocking(&mut driver, |_| f())
}

/// A breaker and how to turn its refusal into the function's error.
type BreakerRef<'p, E> = (&'p Breaker, fn(CircuitOpen) -> E);

/// What to do after an attempt.
#[doc(hidden)]
pub enum Next<T, E> {
    /// Return this.
    Done(Result<T, E>),
    /// Sleep this long, then try again.
    Retry(Duration),
}

/// The engine as a loop body, for the code `#[retry]` generates and for
/// [`Retry`]'s own runs: `begin` (or `count`), run the attempt, `step`, sleep.
///
/// Nothing is computed before it is needed: without a deadline or an
/// attempt binding, the clock is not read, the random generator not seeded
/// and the retry state not built until an attempt fails, so a call that
/// succeeds at once costs a counter and a branch. The state an attempt's
/// failure needs (jitter, previous delay, report) lives in a box built on
/// the first failure: every retrying future stays small, and moving or
/// starting one stays cheap. Hooks, a breaker and a budget are carried by
/// `X`: a run without them ([`Plain`]) has none of their checks to make.
#[doc(hidden)]
pub struct Driver<'p, E, C = DefaultSleeper, X = Plain> {
    policy: &'p Policy,
    attempts: u32,
    /// The policy cuts attempts off (a deadline or an attempt timeout),
    /// read once here so that an untimed attempt checks one flag.
    timed: bool,
    extras: X,
    /// When the run started, if elapsed time matters (a deadline, or an
    /// attempt binding that reports it).
    start: Option<Instant>,
    /// The run's idempotency key (drawn only when an attempt binding asks).
    key: IdempotencyKey,
    /// Built on the first failure (or at once for a report or a seed).
    state: Option<Box<State>>,
    clock: C,
    _error: core::marker::PhantomData<fn() -> E>,
}

/// What a run adds to its policy: hooks, a breaker and a budget, with the
/// breaker's per-call state. Implemented by [`Plain`] (none of them: every
/// method a constant, so their checks compile away) and [`Full`].
#[doc(hidden)]
pub trait Extras<'p, E> {
    /// The breaker gating every attempt.
    fn breaker(&self) -> Option<BreakerRef<'p, E>>;
    /// The budget every retry draws from.
    fn budget(&self) -> Option<&'p Budget>;
    /// Overrides the error's advice.
    fn when(&self) -> Option<fn(&E) -> Advice>;
    /// Called before each sleep.
    fn on_retry(&self) -> Option<fn(&RetryEvent<'_, E>)>;
    /// Called when the engine gives up.
    fn on_give_up(&self) -> Option<fn(&GiveUp<'_, E>)>;
    /// The breaker's permit for the running attempt, taken to report it.
    fn take_permit(&mut self) -> Option<Permit>;
    /// Keeps the running attempt's permit.
    fn set_permit(&mut self, permit: Permit);
    /// Whether this call has waited out the host's pause (and so does not
    /// wait again), clearing it.
    fn take_past_pause(&mut self) -> bool;
    /// Marks that the next gate follows the host's pause.
    fn set_past_pause(&mut self, past: bool);
}

/// No hooks, breaker or budget.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct Plain;

impl<'p, E> Extras<'p, E> for Plain {
    #[inline]
    fn breaker(&self) -> Option<BreakerRef<'p, E>> {
        None
    }
    #[inline]
    fn budget(&self) -> Option<&'p Budget> {
        None
    }
    #[inline]
    fn when(&self) -> Option<fn(&E) -> Advice> {
        None
    }
    #[inline]
    fn on_retry(&self) -> Option<fn(&RetryEvent<'_, E>)> {
        None
    }
    #[inline]
    fn on_give_up(&self) -> Option<fn(&GiveUp<'_, E>)> {
        None
    }
    #[inline]
    fn take_permit(&mut self) -> Option<Permit> {
        None
    }
    #[inline]
    fn set_permit(&mut self, _: Permit) {}
    #[inline]
    fn take_past_pause(&mut self) -> bool {
        false
    }
    #[inline]
    fn set_past_pause(&mut self, _: bool) {}
}

/// Hooks, a breaker and a budget, each optional, built like [`Retry`].
#[doc(hidden)]
pub struct Full<'p, E> {
    hooks: Hooks<E>,
    breaker: Option<BreakerRef<'p, E>>,
    budget: Option<&'p Budget>,
    permit: Option<Permit>,
    past_pause: bool,
}

impl<'p, E> Full<'p, E> {
    /// None set yet.
    pub const NONE: Self = Full {
        hooks: Hooks::NONE,
        breaker: None,
        budget: None,
        permit: None,
        past_pause: false,
    };

    /// Decides retries with `when` instead of the error's advice.
    #[must_use]
    pub fn when(mut self, when: fn(&E) -> Advice) -> Self {
        self.hooks.when = Some(when);
        self
    }

    /// Called before each sleep.
    #[must_use]
    pub fn on_retry(mut self, hook: fn(&RetryEvent<'_, E>)) -> Self {
        self.hooks.on_retry = Some(hook);
        self
    }

    /// Called when the engine gives up.
    #[must_use]
    pub fn on_give_up(mut self, hook: fn(&GiveUp<'_, E>)) -> Self {
        self.hooks.on_give_up = Some(hook);
        self
    }

    /// Gates every attempt through `breaker`.
    #[must_use]
    pub fn breaker(mut self, breaker: &'p Breaker) -> Self
    where
        E: crate::__private::FromCircuitOpen,
    {
        self.breaker = Some((
            breaker,
            <E as crate::__private::FromCircuitOpen>::__rebuff_from,
        ));
        self
    }

    /// Draws every retry from `budget`.
    #[must_use]
    pub fn budget(mut self, budget: &'p Budget) -> Self {
        self.budget = Some(budget);
        self
    }
}

impl<E> Drop for Full<'_, E> {
    /// An attempt that never reported back (its future was dropped by a
    /// timeout or `select!`, or it panicked) gives its breaker permit back,
    /// so a half-open breaker's probe slot is not lost.
    #[inline]
    fn drop(&mut self) {
        if let (Some((breaker, _)), Some(permit)) = (self.breaker, self.permit.take()) {
            breaker.release(permit);
        }
    }
}

impl<'p, E> Extras<'p, E> for Full<'p, E> {
    #[inline]
    fn breaker(&self) -> Option<BreakerRef<'p, E>> {
        self.breaker
    }
    #[inline]
    fn budget(&self) -> Option<&'p Budget> {
        self.budget
    }
    #[inline]
    fn when(&self) -> Option<fn(&E) -> Advice> {
        self.hooks.when
    }
    #[inline]
    fn on_retry(&self) -> Option<fn(&RetryEvent<'_, E>)> {
        self.hooks.on_retry
    }
    #[inline]
    fn on_give_up(&self) -> Option<fn(&GiveUp<'_, E>)> {
        self.hooks.on_give_up
    }
    #[inline]
    fn take_permit(&mut self) -> Option<Permit> {
        self.permit.take()
    }
    #[inline]
    fn set_permit(&mut self, permit: Permit) {
        self.permit = Some(permit);
    }
    #[inline]
    fn take_past_pause(&mut self) -> bool {
        core::mem::take(&mut self.past_pause)
    }
    #[inline]
    fn set_past_pause(&mut self, past: bool) {
        self.past_pause = past;
    }
}

/// What a run sets up before its first attempt, when it needs anything.
struct Setup {
    start: Option<Instant>,
    key: IdempotencyKey,
    state: Option<Box<State>>,
}

impl Setup {
    const NONE: Setup = Setup {
        start: None,
        key: IdempotencyKey([0; 16]),
        state: None,
    };

    /// The clock (for a deadline or an attempt binding), the idempotency
    /// key (for a binding), and the retry state at once for a report or a
    /// seeded run.
    #[cold]
    fn new<E: Retryable>(
        policy: &Policy,
        clock: &impl Clock,
        track: bool,
        report: bool,
        seed: Option<u64>,
    ) -> Self {
        if policy.get_attempt_timeout().is_some() && E::timeout_error().is_none() {
            warn_timeout_unsupported::<E>();
        }
        let mut state = (report || seed.is_some()).then(|| Box::new(State::new(seed, report)));
        let key = if track {
            match &mut state {
                Some(state) => IdempotencyKey::random(state.rng()),
                None => IdempotencyKey::random(&mut fastrand::Rng::new()),
            }
        } else {
            IdempotencyKey([0; 16])
        };
        Setup {
            start: (track || policy.get_deadline().is_some()).then(|| clock.now()),
            key,
            state,
        }
    }
}

/// Whether an attempt may start, from [`Driver::gate`].
#[doc(hidden)]
pub enum Gate<E> {
    /// Go ahead.
    Go,
    /// The host asked every caller to wait: sleep this long, then ask again.
    Wait(Duration),
    /// Refused: return this error.
    Refuse(E),
}

impl<'p, E: Retryable> Driver<'p, E> {
    /// A driver for an async function, on the default sleeper.
    #[must_use]
    #[inline]
    pub fn new(policy: &'p Policy, track: bool) -> Self {
        Self::with_clock(policy, DefaultSleeper::default(), track, false, None)
    }
}

impl<'p, E: Retryable> Driver<'p, E, ThreadSleep> {
    /// A driver for a blocking function.
    #[must_use]
    #[inline]
    pub fn blocking(policy: &'p Policy, track: bool) -> Self {
        Self::with_clock(policy, ThreadSleep, track, false, None)
    }
}

impl<'p, E, C> Driver<'p, E, C> {
    /// The same driver with hooks, a breaker or a budget.
    #[must_use]
    #[inline]
    pub fn with<X: Extras<'p, E>>(self, extras: X) -> Driver<'p, E, C, X> {
        Driver {
            policy: self.policy,
            attempts: self.attempts,
            timed: self.timed,
            extras,
            start: self.start,
            key: self.key,
            state: self.state,
            clock: self.clock,
            _error: core::marker::PhantomData,
        }
    }
}

impl<'p, E, C: Clock> Driver<'p, E, C> {
    #[inline]
    fn with_clock(
        policy: &'p Policy,
        clock: C,
        track: bool,
        report: bool,
        seed: Option<u64>,
    ) -> Self
    where
        E: Retryable,
    {
        // Built in one expression, the cold setup returning its parts: the
        // driver's address is never taken, so it is built where it lives
        // (in a retrying future) instead of on the stack and then moved.
        let timed = policy.get_deadline().is_some() || policy.get_attempt_timeout().is_some();
        let Setup { start, key, state } = if track || report || seed.is_some() || timed {
            Setup::new::<E>(policy, &clock, track, report, seed)
        } else {
            Setup::NONE
        };
        Driver {
            policy,
            attempts: 0,
            timed,
            extras: Plain,
            start,
            key,
            state,
            clock,
            _error: core::marker::PhantomData,
        }
    }
}

impl<'p, E, C: Clock, X: Extras<'p, E>> Driver<'p, E, C, X> {
    /// Time since the run started (sleeps skipped in test mode included),
    /// if the run keeps time.
    fn elapsed(&self) -> Option<Duration> {
        let start = self.start?;
        let skipped = self.state.as_ref().map_or(Duration::ZERO, |s| s.skipped);
        Some(self.clock.now().saturating_duration_since(start) + skipped)
    }

    /// Whether the next attempt may start: always, without a breaker; with
    /// one, as it says. A host-wide pause (a 429 seen by any caller) is
    /// waited out if the deadline allows it.
    #[inline]
    pub fn gate(&mut self) -> Gate<E> {
        let Some((breaker, refuse)) = self.extras.breaker() else {
            return Gate::Go;
        };
        let allowed = if self.extras.take_past_pause() {
            breaker.allow_after_pause()
        } else {
            breaker.allow()
        };
        match allowed {
            Ok(permit) => {
                self.extras.set_permit(permit);
                Gate::Go
            }
            Err(open) => self.refused(breaker, refuse, open),
        }
    }

    #[cold]
    fn refused(
        &mut self,
        breaker: &Breaker,
        refuse: fn(CircuitOpen) -> E,
        open: CircuitOpen,
    ) -> Gate<E> {
        if let (true, Some(wait)) = (breaker.is_paused(), open.retry_after) {
            let fits = match (self.policy.get_deadline(), self.elapsed()) {
                (Some(deadline), Some(elapsed)) => elapsed.saturating_add(wait) < deadline,
                (Some(deadline), None) => wait < deadline,
                (None, _) => wait <= self.policy.get_max_retry_after(),
            };
            if fits {
                tracing::debug!(target: "rebuff::retry", wait_ms = u64::try_from(wait.as_millis()).unwrap_or(u64::MAX), "host paused; waiting");
                self.extras.set_past_pause(true);
                return Gate::Wait(wait);
            }
        }
        tracing::debug!(target: "rebuff::retry", "circuit open; failing fast");
        if let Some(state) = &mut self.state {
            state.stop = Some(StopReason::CircuitOpen);
        }
        Gate::Refuse(refuse(open))
    }

    /// Starts the next attempt.
    #[inline]
    pub fn begin(&mut self) -> Attempt {
        self.count();
        Attempt {
            number: self.attempts,
            elapsed: self.elapsed().unwrap_or_default(),
            key: self.key,
        }
    }

    /// Starts the next attempt, for a caller that does not look at it
    /// (skipping the clock read an [`Attempt`] may need).
    #[inline]
    pub fn count(&mut self) {
        self.attempts += 1;
        testing::record_attempt();
        if self.attempts == 1 {
            if let Some(budget) = self.extras.budget() {
                budget.deposit();
            }
        }
    }

    /// Reports an attempt's result to the breaker, if one gave this
    /// attempt its permit (`step` does it; this is for a result returned
    /// without `step`).
    #[inline]
    pub fn record<T>(&mut self, result: &Result<T, E>)
    where
        E: Retryable,
    {
        if let (Some((breaker, _)), Some(permit)) =
            (self.extras.breaker(), self.extras.take_permit())
        {
            breaker.record(permit, result);
        }
    }

    /// Decides what follows an attempt's result.
    #[inline]
    pub fn step<T>(&mut self, result: Result<T, E>) -> Next<T, E>
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
                Next::Done(Ok(value))
            }
            Err(err) => self.failed(err),
        }
    }

    /// A failed attempt: reported to the breaker (a rate limit pauses every
    /// caller of the host), then retried or returned.
    #[cold]
    fn failed<T>(&mut self, err: E) -> Next<T, E>
    where
        E: Retryable + fmt::Display,
    {
        if let (Some((breaker, _)), Some(permit)) =
            (self.extras.breaker(), self.extras.take_permit())
        {
            breaker.record_error(permit, &err);
        }
        if let Some((breaker, _)) = self.extras.breaker() {
            // A rate limit with a reset: everyone calling this host waits.
            if err.retry_status() == Some(http::StatusCode::TOO_MANY_REQUESTS) {
                if let Advice::RetryAfter(delay) = err.retry_advice() {
                    breaker.pause_for(delay.min(self.policy.get_max_retry_after()));
                    // This call's own retry sleep honours the same hint
                    // (unless its policy ignores hints: then it waits out
                    // the pause like everyone else).
                    self.extras
                        .set_past_pause(matches!(self.policy.get_retry_after(), RetryAfter::Floor));
                }
            }
        }
        let elapsed = self.elapsed();
        let extras = &self.extras;
        let attempts = self.attempts;
        let state = self
            .state
            .get_or_insert_with(|| Box::new(State::new(None, false)));
        let failure = Failure {
            policy: self.policy,
            attempt: attempts,
            elapsed,
            budget: extras.budget(),
        };
        match state.after_failure(&failure, &err, extras.when(), extras.on_retry()) {
            Step::Sleep(delay) => Next::Retry(delay),
            Step::GiveUp(reason) => {
                if let Some(hook) = extras.on_give_up() {
                    hook(&GiveUp {
                        attempts,
                        error: &err,
                        reason,
                    });
                }
                state.stop = Some(reason);
                Next::Done(Err(err))
            }
        }
    }

    /// Counts a sleep skipped in test mode as elapsed time.
    fn skipped(&mut self, delay: Duration) {
        let state = self
            .state
            .get_or_insert_with(|| Box::new(State::new(None, false)));
        state.skipped += delay;
    }

    /// Sleeps the thread for `delay` (or records it in test mode).
    pub fn sleep_blocking(&mut self, delay: Duration) {
        if testing::record_sleep(delay) {
            self.skipped(delay);
        } else {
            std::thread::sleep(delay);
        }
    }

    fn report(&mut self) -> Report {
        let attempts = self.attempts;
        match &mut self.state {
            Some(state) => {
                let stop = state.stop;
                state.finish(attempts, stop).unwrap_or_default()
            }
            None => Report {
                attempts,
                ..Report::default()
            },
        }
    }

    /// How long the next attempt may run, if it is cut off at all: the
    /// attempt timeout, shortened to what the deadline leaves. `None` too
    /// when the error type cannot represent a timeout.
    #[inline]
    pub fn limit(&self) -> Option<Duration>
    where
        E: Retryable,
    {
        if !self.timed {
            return None;
        }
        self.timed_limit()
    }

    fn timed_limit(&self) -> Option<Duration>
    where
        E: Retryable,
    {
        let policy = self.policy;
        E::timeout_error()?;
        let left = policy
            .get_deadline()
            .zip(self.elapsed())
            .map(|(deadline, elapsed)| deadline.saturating_sub(elapsed));
        match (policy.get_attempt_timeout(), left) {
            (Some(timeout), Some(left)) => Some(timeout.min(left)),
            (timeout, left) => timeout.or(left),
        }
    }
}

impl<'p, E: Retryable, C: Sleeper, X: Extras<'p, E>> Driver<'p, E, C, X> {
    /// One attempt, cut off when the policy says so (see
    /// [`Driver::limit`]). The attempt runs inside the returned future, so a
    /// retrying function has one suspension point per attempt; the timer,
    /// only for timed attempts, is boxed so that every other retrying
    /// future stays small.
    #[inline]
    pub fn limited<T, F>(&self, work: F) -> Limited<F, impl Future<Output = ()>, E>
    where
        F: Future<Output = Result<T, E>>,
    {
        Limited {
            work,
            timer: self.limit().map(|limit| {
                Box::pin(Timer {
                    sleep: self.clock.sleep(limit),
                    limit,
                })
            }),
            _error: core::marker::PhantomData,
        }
    }

    /// Sleeps `delay` on the sleeper (or records it in test mode).
    ///
    /// The timer is boxed: this path runs only after a failure, and keeping
    /// the timer out of line keeps every retried future (and so every call
    /// that succeeds at once) smaller.
    pub async fn sleep(&mut self, delay: Duration) {
        if testing::record_sleep(delay) {
            self.skipped(delay);
        } else {
            Box::pin(self.clock.sleep(delay)).await;
        }
    }
}

/// Gives an async block the output type of the function it stands for, so
/// `?` and `return` inside it infer as they did in the function.
#[doc(hidden)]
#[inline]
pub fn typed<T, F: Future<Output = T>>(future: F) -> F {
    future
}

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
                // `limit` gives a timer only to errors that can say so.
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

fn warn_timeout_unsupported<E>() {
    tracing::warn!(
        target: "rebuff::retry",
        error_type = core::any::type_name::<E>(),
        "the policy sets an attempt timeout, but the error type cannot represent a timeout \
         (Retryable::timeout_error returns None): attempts run to completion"
    );
}

enum Step {
    Sleep(Duration),
    GiveUp(StopReason),
}

/// The decisions shared by the async and blocking engines.
struct State {
    /// Sleeps skipped in test mode, counted as elapsed time.
    skipped: Duration,
    previous_delay: Duration,
    seed: Option<u64>,
    rng: Option<fastrand::Rng>,
    /// Only for `run_report`.
    report: Option<Box<Report>>,
    stop: Option<StopReason>,
}

/// What deciding after a failure reads from the driver.
struct Failure<'a> {
    policy: &'a Policy,
    /// The attempt that failed, from 1.
    attempt: u32,
    elapsed: Option<Duration>,
    budget: Option<&'a Budget>,
}

impl State {
    fn new(seed: Option<u64>, report: bool) -> Self {
        State {
            skipped: Duration::ZERO,
            previous_delay: Duration::ZERO,
            seed,
            rng: None,
            report: report.then(Box::default),
            stop: None,
        }
    }

    fn rng(&mut self) -> &mut fastrand::Rng {
        let seed = self.seed;
        self.rng.get_or_insert_with(|| match seed {
            Some(seed) => fastrand::Rng::with_seed(seed),
            None => fastrand::Rng::new(),
        })
    }

    fn after_failure<E: Retryable + fmt::Display>(
        &mut self,
        failure: &Failure<'_>,
        err: &E,
        when: Option<fn(&E) -> Advice>,
        on_retry: Option<fn(&RetryEvent<'_, E>)>,
    ) -> Step {
        let advice = when.map_or_else(|| err.retry_advice(), |when| when(err));
        let step = self.decide(failure, err, advice);
        let delay = match step {
            Step::Sleep(delay) => Some(delay),
            Step::GiveUp(_) => None,
        };
        if let Some(report) = &mut self.report {
            report.failures.push(AttemptRecord {
                number: failure.attempt,
                advice,
                status: err.retry_status(),
                error: err.to_string(),
                delay,
            });
        }
        match step {
            Step::Sleep(delay) => {
                tracing::warn!(
                    target: "rebuff::retry",
                    attempt = failure.attempt,
                    delay_ms = u64::try_from(delay.as_millis()).unwrap_or(u64::MAX),
                    advice = ?advice,
                    status = err.retry_status().map(|s| s.as_u16()),
                    request_id = err.request_id(),
                    error = %err,
                    "attempt failed; retrying"
                );
                if let Some(hook) = on_retry {
                    hook(&RetryEvent {
                        attempt: failure.attempt,
                        error: err,
                        advice,
                        delay,
                    });
                }
                self.previous_delay = delay;
            }
            Step::GiveUp(reason) => {
                let level_is_warn = reason != StopReason::NotRetryable;
                if level_is_warn {
                    tracing::warn!(
                        target: "rebuff::retry",
                        attempts = failure.attempt,
                        reason = %reason,
                        status = err.retry_status().map(|s| s.as_u16()),
                        request_id = err.request_id(),
                        error = %err,
                        "giving up"
                    );
                } else {
                    tracing::debug!(
                        target: "rebuff::retry",
                        attempts = failure.attempt,
                        reason = %reason,
                        error = %err,
                        "not retrying"
                    );
                }
            }
        }
        step
    }

    fn decide<E: Retryable>(&mut self, failure: &Failure<'_>, err: &E, advice: Advice) -> Step {
        if !advice.is_retry() {
            return Step::GiveUp(StopReason::NotRetryable);
        }
        let retry = failure.attempt - 1;
        let policy = failure.policy;
        if retry >= policy.get_max_retries() {
            return Step::GiveUp(StopReason::OutOfAttempts);
        }
        let previous = self.previous_delay;
        let backoff = policy.backoff_delay(retry, previous, self.rng());
        let hint = match policy.get_retry_after() {
            RetryAfter::Floor => advice.after().map(|h| h.min(policy.get_max_retry_after())),
            RetryAfter::Ignore => None,
        };
        let floor = err.retry_status().and_then(|s| policy.get_min_wait(s));
        let delay = backoff
            .max(hint.unwrap_or_default())
            .max(floor.unwrap_or_default());
        if let (Some(deadline), Some(elapsed)) = (policy.get_deadline(), failure.elapsed) {
            if elapsed.saturating_add(delay) >= deadline {
                let hinted = hint.is_some_and(|h| elapsed.saturating_add(h) >= deadline);
                return Step::GiveUp(if hinted {
                    StopReason::HintBeyondDeadline
                } else {
                    StopReason::Deadline
                });
            }
        }
        if let Some(budget) = failure.budget {
            if !budget.try_withdraw() {
                return Step::GiveUp(StopReason::BudgetExhausted);
            }
        }
        Step::Sleep(delay)
    }

    fn finish(&mut self, attempts: u32, stop: Option<StopReason>) -> Option<Report> {
        let mut report = *self.report.take()?;
        report.attempts = attempts;
        report.stop = stop;
        Some(report)
    }
}
