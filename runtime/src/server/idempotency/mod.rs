//! Idempotent requests: a retried request (same `Idempotency-Key`) gets the
//! stored response of the first one instead of doing the work again.
//!
//! Keys are honoured on the methods that are not idempotent (POST, PATCH,
//! and any RFC 9110 does not call idempotent); a key on GET, HEAD, PUT,
//! DELETE, OPTIONS or TRACE is ignored: sending those again does no harm,
//! and a GET's first answer replayed would be stale.
//!
//! A key belongs to one caller and one endpoint: it is scoped to the
//! method, the path and (by default) the credentials the request sent (its
//! `Authorization` and `X-API-Key` headers), so another caller's request
//! with the same key is served on its own. A caller without credentials
//! has its key ignored (said once in the log) rather than shared with
//! every such caller. And it belongs
//! to one request: the query and body are fingerprinted, and a key sent
//! again with a different request is refused with a 422
//! (`idempotency_key_reused`) instead of replaying an answer to something
//! else. This follows the IETF `Idempotency-Key` header draft.
//!
//! A key is 1 to 255 printable ASCII characters (a UUID, say; spaces are
//! allowed, tabs and other bytes not). A request whose key is empty,
//! longer or of other bytes, or that sends the header more than once
//! (which key it meant is not known), is refused with a 400
//! (`invalid_header`): served without its key, it would run again on each
//! retry its client sent the key to make safe.
//!
//! An answer is kept for the key's retries when the request was served:
//! not a 5xx or an answer that asks to be retried (408, 429, any
//! `Retry-After`), which a retry is served again for, and not a request
//! refused before its handler did any work (an extractor's rejection, an
//! unknown route, a wrong method, a body over the limit). Such a refusal
//! gives the key back, so that the client can correct its request and send
//! it again with the same key.
//!
//! In the server surface's one call it is [`IdempotencyKeys`], given to
//! [`Surface::idempotency`](crate::server::Surface::idempotency), the same
//! on both frameworks. To compose by hand: on axum [`IdempotencyLayer`]
//! (inside a [`Surface`](crate::server::Surface)), on actix-web
//! `rebuff::server::actix::Idempotency`, wrapped before the surface. Those
//! two see the framework's whole request when scoping a key (an identity an
//! authentication layer put in its extensions, say), where
//! [`IdempotencyKeys::scope`] sees a [`RequestView`](crate::server::RequestView).
//!
//! ```no_run
//! # #[cfg(feature = "axum")] {
//! use std::time::Duration;
//! use axum::{Router, routing::post};
//! use rebuff::server::Surface;
//! use rebuff::server::idempotency::{IdempotencyKeys, IdempotencyLayer, MemoryStore};
//!
//! # #[derive(Debug, rebuff::ApiError)]
//! # #[api(status = 404, message = "No such order")]
//! # struct OrderError;
//! let day = Duration::from_secs(24 * 3600);
//! // In the one setup call, the same on actix-web:
//! let keys = IdempotencyKeys::new(MemoryStore::new(day));
//! let app: Router = Router::new()
//!     .route("/api/v1/orders", post(|| async { "created" }))
//!     .layer(Surface::<OrderError>::new().idempotency(keys));
//!
//! // Composed by hand, on axum:
//! let by_hand: Router = Router::new()
//!     .route("/api/v1/orders", post(|| async { "created" }))
//!     .layer(IdempotencyLayer::new(MemoryStore::new(day)))
//!     .layer(Surface::<OrderError>::new());
//! # let _ = (app, by_hand);
//! # }
//! ```

mod engine;
mod keys;
#[cfg(feature = "axum")]
pub(crate) mod layer;
mod memory;
#[cfg(feature = "redis")]
mod redis;

#[cfg(feature = "redis")]
#[cfg_attr(docsrs, doc(cfg(feature = "redis")))]
pub use self::redis::RedisStore;
pub use keys::IdempotencyKeys;
pub(crate) use keys::default_scope;
#[cfg(feature = "axum")]
pub use layer::{IdempotencyLayer, IdempotencyService};
pub use memory::MemoryStore;

pub(crate) use engine::{Begin, BodyFailed, Keyed, MAX_BODY, MAX_REQUEST};
// What the document of a surface with keys shows of them.
#[cfg(feature = "openapi")]
pub(crate) use engine::{MAX_KEY, invalid_key};

use core::future::Future;
use core::pin::Pin;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use sha2::{Digest, Sha256};

/// On a request whose key a surface or an idempotency layer honours: any
/// other of them further in passes it through, instead of claiming the key
/// a second time (where it would find it in flight, held by the first, and
/// wait).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Honoured;

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

/// A digest of the request a key was first sent with (its query and body):
/// a key sent again with a request of another fingerprint is refused.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Fingerprint([u8; 32]);

impl Fingerprint {
    /// The fingerprint of a request's query and body.
    #[must_use]
    pub fn of(query: &str, body: &[u8]) -> Self {
        Fingerprint(digest(&[query.as_bytes(), body]))
    }

    /// Its bytes (a SHA-256 digest), for a store that persists it.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// A fingerprint read back from its bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 32]) -> Self {
        Fingerprint(bytes)
    }
}

/// Who holds a claim: drawn afresh by each request that claims a key, so
/// that only that request can complete, renew or give back its claim. The
/// tries of one request share a [`Fingerprint`] but never an owner: a
/// retry that gives up (its store timed out, say) cannot give back the
/// claim of the try still being served, which would let a third do the
/// work again.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub struct Owner([u8; 16]);

impl Owner {
    /// A new owner, random.
    #[must_use]
    pub fn new() -> Self {
        Owner(fastrand::u128(..).to_le_bytes())
    }

    /// Its bytes, for a store that persists it.
    #[must_use]
    pub fn as_bytes(&self) -> &[u8; 16] {
        &self.0
    }

    /// An owner read back from its bytes.
    #[must_use]
    pub fn from_bytes(bytes: [u8; 16]) -> Self {
        Owner(bytes)
    }
}

impl Default for Owner {
    fn default() -> Self {
        Self::new()
    }
}

/// SHA-256 of `parts`, each prefixed with its length so that no two lists
/// of parts run together into the same input.
fn digest(parts: &[&[u8]]) -> [u8; 32] {
    let mut hasher = Sha256::new();
    for part in parts {
        hasher.update((part.len() as u64).to_be_bytes());
        hasher.update(part);
    }
    hasher.finalize().into()
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
    /// The key was first sent with a different request (another
    /// [`Fingerprint`]), whether that one is done or still being served.
    Mismatch,
}

pub use crate::StoreError;

/// A store's answer on its way.
pub type StoreFuture<'a, T> = Pin<Box<dyn Future<Output = Result<T, StoreError>> + Send + 'a>>;

/// Where keys and their responses are kept: in memory by default
/// ([`MemoryStore`]), or a shared store (Redis, a database) for several
/// server instances.
///
/// The keys a store sees are already scoped (to the method, path and
/// caller) and digested: 64 hexadecimal characters, never the client's raw
/// key or credentials. Each operation is atomic: two requests claiming one
/// key at once get one [`Claim::New`] between them.
///
/// A store that fails ([`StoreError`]) makes the keyed request a 503
/// ([`Rejection::Unavailable`](crate::Rejection::Unavailable), retryable):
/// serving it without its key could do the work twice, which is what the
/// key is there to prevent.
pub trait IdempotencyStore: Send + Sync + 'static {
    /// Claims `key` for `owner`, a request with `fingerprint`, or says what
    /// is known of it: [`Claim::Mismatch`] when it was claimed with another
    /// fingerprint. A [`Claim::New`] records `owner` as the key's holder.
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: Fingerprint,
        owner: Owner,
    ) -> StoreFuture<'a, Claim>;
    /// Stores the response of `owner`'s request (of `fingerprint`) for
    /// `key`, if the key is still its own: in flight held by `owner`, or
    /// forgotten meanwhile (then kept for it anew). A key claimed since by
    /// another request (even a try of the same one), or done, is left as it
    /// is.
    fn complete<'a>(
        &'a self,
        key: &'a str,
        fingerprint: Fingerprint,
        owner: Owner,
        response: StoredResponse,
    ) -> StoreFuture<'a, ()>;
    /// Forgets `key` (its request failed in a way worth repeating), if it
    /// is still in flight held by `owner`.
    fn release<'a>(&'a self, key: &'a str, owner: Owner) -> StoreFuture<'a, ()>;

    /// How often a request still being served renews its claim
    /// ([`renew`](Self::renew)), for a store whose claims expire on their
    /// own (so that a server that died serving a key does not hold it):
    /// often enough that a slow request keeps its key (at most every
    /// 10 ms). `None`, the default, for a store whose claims last until
    /// completed or released. A store that wraps another (for metrics,
    /// say) must forward this and `renew`, or its claims are not renewed.
    fn renew_every(&self) -> Option<core::time::Duration> {
        None
    }

    /// Whether the store can fail (`true`, the default: a store across
    /// the network can). A keyed request whose claim fails is answered
    /// with a 503; a store that cannot fail, such as [`MemoryStore`], says
    /// `false`, and the server's API document then lists no such 503. A
    /// store that wraps another must forward this.
    fn can_fail(&self) -> bool {
        true
    }

    /// The largest response body kept for replay (default 1 MiB). A larger
    /// one, or one of unknown length (streamed), is sent as it is and not
    /// kept: a retry with its key does the work again. A store that wraps
    /// another must forward this.
    fn max_response_bytes(&self) -> usize {
        MAX_BODY
    }

    /// Keeps `key` in flight for a while longer, if it is still in flight
    /// held by `owner` (the default does nothing).
    fn renew<'a>(&'a self, key: &'a str, owner: Owner) -> StoreFuture<'a, ()> {
        let _ = (key, owner);
        Box::pin(core::future::ready(Ok(())))
    }
}

/// A shared store, or one chosen at run time (`Arc<dyn IdempotencyStore>`).
impl<S: IdempotencyStore + ?Sized> IdempotencyStore for std::sync::Arc<S> {
    fn claim<'a>(
        &'a self,
        key: &'a str,
        fingerprint: Fingerprint,
        owner: Owner,
    ) -> StoreFuture<'a, Claim> {
        (**self).claim(key, fingerprint, owner)
    }

    fn complete<'a>(
        &'a self,
        key: &'a str,
        fingerprint: Fingerprint,
        owner: Owner,
        response: StoredResponse,
    ) -> StoreFuture<'a, ()> {
        (**self).complete(key, fingerprint, owner, response)
    }

    fn release<'a>(&'a self, key: &'a str, owner: Owner) -> StoreFuture<'a, ()> {
        (**self).release(key, owner)
    }

    fn renew_every(&self) -> Option<core::time::Duration> {
        (**self).renew_every()
    }

    fn can_fail(&self) -> bool {
        (**self).can_fail()
    }

    fn max_response_bytes(&self) -> usize {
        (**self).max_response_bytes()
    }

    fn renew<'a>(&'a self, key: &'a str, owner: Owner) -> StoreFuture<'a, ()> {
        (**self).renew(key, owner)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn fingerprints_tell_their_parts_apart() {
        assert_eq!(Fingerprint::of("a=1", b"{}"), Fingerprint::of("a=1", b"{}"));
        assert_ne!(
            Fingerprint::of("a=1", b"{}"),
            Fingerprint::of("a=1", b"{ }")
        );
        // Length prefixes: moving bytes from one part to the next changes
        // the digest.
        assert_ne!(Fingerprint::of("ab", b"c"), Fingerprint::of("a", b"bc"));
    }
}
