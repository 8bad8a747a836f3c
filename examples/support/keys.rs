//! API keys and their plans, shared by the example servers.
//!
//! `REBUFF_API_KEYS` lists more keys beside `demo-key` (a free key), comma
//! separated, each `key` (free) or `key:plan` with plan `free`, `pro` or
//! `enterprise`. The plans: free `REBUFF_RATE_LIMIT` requests a minute
//! (default 60), pro 300, enterprise `REBUFF_ENTERPRISE_RATE` (default
//! 1000). Requests without a known key are limited per client address at
//! the free rate, so that guessing keys is throttled too.
//!
//! `REBUFF_REDIS_URL` (`redis://host:port`) keeps the rate limits and the
//! idempotency keys in Redis, shared by every server started with it;
//! `REBUFF_INSTANCES` says how many there are (each admits its share of the
//! limits while Redis is away). Without it both stay in the process.

use std::collections::HashMap;
use std::sync::Arc;
use std::time::Duration;

use rebuff::ratelimit::{Caller, Plan, RateLimiter, RequestView, Window};
use rebuff::server::idempotency::IdempotencyStore;

/// The plans a key may be on.
pub const PLANS: [&str; 3] = ["free", "pro", "enterprise"];

/// Who may call, on which plan, and how often.
#[derive(Debug, Clone)]
pub struct Config {
    /// Key to plan name.
    pub keys: HashMap<String, String>,
    /// Requests a minute of the free plan.
    pub per_minute: u32,
    /// Requests a minute of the enterprise plan.
    pub enterprise_per_minute: u32,
    /// The Redis the limits and idempotency keys are shared in, if any.
    pub redis_url: Option<String>,
    /// How many servers share that Redis.
    pub instances: u32,
}

impl Config {
    /// `demo-key` on the free plan, at `per_minute`.
    pub fn demo(per_minute: u32) -> Self {
        Config {
            keys: HashMap::from([("demo-key".to_owned(), "free".to_owned())]),
            per_minute,
            enterprise_per_minute: 1000,
            redis_url: None,
            instances: 1,
        }
    }

    /// Shares the limits and idempotency keys in the Redis at `url`.
    pub fn redis(mut self, url: &str) -> Self {
        self.redis_url = Some(url.to_owned());
        self
    }

    /// Adds `key` on `plan`.
    pub fn key(mut self, key: &str, plan: &str) -> Self {
        self.keys.insert(key.to_owned(), plan.to_owned());
        self
    }

    /// From the environment; see the module docs. A malformed setting is
    /// an error that names it.
    pub fn from_env() -> Result<Self, String> {
        Self::from_vars(|name| std::env::var(name).ok())
    }

    /// From settings read by `var` (the environment's, or a test's).
    pub fn from_vars(var: impl Fn(&str) -> Option<String>) -> Result<Self, String> {
        let number = |name: &str, default: u32| match var(name) {
            None => Ok(default),
            Some(value) => match value.trim().parse::<u32>() {
                Ok(n) if n > 0 => Ok(n),
                _ => Err(format!(
                    "{name}={value:?}: expected a number of requests a minute, at least 1"
                )),
            },
        };
        let mut config = Config::demo(number("REBUFF_RATE_LIMIT", 60)?);
        config.enterprise_per_minute = number("REBUFF_ENTERPRISE_RATE", 1000)?;
        if let Some(url) = var("REBUFF_REDIS_URL").filter(|url| !url.trim().is_empty()) {
            let url = url.trim();
            // redis://[user:password@]host[:port][/db], or rediss:// (TLS)
            let host = url
                .strip_prefix("redis://")
                .or_else(|| url.strip_prefix("rediss://"))
                .map(|rest| rest.rsplit('@').next().unwrap_or(rest))
                .map(|rest| rest.split('/').next().unwrap_or(rest));
            if host.is_none_or(|host| host.is_empty() || host.starts_with(':')) {
                return Err(format!(
                    "REBUFF_REDIS_URL={url:?}: expected redis://host:port (rediss:// for TLS)"
                ));
            }
            config = config.redis(url);
        }
        config.instances = match var("REBUFF_INSTANCES") {
            None => 1,
            Some(value) => match value.trim().parse::<u32>() {
                Ok(n) if n > 0 => n,
                _ => {
                    return Err(format!(
                        "REBUFF_INSTANCES={value:?}: expected a number of servers, at least 1"
                    ));
                }
            },
        };
        for entry in var("REBUFF_API_KEYS")
            .unwrap_or_default()
            .split(',')
            .map(str::trim)
            .filter(|e| !e.is_empty())
        {
            let (key, plan) = entry.split_once(':').unwrap_or((entry, "free"));
            let (key, plan) = (key.trim(), plan.trim());
            if key.is_empty() {
                return Err(format!(
                    "REBUFF_API_KEYS: {entry:?} has no key before its plan"
                ));
            }
            if !PLANS.contains(&plan) {
                return Err(format!(
                    "REBUFF_API_KEYS: {entry:?} names plan {plan:?}; the plans are {}",
                    PLANS.join(", ")
                ));
            }
            config = config.key(key, plan);
        }
        Ok(config)
    }

    /// Whether `key` is one of the keys.
    pub fn knows(&self, key: Option<&str>) -> bool {
        key.is_some_and(|key| self.keys.contains_key(key.trim()))
    }

    /// Where idempotency keys are kept (a day): Redis, or this process.
    /// Call inside a Tokio runtime.
    pub fn idempotency(&self) -> Arc<dyn IdempotencyStore> {
        let ttl = Duration::from_secs(24 * 3600);
        if let Some(url) = &self.redis_url {
            match rebuff::server::idempotency::RedisStore::open(url, ttl) {
                Ok(store) => return Arc::new(store),
                Err(err) => eprintln!("{url}: {err}; idempotency keys stay in this process"),
            }
        }
        Arc::new(rebuff::server::idempotency::MemoryStore::new(ttl))
    }

    /// The rate limiter of these keys and plans; `key_of` reads a request's
    /// key. Call inside a Tokio runtime.
    pub fn limiter(&self, key_of: for<'a> fn(&RequestView<'a>) -> Option<&'a str>) -> RateLimiter {
        let keys = self.keys.clone();
        let mut limiter = RateLimiter::new();
        if let Some(url) = &self.redis_url {
            match rebuff::ratelimit::RedisStore::open(url) {
                Ok(store) => limiter = limiter.store(store.instances(self.instances)),
                Err(err) => eprintln!("{url}: {err}; rate limits stay in this process"),
            }
        }
        limiter
            .plan(Plan::new("free").window(Window::per_minute(self.per_minute)))
            .plan(Plan::pro())
            .plan(Plan::enterprise(self.enterprise_per_minute))
            .anonymous(Plan::new("anonymous").window(Window::per_minute(self.per_minute)))
            .resolve(move |request| {
                let key = key_of(request)?.trim();
                let plan = keys.get(key)?;
                Some(Caller::new(key, plan.clone()))
            })
    }
}
