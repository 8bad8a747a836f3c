//! [`Breakers`]: one breaker per key, made on first use.

use core::fmt;
use std::sync::OnceLock;

use super::Breaker;

/// One breaker per key (per host, for a client talking to many), made on
/// first use from a template, so one failing host does not stop calls to
/// the others and one host's 429 pauses only its own callers.
///
/// Each breaker lives as long as the program (they are handed out as
/// `&'static` references, for `#[retry(breaker = ...)]`), so make the set a
/// `static` too, not one per client, and key it by something bounded, such
/// as the host. Past 1024 keys, the rest share one breaker.
///
/// ```
/// use std::time::Duration;
/// use rebuff::breaker::{Breaker, Breakers};
///
/// static HOSTS: Breakers = Breakers::new(Breaker::new().failures(3).cooldown(Duration::from_secs(30)));
///
/// let api = HOSTS.get("api.example.com");
/// let permit = api.allow().unwrap();
/// api.record_success(permit);
/// assert!(std::ptr::eq(api, HOSTS.get("api.example.com")));
/// ```
pub struct Breakers {
    template: Breaker,
    map: std::sync::RwLock<std::collections::BTreeMap<Box<str>, &'static Breaker>>,
    overflow: OnceLock<&'static Breaker>,
}

/// The most keys a [`Breakers`] gives breakers of their own.
const MAX_KEYS: usize = 1024;

impl fmt::Debug for Breakers {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let keys = self.map.read().map_or(0, |map| map.len());
        f.debug_struct("Breakers")
            .field("keys", &keys)
            .finish_non_exhaustive()
    }
}

impl Breakers {
    /// A set whose breakers are configured like `template`.
    #[must_use]
    pub const fn new(template: Breaker) -> Self {
        Breakers {
            template,
            map: std::sync::RwLock::new(std::collections::BTreeMap::new()),
            overflow: OnceLock::new(),
        }
    }

    /// The breaker of `key`, made on first use.
    pub fn get(&self, key: &str) -> &'static Breaker {
        if let Some(breaker) = self
            .map
            .read()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
            .get(key)
        {
            return breaker;
        }
        let mut map = self
            .map
            .write()
            .unwrap_or_else(std::sync::PoisonError::into_inner);
        if let Some(breaker) = map.get(key) {
            return breaker;
        }
        if map.len() >= MAX_KEYS {
            return self
                .overflow
                .get_or_init(|| Box::leak(Box::new(self.template.fresh())));
        }
        let breaker: &'static Breaker = Box::leak(Box::new(self.template.fresh()));
        map.insert(key.into(), breaker);
        breaker
    }
}

impl Breaker {
    /// A closed breaker with this one's configuration.
    #[must_use]
    pub fn fresh(&self) -> Breaker {
        Breaker {
            failure_threshold: self.failure_threshold,
            rate_permille: self.rate_permille,
            min_calls: self.min_calls,
            window_ms: self.window_ms,
            cooldown_ms: self.cooldown_ms,
            max_probes: self.max_probes,
            probe_timeout_ms: self.probe_timeout_ms,
            ..Breaker::new()
        }
    }
}
