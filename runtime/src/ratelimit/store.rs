//! Where limits are kept: one atomic decision per request, across every
//! window of the caller's plan. The in-process [`MemoryStore`] is the
//! default; a remote store (shared by a fleet of servers) implements the
//! same trait.
//!
//! [`MemoryStore`]: super::MemoryStore

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use std::sync::Arc;
use std::sync::OnceLock;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::{Instant, SystemTime, UNIX_EPOCH};

use super::caller::IpKey;
use super::gcra::{Decision, Escalation};
use super::plan::Window;

/// Whose limits: the plan's name and the caller (a key, or an address).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Key<'a> {
    /// The plan's name (a caller's limits are kept per plan).
    pub plan: &'a str,
    /// The caller.
    pub caller: CallerId<'a>,
}

/// A caller, as limits are kept for it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum CallerId<'a> {
    /// A key or principal the resolver named.
    Key(&'a str),
    /// A client address (IPv6 grouped by prefix).
    Ip(core::net::IpAddr),
}

impl CallerId<'_> {
    pub(crate) fn from_ip(ip: IpKey) -> Self {
        CallerId::Ip(ip.0)
    }
}

impl fmt::Display for Key<'_> {
    /// `plan:key:...` or `plan:ip:...`, for logs and for a store of the
    /// application's own. It holds the API key as it is: a remote store
    /// should name its entries by a digest of it (rebuff's Redis store
    /// does), and a plan name with `:` in it makes the form ambiguous.
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self.caller {
            CallerId::Key(key) => write!(f, "{}:key:{key}", self.plan),
            CallerId::Ip(ip) => write!(f, "{}:ip:{ip}", self.plan),
        }
    }
}

/// One request to decide.
#[derive(Debug, Clone, Copy)]
pub struct Ask<'a> {
    /// Whose limits.
    pub key: Key<'a>,
    /// The plan's windows, decided together.
    pub windows: &'a [Window],
    /// Repeat offenders' block, if the limiter escalates.
    pub escalation: Option<Escalation>,
}

pub use crate::StoreError;

/// A decision on its way from a remote store.
pub type Deciding = Pin<Box<dyn Future<Output = Result<Decision, StoreError>> + Send>>;

/// Keeps callers' limits and decides each request atomically: every window
/// of the plan, the escalation's count and block, in one step, with the
/// time taken from the store's own clock (so that a fleet of servers sharing
/// a store agrees whatever their clocks say).
///
/// The decision itself is [`gcra::decide`](super::gcra::decide); a store
/// only keeps the [`CallerState`](super::gcra::CallerState) it works on.
pub trait RateLimitStore: Send + Sync + 'static {
    /// Decides at once, if the store can without waiting (an in-process
    /// store always can); `None` sends the request to [`decide`](Self::decide).
    fn decide_now(&self, ask: &Ask<'_>) -> Option<Result<Decision, StoreError>> {
        let _ = ask;
        None
    }

    /// Decides, asynchronously (a remote store's round trip).
    fn decide(&self, ask: &Ask<'_>) -> Deciding;
}

impl<S: RateLimitStore + ?Sized> RateLimitStore for Arc<S> {
    fn decide_now(&self, ask: &Ask<'_>) -> Option<Result<Decision, StoreError>> {
        (**self).decide_now(ask)
    }

    fn decide(&self, ask: &Ask<'_>) -> Deciding {
        (**self).decide(ask)
    }
}

/// The time an in-process store decides by: microseconds since the Unix
/// epoch.
pub trait Clock: Send + Sync + 'static {
    /// Now, in microseconds since the Unix epoch.
    fn now_micros(&self) -> u64;
}

/// The system's clock, read as a steady one: the wall-clock time when it
/// was first read, moved on by the monotonic clock since. A wall clock set
/// back (an NTP step) would otherwise put every recent caller's next
/// allowed time ahead of now, refusing it for as long as the step; set
/// forward, grant it a burst. The price is that reset times in epoch
/// seconds are off by any step made after the first read, until restart.
#[derive(Debug, Clone, Copy, Default)]
pub struct SystemClock;

impl Clock for SystemClock {
    fn now_micros(&self) -> u64 {
        ANCHOR.get_or_init(Steady::from_wall_clock).now_micros()
    }
}

/// The [`SystemClock`]'s reading of the wall clock, taken once.
static ANCHOR: OnceLock<Steady> = OnceLock::new();

/// A wall-clock time (`epoch`, in microseconds) and the monotonic instant
/// it was read at: now is that time moved on by the monotonic clock.
#[derive(Debug, Clone, Copy)]
struct Steady {
    at: Instant,
    epoch: u64,
}

impl Steady {
    fn from_wall_clock() -> Self {
        let epoch = SystemTime::now()
            .duration_since(UNIX_EPOCH)
            .map_or(0, |since| {
                u64::try_from(since.as_micros()).unwrap_or(u64::MAX)
            });
        Steady {
            at: Instant::now(),
            epoch,
        }
    }

    fn now_micros(&self) -> u64 {
        self.epoch
            .saturating_add(u64::try_from(self.at.elapsed().as_micros()).unwrap_or(u64::MAX))
    }
}

/// A clock that moves only when told: for tests of limits, blocks and
/// their expiry without waiting.
///
/// ```
/// use std::time::Duration;
/// use rebuff::ratelimit::{Clock, TestClock};
///
/// let clock = TestClock::at_secs(1_700_000_000);
/// clock.advance(Duration::from_secs(61));
/// assert_eq!(clock.now_micros(), 1_700_000_061_000_000);
/// ```
#[derive(Debug, Clone, Default)]
pub struct TestClock(Arc<AtomicU64>);

impl TestClock {
    /// A clock reading `secs` seconds after the Unix epoch.
    #[must_use]
    pub fn at_secs(secs: u64) -> Self {
        TestClock(Arc::new(AtomicU64::new(secs.saturating_mul(1_000_000))))
    }

    /// Moves the clock forward.
    pub fn advance(&self, by: core::time::Duration) {
        let micros = u64::try_from(by.as_micros()).unwrap_or(u64::MAX);
        self.0.fetch_add(micros, Ordering::SeqCst);
    }
}

impl Clock for TestClock {
    fn now_micros(&self) -> u64 {
        self.0.load(Ordering::SeqCst)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_system_clock_moves_on_its_first_wall_clock_reading_by_the_monotonic_clock() {
        // A reading far from the wall clock's stays far from it: later
        // readings follow the monotonic clock, not the wall clock.
        let steady = Steady {
            at: Instant::now(),
            epoch: 5_000_000,
        };
        let mut last = steady.now_micros();
        assert!((5_000_000..6_000_000).contains(&last), "{last}");
        for _ in 0..10_000 {
            let now = steady.now_micros();
            assert!(now >= last, "{now} after {last}");
            last = now;
        }
        // The system clock is such a reading, anchored on the wall clock.
        let read = SystemClock.now_micros();
        let anchor = ANCHOR.get().expect("anchored by its first reading");
        let again = anchor.now_micros();
        assert!(again >= read && again - read < 1_000_000, "{read} {again}");
        let wall = u64::try_from(
            SystemTime::now()
                .duration_since(UNIX_EPOCH)
                .unwrap()
                .as_micros(),
        )
        .unwrap();
        assert!(read.abs_diff(wall) < 1_000_000);
    }
}
