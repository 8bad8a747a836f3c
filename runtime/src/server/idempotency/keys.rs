//! [`IdempotencyKeys`]: idempotency keys as the server surface takes them,
//! the same on axum and actix-web.

use core::fmt;
use std::sync::Arc;

use super::{IdempotencyStore, Keyed};
use crate::rejection::Rejection;
use crate::server::DEFAULT_BODY_LIMIT;
use crate::view::RequestView;

/// Whose keys a request's are.
type Scope = dyn for<'a> Fn(&RequestView<'a>) -> Vec<u8> + Send + Sync;

/// Idempotency keys for every route of a [`Surface`](crate::server::Surface),
/// given to it with [`Surface::idempotency`](crate::server::Surface::idempotency):
/// a request with an `Idempotency-Key` is served once, and its retries get
/// the first answer again (with `Idempotent-Replayed: true` and their own
/// `X-Request-Id`; the body is the first one byte for byte, so an error's
/// envelope names the first request's id).
///
/// The rules are those of the axum
/// [`IdempotencyLayer`](crate::server::idempotency::IdempotencyLayer) and
/// the actix-web `Idempotency` middleware, which remain for composing by
/// hand (they fingerprint bodies up to 1 MiB by default, these up to the
/// surface's body limit):
///
/// - Keys are honoured on the methods that are not idempotent (POST,
///   PATCH, and any RFC 9110 does not call idempotent). A key on GET,
///   HEAD, PUT, DELETE, OPTIONS or TRACE is ignored: sending those again
///   does no harm, and a GET's first answer replayed would be stale.
/// - A key is scoped to the method, the whole path and the caller
///   ([`scope`](Self::scope); by default the credentials it sent, its
///   `Authorization` and `X-API-Key` headers). A caller the scope cannot
///   tell apart from others (by default, one without credentials) has its
///   key ignored, said once in the log, rather than shared with every
///   such caller: it is served as a request without a key is.
/// - A key is bound to its request: the same key sent with another query
///   or body is refused with a 422 `idempotency_key_reused`.
/// - A duplicate that arrives while the first is still being served
///   waits for its answer (up to 5 s, then a retryable 409).
/// - A 5xx, an answer asking to be retried and a streamed or large
///   response are not kept; nor is a request refused before its handler
///   ran (an extractor's rejection, an unknown route, a wrong method),
///   whose key is given back for the corrected request.
/// - Inside the surface the key is honoured after the rate limit (a
///   refused request claims no key) and under the body limit: every
///   keyed body the limit admits is fingerprinted, unless
///   [`max_request_body`](Self::max_request_body) says less.
/// - A key is claimed once however the surface and an `IdempotencyLayer`
///   or `Idempotency` nest: the outer one honours it, and the inner one
///   passes the request through.
///
/// ```
/// # #[cfg(feature = "axum")] {
/// use std::time::Duration;
/// use rebuff::ApiError;
/// use rebuff::server::Surface;
/// use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};
///
/// #[derive(Debug, ApiError)]
/// enum OrderError {
///     #[api(status = 404, code = "order_not_found", message = "No such order")]
///     NotFound,
/// }
///
/// let keys = IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(24 * 3600)));
/// let surface = Surface::<OrderError>::new().idempotency(keys);
/// let app: axum::Router = axum::Router::new()
///     .route("/api/v1/orders", axum::routing::post(|| async { "created" }))
///     .layer(surface);
/// # let _ = app;
/// # }
/// ```
#[derive(Clone)]
pub struct IdempotencyKeys {
    store: Arc<dyn IdempotencyStore>,
    scope: Arc<Scope>,
    /// Set by the user; else the surface's body limit.
    max_request: Option<usize>,
}

impl fmt::Debug for IdempotencyKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyKeys")
            .field("max_request", &self.max_request)
            .finish_non_exhaustive()
    }
}

/// The default scope of keys: the caller's credentials as sent, the
/// `Authorization` header and the `X-API-Key` header, both when both are
/// sent (so that neither alone decides, whichever the API checks); empty
/// when neither is, and the key is then not honoured.
pub(crate) fn default_scope(request: &RequestView<'_>) -> Vec<u8> {
    let mut scope = Vec::new();
    for name in ["authorization", "x-api-key"] {
        if let Some(value) = request.header_bytes(name).filter(|v| !v.is_empty()) {
            // Named and length-prefixed: no two sets of headers read alike.
            scope.extend_from_slice(name.as_bytes());
            scope.extend_from_slice(&(value.len() as u64).to_be_bytes());
            scope.extend_from_slice(value);
        }
    }
    scope
}

impl IdempotencyKeys {
    /// Keys kept in `store`: a [`MemoryStore`](super::MemoryStore) for one
    /// server, a shared one (Redis, with the `redis` feature) for a fleet.
    pub fn new(store: impl IdempotencyStore) -> Self {
        IdempotencyKeys {
            store: Arc::new(store),
            scope: Arc::new(super::default_scope),
            max_request: None,
        }
    }

    /// Scopes keys to what `scope` returns for a request (its method and
    /// whole path are always part of the scope). The default is the
    /// credentials the request sent, as sent: its `Authorization` and
    /// `X-API-Key` headers (both, when both are sent, so that neither alone
    /// decides). An API whose callers authenticate otherwise should return
    /// what identifies the caller. Requests for which it returns the same
    /// bytes share their keys, so never return a constant; for a request
    /// it returns nothing for (an empty vector), the key is ignored, said
    /// once in the log. (The client's address is no identity by default:
    /// behind a proxy, or a NAT, many callers share one; a scope of your
    /// own may use it, [`peer`](RequestView::peer).) A scope that panics is
    /// answered as a handler that panics is.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};
    ///
    /// let keys = IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(3600)))
    ///     .scope(|request| {
    ///         request
    ///             .header_bytes("x-customer-token")
    ///             .unwrap_or_default()
    ///             .to_vec()
    ///     });
    /// # let _ = keys;
    /// ```
    #[must_use]
    pub fn scope(
        mut self,
        scope: impl for<'a> Fn(&RequestView<'a>) -> Vec<u8> + Send + Sync + 'static,
    ) -> Self {
        self.scope = Arc::new(scope);
        self
    }

    /// Fingerprints request bodies of up to `max` bytes. By default, as
    /// much as the surface's body limit admits (2 MiB unless set; 2 MiB
    /// too for a surface with
    /// [`no_body_limit`](crate::server::Surface::no_body_limit)), so that
    /// every keyed body the surface takes is honoured. A keyed request
    /// with a larger body is refused with a 413, before it is served:
    /// served without its key, it would run again on every retry its
    /// client thinks safe. The body is held in memory while it is
    /// fingerprinted and served.
    #[must_use]
    pub fn max_request_body(mut self, max: usize) -> Self {
        self.max_request = Some(max);
        self
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<dyn IdempotencyStore> {
        &self.store
    }

    /// The most of a request body fingerprinted, under a surface whose
    /// body limit is `body_limit`.
    pub(crate) fn max_request(&self, body_limit: Option<u64>) -> usize {
        self.max_request.unwrap_or_else(|| {
            usize::try_from(body_limit.unwrap_or(DEFAULT_BODY_LIMIT)).unwrap_or(usize::MAX)
        })
    }

    /// The key of `request` (the surface's view of it, with the whole
    /// path), scoped, if it carries one; a 400 if it is unusable.
    pub(crate) fn keyed(&self, request: &RequestView<'_>) -> Result<Option<Keyed>, Rejection> {
        Keyed::of(
            request.method(),
            request.path(),
            request.header_values("idempotency-key"),
            || (self.scope)(request),
        )
    }
}

#[cfg(test)]
mod tests {
    use std::net::{IpAddr, Ipv4Addr};
    use std::time::Duration;

    use http::HeaderMap;

    use super::*;
    use crate::server::idempotency::MemoryStore;

    fn keys() -> IdempotencyKeys {
        IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(60)))
    }

    fn headers(pairs: &[(&'static str, &'static str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.insert(*name, http::HeaderValue::from_static(value));
        }
        headers
    }

    /// The scoped key of a request, if its key is honoured.
    fn key(method: &str, headers: &HeaderMap, peer: Option<IpAddr>) -> Option<String> {
        let view = RequestView::new(method, "/orders", headers, peer);
        keys()
            .keyed(&view)
            .unwrap()
            .map(|keyed| format!("{keyed:?}"))
    }

    #[test]
    fn keys_on_idempotent_methods_are_ignored_even_unusable_ones() {
        let keyed = headers(&[("idempotency-key", "k1"), ("authorization", "Bearer a")]);
        for method in ["POST", "PATCH", "LOCK"] {
            assert!(key(method, &keyed, None).is_some(), "{method}");
        }
        let empty = headers(&[("idempotency-key", ""), ("authorization", "Bearer a")]);
        for method in ["GET", "HEAD", "PUT", "DELETE", "OPTIONS", "TRACE"] {
            assert_eq!(key(method, &keyed, None), None, "{method}");
            assert_eq!(key(method, &empty, None), None, "{method}");
        }
        let view = RequestView::new("POST", "/orders", &empty, None);
        assert!(matches!(
            keys().keyed(&view),
            Err(Rejection::InvalidHeader { .. })
        ));
    }

    #[test]
    fn a_key_sent_twice_is_refused_on_the_methods_that_honour_one() {
        let mut twice = headers(&[("authorization", "Bearer a")]);
        for key in ["k1", "k2"] {
            twice.append("idempotency-key", http::HeaderValue::from_static(key));
        }
        let view = RequestView::new("POST", "/orders", &twice, None);
        let Err(Rejection::InvalidHeader { name, reason }) = keys().keyed(&view) else {
            panic!("two keys honoured");
        };
        assert_eq!(
            (&*name, &*reason),
            ("Idempotency-Key", "an idempotency key is sent once")
        );
        // Not a key the server reads on a GET: no reason to refuse it.
        assert_eq!(key("GET", &twice, None), None);
    }

    #[test]
    fn the_default_scope_is_every_credential_sent_and_never_the_address() {
        let peer = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 7)));
        let other_peer = Some(IpAddr::V4(Ipv4Addr::new(192, 0, 2, 8)));
        let sent = |pairs: &[(&'static str, &'static str)]| {
            let mut all = vec![("idempotency-key", "k1")];
            all.extend_from_slice(pairs);
            headers(&all)
        };

        // Each caller's key its own, whatever the address.
        let alice = key("POST", &sent(&[("authorization", "Bearer alice")]), peer).unwrap();
        let from_elsewhere = key(
            "POST",
            &sent(&[("authorization", "Bearer alice")]),
            other_peer,
        );
        assert_eq!(from_elsewhere, Some(alice.clone()));
        let bob = key("POST", &sent(&[("authorization", "Bearer bob")]), peer);
        assert_ne!(bob, Some(alice));
        let carol = key("POST", &sent(&[("x-api-key", "carol")]), peer).unwrap();
        assert_ne!(
            key("POST", &sent(&[("x-api-key", "dave")]), peer),
            Some(carol.clone())
        );
        // An API key that is also some bearer token is still another caller.
        assert_ne!(
            key("POST", &sent(&[("authorization", "carol")]), peer),
            Some(carol)
        );
        // One header the API does not check, the same for everyone (a
        // gateway's token), does not make its callers one: both count.
        let gateway = ("authorization", "Basic Z2F0ZXdheQ==");
        let erin = key("POST", &sent(&[gateway, ("x-api-key", "erin")]), peer).unwrap();
        let frank = key("POST", &sent(&[gateway, ("x-api-key", "frank")]), peer);
        assert_ne!(frank, Some(erin));
        // No credentials: not honoured, whatever the address (behind a
        // proxy or a NAT, many callers have one).
        assert_eq!(key("POST", &sent(&[]), peer), None);
        assert_eq!(key("POST", &sent(&[("authorization", "")]), None), None);
    }

    #[test]
    fn a_scope_returning_nothing_leaves_the_key_unhonoured() {
        let keys = keys().scope(|request| {
            request
                .header_bytes("x-tenant")
                .unwrap_or_default()
                .to_vec()
        });
        let peer = Some(IpAddr::V4(Ipv4Addr::LOCALHOST));
        let tenant = headers(&[("idempotency-key", "k1"), ("x-tenant", "t1")]);
        let anonymous = headers(&[("idempotency-key", "k1"), ("authorization", "Bearer a")]);
        let keyed = |headers| keys.keyed(&RequestView::new("POST", "/orders", headers, peer));
        assert!(keyed(&tenant).unwrap().is_some());
        assert!(keyed(&anonymous).unwrap().is_none());
    }

    #[test]
    fn the_most_fingerprinted_follows_the_body_limit_unless_set() {
        assert_eq!(keys().max_request(Some(10_000_000)), 10_000_000);
        assert_eq!(keys().max_request(Some(100)), 100);
        assert_eq!(keys().max_request(None), 2 << 20);
        let set = keys().max_request_body(1000);
        assert_eq!(set.max_request(Some(10_000_000)), 1000);
        // Larger than that, a keyed body is refused, not served unkeyed.
        assert!(Keyed::fits(Some(1000), 1000).is_ok());
        assert!(Keyed::fits(None, 1000).is_ok());
        assert!(matches!(
            Keyed::fits(Some(1001), 1000),
            Err(Rejection::PayloadTooLarge {
                file_size: Some(1001),
                max_size: 1000
            })
        ));
    }
}
