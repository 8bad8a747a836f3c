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
//! 1. [`Advice::Stop`](crate::Advice::Stop): the error returns at once;
//! 2. out of retries ([`Policy::max_retries`]): the error returns;
//! 3. otherwise the delay is the policy's backoff with jitter, raised to the
//!    server's hint if it gave one ([`Advice::RetryAfter`](crate::Advice::RetryAfter), capped at
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
//! A blocking attempt cannot be cut off, so the engine tells it how long it
//! may take ([`Attempt::limit`]) for it to hand on to what it waits on.
//!
//! Nothing is allocated unless an attempt fails, with one exception: an
//! async attempt under an attempt timeout or a deadline keeps its timer in
//! a box of its own, so that every other retrying future (the common case)
//! carries no room for one. A failed attempt builds the retry state
//! (jitter, previous delay, report) in a box too, for the same reason.

mod attempt;
mod builder;
mod decide;
mod driver;
mod extras;
mod hint;
mod log;
mod policy;
pub mod presets;
mod report;
mod sleep;
pub mod testing;
mod timeout;

use core::fmt;
use core::future::Future;

pub use attempt::{Attempt, IdempotencyKey};
pub use builder::Retry;
#[doc(hidden)]
pub use driver::{Admission, Bind, Driver, Verdict};
#[doc(hidden)]
pub use extras::{Extras, FromCircuitOpen, NoExtras, WithExtras};
pub use hint::parse_retry_after;
pub use policy::{Backoff, Jitter, Policy, RetryAfter};
pub use report::{AttemptRecord, GiveUp, Report, RetryEvent, StopReason};
#[cfg(feature = "tokio")]
pub use sleep::Tokio;
pub use sleep::{Clock, DefaultSleeper, Sleeper, ThreadSleep};
#[doc(hidden)]
pub use timeout::Limited;
pub use timeout::TimedOut;
pub(crate) use timeout::readable;

use crate::Retryable;

/// The async loop of [`run`] and [`Retry::run`], whose attempts are an
/// async closure's calls.
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
    crate::__rebuff_retry!(@loop async driver, _ => f())
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
    // (`NoExtras`), their checks compile away.
    drive(
        move || Driver::new(policy, driver::Bind::Count, NoExtras),
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
    crate::__rebuff_retry!(blocking, policy, NoExtras, _ => f())
}

/// `future`, whose error can stand for an attempt cut off by its time
/// limit: `#[retry]` with `attempt_timeout` wraps each attempt in it.
#[doc(hidden)]
#[inline]
pub fn cut_off<T, E: crate::CanTimeOut, F: Future<Output = Result<T, E>>>(future: F) -> F {
    future
}

/// Gives an async block the output type of the function it stands for, so
/// `?` and `return` inside it infer as they did in the function.
#[doc(hidden)]
#[inline]
pub fn typed<T, F: Future<Output = T>>(future: F) -> F {
    future
}
