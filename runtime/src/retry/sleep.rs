//! How the engine reads the time and waits: tokio's timer for async runs,
//! the thread for blocking ones, or a [`Sleeper`] of your own.

use core::future::Future;
use core::time::Duration;
use std::time::Instant;

/// A clock the engine reads to measure elapsed time against the deadline.
pub trait Clock {
    /// The current time on this clock.
    fn now(&self) -> Instant;

    /// Whether the engine cuts an attempt off at its limit under this
    /// clock: an async run's can be, a blocking one runs to completion.
    #[doc(hidden)]
    const CUTS_ATTEMPTS: bool = true;
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

    const CUTS_ATTEMPTS: bool = false;
}

/// The sleeper [`Retry::new`](super::Retry::new) uses: [`Tokio`] with the
/// `tokio` feature.
#[cfg(feature = "tokio")]
pub type DefaultSleeper = Tokio;
/// The sleeper [`Retry::new`](super::Retry::new) uses: [`ThreadSleep`]
/// without the `tokio` feature (async runs then need
/// [`Retry::sleeper`](super::Retry::sleeper)).
#[cfg(not(feature = "tokio"))]
pub type DefaultSleeper = ThreadSleep;
