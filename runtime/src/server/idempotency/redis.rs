//! [`RedisStore`]: idempotency keys a fleet of servers shares in Redis.

use core::fmt;
use core::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderName, HeaderValue, StatusCode};
use redis::Value;
use redis::aio::{ConnectionLike, ConnectionManager};

use super::{Claim, Fingerprint, IdempotencyStore, Owner, StoreError, StoreFuture, StoredResponse};
use crate::breaker::Breaker;
use crate::redis_link::{Held, Link};

/// Claims a key for its owner (`ARGV[3]`), or says what is known of it, in
/// one step.
const CLAIM: &str = r"
local f = redis.call('HMGET', KEYS[1], 'fp', 'done', 'status', 'headers', 'body')
if not f[1] then
  redis.call('HSET', KEYS[1], 'fp', ARGV[1], 'own', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return {0}
end
if f[1] ~= ARGV[1] then return {3} end
if f[2] then return {2, f[3], f[4], f[5]} end
return {1}
";

/// Stores a claimed key's response, if the key is still the request's own
/// (in flight held by its owner, `ARGV[6]`, or expired meanwhile: then kept
/// for it anew); a key claimed since by another request, or done, is left.
const COMPLETE: &str = r"
local f = redis.call('HMGET', KEYS[1], 'fp', 'own', 'done')
if f[1] and (f[2] ~= ARGV[6] or f[3]) then return 0 end
redis.call('HSET', KEYS[1], 'fp', ARGV[5], 'own', ARGV[6], 'done', '1', 'status', ARGV[1], 'headers', ARGV[2], 'body', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
";

/// Gives a key back if it is still in flight held by the request's owner.
const RELEASE: &str = r"
local f = redis.call('HMGET', KEYS[1], 'own', 'done')
if f[1] == ARGV[1] and not f[2] then
  redis.call('DEL', KEYS[1])
  return 1
end
return 0
";

/// Keeps a key in flight for another period, if it is still in flight held
/// by the request's owner: 1. 2 if the owner completed it meanwhile (a
/// renewal racing its own completion), 0 if the claim is gone or another's.
const RENEW: &str = r"
local f = redis.call('HMGET', KEYS[1], 'own', 'done')
if f[1] == ARGV[1] and not f[2] then
  redis.call('PEXPIRE', KEYS[1], ARGV[2])
  return 1
end
if f[1] == ARGV[1] then return 2 end
return 0
";

/// Idempotency keys in Redis, for servers behind one load balancer: a key
/// retried onto another server replays the first server's answer. The
/// same rules as the in-process [`MemoryStore`](super::MemoryStore):
/// scoped keys (digests; no client key or credential is written),
/// responses kept for `ttl`, a duplicate of a key in flight waiting for
/// its answer (up to 5 s, then a retryable 409), a key reused with another
/// request refused with 422, and responses over
/// [`max_response_bytes`](Self::max_response_bytes) not kept. Each
/// operation is one atomic script.
///
/// A claim lasts `in_flight` (60 s by default), so that a server that
/// died serving a key does not hold it for the whole `ttl`. The server
/// serving it renews it every third of that, for as long as the request
/// runs: a slow request keeps its key, and a request that hangs holds it
/// until it ends (bound handlers with a request timeout, such as
/// tower-http's `TimeoutLayer`). Renewals run on the server's runtime,
/// so a handler that blocks its thread can starve them. A claim that
/// lapses anyway (its renewals failing until it expires) frees the key
/// for a retry; the late response is then kept only if no retry has
/// claimed the key since.
///
/// A Redis that does not answer within [`timeout`](Self::timeout) (250 ms
/// by default) fails the keyed request with a retryable 503: served
/// without its key it could run twice (this store has no in-process
/// fallback: keys kept by one server alone would let a retry that lands
/// on another do the work again). A [`Breaker`] in front of Redis (by
/// default open after 3 failures in a row, a probe a second later) answers
/// those 503s at once while Redis is away, instead of each keyed request
/// waiting out the timeout (a claim refused so was never sent, and is not
/// given back either).
///
/// ```no_run
/// # #[tokio::main] async fn main() -> Result<(), rebuff::StoreError> {
/// use std::time::Duration;
/// use rebuff::server::idempotency::{IdempotencyKeys, RedisStore};
///
/// let store = RedisStore::open("redis://127.0.0.1:6379", Duration::from_secs(24 * 3600))?;
/// // For `Surface::idempotency`, on axum or actix-web.
/// let keys = IdempotencyKeys::new(store);
/// # let _ = keys;
/// # Ok(()) }
/// ```
pub struct RedisStore<C = ConnectionManager> {
    connection: Link<C>,
    claim: redis::Script,
    complete: redis::Script,
    release: redis::Script,
    renew: redis::Script,
    prefix: String,
    ttl: Duration,
    in_flight: Duration,
    timeout: Duration,
    max_bytes: usize,
    breaker: Breaker,
}

impl<C> fmt::Debug for RedisStore<C> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RedisStore")
            .field("prefix", &self.prefix)
            .field("ttl", &self.ttl)
            .field("in_flight", &self.in_flight)
            .field("timeout", &self.timeout)
            .field("max_bytes", &self.max_bytes)
            .field("breaker", &self.breaker.state())
            .finish_non_exhaustive()
    }
}

impl RedisStore<ConnectionManager> {
    /// A store on the Redis at `url` (`redis://`, or `rediss://` over TLS
    /// with the `redis-tls` feature, as the rate limits'
    /// [`RedisStore::open`](crate::ratelimit::RedisStore::open) says),
    /// keeping responses for `ttl`; it connects on first use, and afresh
    /// when Redis answers as a read-only replica after a failover.
    ///
    /// # Errors
    ///
    /// When `url` is not a Redis URL, asks for TLS (`rediss://`) without
    /// the `redis-tls` feature, or asks for TLS without checking the
    /// server's certificate (`#insecure`); and outside a tokio runtime (the
    /// connection runs on its tasks: open the store in async code, or
    /// within `Runtime::enter`).
    pub fn open(url: &str, ttl: Duration) -> Result<Self, StoreError> {
        Ok(RedisStore::on(Link::open(url)?, ttl))
    }
}

impl<C> RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    /// A store on a connection the application has already, keeping
    /// responses for `ttl`; kept as it is when Redis answers `READONLY`
    /// (reconnecting it is the application's part).
    pub fn with_connection(connection: C, ttl: Duration) -> Self {
        RedisStore::on(Link::given(connection), ttl)
    }

    fn on(connection: Link<C>, ttl: Duration) -> Self {
        RedisStore {
            connection,
            claim: redis::Script::new(CLAIM),
            complete: redis::Script::new(COMPLETE),
            release: redis::Script::new(RELEASE),
            renew: redis::Script::new(RENEW),
            prefix: "rebuff:idem:".to_owned(),
            ttl,
            in_flight: Duration::from_secs(60),
            timeout: Duration::from_millis(250),
            max_bytes: 1 << 20,
            breaker: crate::redis_link::default_breaker(),
        }
    }

    /// The breaker in front of Redis (default: open after 3 failures in a
    /// row, a probe a second later). While it is open, keyed requests are
    /// answered with a retryable 503 at once.
    #[must_use]
    pub fn breaker(mut self, breaker: Breaker) -> Self {
        self.breaker = breaker;
        self
    }

    /// The state of the breaker in front of Redis: closed while it answers.
    #[must_use]
    pub fn state(&self) -> crate::breaker::State {
        self.breaker.state()
    }

    /// How long a call may take (default 250 ms; at least 1 ms, since no
    /// answer is ready without a round trip).
    #[must_use]
    pub fn timeout(mut self, timeout: Duration) -> Self {
        self.timeout = timeout.max(Duration::from_millis(1));
        self
    }

    /// How long a key stays in flight without a response, unless the
    /// server serving it renews it, before it is free again (default
    /// 60 s): a server that died serving it does not hold it for the
    /// whole `ttl`. A claim lasts at least 30 ms, so that its renewals, a
    /// third of it apart (and at least 10 ms), can keep it; one under
    /// three times the [`timeout`](Self::timeout) leaves a slow renewal
    /// no room.
    #[must_use]
    pub fn in_flight(mut self, in_flight: Duration) -> Self {
        self.in_flight = in_flight;
        self
    }

    /// The largest response body kept (default 1 MiB, as in process); a
    /// larger one (or one whose headers take over 64 KiB) is sent as it is
    /// and not kept, and a retry does the work again.
    #[must_use]
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_bytes = max;
        self
    }

    /// The prefix of the keys (default `rebuff:idem:`).
    #[must_use]
    pub fn prefix(mut self, prefix: impl Into<String>) -> Self {
        self.prefix = prefix.into();
        self
    }

    fn key(&self, key: &str) -> String {
        format!("{}{{{key}}}", self.prefix)
    }

    /// How long a claim lasts.
    fn claim_lasts(&self) -> Duration {
        self.in_flight.min(self.ttl).max(Duration::from_millis(30))
    }

    /// Runs `script` on a claim: the key, then `args` ([`timed`](Self::timed)
    /// says what `claiming` changes).
    async fn on_claim<T: redis::FromRedisValue>(
        &self,
        script: &redis::Script,
        key: &str,
        args: &[String],
        claiming: bool,
    ) -> Result<T, StoreError> {
        let (mut connection, generation) = self.connection.get();
        let mut invocation = script.prepare_invoke();
        invocation.key(self.key(key));
        for arg in args {
            invocation.arg(arg);
        }
        self.timed(
            invocation.invoke_async(&mut connection),
            generation,
            claiming,
        )
        .await
    }

    /// How long a claim lasts, as `PEXPIRE` takes it.
    fn period(&self) -> String {
        millis(self.claim_lasts()).to_string()
    }

    /// Runs `call` within the timeout, through the breaker: an error that
    /// fails for every caller, or no answer in time, counts against Redis.
    /// While the breaker is open a claim (`claiming`) is refused at once;
    /// giving a key back, storing an answer and renewing a claim are sent
    /// all the same, uncounted: each one left undone would hold a key in
    /// flight (a claim that landed after its timeout, a served request's
    /// answer, a slow request's claim).
    /// A `READONLY` answer, or a refusal of the connection, opens it (of
    /// `generation`) afresh. Outside a tokio runtime (a request's key given
    /// back as its future is dropped after the runtime), nothing is sent:
    /// the timeout needs the runtime's timer.
    async fn timed<T>(
        &self,
        call: impl core::future::Future<Output = redis::RedisResult<T>>,
        generation: u64,
        claiming: bool,
    ) -> Result<T, StoreError> {
        if tokio::runtime::Handle::try_current().is_err() {
            return Err(StoreError::unsent("no tokio runtime to call Redis on"));
        }
        let permit = match self.breaker.allow() {
            Ok(permit) => Some(permit),
            Err(_) if claiming => {
                return Err(StoreError::unsent(
                    "Redis is away (its breaker is open): not asked",
                ));
            }
            Err(_) => None,
        };
        let mut permit = Held::new(&self.breaker, permit);
        match tokio::time::timeout(self.timeout, call).await {
            Ok(Ok(value)) => {
                permit.success();
                Ok(value)
            }
            Ok(Err(err)) => {
                if self.connection.counts_against(&err, generation) {
                    permit.failure();
                }
                Err(StoreError::new(err))
            }
            Err(_) => {
                permit.failure();
                Err(StoreError::new(format!(
                    "Redis did not answer within {:?}",
                    self.timeout
                )))
            }
        }
    }
}

/// The most bytes of a response's headers kept with it.
const MAX_HEADER_BYTES: usize = 64 << 10;

/// Milliseconds for `PEXPIRE`, at least 1 and at most 2^52 (what Redis
/// accepts added to its clock).
fn millis(duration: Duration) -> u64 {
    u64::try_from(duration.as_millis())
        .unwrap_or(u64::MAX)
        .clamp(1, 1 << 52)
}

impl<C> IdempotencyStore for RedisStore<C>
where
    C: ConnectionLike + Clone + Send + Sync + 'static,
{
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: Fingerprint,
        owner: Owner,
    ) -> StoreFuture<'a, Claim> {
        Box::pin(async move {
            let args = [
                hex(fingerprint.as_bytes()),
                self.period(),
                hex(owner.as_bytes()),
            ];
            let reply: Vec<Value> = self.on_claim(&self.claim, key, &args, true).await?;
            parse_claim(&reply)
        })
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        fingerprint: Fingerprint,
        owner: Owner,
        response: StoredResponse,
    ) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let headers = encode_headers(&response.headers);
            // Headers a handler made past any a server would send are not
            // kept either.
            if response.body.len() > self.max_bytes || headers.len() > MAX_HEADER_BYTES {
                tracing::warn!(target: "rebuff::idempotency", max = self.max_bytes, "a response too large to keep: its key is given back");
                return self.release(key, owner).await;
            }
            let (mut connection, generation) = self.connection.get();
            let mut invocation = self.complete.prepare_invoke();
            invocation
                .key(self.key(key))
                .arg(response.status.as_u16())
                .arg(headers)
                .arg(response.body.as_ref())
                .arg(millis(self.ttl))
                .arg(hex(fingerprint.as_bytes()))
                .arg(hex(owner.as_bytes()));
            self.timed(
                invocation.invoke_async::<i64>(&mut connection),
                generation,
                false,
            )
            .await
            .map(drop)
        })
    }

    fn release<'a>(&'a self, key: &'a str, owner: Owner) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            self.on_claim::<i64>(&self.release, key, &[hex(owner.as_bytes())], false)
                .await
                .map(drop)
        })
    }

    fn renew_every(&self) -> Option<Duration> {
        // Three renewals a period: one lost to a failed call leaves two
        // before the claim lapses (with the default 60 s and 250 ms
        // timeout, a slow call costs a fraction of a period).
        Some(self.claim_lasts() / 3)
    }

    fn max_response_bytes(&self) -> usize {
        self.max_bytes
    }

    fn renew<'a>(&'a self, key: &'a str, owner: Owner) -> StoreFuture<'a, ()> {
        Box::pin(async move {
            let args = [hex(owner.as_bytes()), self.period()];
            let renewed: i64 = self.on_claim(&self.renew, key, &args, false).await?;
            if renewed == 0 {
                tracing::warn!(target: "rebuff::idempotency", "a key's claim lapsed while its request was served: a retry may have been served too");
            }
            Ok(())
        })
    }
}

fn hex(bytes: &[u8]) -> String {
    use fmt::Write as _;
    let mut out = String::with_capacity(bytes.len() * 2);
    for byte in bytes {
        let _ = write!(out, "{byte:02x}");
    }
    out
}

/// Headers as `name: value` lines (a header value holds no line break).
fn encode_headers(headers: &HeaderMap) -> Vec<u8> {
    let mut out = Vec::new();
    for (name, value) in headers {
        out.extend_from_slice(name.as_str().as_bytes());
        out.extend_from_slice(b": ");
        out.extend_from_slice(value.as_bytes());
        out.push(b'\n');
    }
    out
}

fn decode_headers(bytes: &[u8]) -> Option<HeaderMap> {
    let mut headers = HeaderMap::new();
    for line in bytes.split(|b| *b == b'\n').filter(|line| !line.is_empty()) {
        let at = line.windows(2).position(|pair| pair == b": ")?;
        let name = HeaderName::from_bytes(&line[..at]).ok()?;
        let value = HeaderValue::from_bytes(&line[at + 2..]).ok()?;
        headers.append(name, value);
    }
    Some(headers)
}

fn bytes_of(value: &Value) -> Option<&[u8]> {
    match value {
        Value::BulkString(bytes) => Some(bytes),
        Value::SimpleString(text) => Some(text.as_bytes()),
        _ => None,
    }
}

/// The claim script's reply; anything else is an error (what a store
/// answers is not trusted to be well formed).
fn parse_claim(reply: &[Value]) -> Result<Claim, StoreError> {
    let bad = || StoreError::new("unexpected reply from the idempotency claim script");
    let Some(Value::Int(kind)) = reply.first() else {
        return Err(bad());
    };
    match (kind, reply.len()) {
        (0, 1) => Ok(Claim::New),
        (1, 1) => Ok(Claim::InFlight),
        (3, 1) => Ok(Claim::Mismatch),
        (2, 4) => {
            let status = bytes_of(&reply[1])
                .and_then(|s| core::str::from_utf8(s).ok()?.parse::<u16>().ok())
                .and_then(|s| StatusCode::from_u16(s).ok())
                .ok_or_else(bad)?;
            let headers = bytes_of(&reply[2])
                .and_then(decode_headers)
                .ok_or_else(bad)?;
            let body = bytes_of(&reply[3]).ok_or_else(bad)?;
            Ok(Claim::Done(StoredResponse {
                status,
                headers,
                body: Bytes::copy_from_slice(body),
            }))
        }
        _ => Err(bad()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A key given back where no runtime runs (a request's future dropped
    /// after it): an error at once, nothing sent, no panic.
    #[test]
    fn outside_a_runtime_nothing_is_sent() {
        let runtime = tokio::runtime::Builder::new_current_thread()
            .enable_all()
            .build()
            .unwrap();
        let store = runtime
            .block_on(async { RedisStore::open("redis://127.0.0.1:9", Duration::from_secs(60)) })
            .unwrap();
        drop(runtime);
        let mut release = Box::pin(store.release("k", Owner::new()));
        let mut cx = core::task::Context::from_waker(core::task::Waker::noop());
        match release.as_mut().poll(&mut cx) {
            core::task::Poll::Ready(Err(err)) => assert!(!err.may_have_landed(), "{err}"),
            _ => panic!("answered at once, with an error"),
        }
    }

    #[test]
    fn headers_survive_the_round_trip() {
        let mut headers = HeaderMap::new();
        headers.insert("content-type", HeaderValue::from_static("application/json"));
        headers.append("set-cookie", HeaderValue::from_static("a=1"));
        headers.append("set-cookie", HeaderValue::from_static("b=2: x"));
        headers.insert("x-odd", HeaderValue::from_bytes(b"caf\xe9").unwrap());
        assert_eq!(decode_headers(&encode_headers(&headers)), Some(headers));
    }

    #[test]
    fn replies_that_are_not_the_scripts_are_errors() {
        let done = [
            Value::Int(2),
            Value::BulkString(b"201".to_vec()),
            Value::BulkString(b"x-a: 1\n".to_vec()),
            Value::BulkString(b"body".to_vec()),
        ];
        let Ok(Claim::Done(stored)) = parse_claim(&done) else {
            panic!("a stored response")
        };
        assert_eq!(
            (stored.status.as_u16(), &stored.body[..]),
            (201, &b"body"[..])
        );
        assert_eq!(parse_claim(&[Value::Int(1)]).unwrap(), Claim::InFlight);
        for wrong in [
            &[][..],
            &[Value::Int(7)],
            &[Value::Int(2)],
            &[
                Value::Int(2),
                Value::BulkString(b"999".to_vec()),
                Value::Nil,
                Value::Nil,
            ],
            &[Value::Nil],
        ] {
            assert!(parse_claim(wrong).is_err(), "{wrong:?}");
        }
    }
}
