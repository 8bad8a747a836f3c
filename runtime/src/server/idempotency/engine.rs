//! The idempotency decisions, written once for every framework: which
//! requests are keyed, what a key is scoped to, what a claim comes to
//! (serve, replay, refuse, wait for the first), which responses are kept,
//! and giving a key back when its request ends without an answer worth
//! keeping. The axum layer and the actix-web middleware only move bodies.

use core::fmt;
use core::task::{Context as TaskContext, Poll};
use core::time::Duration;
use std::sync::Arc;
use std::time::Instant;

use http::{HeaderMap, HeaderValue, StatusCode};

use super::{Claim, Fingerprint, IdempotencyStore, Owner, StoredResponse, digest};
use crate::rejection::Rejection;

/// The longest key taken; a longer one is refused with a 400.
pub(crate) const MAX_KEY: usize = 255;
/// The largest response body remembered.
pub(crate) const MAX_BODY: usize = 1 << 20;
/// The largest request body fingerprinted (by default).
pub(crate) const MAX_REQUEST: usize = 1 << 20;
/// How long a duplicate waits for the first request to finish.
const WAIT: Duration = Duration::from_secs(5);
/// How often it looks.
const POLL: Duration = Duration::from_millis(20);
/// The most often a claim is renewed.
const MIN_RENEWAL: Duration = Duration::from_millis(10);

/// Renewals further apart than this are none.
const MAX_RENEWAL: Duration = Duration::from_secs(365 * 24 * 3600);

/// The 400 for a key that cannot be one.
pub(crate) fn invalid_key() -> Rejection {
    Rejection::InvalidHeader {
        name: "Idempotency-Key".into(),
        reason: format!("an idempotency key is 1 to {MAX_KEY} printable ASCII characters"),
    }
}

/// A keyed request, before its body is read: its key, scoped.
#[derive(Debug)]
pub(crate) struct Keyed {
    key: String,
}

impl Keyed {
    /// The request's `Idempotency-Key` (the header's value, as sent),
    /// scoped to its method, path and caller (`scope`, asked only for a
    /// usable key). None without one, for a method RFC 9110 calls
    /// idempotent (GET, HEAD, PUT, DELETE, OPTIONS, TRACE: sending those
    /// again does no harm, and the first answer to a GET replayed would be
    /// stale), and for a caller `scope` cannot tell apart from others (an
    /// empty scope; logged once, as a warning). A 400 for a key that is
    /// empty, longer than 255 bytes or not printable ASCII (spaces
    /// allowed, as in a structured-field string), and for a header sent
    /// more than once (which of the keys the client meant is not known):
    /// served without its key, such a request would run again on every
    /// retry, which is what its client sent the key against. `sent` is
    /// every value of the header, in order.
    pub(crate) fn of<'a>(
        method: &str,
        path: &str,
        sent: impl IntoIterator<Item = &'a [u8]>,
        scope: impl FnOnce() -> Vec<u8>,
    ) -> Result<Option<Self>, Rejection> {
        let mut sent = sent.into_iter();
        let Some(key) = sent.next() else {
            return Ok(None);
        };
        if crate::client::idempotent_method(method) {
            return Ok(None);
        }
        if sent.next().is_some() {
            return Err(Rejection::InvalidHeader {
                name: "Idempotency-Key".into(),
                reason: "an idempotency key is sent once".into(),
            });
        }
        let printable = |b: &u8| (0x20..0x7f).contains(b);
        let key = core::str::from_utf8(key)
            .ok()
            .filter(|k| !k.is_empty() && k.len() <= MAX_KEY && k.as_bytes().iter().all(printable))
            .ok_or_else(invalid_key)?;
        let scope = scope();
        if scope.is_empty() {
            // Shared by every caller without an identity, a key would
            // replay one caller's answer to another.
            unscoped();
            return Ok(None);
        }
        Ok(Some(Keyed {
            key: scoped_key(method, path, &scope, key),
        }))
    }

    /// Whether a body of `length` bytes (from `Content-Length`; none when
    /// unknown, which is read up to `max_request` and refused past it)
    /// can be fingerprinted: a 413 when it is longer. Served without its
    /// key, it would run again on every retry its client thinks safe.
    pub(crate) fn fits(length: Option<u64>, max_request: usize) -> Result<(), Rejection> {
        match length {
            Some(length) if length > max_request as u64 => Err(Rejection::PayloadTooLarge {
                file_size: Some(length),
                max_size: max_request as u64,
            }),
            _ => Ok(()),
        }
    }

    /// Claims the key for the request of `query` and `body`: serve it, or
    /// replay the first answer, or refuse it. A duplicate of a request
    /// still being served waits for its answer (up to 5 s, then a
    /// retryable 409).
    pub(crate) async fn begin<St: IdempotencyStore + ?Sized>(
        self,
        store: &Arc<St>,
        query: &str,
        body: &[u8],
    ) -> Begin<St> {
        let fingerprint = Fingerprint::of(query, body);
        let owner = Owner::new();
        let started = Instant::now();
        loop {
            // Dropped while the store is asked (the client went away), the
            // claim may land all the same: it is given back then, rather
            // than holding the key until the store forgets it.
            let mut asking = Asking {
                store,
                key: &self.key,
                owner,
                answered: false,
            };
            let claim = store.claim(&self.key, fingerprint, owner).await;
            asking.answered = true;
            drop(asking);
            match claim {
                // Also when the first request gave the key up while this
                // one waited: this one, which has its body, does the work.
                Ok(Claim::New) => {
                    let renewal = renew_while_served(store, &self.key, owner);
                    return Begin::Serve(Claimed {
                        store: Arc::clone(store),
                        key: Some(self.key),
                        fingerprint,
                        owner,
                        renewal,
                    });
                }
                Ok(Claim::Done(stored)) => return Begin::Replay(replayed(stored)),
                Ok(Claim::Mismatch) => return Begin::Refuse(Rejection::IdempotencyKeyReused),
                Ok(Claim::InFlight) if started.elapsed() < WAIT => {
                    tokio::time::sleep(POLL).await;
                }
                Ok(Claim::InFlight) => {
                    return Begin::Refuse(Rejection::RequestInProgress { retry_after: 1 });
                }
                Err(err) => {
                    tracing::error!(target: "rebuff::idempotency", error = %err, "the idempotency store failed: the keyed request is refused, not served twice");
                    // A claim that timed out may still land (a store on
                    // one ordered connection runs the release after it):
                    // given back, so that the retry is not told 409 until
                    // the claim expires. Only this request's own claim: a
                    // try of it still being served holds the key under its
                    // own owner, and keeps it. One the store was never
                    // asked has nothing to give back.
                    if err.may_have_landed() {
                        release_now(store, self.key, owner);
                    }
                    return Begin::Refuse(Rejection::Unavailable { retry_after: 1 });
                }
            }
        }
    }
}

/// A claim being asked for; gives it back if dropped before the answer.
struct Asking<'a, St: IdempotencyStore + ?Sized> {
    store: &'a Arc<St>,
    key: &'a str,
    owner: Owner,
    answered: bool,
}

impl<St: IdempotencyStore + ?Sized> Drop for Asking<'_, St> {
    fn drop(&mut self) {
        if !self.answered {
            release_now(self.store, self.key.to_owned(), self.owner);
        }
    }
}

/// What a claimed key comes to.
pub(crate) enum Begin<St: IdempotencyStore + ?Sized> {
    /// Serve the request; complete the claim with its response.
    Serve(Claimed<St>),
    /// Answer with the first request's response.
    Replay(StoredResponse),
    /// Answer with this rejection.
    Refuse(Rejection),
}

impl<St: IdempotencyStore + ?Sized> fmt::Debug for Begin<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Begin::Serve(_) => f.write_str("Serve"),
            Begin::Replay(stored) => f.debug_tuple("Replay").field(&stored.status).finish(),
            Begin::Refuse(rejection) => f.debug_tuple("Refuse").field(rejection).finish(),
        }
    }
}

/// A key this request owns: completed with its response, or given back
/// when dropped without one (a response not worth keeping, a request
/// cancelled midway), so that a retry does the work. While it is held, a
/// store whose claims expire has it renewed.
pub(crate) struct Claimed<St: IdempotencyStore + ?Sized> {
    store: Arc<St>,
    key: Option<String>,
    fingerprint: Fingerprint,
    owner: Owner,
    /// The task renewing the claim, stopped when the claim ends.
    renewal: Option<tokio::task::AbortHandle>,
}

/// Renews the claim of `key` on a task of its own, as often as `store`
/// asks, until it is stopped (the request answered or dropped): a request
/// slower than the store's claims last keeps its key, instead of a retry
/// claiming it and doing the work a second time.
fn renew_while_served<St: IdempotencyStore + ?Sized>(
    store: &Arc<St>,
    key: &str,
    owner: Owner,
) -> Option<tokio::task::AbortHandle> {
    // A floor: a claim too short to renew every 10 ms lapses anyway, and
    // renewing faster would only load the store.
    let every = store.renew_every()?.max(MIN_RENEWAL);
    // A claim renewed less often than yearly needs no renewing task (and
    // one that never lapses, none the clock could count).
    if every > MAX_RENEWAL {
        return None;
    }
    let Ok(runtime) = tokio::runtime::Handle::try_current() else {
        tracing::error!(target: "rebuff::idempotency", "no runtime to renew an idempotency key on: a request slower than the store's claims may be served twice");
        return None;
    };
    let store = Arc::clone(store);
    let key = key.to_owned();
    let task = runtime.spawn(async move {
        let mut tick = tokio::time::interval_at(tokio::time::Instant::now() + every, every);
        tick.set_missed_tick_behavior(tokio::time::MissedTickBehavior::Delay);
        loop {
            tick.tick().await;
            if let Err(err) = store.renew(&key, owner).await {
                tracing::warn!(target: "rebuff::idempotency", error = %err, "the idempotency store failed to renew a key in flight");
            }
        }
    });
    Some(task.abort_handle())
}

/// [`Claimed::keeps`], for bodies of at most `max_body` bytes.
fn keeps(status: StatusCode, headers: &HeaderMap, length: Option<u64>, max_body: usize) -> bool {
    crate::api_error::replayable_status(status)
        && !headers.contains_key(http::header::RETRY_AFTER)
        && length.is_some_and(|length| length <= max_body as u64)
}

impl<St: IdempotencyStore + ?Sized> Claimed<St> {
    /// Whether a response is kept for replay. Not kept, so that a retry
    /// with the key does the work again: a 5xx, an answer that asks to be
    /// retried (408, 429, any `Retry-After`), a body of unknown length or
    /// over the store's
    /// [`max_response_bytes`](IdempotencyStore::max_response_bytes)
    /// (streamed through as it is), and a `rejection`: the request refused
    /// before its handler did any work (an extractor's rejection, the
    /// router's 404 or 405, a body over the limit). The work was never
    /// done, so the key is given back: the client can correct its request
    /// and send it again with the same key, and have it served rather than
    /// refused as a key reused with another body.
    pub(crate) fn keeps(
        &self,
        status: StatusCode,
        headers: &HeaderMap,
        length: Option<u64>,
        rejection: bool,
    ) -> bool {
        !rejection && keeps(status, headers, length, self.max_body())
    }

    /// The largest body kept, to read a response up to.
    pub(crate) fn max_body(&self) -> usize {
        self.store.max_response_bytes()
    }

    /// Stores the response for the key's retries.
    ///
    /// The key stays this request's until the store has the response:
    /// dropped on the way (the client gone, a timeout) or failing, the
    /// claim is given back (a release after a completion that landed all
    /// the same changes nothing).
    pub(crate) async fn complete(mut self, response: StoredResponse) {
        self.stop_renewing();
        let Some(key) = self.key.as_deref() else {
            return;
        };
        match self
            .store
            .complete(key, self.fingerprint, self.owner, response)
            .await
        {
            Ok(()) => self.key = None,
            // The answer goes out, and the key is given back: a retry
            // does the work again.
            Err(err) => {
                tracing::error!(target: "rebuff::idempotency", error = %err, "the idempotency store failed to keep a response");
            }
        }
    }

    fn stop_renewing(&mut self) {
        if let Some(renewal) = self.renewal.take() {
            renewal.abort();
        }
    }
}

impl<St: IdempotencyStore + ?Sized> Drop for Claimed<St> {
    fn drop(&mut self) {
        self.stop_renewing();
        if let Some(key) = self.key.take() {
            release_now(&self.store, key, self.owner);
        }
    }
}

/// Gives `key` back: at once for a store that answers at once (the
/// in-process one, with or without a runtime), else on a task of its own
/// (a drop cannot wait); outside a runtime, a store that needs one is left
/// to let the claim expire.
fn release_now<St: IdempotencyStore + ?Sized>(store: &Arc<St>, key: String, owner: Owner) {
    let store = Arc::clone(store);
    let mut release = Box::pin(async move {
        if let Err(err) = store.release(&key, owner).await {
            tracing::error!(target: "rebuff::idempotency", error = %err, "the idempotency store failed to release a key");
        }
    });
    let mut cx = TaskContext::from_waker(core::task::Waker::noop());
    if release.as_mut().poll(&mut cx) == Poll::Pending {
        match tokio::runtime::Handle::try_current() {
            Ok(runtime) => drop(runtime.spawn(release)),
            Err(_) => {
                tracing::error!(target: "rebuff::idempotency", "no runtime to release an idempotency key on: it is free again when its claim expires");
            }
        }
    }
}

/// A stored response as a replay: marked `Idempotent-Replayed: true`,
/// without the first request's `X-Request-Id` (an error's response has
/// it), so that the surface gives it the id of the request it answers. The
/// body of a replayed error still names the first request's id, which is
/// the one the work was logged under.
fn replayed(mut stored: StoredResponse) -> StoredResponse {
    stored.headers.remove(crate::X_REQUEST_ID);
    stored
        .headers
        .insert("idempotent-replayed", HeaderValue::from_static("true"));
    stored
}

/// Says, once a process (then at `DEBUG`), that a key was ignored because
/// its caller could not be told apart: a warning per request would let
/// any client fill the log.
fn unscoped() {
    static SAID: core::sync::atomic::AtomicBool = core::sync::atomic::AtomicBool::new(false);
    const WHY: &str = "an idempotency key from a caller the keys' scope cannot tell apart \
                       (no credentials) is not honoured: set the scope to what identifies \
                       your callers";
    if SAID.swap(true, core::sync::atomic::Ordering::Relaxed) {
        tracing::debug!(target: "rebuff::idempotency", "{WHY}");
    } else {
        tracing::warn!(target: "rebuff::idempotency", "{WHY} (said once; then at debug)");
    }
}

/// The key as the store sees it: digested together with what scopes it.
pub(crate) fn scoped_key(method: &str, path: &str, scope: &[u8], key: &str) -> String {
    use fmt::Write as _;
    let digest = digest(&[method.as_bytes(), path.as_bytes(), scope, key.as_bytes()]);
    let mut hex = String::with_capacity(64);
    for byte in digest {
        let _ = write!(hex, "{byte:02x}");
    }
    hex
}

/// A response body that failed while it was read to be kept: answered
/// with a 500 (and logged once, as its cause), its key given back.
#[derive(Debug)]
pub(crate) struct BodyFailed;

impl fmt::Display for BodyFailed {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("the response body broke off (or ran past the length it announced) while it was read to be kept for its idempotency key")
    }
}

impl std::error::Error for BodyFailed {}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use super::*;
    use crate::StoreError;
    use crate::server::idempotency::{MemoryStore, StoreFuture};

    /// A store in memory whose claims (or, with `true`, completions)
    /// land, then never answer: a Redis that ran the script and was cut
    /// off before its reply.
    struct Unanswered(MemoryStore, Mutex<Vec<Owner>>, bool);

    impl IdempotencyStore for Unanswered {
        fn claim<'a>(
            &'a self,
            key: &'a str,
            fingerprint: Fingerprint,
            owner: Owner,
        ) -> StoreFuture<'a, Claim> {
            let landed = self.0.claim(key, fingerprint, owner);
            let hangs = !self.2;
            Box::pin(async move {
                let claim = landed.await;
                if hangs {
                    core::future::pending::<()>().await;
                }
                claim
            })
        }

        fn complete<'a>(
            &'a self,
            key: &'a str,
            fingerprint: Fingerprint,
            owner: Owner,
            response: StoredResponse,
        ) -> StoreFuture<'a, ()> {
            let landed = self.0.complete(key, fingerprint, owner, response);
            let hangs = self.2;
            Box::pin(async move {
                let completed = landed.await;
                if hangs {
                    core::future::pending::<()>().await;
                }
                completed
            })
        }

        fn release<'a>(&'a self, key: &'a str, owner: Owner) -> StoreFuture<'a, ()> {
            self.1.lock().unwrap().push(owner);
            self.0.release(key, owner)
        }
    }

    #[tokio::test]
    async fn a_request_dropped_while_its_claim_is_asked_gives_the_claim_back() {
        let store = Arc::new(Unanswered(
            MemoryStore::new(Duration::from_secs(60)),
            Mutex::new(Vec::new()),
            false,
        ));
        let keyed = Keyed::of("POST", "/orders", [&b"k"[..]], || b"caller".to_vec())
            .unwrap()
            .unwrap();
        let key = keyed.key.clone();
        let begin = keyed.begin(&store, "", b"{}");
        // The client goes away while the store is asked.
        assert!(
            tokio::time::timeout(Duration::from_millis(20), begin)
                .await
                .is_err()
        );
        let released = store.1.lock().unwrap().clone();
        assert_eq!(released.len(), 1, "given back once");
        // The claim that landed was this request's, and it is gone.
        assert_eq!(
            store
                .0
                .claim(&key, Fingerprint::of("", b"{}"), Owner::new())
                .await
                .unwrap(),
            Claim::New
        );
    }

    /// A store whose claims fail, sent (`true`: they may have landed) or
    /// not, counting the releases it is asked for.
    struct Failing(Mutex<u32>, bool);

    impl IdempotencyStore for Failing {
        fn claim<'a>(&'a self, _: &'a str, _: Fingerprint, _: Owner) -> StoreFuture<'a, Claim> {
            let err = if self.1 {
                StoreError::new("no answer in time")
            } else {
                StoreError::unsent("breaker open")
            };
            Box::pin(async move { Err(err) })
        }

        fn complete<'a>(
            &'a self,
            _: &'a str,
            _: Fingerprint,
            _: Owner,
            _: StoredResponse,
        ) -> StoreFuture<'a, ()> {
            Box::pin(async { Ok(()) })
        }

        fn release<'a>(&'a self, _: &'a str, _: Owner) -> StoreFuture<'a, ()> {
            *self.0.lock().unwrap() += 1;
            Box::pin(async { Ok(()) })
        }
    }

    /// A failed claim is given back only if it may have landed.
    #[tokio::test]
    async fn a_claim_the_store_was_never_asked_is_not_given_back() {
        for sent in [true, false] {
            let store = Arc::new(Failing(Mutex::new(0), sent));
            let keyed = Keyed::of("POST", "/orders", [&b"k"[..]], || b"caller".to_vec())
                .unwrap()
                .unwrap();
            let begin = keyed.begin(&store, "", b"{}").await;
            assert!(
                matches!(begin, Begin::Refuse(Rejection::Unavailable { .. })),
                "{sent}"
            );
            assert_eq!(*store.0.lock().unwrap(), u32::from(sent), "sent: {sent}");
        }
    }

    /// A store that never answers a completion: the request dropped while
    /// it waits (the client gone) gives the key back, so that it does not
    /// stay in flight.
    #[tokio::test]
    async fn a_request_dropped_while_its_response_is_stored_gives_the_claim_back() {
        let store = Arc::new(Unanswered(
            MemoryStore::new(Duration::from_secs(60)),
            Mutex::new(Vec::new()),
            true,
        ));
        let keyed = Keyed::of("POST", "/orders", [&b"k"[..]], || b"caller".to_vec())
            .unwrap()
            .unwrap();
        let Begin::Serve(claimed) = keyed.begin(&store, "", b"{}").await else {
            panic!("a new key is served");
        };
        let response = StoredResponse {
            status: StatusCode::CREATED,
            headers: HeaderMap::new(),
            body: bytes::Bytes::from_static(b"{}"),
        };
        assert!(
            tokio::time::timeout(Duration::from_millis(20), claimed.complete(response))
                .await
                .is_err()
        );
        assert_eq!(store.1.lock().unwrap().len(), 1, "given back once");
    }

    #[test]
    fn outside_a_runtime_the_in_process_store_still_gives_a_key_back() {
        fn now<T>(future: impl Future<Output = T>) -> T {
            let mut future = core::pin::pin!(future);
            let mut cx = TaskContext::from_waker(core::task::Waker::noop());
            match future.as_mut().poll(&mut cx) {
                Poll::Ready(answer) => answer,
                Poll::Pending => panic!("the in-process store answers at once"),
            }
        }
        let store = Arc::new(MemoryStore::new(Duration::from_secs(60)));
        let fingerprint = Fingerprint::of("", b"{}");
        let owner = Owner::new();
        assert!(matches!(
            now(store.claim("k", fingerprint, owner)),
            Ok(Claim::New)
        ));
        release_now(&store, "k".to_owned(), owner);
        assert!(
            matches!(
                now(store.claim("k", fingerprint, Owner::new())),
                Ok(Claim::New)
            ),
            "given back"
        );
    }

    /// A store whose claims are renewed further apart than the clock can
    /// count: no renewal, and no panic adding that to the time (nor, later,
    /// the timer's own additions).
    struct NeverLapses(MemoryStore);

    impl IdempotencyStore for NeverLapses {
        fn claim<'a>(
            &'a self,
            key: &'a str,
            fingerprint: Fingerprint,
            owner: Owner,
        ) -> StoreFuture<'a, Claim> {
            self.0.claim(key, fingerprint, owner)
        }

        fn complete<'a>(
            &'a self,
            key: &'a str,
            fingerprint: Fingerprint,
            owner: Owner,
            response: StoredResponse,
        ) -> StoreFuture<'a, ()> {
            self.0.complete(key, fingerprint, owner, response)
        }

        fn release<'a>(&'a self, key: &'a str, owner: Owner) -> StoreFuture<'a, ()> {
            self.0.release(key, owner)
        }

        fn renew_every(&self) -> Option<Duration> {
            Some(Duration::MAX)
        }
    }

    #[tokio::test]
    async fn renewals_further_apart_than_the_clock_counts_are_none() {
        let store = Arc::new(NeverLapses(MemoryStore::new(Duration::from_secs(60))));
        assert!(renew_while_served(&store, "k", Owner::new()).is_none());
        let keyed = Keyed::of("POST", "/orders", [&b"k"[..]], || b"caller".to_vec())
            .unwrap()
            .unwrap();
        assert!(matches!(
            keyed.begin(&store, "", b"{}").await,
            Begin::Serve(_)
        ));
    }

    #[test]
    fn scoped_keys_tell_their_parts_apart() {
        let key = scoped_key("POST", "/orders", b"alice", "k");
        assert_eq!(key.len(), 64);
        assert!(key.bytes().all(|b| b.is_ascii_hexdigit()));
        for other in [
            scoped_key("PUT", "/orders", b"alice", "k"),
            scoped_key("POST", "/payments", b"alice", "k"),
            scoped_key("POST", "/orders", b"bob", "k"),
            scoped_key("POST", "/orders", b"alice", "k2"),
        ] {
            assert_ne!(key, other);
        }
    }

    #[test]
    fn only_answers_worth_repeating_are_kept() {
        let none = HeaderMap::new();
        assert!(keeps(StatusCode::CREATED, &none, Some(10), MAX_BODY));
        assert!(keeps(StatusCode::CONFLICT, &none, Some(10), MAX_BODY));
        for status in [500, 503, 429, 408] {
            let status = StatusCode::from_u16(status).unwrap();
            assert!(!keeps(status, &none, Some(10), MAX_BODY), "{status}");
        }
        let mut retry = HeaderMap::new();
        retry.insert(http::header::RETRY_AFTER, HeaderValue::from_static("1"));
        assert!(!keeps(StatusCode::OK, &retry, Some(10), MAX_BODY));
        assert!(!keeps(StatusCode::OK, &none, None, MAX_BODY));
        let over = MAX_BODY as u64 + 1;
        assert!(!keeps(StatusCode::OK, &none, Some(over), MAX_BODY));
        // A store that keeps larger bodies keeps it.
        assert!(keeps(StatusCode::OK, &none, Some(over), 4 * MAX_BODY));
    }
}
