//! [`RedisStore`]: limits a fleet of servers shares, decided in Redis.

mod local;

use core::fmt;
use core::time::Duration;
use std::sync::Arc;

use redis::aio::{ConnectionLike, ConnectionManager};
use sha2::{Digest, Sha256};

use super::gcra::{Decision, Escalation, Outcome, WindowState};
use super::plan::Window;
use super::store::{Ask, CallerId, Clock, Deciding, RateLimitStore, StoreError, SystemClock};
use super::{MAX_WINDOWS, MemoryStore};
use crate::breaker::{Breaker, State};
use crate::redis_link::{Held, Link, default_breaker};

/// The decision, in Lua: the in-process store's GCRA and escalation, on
/// Redis's clock, in one atomic step.
const SCRIPT: &str = include_str!("decide.lua");

/// Limits kept in Redis and shared by every server that uses the same
/// Redis: each request is one atomic decision (one `EVALSHA` of a Lua
/// script, reloaded if Redis lost it) across every window of the caller's
/// plan and the escalation's block, with the time taken from Redis
/// (`TIME`), so the servers' clocks do not matter (Redis's own set back, a
/// caller's state ahead of it is read as a spent window and at most one
/// block: never a refusal as long as the step). A caller's state is one
/// small string key (`GET` and `SET` inside the script), hash-tagged so
/// that Redis Cluster serves it, named by a digest of the caller (no API
/// key is written as it is), expiring when it no longer matters; a refusal
/// writes nothing (unless the escalation counts it). The script needs only
/// what every Redis since 5 has (`struct`, `TIME`), no module.
///
/// **When Redis is unreachable, or slow**: each call has a short timeout
/// ([`timeout`](Self::timeout), 100 ms by default), and failures go
/// through a [`Breaker`] (open after 3 in a row, a probe a second later).
/// Meanwhile each server decides alone, in process, at the plan's limits
/// divided by [`instances`](Self::instances), marks its responses with
/// `X-RateLimit-Scope: instance`, counts the requests
/// ([`PlanStats::degraded`](super::PlanStats::degraded)) and logs. Routes
/// that must not run loosely limited refuse instead, with a 503
/// ([`RateLimiter::fail_closed`](super::RateLimiter::fail_closed)). Once
/// Redis answers again, the fleet shares again.
///
/// **Fewer round trips** ([`leases`](Self::leases), off by default): a
/// caller under half its quota is granted several requests at once,
/// charged to it in Redis, and the server admits the rest of them without
/// asking; a refused caller is refused by the server until the time Redis
/// gave. Leased requests are charged when they are granted, so over time
/// the fleet admits no more than the limits. A leased request spent later
/// counts from its grant, though: by then the charge has begun to refill,
/// so within one span a caller can be admitted up to `lease - 1` requests
/// more than the limit allows at that moment. A lease `ttl` near the
/// period divided by the quota (1 s for 60 a minute) keeps that small. A
/// lease not used up before it runs out is lost, so the fleet may also
/// admit up to `lease - 1` fewer requests per server holding one, each
/// time one runs out.
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), rebuff::StoreError> {
/// use std::time::Duration;
/// use rebuff::ratelimit::{RateLimiter, RedisStore};
///
/// // Three servers behind a load balancer: a third of each limit each
/// // while Redis is away.
/// let store = RedisStore::open("redis://127.0.0.1:6379")?
///     .instances(3)
///     .timeout(Duration::from_millis(50));
/// let limiter = RateLimiter::new().store(store);
/// # let _ = limiter;
/// # Ok(()) }
/// ```
pub struct RedisStore<C = ConnectionManager> {
    connection: Arc<Link<C>>,
    prefix: String,
    timeout: Duration,
    instances: u32,
    shared: Arc<Shared>,
}

/// What every decision of a store uses.
struct Shared {
    script: redis::Script,
    breaker: Arc<Breaker>,
    fallback: MemoryStore,
    local: Option<local::Local>,
    clock: SystemClock,
}

impl<C> fmt::Debug for RedisStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("timeout", &self.timeout)
            .field("instances", &self.instances)
            .field("breaker", &self.shared.breaker.state())
            .field("lease", &self.shared.local.as_ref().map(|l| l.lease))
            .finish_non_exhaustive()
    }
}

impl RedisStore<ConnectionManager> {
    /// A store on the Redis at `url` (`redis://host:port/db`, or
    /// `rediss://` over TLS with the `redis-tls` feature), through
    /// redis-rs's connection manager (which reconnects by itself, and
    /// which the store opens afresh when Redis answers as a read-only
    /// replica after a failover). It connects on first use, so a server
    /// starts while Redis is away (and decides alone until it is back).
    ///
    /// Over TLS (1.2 or 1.3) the server's certificate is always checked,
    /// against the system's root certificates (or those the file
    /// `SSL_CERT_FILE` names, or the directories of `SSL_CERT_DIR`); a URL
    /// asking for `#insecure` is refused. For a server whose authority is a
    /// private one, either name it in `SSL_CERT_FILE`, or build the
    /// connection with redis-rs (`redis::Client::build_with_tls`, its
    /// `root_cert` that authority) and give it to
    /// [`with_connection`](Self::with_connection). rustls runs on the
    /// process's default crypto provider; when the application installed
    /// none by the time the first `rediss://` store opens, aws-lc-rs is
    /// installed as that default (install yours first to choose another).
    ///
    /// # Errors
    ///
    /// When `url` is not a Redis URL, asks for TLS (`rediss://`) without
    /// the `redis-tls` feature, or asks for TLS without checking the
    /// server's certificate (`#insecure`); and outside a tokio runtime (the
    /// connection runs on its tasks: open the store in async code, or
    /// within `Runtime::enter`).
    pub fn open(url: &str) -> Result<Self, StoreError> {
        Ok(RedisStore::on(Link::open(url)?))
    }
}

impl<C> RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// A store on a connection the application has already (a
    /// `ConnectionManager`, a `MultiplexedConnection`, a cluster
    /// connection): cloned for each call, and kept as it is when Redis
    /// answers `READONLY` (reconnecting it is the application's part).
    pub fn with_connection(connection: C) -> Self {
        RedisStore::on(Link::given(connection))
    }

    fn on(connection: Link<C>) -> Self {
        RedisStore {
            connection: Arc::new(connection),
            prefix: "rebuff:rl:".to_owned(),
            timeout: Duration::from_millis(100),
            instances: 1,
            shared: Arc::new(Shared {
                script: redis::Script::new(SCRIPT),
                breaker: Arc::new(default_breaker()),
                fallback: MemoryStore::new(),
                local: None,
                clock: SystemClock,
            }),
        }
    }

    /// How long a call to Redis may take before it counts as failed and
    /// the request is decided here (default 100 ms; at least 1 ms, since
    /// no answer is ready without a round trip).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How many servers share the limits: while Redis is unreachable, each
    /// admits its share of them (default 1).
    #[must_use]
    pub fn instances(mut self, instances: u32) -> Self {
        self.instances = instances.max(1);
        self
    }

    /// The prefix of the keys (default `rebuff:rl:`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    /// The breaker in front of Redis (default: open after 3 failures in a
    /// row, a probe a second later).
    #[must_use]
    pub fn breaker(mut self, breaker: Breaker) -> Self {
        self.shared_mut(|shared| shared.breaker = Arc::new(breaker));
        self
    }

    /// Grants a caller under half its quota up to `requests` requests at a
    /// time, admitted here without asking Redis for `ttl` (and refuses a
    /// refused caller here until the time Redis gave). `requests` of 1 (the
    /// default) turns leases off, and so does a `ttl` of zero (a lease
    /// would be over before its next request): every request is one call
    /// to Redis. A
    /// short `ttl` (near the period divided by the quota) keeps a lease's
    /// requests close to when they were charged; see the type's docs.
    #[must_use]
    pub fn leases(mut self, requests: u32, ttl: Duration) -> Self {
        let micros = u64::try_from(ttl.as_micros())
            .unwrap_or(u64::MAX)
            .min(1 << 52);
        self.shared_mut(|shared| {
            shared.local =
                (requests > 1 && micros > 0).then(|| local::Local::new(requests, micros, 100_000));
        });
        self
    }

    /// The breaker's state: closed while Redis answers.
    #[must_use]
    pub fn state(&self) -> State {
        self.shared.breaker.state()
    }

    /// Changes the store's settings; one already in use (a decision in
    /// flight) starts over with fresh state.
    fn shared_mut(&mut self, change: impl FnOnce(&mut Shared)) {
        if Arc::get_mut(&mut self.shared).is_none() {
            self.shared = Arc::new(Shared {
                script: redis::Script::new(SCRIPT),
                breaker: Arc::new(self.shared.breaker.fresh()),
                fallback: MemoryStore::new(),
                local: None,
                clock: SystemClock,
            });
        }
        if let Some(shared) = Arc::get_mut(&mut self.shared) {
            change(shared);
        }
    }

    /// The Redis key of a caller: its plan and a digest of who it is (no
    /// API key is written to Redis as it is), hash-tagged.
    fn key(&self, ask: &Ask<'_>) -> String {
        use fmt::Write as _;
        let mut hasher = Sha256::new();
        match ask.key.caller {
            CallerId::Key(key) => {
                hasher.update(b"key:");
                hasher.update(key.as_bytes());
            }
            CallerId::Ip(ip) => {
                hasher.update(b"ip:");
                hasher.update(ip.to_string().as_bytes());
            }
        }
        let digest = hasher.finalize();
        let mut key = String::with_capacity(self.prefix.len() + ask.key.plan.len() + 36);
        key.push_str(&self.prefix);
        key.push('{');
        key.push_str(ask.key.plan);
        key.push(':');
        for byte in &digest[..16] {
            let _ = write!(key, "{byte:02x}");
        }
        key.push('}');
        key
    }
}

impl Shared {
    /// The decision of this instance alone: its share of the limits, in
    /// process.
    fn alone(&self, ask: &Ask<'_>, instances: u32) -> Decision {
        let mut windows = [Window::per_second(1); MAX_WINDOWS];
        let len = ask.windows.len().min(MAX_WINDOWS);
        for (share, window) in windows.iter_mut().zip(ask.windows) {
            *share = Window::new((window.quota() / instances).max(1), window.period());
        }
        let shared = Ask {
            windows: &windows[..len],
            ..*ask
        };
        let mut decision = self.fallback.decide_here(&shared);
        decision.degraded = true;
        decision
    }
}

impl<C> RateLimitStore for RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    fn decide_now(&self, ask: &Ask<'_>) -> Option<Result<Decision, StoreError>> {
        let shared = &self.shared;
        if let Some(local) = &shared.local {
            let hash = local.hash(&ask.key);
            if let Some(decision) =
                local.answer(hash, ask.escalation.as_ref(), shared.clock.now_micros())
            {
                return Some(Ok(decision));
            }
        }
        // While the breaker is open, decided here at once.
        match shared.breaker.state() {
            State::Closed => None,
            _ => match shared.breaker.allow() {
                Ok(permit) => {
                    shared.breaker.release(permit);
                    None
                }
                Err(_) => Some(Ok(shared.alone(ask, self.instances))),
            },
        }
    }

    fn decide(&self, ask: &Ask<'_>) -> Deciding {
        let shared = Arc::clone(&self.shared);
        let Ok(permit) = shared.breaker.allow() else {
            return Box::pin(core::future::ready(Ok(shared.alone(ask, self.instances))));
        };
        // Given back however the call ends: a half-open probe dropped
        // with its request must not keep the breaker from closing.
        let mut permit = Held::new(Arc::clone(&shared.breaker), permit);
        let key = self.key(ask);
        let (hash, lease, extra) = match &shared.local {
            Some(local) => {
                let hash = local.hash(&ask.key);
                (
                    hash,
                    local.ask_for(hash),
                    local.take_refusals(
                        hash,
                        ask.escalation.map(|e| e.within),
                        shared.clock.now_micros(),
                    ),
                )
            }
            None => (0, 1, 0),
        };
        // Given back however the call ends, the future dropped included.
        let asking = (lease > 1).then(|| Asking {
            shared: Arc::clone(&shared),
            hash,
        });
        let windows: Vec<Window> = ask.windows.iter().take(MAX_WINDOWS).copied().collect();
        let args = arguments(&windows, ask.escalation.as_ref(), lease, extra);
        // What the fallback needs, owned, in case Redis fails.
        let plan = ask.key.plan.to_owned();
        let caller = Owned::of(ask.key.caller);
        let escalation = ask.escalation;
        let (mut connection, generation) = self.connection.get();
        let link = Arc::clone(&self.connection);
        let timeout = self.timeout;
        let instances = self.instances;
        Box::pin(async move {
            let _asking = asking;
            let mut invocation = shared.script.prepare_invoke();
            invocation.key(&key).arg(&args[..]);
            let answer = tokio::time::timeout(
                timeout,
                invocation.invoke_async::<Vec<i64>>(&mut connection),
            )
            .await;
            // Unreachable, slow or refusing counts against Redis: the
            // script fails alike for every caller (scripting disabled, too
            // many clients, a replica that is read-only after a failover).
            // Only a key of another type under this caller's name is this
            // request's alone, decided here without opening the breaker.
            // Whether the script surely did not run (Redis refused it, or
            // was never reached) says whether the refusals sent with it are
            // still to count: given back then, and dropped when it may have
            // run (no answer in time), so that none is counted twice.
            let reply = match answer {
                Ok(Ok(reply)) => parse(&reply, &windows).map_err(|err| (err, false, false)),
                Ok(Err(err)) => {
                    let down = link.counts_against(&err, generation);
                    let unsent = err.code().is_some() || err.is_connection_refusal();
                    Err((StoreError::new(err), down, unsent))
                }
                Err(_) => Err((
                    StoreError::new(format!("no answer within {timeout:?}")),
                    true,
                    false,
                )),
            };
            match reply {
                Ok((decision, granted, strikes)) => {
                    if shared.breaker.state() != State::Closed {
                        tracing::info!(target: "rebuff::ratelimit", "Redis answers again: the limits are shared again");
                    }
                    permit.success();
                    if let Some(local) = &shared.local {
                        // Never more than was asked for, whatever Redis says.
                        let granted = granted.min(lease);
                        local.keep(hash, &decision, granted, strikes, shared.clock.now_micros());
                    }
                    Ok(decision)
                }
                Err((err, down, unsent)) => {
                    if let Some(local) = shared.local.as_ref().filter(|_| unsent) {
                        local.give_back_refusals(hash, extra, shared.clock.now_micros());
                    }
                    if down {
                        permit.failure();
                    } else {
                        permit.release();
                    }
                    tracing::warn!(target: "rebuff::ratelimit", error = %err, breaker = ?shared.breaker.state(), "Redis failed: deciding here, at this instance's share of the limits");
                    let ask = Ask {
                        key: super::store::Key {
                            plan: &plan,
                            caller: caller.as_id(),
                        },
                        windows: &windows,
                        escalation,
                    };
                    Ok(shared.alone(&ask, instances))
                }
            }
        })
    }
}

/// The script's arguments as one string of eighteen little-endian doubles
/// (see `decide.lua`): every value an integer well under 2^53, so exact.
#[allow(clippy::cast_precision_loss)]
fn arguments(
    windows: &[Window],
    escalation: Option<&Escalation>,
    lease: u32,
    extra: u32,
) -> [u8; 18 * 8] {
    let mut values = [0_f64; 18];
    values[0] = windows.len() as f64;
    for (i, window) in windows.iter().take(MAX_WINDOWS).enumerate() {
        let (per_request, period) = crate::ratelimit::gcra::cost(window);
        values[1 + 3 * i] = period as f64;
        values[2 + 3 * i] = f64::from(window.quota());
        values[3 + 3 * i] = per_request as f64;
    }
    if let Some(escalation) = escalation {
        // As the in-process decision reads it: no fewer than one.
        values[13] = f64::from(escalation.refusals.max(1));
        values[14] = escalation.within as f64;
        values[15] = escalation.block as f64;
    }
    values[16] = f64::from(lease);
    values[17] = f64::from(extra);
    let mut bytes = [0; 18 * 8];
    for (chunk, value) in bytes.chunks_exact_mut(8).zip(values) {
        chunk.copy_from_slice(&value.to_le_bytes());
    }
    bytes
}

/// A lease being asked for a caller: given back when the call ends.
struct Asking {
    shared: Arc<Shared>,
    hash: u64,
}

impl Drop for Asking {
    fn drop(&mut self) {
        if let Some(local) = &self.shared.local {
            local.asked(self.hash);
        }
    }
}

/// A caller, owned, for the fallback of a call in flight.
enum Owned {
    Key(String),
    Ip(core::net::IpAddr),
}

impl Owned {
    fn of(caller: CallerId<'_>) -> Self {
        match caller {
            CallerId::Key(key) => Owned::Key(key.to_owned()),
            CallerId::Ip(ip) => Owned::Ip(ip),
        }
    }

    fn as_id(&self) -> CallerId<'_> {
        match self {
            Owned::Key(key) => CallerId::Key(key),
            Owned::Ip(ip) => CallerId::Ip(*ip),
        }
    }
}

/// The script's reply as a decision, the requests granted and the
/// refusals counted; anything else is an error.
fn parse(reply: &[i64], windows: &[Window]) -> Result<(Decision, u32, u32), StoreError> {
    let bad = || {
        StoreError::new(format!(
            "unexpected reply from the rate-limit script: {reply:?}"
        ))
    };
    if reply.len() != 6 + 2 * windows.len() || reply.iter().any(|v| *v < 0) {
        return Err(bad());
    }
    let number = |i: usize| u64::try_from(reply[i]).map_err(|_| bad());
    let small = |i: usize| u32::try_from(reply[i]).map_err(|_| bad());
    let wait = number(2)?;
    let outcome = match reply[0] {
        0 => Outcome::Admitted,
        1 => Outcome::Limited {
            window: usize::try_from(reply[1])
                .map_err(|_| bad())?
                .min(windows.len().saturating_sub(1)),
            retry_after: wait,
        },
        2 => Outcome::Blocked { retry_after: wait },
        _ => return Err(bad()),
    };
    let mut decision = Decision {
        outcome,
        windows: [WindowState {
            quota: 0,
            remaining: 0,
            reset_after: 0,
        }; MAX_WINDOWS],
        len: windows.len(),
        now: number(3)?,
        degraded: false,
    };
    for (i, window) in windows.iter().enumerate() {
        decision.windows[i] = WindowState {
            quota: window.quota(),
            remaining: small(6 + 2 * i)?.min(window.quota()),
            reset_after: number(7 + 2 * i)?,
        };
    }
    let granted = small(4)?;
    // The first of the granted requests is the one that asked.
    if let Outcome::Admitted = decision.outcome {
        for state in &mut decision.windows[..decision.len] {
            state.remaining = state
                .remaining
                .saturating_add(granted.saturating_sub(1))
                .min(state.quota);
        }
    }
    Ok((decision, granted, small(5)?))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn replies_that_are_not_the_scripts_are_errors() {
        let windows = [Window::per_minute(60)];
        let (decision, granted, strikes) =
            parse(&[0, 0, 0, 1_000, 1, 0, 59, 1_000_000], &windows).unwrap();
        assert_eq!(decision.outcome, Outcome::Admitted);
        assert_eq!(decision.windows()[0].remaining, 59);
        assert_eq!((granted, strikes), (1, 0));
        // A lease of 5: the 4 not yet used count as remaining.
        let (leased, ..) = parse(&[0, 0, 0, 1_000, 5, 0, 50, 5_000_000], &windows).unwrap();
        assert_eq!(leased.windows()[0].remaining, 54);
        for wrong in [
            &[0, 0, 0][..],
            &[9, 0, 0, 1, 1, 0, 1, 1],
            &[0, 0, -1, 1, 1, 0, 1, 1],
        ] {
            assert!(parse(wrong, &windows).is_err(), "{wrong:?}");
        }
    }
}
