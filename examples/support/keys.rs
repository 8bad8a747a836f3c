//! API keys and per-key rate limits shared by the example servers: the
//! `demo-key` plus `REBUFF_API_KEYS`, and `REBUFF_RATE_LIMIT` requests a
//! minute per key (default 60, a common free-plan limit), on governor's keyed
//! limiter.

use std::collections::HashSet;
use std::num::NonZeroU32;
use std::time::{SystemTime, UNIX_EPOCH};

use governor::clock::{Clock, DefaultClock};
use governor::{DefaultKeyedRateLimiter, Quota, RateLimiter};
use rebuff::RateLimit;

/// Who may call, and how often.
#[derive(Debug, Clone)]
pub struct Config {
    pub keys: HashSet<String>,
    pub per_minute: NonZeroU32,
}

impl Config {
    /// From the environment; see the module docs.
    pub fn from_env() -> Self {
        let mut keys: HashSet<String> = HashSet::from(["demo-key".to_owned()]);
        if let Ok(more) = std::env::var("REBUFF_API_KEYS") {
            keys.extend(
                more.split(',')
                    .map(str::trim)
                    .filter(|k| !k.is_empty())
                    .map(str::to_owned),
            );
        }
        let per_minute = std::env::var("REBUFF_RATE_LIMIT")
            .ok()
            .and_then(|v| v.trim().parse().ok())
            .and_then(NonZeroU32::new)
            .unwrap_or(NonZeroU32::new(60).expect("60 is not zero"));
        Config { keys, per_minute }
    }
}

/// A key was refused.
pub enum Refusal {
    /// Missing or unknown.
    Unknown,
    /// Over its rate: retry after this many seconds; the limit state.
    Limited(u64, RateLimit),
}

/// The keys and their limiter.
pub struct Keys {
    config: Config,
    limiter: DefaultKeyedRateLimiter<String>,
}

impl Keys {
    pub fn new(config: Config) -> Self {
        let limiter = RateLimiter::keyed(Quota::per_minute(config.per_minute));
        Keys { config, limiter }
    }

    pub fn per_minute(&self) -> u32 {
        self.config.per_minute.get()
    }

    /// Admits a request made with `key`, or says why not.
    pub fn admit(&self, key: Option<&str>) -> Result<(), Refusal> {
        let key = key
            .map(str::trim)
            .filter(|key| self.config.keys.contains(*key))
            .ok_or(Refusal::Unknown)?;
        self.limiter
            .check_key(&key.to_owned())
            .map_err(|not_until| {
                let wait = not_until.wait_time_from(DefaultClock::default().now());
                let retry_after = wait.as_secs() + u64::from(wait.subsec_nanos() > 0);
                let now = SystemTime::now()
                    .duration_since(UNIX_EPOCH)
                    .map_or(0, |d| d.as_secs());
                let limits = RateLimit {
                    limit: self.per_minute().into(),
                    remaining: 0,
                    reset: now + retry_after,
                };
                Refusal::Limited(retry_after, limits)
            })
    }
}
