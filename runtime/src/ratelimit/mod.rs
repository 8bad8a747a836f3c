//! Per-plan rate limits: the 429s API guides describe, decided for you.
//!
//! A [`RateLimiter`] knows the [`Plan`]s (free 60 requests a minute, pro
//! 300, enterprise what was agreed; any plan may have several windows, a
//! burst, a minute, a day, decided together) and how to tell who is calling
//! (a resolver from the request to a [`Caller`]: an API key or principal
//! and its plan). Traffic the resolver does not recognise is limited per
//! client IP address, under a plan of its own, so that guessing keys is
//! throttled too. Callers are independent of each other.
//!
//! Given to the [`Surface`](crate::server::Surface) of a server, it adds to
//! every response (success or error) the rate-limit headers, and answers a
//! caller over its limit with a 429 in the API's own envelope:
//!
//! - `X-RateLimit-Limit` (the window's quota: 60 for 60 a minute),
//!   `X-RateLimit-Remaining`, `X-RateLimit-Reset` (epoch seconds);
//! - the IETF fields `RateLimit-Policy: "free";q=60;w=60` and
//!   `RateLimit: "free";r=42;t=17` (a plan of several windows names each
//!   after the plan and its period, `"metered-second"`, `"metered-day"`,
//!   `"metered-1500ms"`, a second window of one period `"metered-second-2"`;
//!   `w` is the period in whole seconds, rounded up);
//! - on a 429, `Retry-After`, never earlier than the reset announced.
//!
//! A request is decided once per limiter: mounted twice on a route (its
//! layer inside a surface that has it, a surface nested in another), the
//! outermost decides and sets the headers, and the caller is charged one
//! request. Two limiters on different stores both decide.
//!
//! The reset (`X-RateLimit-Reset`, and `t` in `RateLimit`) is when the
//! window is whole again while requests remain, and once none remain,
//! when the next one is admitted (the limits refill steadily, one
//! request's worth at a time, rather than all at once at a window's end).
//! That is also what a 429 then says, so a client that waits for the reset
//! when `Remaining` is 0 goes back neither too early nor much too late.
//!
//! The refusal is [`Rejection::RateLimited`](crate::Rejection::RateLimited)
//! (`rate_limit_exceeded`, with `retry_after` and `limit` such as
//! `"60/minute"` in its details), rendered in the style of the API's error
//! type, or the API's own variant marked `#[api(rejection = RateLimited)]`
//! with its `retry_after`, `limit` and `rate_limit` fields filled in.
//!
//! **Escalation**: a caller that keeps hitting its limit ([`RateLimiter::escalate`]:
//! N refusals within a time) is blocked for a while, and its refusals are
//! [`Rejection::Blocked`](crate::Rejection::Blocked)
//! (`abnormal_usage_detected`).
//!
//! **Client addresses** come from the socket, or from `X-Forwarded-For`
//! (or `Forwarded`, [`RateLimiter::proxy_header`]) only when the socket's
//! peer is a proxy declared trusted ([`RateLimiter::trust_proxies`]); IPv6
//! addresses are grouped by /64 ([`RateLimiter::ipv6_prefix`]). On axum the
//! socket's address is known only when the server is run with it
//! (`axum::serve(listener, app.into_make_service_with_connect_info::<SocketAddr>())`);
//! without it every caller the resolver does not name shares one limit, and
//! the limiter says so once, in a warning.
//!
//! The resolver names only callers the API knows: a key it does not know
//! goes by address, under the anonymous plan, so that sending a fresh made-up
//! key with every request buys no fresh quota.
//!
//! ```
//! use std::collections::HashMap;
//! use std::time::Duration;
//! use rebuff::ratelimit::{Caller, Plan, RateLimiter};
//!
//! let plans: HashMap<String, &'static str> =
//!     HashMap::from([("key_live_1".into(), "pro"), ("key_live_2".into(), "free")]);
//! let limiter = RateLimiter::new()
//!     .plan(Plan::free())
//!     .plan(Plan::pro())
//!     .anonymous(Plan::new("anonymous").window(rebuff::ratelimit::Window::per_minute(10)))
//!     .resolve(move |request| {
//!         let key = request.bearer()?;
//!         Some(Caller::new(key, *plans.get(key)?))
//!     })
//!     .escalate(20, Duration::from_secs(60), Duration::from_secs(600));
//! # let _ = limiter;
//! ```
//!
//! Limits live in a [`RateLimitStore`]: in this process by default
//! ([`MemoryStore`], bounded in memory), or in a store a fleet of servers
//! shares. **Shadow mode** ([`RateLimiter::shadow`]) decides and logs but
//! never refuses, to roll limits out safely. Every decision is a `tracing`
//! event (target `rebuff::ratelimit`) and counted per plan
//! ([`RateLimiter::stats`]).

mod caller;
#[cfg(any(feature = "axum", feature = "actix"))]
mod decided;
#[cfg(feature = "redis")]
mod fleet;
mod gcra;
mod headers;
mod memory;
mod plan;
mod store;
mod verdict;

use core::fmt;
use core::time::Duration;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

pub use crate::view::RequestView;
pub use caller::{BadNetwork, Caller, Network, ProxyHeader, client_ip};
#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use fleet::RedisStore;
pub use gcra::{CallerState, Decision, Escalation, MAX_WINDOWS, Outcome, WindowState, decide};
pub use headers::{RATELIMIT, RATELIMIT_POLICY, X_RATELIMIT_SCOPE};
pub use memory::{DEFAULT_CAPACITY, MemoryStore};
pub use plan::{Plan, Window};
pub use store::{
    Ask, CallerId, Clock, Deciding, Key, RateLimitStore, StoreError, SystemClock, TestClock,
};
pub use verdict::Verdict;

#[cfg(any(feature = "axum", feature = "actix"))]
pub(crate) use decided::Decided;
use headers::{Families, PlanHeaders};

/// Maps a request to its caller; `None` for traffic it does not recognise
/// (limited per client address).
type Resolver = dyn for<'a> Fn(&RequestView<'a>) -> Option<Caller<'a>> + Send + Sync;

/// The rate limits of a server: plans, who is calling, what to do about
/// callers over their limit. See the [module docs](self).
///
/// # Default
///
/// The `free` plan (60 a minute) and an `anonymous` one like it, every
/// caller anonymous (limited per client address) until a resolver says
/// otherwise, no proxy trusted, IPv6 by /64, no escalation, both header
/// families, the in-process [`MemoryStore`].
#[derive(Clone)]
pub struct RateLimiter {
    plans: Vec<PlanEntry>,
    anonymous: PlanEntry,
    resolver: Option<Arc<Resolver>>,
    trusted: Vec<Network>,
    proxy_header: ProxyHeader,
    ipv6_prefix: u8,
    escalation: Option<Escalation>,
    families: Families,
    shadow: bool,
    fail_closed: Option<Arc<Predicate>>,
    store: Arc<dyn RateLimitStore>,
}

/// Which requests fail closed.
type Predicate = dyn for<'a> Fn(&RequestView<'a>) -> bool + Send + Sync;

#[derive(Clone)]
struct PlanEntry {
    plan: Plan,
    headers: PlanHeaders,
    stats: Arc<Counters>,
}

impl PlanEntry {
    fn new(plan: Plan) -> Self {
        PlanEntry {
            headers: PlanHeaders::new(&plan),
            plan,
            stats: Arc::default(),
        }
    }
}

#[derive(Debug, Default)]
struct Counters {
    admitted: AtomicU64,
    refused: AtomicU64,
    blocked: AtomicU64,
    degraded: AtomicU64,
}

/// What a plan's callers have been told since the limiter started.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct PlanStats {
    /// Requests admitted.
    pub admitted: u64,
    /// Requests refused over the limit.
    pub refused: u64,
    /// Requests refused because the caller was blocked.
    pub blocked: u64,
    /// Requests decided by this instance alone because the shared store
    /// could not be reached: counted in the three above too, but on a
    /// route that fails closed, whose 503 is counted here only. A request
    /// a store failed outright (an error, not a decision) is logged and
    /// counted nowhere.
    pub degraded: u64,
}

impl fmt::Debug for RateLimiter {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RateLimiter")
            .field(
                "plans",
                &self.plans.iter().map(|p| &p.plan).collect::<Vec<_>>(),
            )
            .field("anonymous", &self.anonymous.plan)
            .field("trusted", &self.trusted)
            .field("proxy_header", &self.proxy_header)
            .field("escalation", &self.escalation)
            .field("shadow", &self.shadow)
            .finish_non_exhaustive()
    }
}

impl Default for RateLimiter {
    fn default() -> Self {
        Self::new()
    }
}

impl RateLimiter {
    /// The limiter with its defaults (see [`RateLimiter`]).
    #[must_use]
    pub fn new() -> Self {
        RateLimiter {
            plans: vec![PlanEntry::new(Plan::free())],
            anonymous: PlanEntry::new(Plan::new("anonymous").window(Window::per_minute(60))),
            resolver: None,
            trusted: Vec::new(),
            proxy_header: ProxyHeader::XForwardedFor,
            ipv6_prefix: 64,
            escalation: None,
            families: Families {
                legacy: true,
                ietf: true,
            },
            shadow: false,
            fail_closed: None,
            store: Arc::new(MemoryStore::new()),
        }
    }

    /// Adds (or, by name, replaces) a plan callers may be on.
    #[must_use]
    pub fn plan(mut self, plan: Plan) -> Self {
        match self.plans.iter_mut().find(|p| p.plan.name() == plan.name()) {
            Some(entry) => *entry = PlanEntry::new(plan),
            None => self.plans.push(PlanEntry::new(plan)),
        }
        self
    }

    /// The plan of traffic the resolver does not recognise, limited per
    /// client address.
    #[must_use]
    pub fn anonymous(mut self, plan: Plan) -> Self {
        self.anonymous = PlanEntry::new(plan);
        self
    }

    /// Tells who is calling: the key (or principal) and plan of a request,
    /// or `None` to limit it by client address under the anonymous plan. A
    /// plan name no plan has counts as anonymous too.
    #[must_use]
    pub fn resolve(
        mut self,
        resolver: impl for<'a> Fn(&RequestView<'a>) -> Option<Caller<'a>> + Send + Sync + 'static,
    ) -> Self {
        self.resolver = Some(Arc::new(resolver));
        self
    }

    /// Proxies whose [`proxy_header`](Self::proxy_header)
    /// (`X-Forwarded-For` by default) is believed (`"10.0.0.0/8"`,
    /// `"192.0.2.7"`); without any, the client address is the socket's
    /// peer. See [`client_ip`] for how the hops are read.
    ///
    /// # Errors
    ///
    /// When one of `networks` is not an address or network.
    pub fn trust_proxies<'n>(
        mut self,
        networks: impl IntoIterator<Item = &'n str>,
    ) -> Result<Self, BadNetwork> {
        for network in networks {
            self.trusted.push(network.parse()?);
        }
        Ok(self)
    }

    /// The header the trusted proxies write the client's address into
    /// (default [`ProxyHeader::XForwardedFor`]); the other one is never
    /// read, since a client can send it through a proxy that does not
    /// write it.
    #[must_use]
    pub fn proxy_header(mut self, header: ProxyHeader) -> Self {
        self.proxy_header = header;
        self
    }

    /// How many leading bits of an IPv6 address make one client (default
    /// 64).
    #[must_use]
    pub fn ipv6_prefix(mut self, bits: u8) -> Self {
        self.ipv6_prefix = bits.min(128);
        self
    }

    /// Blocks a caller for `block` once it has been refused `refusals`
    /// times within `within` (a `refusals` of 0 counts as 1; with a
    /// `within` of zero only refusals at one and the same instant add up).
    /// The time is counted from the first refusal of a count: a refusal
    /// more than `within` after it starts a new count, so refusals that
    /// straddle two counts (up to `2 * refusals - 2` of them in a short
    /// run) may not block. One number and one time per caller keep the
    /// store's state small and its decision one step.
    #[must_use]
    pub fn escalate(mut self, refusals: u32, within: Duration, block: Duration) -> Self {
        // At most 2^52 us (142 years): times stay exact as the doubles of
        // the Redis script, and adding them to a clock never overflows.
        let micros = |d: Duration| {
            u64::try_from(d.as_micros())
                .unwrap_or(u64::MAX)
                .min(1 << 52)
        };
        self.escalation = Some(Escalation {
            refusals: refusals.max(1),
            within: micros(within),
            block: micros(block),
        });
        self
    }

    /// Whether to send `X-RateLimit-Limit`, `-Remaining` and `-Reset`
    /// (default: yes).
    #[must_use]
    pub fn legacy_headers(mut self, on: bool) -> Self {
        self.families.legacy = on;
        self
    }

    /// Whether to send the IETF `RateLimit-Policy` and `RateLimit` fields
    /// (default: yes).
    #[must_use]
    pub fn ietf_headers(mut self, on: bool) -> Self {
        self.families.ietf = on;
        self
    }

    /// Decides and logs, but never refuses (default: off): for rolling
    /// limits out.
    #[must_use]
    pub fn shadow(mut self, on: bool) -> Self {
        self.shadow = on;
        self
    }

    /// The requests that are refused (a 503,
    /// [`Rejection::Unavailable`](crate::Rejection::Unavailable), in the
    /// API's envelope) rather than admitted when the limits cannot be
    /// decided as configured: the store failed, or a fleet's shared store
    /// is unreachable and the instance decides alone. By default every
    /// request is admitted then (by the in-process fallback of a fleet's
    /// store, at the instance's share of the limits), and logged.
    ///
    /// ```
    /// use rebuff::ratelimit::RateLimiter;
    ///
    /// // Payments are refused rather than limited loosely.
    /// let limiter = RateLimiter::new().fail_closed(|request| request.path().starts_with("/v1/payments"));
    /// # let _ = limiter;
    /// ```
    #[must_use]
    pub fn fail_closed(
        mut self,
        requests: impl for<'a> Fn(&RequestView<'a>) -> bool + Send + Sync + 'static,
    ) -> Self {
        self.fail_closed = Some(Arc::new(requests));
        self
    }

    /// Keeps limits in `store` instead of this process's memory.
    #[must_use]
    pub fn store(mut self, store: impl RateLimitStore) -> Self {
        self.store = Arc::new(store);
        self
    }

    /// The rejections the limiter can answer with (none in shadow mode),
    /// and which header families it sends (`X-RateLimit-*`, IETF), for an
    /// API's document.
    #[cfg(any(feature = "axum", feature = "actix"))]
    pub(crate) fn answers(&self) -> (Vec<crate::RejectionKind>, Families) {
        use crate::RejectionKind::{Blocked, RateLimited, Unavailable};
        let mut kinds = Vec::new();
        if !self.shadow {
            kinds.push(RateLimited);
            kinds.extend(self.escalation.map(|_| Blocked));
            kinds.extend(self.fail_closed.as_ref().map(|_| Unavailable));
        }
        (kinds, self.families)
    }

    /// What each plan's callers have been told, by plan name (the
    /// anonymous plan last).
    #[must_use]
    pub fn stats(&self) -> Vec<(String, PlanStats)> {
        self.plans
            .iter()
            .chain(core::iter::once(&self.anonymous))
            .map(|entry| {
                let c = &entry.stats;
                (
                    entry.plan.name().to_owned(),
                    PlanStats {
                        admitted: c.admitted.load(Ordering::Relaxed),
                        refused: c.refused.load(Ordering::Relaxed),
                        blocked: c.blocked.load(Ordering::Relaxed),
                        degraded: c.degraded.load(Ordering::Relaxed),
                    },
                )
            })
            .collect()
    }

    /// Decides one request, for a server that is neither axum nor actix-web
    /// (their [`Surface`](crate::server::Surface) and layers do this
    /// themselves): answer a refused request with its
    /// [`take_refusal`](Verdict::take_refusal), and give every response
    /// the [headers](Verdict::write_headers).
    ///
    /// ```
    /// # #[tokio::main(flavor = "current_thread")] async fn main() {
    /// use rebuff::ratelimit::{Plan, RateLimiter, RequestView, Window};
    ///
    /// let limiter = RateLimiter::new().anonymous(Plan::new("anonymous").window(Window::per_minute(1)));
    /// let headers = http::HeaderMap::new();
    /// let peer = "192.0.2.7".parse().ok();
    /// let request = RequestView::new("GET", "/v1/leads", &headers, peer);
    ///
    /// let first = limiter.decide_request(&request).await;
    /// assert!(!first.is_refused());
    /// let mut second = limiter.decide_request(&request).await;
    /// let refusal = second.take_refusal().expect("one a minute");
    /// assert_eq!(rebuff::ApiError::code(&refusal), "rate_limit_exceeded");
    ///
    /// let mut response_headers = http::HeaderMap::new();
    /// second.write_headers(&limiter, &mut response_headers);
    /// assert_eq!(response_headers["x-ratelimit-limit"], "1");
    /// assert!(response_headers.contains_key("retry-after"));
    /// # }
    /// ```
    pub async fn decide_request(&self, request: &RequestView<'_>) -> Verdict {
        match self.check(request) {
            Check::Now(verdict) => verdict,
            Check::Later(pending) => self.verdict(pending.route, pending.deciding.await),
        }
    }

    /// Checks one request: decided now (an in-process store), or on its way
    /// (a remote one).
    pub(crate) fn check(&self, view: &RequestView<'_>) -> Check {
        let resolved = self.resolver.as_ref().and_then(|resolve| resolve(view));
        // A caller on a plan the limiter has; anything else by address.
        let known = resolved.as_ref().and_then(|caller| {
            let index = self
                .plans
                .iter()
                .position(|p| p.plan.name() == caller.plan())?;
            Some((index, caller))
        });
        let (plan, caller) = match known {
            Some((index, caller)) => (index, CallerId::Key(caller.key())),
            None => {
                let ip = client_ip(view, &self.trusted, self.proxy_header).unwrap_or_else(|| {
                    if view.peer().is_none() {
                        caller::warn_unknown_peer();
                    }
                    caller::UNKNOWN_PEER
                });
                (
                    self.plans.len(),
                    CallerId::from_ip(caller::ip_key(ip, self.ipv6_prefix)),
                )
            }
        };
        let entry = self.entry(plan);
        let ask = Ask {
            key: Key {
                plan: entry.plan.name(),
                caller,
            },
            windows: entry.plan.windows(),
            escalation: self.escalation,
        };
        let route = Route {
            plan,
            fail_closed: self.fail_closed.as_ref().is_some_and(|closed| closed(view)),
        };
        // A plan without windows admits everything: no store is asked, so
        // none is written to or waited for, and an unreachable one refuses
        // none of its callers on a route that fails closed.
        if ask.windows.is_empty() {
            let unlimited = gcra::decide(&mut gcra::CallerState::default(), &[], None, 0);
            return Check::Now(self.verdict(route, Ok(unlimited)));
        }
        match self.store.decide_now(&ask) {
            Some(decided) => Check::Now(self.verdict(route, decided)),
            None => Check::Later(Pending {
                deciding: self.store.decide(&ask),
                route,
            }),
        }
    }

    /// A plan by index: the limiter's plans, then the anonymous one.
    fn entry(&self, index: usize) -> &PlanEntry {
        self.plans.get(index).unwrap_or(&self.anonymous)
    }
}

/// A request's check.
pub(crate) enum Check {
    Now(Verdict),
    Later(Pending),
}

/// A decision a remote store is still making.
pub(crate) struct Pending {
    pub(crate) deciding: Deciding,
    pub(crate) route: Route,
}

/// Where a request's decision goes: its plan (by index), and whether its
/// route fails closed.
#[derive(Debug, Clone, Copy)]
pub(crate) struct Route {
    plan: usize,
    fail_closed: bool,
}
