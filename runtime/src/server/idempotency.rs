//! Idempotent requests: a retried request (same `Idempotency-Key`) gets the
//! stored response of the first one instead of doing the work again.
//!
//! ```no_run
//! use std::time::Duration;
//! use axum::{Router, routing::post};
//! use rebuff::server::idempotency::{IdempotencyLayer, MemoryStore};
//!
//! let app: Router = Router::new()
//!     .route("/api/v1/orders", post(|| async { "created" }))
//!     .layer(IdempotencyLayer::new(MemoryStore::new(Duration::from_secs(24 * 3600))));
//! # let _ = app;
//! ```

use core::future::Future;
use core::pin::Pin;
use core::task::{Context as TaskContext, Poll};
use core::time::Duration;
use std::collections::{HashMap, VecDeque};
use std::sync::{Arc, Mutex};
use std::time::Instant;

use axum::body::Body;
use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};

/// The longest key taken; longer ones are passed through unremembered.
const MAX_KEY: usize = 255;
/// The largest response body remembered.
const MAX_BODY: usize = 1 << 20;
/// How long a duplicate waits for the first request to finish.
const WAIT: Duration = Duration::from_secs(5);

/// A response kept for replay.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct StoredResponse {
    /// Its status.
    pub status: StatusCode,
    /// Its headers.
    pub headers: HeaderMap,
    /// Its body.
    pub body: Bytes,
}

/// What a store knows of a key.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Claim {
    /// Unknown: the caller now owns the key and must complete or release it.
    New,
    /// Another request with the key is being served.
    InFlight,
    /// Served already: replay this.
    Done(StoredResponse),
}

/// Where keys and their responses are kept: in memory by default
/// ([`MemoryStore`]), or a shared store (Redis, a database) for several
/// server instances.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for a request, or says what is known of it.
    fn claim(&self, key: &str) -> Claim;
    /// Stores the response of the request that claimed `key`.
    fn complete(&self, key: &str, response: StoredResponse);
    /// Forgets `key` (its request failed in a way worth repeating).
    fn release(&self, key: &str);
}

impl StoredResponse {
    /// Roughly the memory it holds: body and headers.
    fn size(&self) -> usize {
        self.body.len()
            + self
                .headers
                .iter()
                .map(|(name, value)| name.as_str().len() + value.len())
                .sum::<usize>()
    }
}

/// Keys and responses in this process's memory, each kept for `ttl`, within
/// a bound on entries and on bytes: past either, the oldest go first (and a
/// retry of an evicted key does the work again).
///
/// ```
/// use std::time::Duration;
/// use rebuff::server::idempotency::MemoryStore;
///
/// let store = MemoryStore::new(Duration::from_secs(24 * 3600))
///     .max_entries(50_000)
///     .max_bytes(32 << 20);
/// # let _ = store;
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    ttl: Duration,
    max_entries: usize,
    max_bytes: usize,
    entries: Mutex<Entries>,
}

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, (Instant, Option<StoredResponse>)>,
    /// Keys in the order they were written, with the time written: the
    /// front is the oldest. A record whose key was rewritten or removed
    /// since is stale and skipped.
    order: VecDeque<(Instant, String)>,
    /// The sizes of the stored responses.
    bytes: usize,
}

impl Entries {
    fn insert(&mut self, key: &str, at: Instant, response: Option<StoredResponse>) {
        self.bytes += response.as_ref().map_or(0, StoredResponse::size);
        if let Some((_, Some(old))) = self.map.insert(key.to_owned(), (at, response)) {
            self.bytes -= old.size();
        }
        self.order.push_back((at, key.to_owned()));
    }

    fn remove(&mut self, key: &str) {
        if let Some((_, Some(old))) = self.map.remove(key) {
            self.bytes -= old.size();
        }
    }

    /// Drops the expired entries, then the oldest while over a bound: each
    /// record is looked at once, so a claim costs amortised O(1).
    fn prune(&mut self, now: Instant, ttl: Duration, max_entries: usize, max_bytes: usize) {
        while let Some((at, key)) = self.order.front() {
            let live = self.map.get(key).is_some_and(|(written, _)| written == at);
            let over = self.map.len() > max_entries || self.bytes > max_bytes;
            if live && !over && now.duration_since(*at) < ttl {
                break;
            }
            if let Some((_, key)) = self.order.pop_front() {
                if live {
                    self.remove(&key);
                }
            }
        }
    }
}

impl MemoryStore {
    /// A store keeping responses for `ttl`, at most 100,000 keys and
    /// 64 MiB of responses.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        MemoryStore {
            ttl,
            max_entries: 100_000,
            max_bytes: 64 << 20,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// Keeps at most `max` keys, dropping the oldest first.
    #[must_use]
    pub fn max_entries(mut self, max: usize) -> Self {
        self.max_entries = max;
        self
    }

    /// Keeps at most about `max` bytes of responses (bodies and headers),
    /// dropping the oldest first.
    #[must_use]
    pub fn max_bytes(mut self, max: usize) -> Self {
        self.max_bytes = max;
        self
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries
            .lock()
            .unwrap_or_else(std::sync::PoisonError::into_inner)
    }

    fn prune(&self, entries: &mut Entries, now: Instant) {
        entries.prune(now, self.ttl, self.max_entries, self.max_bytes);
    }
}

impl IdempotencyStore for MemoryStore {
    fn claim(&self, key: &str) -> Claim {
        let mut entries = self.lock();
        let now = Instant::now();
        self.prune(&mut entries, now);
        match entries.map.get(key) {
            Some((at, _)) if now.duration_since(*at) >= self.ttl => {
                entries.insert(key, now, None);
                Claim::New
            }
            Some((_, Some(done))) => Claim::Done(done.clone()),
            Some((_, None)) => Claim::InFlight,
            None => {
                entries.insert(key, now, None);
                self.prune(&mut entries, now);
                Claim::New
            }
        }
    }

    fn complete(&self, key: &str, response: StoredResponse) {
        let mut entries = self.lock();
        let now = Instant::now();
        entries.insert(key, now, Some(response));
        self.prune(&mut entries, now);
    }

    fn release(&self, key: &str) {
        self.lock().remove(key);
    }
}

/// The tower layer: requests with an `Idempotency-Key` are served once and
/// replayed after (with `Idempotent-Replayed: true`); a duplicate that
/// arrives while the first is still being served waits for it (up to 5 s,
/// then a retryable 409).
///
/// Not remembered, so a retry with the key does the work again: a 5xx, an
/// answer that asks to be retried (408, 429, any `Retry-After`), a request
/// cancelled midway, and a response body of unknown length or over 1 MiB
/// (streamed through as it is). Keys are not scoped to a route or a caller:
/// put the layer where keys are unique, and give clients random keys.
#[derive(Debug)]
pub struct IdempotencyLayer<St> {
    store: Arc<St>,
}

impl<St> Clone for IdempotencyLayer<St> {
    fn clone(&self) -> Self {
        IdempotencyLayer {
            store: Arc::clone(&self.store),
        }
    }
}

impl<St: IdempotencyStore> IdempotencyLayer<St> {
    /// A layer over `store`.
    pub fn new(store: St) -> Self {
        IdempotencyLayer {
            store: Arc::new(store),
        }
    }
}

impl<S, St> tower::Layer<S> for IdempotencyLayer<St> {
    type Service = IdempotencyService<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        IdempotencyService {
            inner,
            store: Arc::clone(&self.store),
        }
    }
}

/// The service of [`IdempotencyLayer`].
#[derive(Debug)]
pub struct IdempotencyService<S, St> {
    inner: S,
    store: Arc<St>,
}

impl<S: Clone, St> Clone for IdempotencyService<S, St> {
    fn clone(&self) -> Self {
        IdempotencyService {
            inner: self.inner.clone(),
            store: Arc::clone(&self.store),
        }
    }
}

/// Releases a claimed key if the request ends without completing it.
struct Claimed<St: IdempotencyStore> {
    store: Arc<St>,
    key: Option<String>,
}

impl<St: IdempotencyStore> Drop for Claimed<St> {
    fn drop(&mut self) {
        if let Some(key) = self.key.take() {
            self.store.release(&key);
        }
    }
}

fn replay(stored: StoredResponse) -> http::Response<Body> {
    let mut response = http::Response::new(Body::from(stored.body));
    *response.status_mut() = stored.status;
    *response.headers_mut() = stored.headers;
    response
        .headers_mut()
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    response
}

impl<S, St, B> tower::Service<http::Request<B>> for IdempotencyService<S, St>
where
    S: tower::Service<http::Request<B>, Response = http::Response<Body>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    St: IdempotencyStore,
    B: Send + 'static,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: http::Request<B>) -> Self::Future {
        let key = req
            .headers()
            .get("idempotency-key")
            .and_then(|v| v.to_str().ok())
            .filter(|k| !k.is_empty() && k.len() <= MAX_KEY)
            .map(str::to_owned);
        let Some(key) = key else {
            let inner = self.inner.call(req);
            return Box::pin(inner);
        };
        let store = Arc::clone(&self.store);
        let claim = store.claim(&key);
        // The claim is guarded from here, not from the future's first poll:
        // a future dropped unpolled (a timeout or load-shedding layer)
        // still gives the key back.
        let mut guard = matches!(claim, Claim::New).then(|| Claimed {
            store: Arc::clone(&store),
            key: Some(key.clone()),
        });
        let inner = guard.is_some().then(|| self.inner.call(req));
        Box::pin(async move {
            match claim {
                Claim::Done(stored) => return Ok(replay(stored)),
                Claim::InFlight => {
                    let started = Instant::now();
                    while started.elapsed() < WAIT {
                        tokio::time::sleep(Duration::from_millis(20)).await;
                        match store.claim(&key) {
                            Claim::Done(stored) => return Ok(replay(stored)),
                            Claim::InFlight => {}
                            // The first request gave the key up: this one
                            // owns it now, but its request was not kept;
                            // ask the client to send it again.
                            Claim::New => {
                                store.release(&key);
                                break;
                            }
                        }
                    }
                    let busy = super::Rejection::RequestInProgress { retry_after: 1 };
                    return Ok(super::axum::into_response(&busy));
                }
                Claim::New => {}
            }
            let response = inner.expect("claimed: the request was sent on").await?;
            // Not remembered (the key is given back, so a retry runs the
            // work again): a server error, an answer that asks to be retried
            // (429, 408, `Retry-After`), and a body too large or too long
            // to keep, which streams through untouched.
            let status = response.status();
            let too_large = axum::body::HttpBody::size_hint(response.body())
                .upper()
                .is_none_or(|upper| upper > MAX_BODY as u64);
            if status.is_server_error()
                || crate::retryable_status(status)
                || response.headers().contains_key(http::header::RETRY_AFTER)
                || too_large
            {
                return Ok(response);
            }
            let (mut parts, body) = response.into_parts();
            let Ok(bytes) = axum::body::to_bytes(body, MAX_BODY).await else {
                // The handler's body failed mid-way: nothing to replay, and
                // the length it announced no longer holds.
                parts.headers.remove(http::header::CONTENT_LENGTH);
                return Ok(http::Response::from_parts(parts, Body::empty()));
            };
            if let Some(key) = guard.as_mut().and_then(|guard| guard.key.take()) {
                store.complete(
                    &key,
                    StoredResponse {
                        status: parts.status,
                        headers: parts.headers.clone(),
                        body: bytes.clone(),
                    },
                );
            }
            Ok(http::Response::from_parts(parts, Body::from(bytes)))
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn response(body: &'static str) -> StoredResponse {
        StoredResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    fn serve(store: &MemoryStore, key: &str, body: &'static str) {
        assert_eq!(store.claim(key), Claim::New, "{key}");
        store.complete(key, response(body));
    }

    #[test]
    fn the_oldest_keys_go_first_past_the_entry_bound() {
        let store = MemoryStore::new(Duration::from_secs(60)).max_entries(2);
        serve(&store, "a", "1");
        serve(&store, "b", "2");
        serve(&store, "c", "3");
        assert_eq!(store.lock().map.len(), 2);
        assert_eq!(store.claim("c"), Claim::Done(response("3")));
        assert_eq!(store.claim("b"), Claim::Done(response("2")));
        // "a" was evicted: its key is new again.
        assert_eq!(store.claim("a"), Claim::New);
    }

    #[test]
    fn stored_bytes_stay_within_the_bound() {
        let store = MemoryStore::new(Duration::from_secs(60)).max_bytes(10);
        serve(&store, "a", "0123456");
        serve(&store, "b", "0123456");
        let entries = store.lock();
        assert!(entries.bytes <= 10, "{}", entries.bytes);
        assert!(entries.map.contains_key("b") && !entries.map.contains_key("a"));
    }

    #[test]
    fn expired_keys_are_dropped_and_rewrites_do_not_leak_records() {
        let store = MemoryStore::new(Duration::from_millis(20));
        for _ in 0..100 {
            assert_eq!(store.claim("k"), Claim::New);
            store.release("k");
        }
        serve(&store, "k", "done");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(store.claim("other"), Claim::New);
        let entries = store.lock();
        assert!(!entries.map.contains_key("k"));
        // The 100 released claims' records were pruned with it.
        assert!(entries.order.len() <= 2, "{}", entries.order.len());
        assert_eq!(entries.bytes, 0);
    }
}
