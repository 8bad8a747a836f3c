//! Plans and their windows: how many requests a caller may make, over
//! which periods.

use core::fmt;
use core::time::Duration;
use std::borrow::Cow;

use super::gcra::MAX_WINDOWS;

/// `quota` requests per `period`: one window of a [`Plan`].
///
/// ```
/// use rebuff::ratelimit::Window;
/// let window = Window::per_minute(60);
/// assert_eq!(window.to_string(), "60/minute");
/// ```
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Window {
    quota: u32,
    period: Duration,
}

impl Window {
    /// `quota` requests per `period` (a zero quota admits one, a zero
    /// period lasts a microsecond). Time is counted in microseconds, so a
    /// window refills at most one request a microsecond: a quota above
    /// the period's microseconds is a burst that large, refilled at a
    /// million a second.
    #[must_use]
    pub const fn new(quota: u32, period: Duration) -> Self {
        Window {
            quota: if quota == 0 { 1 } else { quota },
            period: if period.is_zero() {
                Duration::from_micros(1)
            } else {
                period
            },
        }
    }

    /// `quota` a second (a burst window).
    #[must_use]
    pub const fn per_second(quota: u32) -> Self {
        Self::new(quota, Duration::from_secs(1))
    }

    /// `quota` a minute.
    #[must_use]
    pub const fn per_minute(quota: u32) -> Self {
        Self::new(quota, Duration::from_secs(60))
    }

    /// `quota` an hour.
    #[must_use]
    pub const fn per_hour(quota: u32) -> Self {
        Self::new(quota, Duration::from_secs(3600))
    }

    /// `quota` a day.
    #[must_use]
    pub const fn per_day(quota: u32) -> Self {
        Self::new(quota, Duration::from_secs(86_400))
    }

    /// Requests per period.
    #[must_use]
    pub const fn quota(&self) -> u32 {
        self.quota
    }

    /// The period.
    #[must_use]
    pub const fn period(&self) -> Duration {
        self.period
    }

    /// The period in whole seconds, rounded up (at least 1), as the IETF
    /// `w=` says it: a client pacing itself by `q` per `w` then never sends
    /// faster than the window allows (1.5 s is `w=2`).
    #[must_use]
    pub fn period_secs(&self) -> u64 {
        let secs = self.period.as_secs();
        if self.period.subsec_nanos() == 0 {
            secs.max(1)
        } else {
            secs.saturating_add(1)
        }
    }

    /// The period in microseconds, at least 1 and at most 2^52 (142
    /// years), so that it adds to a clock without overflow and stays exact
    /// in the Redis script's doubles.
    pub(crate) fn period_micros(&self) -> u64 {
        u64::try_from(self.period.as_micros())
            .unwrap_or(u64::MAX)
            .clamp(1, 1 << 52)
    }
}

/// `60/minute`, `1000/day`, `10/second`; other periods in seconds
/// (`5/30s`), as an API's 429 body says it.
impl fmt::Display for Window {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let unit = match self.period.as_secs() {
            1 if self.period.subsec_nanos() == 0 => "second",
            60 if self.period.subsec_nanos() == 0 => "minute",
            3600 if self.period.subsec_nanos() == 0 => "hour",
            86_400 if self.period.subsec_nanos() == 0 => "day",
            _ => {
                return write!(
                    f,
                    "{}/{}",
                    self.quota,
                    humantime::format_duration(self.period)
                );
            }
        };
        write!(f, "{}/{unit}", self.quota)
    }
}

/// A named plan: one or more [`Window`]s decided together.
///
/// The usual plans, as public APIs publish them:
///
/// ```
/// use rebuff::ratelimit::{Plan, Window};
/// assert_eq!(Plan::free().windows(), [Window::per_minute(60)]);
/// assert_eq!(Plan::pro().windows(), [Window::per_minute(300)]);
/// let enterprise = Plan::enterprise(1000);
/// // A plan with a burst window and a daily one:
/// let metered = Plan::new("metered")
///     .window(Window::per_second(10))
///     .window(Window::per_minute(100))
///     .window(Window::per_day(10_000));
/// # let _ = (enterprise, metered);
/// ```
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Plan {
    name: Cow<'static, str>,
    windows: Vec<Window>,
}

impl Plan {
    /// A plan without windows yet (one without any admits everything).
    #[must_use]
    pub fn new(name: impl Into<Cow<'static, str>>) -> Self {
        Plan {
            name: name.into(),
            windows: Vec::new(),
        }
    }

    /// Adds a window (at most four: more are ignored).
    #[must_use]
    pub fn window(mut self, window: Window) -> Self {
        if self.windows.len() < MAX_WINDOWS {
            self.windows.push(window);
        }
        self
    }

    /// `free`: 60 requests a minute.
    #[must_use]
    pub fn free() -> Self {
        Plan::new("free").window(Window::per_minute(60))
    }

    /// `pro`: 300 requests a minute.
    #[must_use]
    pub fn pro() -> Self {
        Plan::new("pro").window(Window::per_minute(300))
    }

    /// `enterprise`: `per_minute` requests a minute, as agreed.
    #[must_use]
    pub fn enterprise(per_minute: u32) -> Self {
        Plan::new("enterprise").window(Window::per_minute(per_minute))
    }

    /// The plan's name (the IETF fields' policy name).
    #[must_use]
    pub fn name(&self) -> &str {
        &self.name
    }

    /// Its windows, in the order given.
    #[must_use]
    pub fn windows(&self) -> &[Window] {
        &self.windows
    }
}
