//! [`MemoryStore`]: the keys and responses of an [`IdempotencyStore`] in
//! this process's memory, bounded in entries and bytes.

use core::time::Duration;
use std::collections::{HashMap, VecDeque};
use std::sync::Mutex;
use std::time::Instant;

use super::{Claim, Fingerprint, IdempotencyStore, Owner, StoreFuture, StoredResponse};

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

/// Keys and responses in this process's memory, each answer kept for
/// `ttl` (a claim in flight lasts until its request completes or gives it
/// back, however slow: a request that never ends holds its key until the
/// process does, so bound handlers with a request timeout, such as
/// tower-http's `TimeoutLayer`), within a bound on answered keys and on
/// bytes: past either, the oldest answered
/// keys go first (and a retry of an evicted key does the work again). A key
/// whose request is still being served is never evicted: such claims come
/// on top of the bound, as many as the requests in flight. A response
/// larger than the whole byte bound is not kept.
///
/// ```
/// use std::time::Duration;
/// use rebuff::server::idempotency::MemoryStore;
///
/// let store = MemoryStore::new(Duration::from_secs(24 * 3600))
///     .max_entries(50_000)
///     .max_bytes(32 << 20)
///     .max_response_bytes(4 << 20);
/// # let _ = store;
/// ```
#[derive(Debug)]
pub struct MemoryStore {
    ttl: Duration,
    max_entries: usize,
    max_bytes: usize,
    max_response: usize,
    entries: Mutex<Entries>,
}

/// A key's record: when written, the request's fingerprint, the request
/// holding it, and its response once served.
type Entry = (Instant, Fingerprint, Owner, Option<StoredResponse>);

#[derive(Debug, Default)]
struct Entries {
    map: HashMap<String, Entry>,
    /// Answered keys in the order they were answered, with the time: the
    /// front is the oldest. A record whose key was rewritten or removed
    /// since is stale and skipped. Claims in flight are not in it: they are
    /// never dropped for room (their requests give them back or complete
    /// them).
    order: VecDeque<(Instant, String)>,
    /// How many keys are answered.
    answered: usize,
    /// The sizes of the stored responses.
    bytes: usize,
}

impl Entries {
    fn insert(
        &mut self,
        key: &str,
        at: Instant,
        fingerprint: Fingerprint,
        owner: Owner,
        response: Option<StoredResponse>,
    ) {
        let answered = response.is_some();
        self.bytes += response.as_ref().map_or(0, StoredResponse::size);
        if let Some((_, _, _, Some(old))) = self
            .map
            .insert(key.to_owned(), (at, fingerprint, owner, response))
        {
            self.bytes -= old.size();
            self.answered -= 1;
        }
        if answered {
            self.answered += 1;
            self.order.push_back((at, key.to_owned()));
        }
    }

    fn remove(&mut self, key: &str) {
        if let Some((_, _, _, Some(old))) = self.map.remove(key) {
            self.bytes -= old.size();
            self.answered -= 1;
        }
    }

    /// Drops the expired answers, then the oldest while over a bound: each
    /// record is looked at once, so a claim costs amortised O(1). Claims in
    /// flight are not among them (see [`Entries::order`]).
    fn prune(&mut self, now: Instant, ttl: Duration, max_entries: usize, max_bytes: usize) {
        while let Some((at, key)) = self.order.front() {
            let live = self
                .map
                .get(key)
                .is_some_and(|(written, .., done)| written == at && done.is_some());
            let over = self.answered > max_entries || self.bytes > max_bytes;
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
    /// A store keeping responses for `ttl`, at most 100,000 answered keys
    /// and 64 MiB of responses.
    #[must_use]
    pub fn new(ttl: Duration) -> Self {
        MemoryStore {
            ttl,
            max_entries: 100_000,
            max_bytes: 64 << 20,
            max_response: super::MAX_BODY,
            entries: Mutex::new(Entries::default()),
        }
    }

    /// Keeps at most `max` answered keys, dropping the oldest first (claims
    /// still being served come on top).
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

    /// Keeps no response body over `max` bytes (default 1 MiB); a larger
    /// one is sent as it is and not kept, and a retry does the work again.
    #[must_use]
    pub fn max_response_bytes(mut self, max: usize) -> Self {
        self.max_response = max;
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

impl MemoryStore {
    fn claim_now(&self, key: &str, fingerprint: Fingerprint, owner: Owner) -> Claim {
        let mut entries = self.lock();
        let now = Instant::now();
        self.prune(&mut entries, now);
        match entries.map.get(key) {
            // An answer is kept for `ttl`; a claim in flight lasts until
            // its request completes or gives it back, however slow.
            Some((at, .., Some(_))) if now.duration_since(*at) >= self.ttl => {
                entries.insert(key, now, fingerprint, owner, None);
                Claim::New
            }
            Some((_, first, ..)) if *first != fingerprint => Claim::Mismatch,
            Some((.., Some(done))) => Claim::Done(done.clone()),
            Some((.., None)) => Claim::InFlight,
            None => {
                entries.insert(key, now, fingerprint, owner, None);
                self.prune(&mut entries, now);
                Claim::New
            }
        }
    }

    fn complete_now(
        &self,
        key: &str,
        fingerprint: Fingerprint,
        owner: Owner,
        response: StoredResponse,
    ) {
        let mut entries = self.lock();
        let now = Instant::now();
        // Only the request's own key: in flight held by it, or forgotten
        // meanwhile.
        if let Some((_, _, holder, done)) = entries.map.get(key) {
            if *holder != owner || done.is_some() {
                return;
            }
        }
        if response.size() > self.max_bytes {
            // Kept, it would push every other response out, itself too:
            // given back instead, so that a retry does the work again.
            entries.remove(key);
            return;
        }
        entries.insert(key, now, fingerprint, owner, Some(response));
        self.prune(&mut entries, now);
    }

    fn release_now(&self, key: &str, owner: Owner) {
        let mut entries = self.lock();
        if matches!(entries.map.get(key), Some((_, _, holder, None)) if *holder == owner) {
            entries.remove(key);
        }
    }
}

impl IdempotencyStore for MemoryStore {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: Fingerprint,
        owner: Owner,
    ) -> StoreFuture<'a, Claim> {
        Box::pin(core::future::ready(Ok(self.claim_now(
            key,
            fingerprint,
            owner,
        ))))
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        fingerprint: Fingerprint,
        owner: Owner,
        response: StoredResponse,
    ) -> StoreFuture<'a, ()> {
        self.complete_now(key, fingerprint, owner, response);
        Box::pin(core::future::ready(Ok(())))
    }

    /// In this process: a claim cannot fail.
    fn can_fail(&self) -> bool {
        false
    }

    fn max_response_bytes(&self) -> usize {
        self.max_response
    }

    fn release<'a>(&'a self, key: &'a str, owner: Owner) -> StoreFuture<'a, ()> {
        self.release_now(key, owner);
        Box::pin(core::future::ready(Ok(())))
    }
}

#[cfg(test)]
mod tests {
    use bytes::Bytes;
    use http::{HeaderMap, StatusCode};

    use super::*;

    fn response(body: &'static str) -> StoredResponse {
        StoredResponse {
            status: StatusCode::OK,
            headers: HeaderMap::new(),
            body: Bytes::from_static(body.as_bytes()),
        }
    }

    const SAME: Fingerprint = Fingerprint([7; 32]);
    /// The request that claims with `SAME`, and another one.
    const ME: Owner = Owner([1; 16]);
    const THEM: Owner = Owner([2; 16]);

    fn serve(store: &MemoryStore, key: &str, body: &'static str) {
        assert_eq!(store.claim_now(key, SAME, ME), Claim::New, "{key}");
        store.complete_now(key, SAME, ME, response(body));
    }

    /// A request slower than the store's `ttl` keeps its key: a retry
    /// meanwhile is told it is in flight, not served a second time.
    #[test]
    fn a_claim_in_flight_outlasts_the_ttl() {
        // Room for a loaded machine between completing and asking again.
        let store = MemoryStore::new(Duration::from_millis(500));
        assert_eq!(store.claim_now("k", SAME, ME), Claim::New);
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(store.claim_now("k", SAME, THEM), Claim::InFlight);
        store.complete_now("k", SAME, ME, response("1"));
        assert_eq!(store.claim_now("k", SAME, THEM), Claim::Done(response("1")));
        // The answer itself is kept for the ttl only.
        std::thread::sleep(Duration::from_millis(600));
        assert_eq!(store.claim_now("k", SAME, THEM), Claim::New);
    }

    #[test]
    fn the_oldest_keys_go_first_past_the_entry_bound() {
        let store = MemoryStore::new(Duration::from_secs(60)).max_entries(2);
        serve(&store, "a", "1");
        serve(&store, "b", "2");
        serve(&store, "c", "3");
        assert_eq!(store.lock().map.len(), 2);
        assert_eq!(store.claim_now("c", SAME, ME), Claim::Done(response("3")));
        assert_eq!(store.claim_now("b", SAME, ME), Claim::Done(response("2")));
        // "a" was evicted: its key is new again.
        assert_eq!(store.claim_now("a", SAME, ME), Claim::New);
    }

    #[test]
    fn a_claim_being_served_is_never_dropped_for_room() {
        let store = MemoryStore::new(Duration::from_secs(60))
            .max_entries(2)
            .max_bytes(10);
        assert_eq!(store.claim_now("slow", SAME, ME), Claim::New);
        for key in ["a", "b", "c", "d"] {
            serve(&store, key, "0123456");
        }
        // Still in flight: a retry waits for it instead of serving again.
        assert_eq!(store.claim_now("slow", SAME, ME), Claim::InFlight);
        let entries = store.lock();
        assert!(entries.bytes <= 10, "{}", entries.bytes);
        assert!(entries.answered <= 2, "{}", entries.answered);
        assert_eq!(
            entries.order.len(),
            entries.answered,
            "no record of a claim"
        );
        drop(entries);
        store.complete_now("slow", SAME, ME, response("done"));
        assert_eq!(
            store.claim_now("slow", SAME, ME),
            Claim::Done(response("done"))
        );
        // Only claims in flight: past the entry bound, all kept, and the
        // pass over them ends.
        let busy = MemoryStore::new(Duration::from_secs(60)).max_entries(1);
        for key in ["x", "y", "z"] {
            assert_eq!(busy.claim_now(key, SAME, ME), Claim::New);
        }
        for key in ["x", "y", "z"] {
            assert_eq!(busy.claim_now(key, SAME, ME), Claim::InFlight, "{key}");
        }
    }

    #[test]
    fn a_response_larger_than_the_store_is_not_kept() {
        let store = MemoryStore::new(Duration::from_secs(60)).max_bytes(10);
        serve(&store, "small", "0123");
        assert_eq!(store.claim_now("huge", SAME, ME), Claim::New);
        store.complete_now("huge", SAME, ME, response("0123456789abcdef"));
        // Given back, and nothing else pushed out for it.
        assert_eq!(store.claim_now("huge", SAME, ME), Claim::New);
        assert_eq!(
            store.claim_now("small", SAME, ME),
            Claim::Done(response("0123"))
        );
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
            assert_eq!(store.claim_now("k", SAME, ME), Claim::New);
            store.release_now("k", ME);
        }
        serve(&store, "k", "done");
        std::thread::sleep(Duration::from_millis(30));
        assert_eq!(store.claim_now("other", SAME, ME), Claim::New);
        let entries = store.lock();
        assert!(!entries.map.contains_key("k"));
        // The 100 released claims' records were pruned with it.
        assert!(entries.order.len() <= 2, "{}", entries.order.len());
        assert_eq!(entries.bytes, 0);
    }

    #[test]
    fn a_key_claimed_with_another_fingerprint_is_a_mismatch() {
        let store = MemoryStore::new(Duration::from_secs(60));
        let other = Fingerprint::of("", b"another body");
        assert_eq!(store.claim_now("k", SAME, ME), Claim::New);
        assert_eq!(
            store.claim_now("k", other, THEM),
            Claim::Mismatch,
            "while in flight"
        );
        assert_eq!(store.claim_now("k", SAME, ME), Claim::InFlight);
        store.complete_now("k", SAME, ME, response("done"));
        assert_eq!(
            store.claim_now("k", other, THEM),
            Claim::Mismatch,
            "once done"
        );
        assert_eq!(
            store.claim_now("k", SAME, ME),
            Claim::Done(response("done"))
        );
        // Done, it is no longer its request's to give back.
        store.release_now("k", ME);
        assert_eq!(
            store.claim_now("k", SAME, ME),
            Claim::Done(response("done"))
        );
        // Released in flight (its request failed), a key is free for any
        // request again; by another request's fingerprint, it is not.
        assert_eq!(store.claim_now("j", SAME, ME), Claim::New);
        store.release_now("j", THEM);
        assert_eq!(store.claim_now("j", SAME, ME), Claim::InFlight);
        store.release_now("j", ME);
        assert_eq!(store.claim_now("j", other, THEM), Claim::New);
        // A late completion leaves another request's claim alone.
        store.complete_now("j", SAME, ME, response("late"));
        assert_eq!(store.claim_now("j", other, THEM), Claim::InFlight);
    }

    #[test]
    fn a_try_of_the_same_request_cannot_give_back_or_complete_anothers_claim() {
        let store = MemoryStore::new(Duration::from_secs(60));
        assert_eq!(store.claim_now("k", SAME, ME), Claim::New);
        // A retry of the same request (same fingerprint, its own owner)
        // that gives up gives back nothing of the first try's claim.
        assert_eq!(store.claim_now("k", SAME, THEM), Claim::InFlight);
        store.release_now("k", THEM);
        assert_eq!(store.claim_now("k", SAME, THEM), Claim::InFlight);
        store.complete_now("k", SAME, THEM, response("second"));
        assert_eq!(store.claim_now("k", SAME, THEM), Claim::InFlight);
        // The holder's answer is the one kept.
        store.complete_now("k", SAME, ME, response("first"));
        assert_eq!(
            store.claim_now("k", SAME, THEM),
            Claim::Done(response("first"))
        );
    }
}
