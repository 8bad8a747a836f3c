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
/// surface's default body limit): a key is scoped to the method, the whole
/// path and the caller ([`scope`](Self::scope), by default the
/// `Authorization` header), and
/// bound to its request, so that the same key sent with another query or
/// body is refused with a 422 `idempotency_key_reused`; a duplicate that
/// arrives while the first is still being served waits for its answer (up
/// to 5 s, then a retryable 409); a 5xx, an answer asking to be retried and
/// a streamed or large response are not kept. Inside the surface the key
/// is honoured after the rate limit (a refused request claims no key) and
/// under the body limit (a chunked body is read up to it; see
/// [`max_request_body`](Self::max_request_body)). A key is claimed once
/// however the surface and an `IdempotencyLayer` or `Idempotency` nest:
/// the outer one honours it, and the inner one passes the request through.
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
    max_request: usize,
}

impl fmt::Debug for IdempotencyKeys {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyKeys")
            .field("max_request", &self.max_request)
            .finish_non_exhaustive()
    }
}

/// The default scope: the caller's credentials, as sent.
fn by_authorization(view: &RequestView<'_>) -> Vec<u8> {
    view.header_bytes("authorization")
        .map(<[u8]>::to_vec)
        .unwrap_or_default()
}

impl IdempotencyKeys {
    /// Keys kept in `store`: a [`MemoryStore`](super::MemoryStore) for one
    /// server, a shared one (Redis, with the `redis` feature) for a fleet.
    pub fn new(store: impl IdempotencyStore) -> Self {
        IdempotencyKeys {
            store: Arc::new(store),
            scope: Arc::new(by_authorization),
            max_request: usize::try_from(DEFAULT_BODY_LIMIT).unwrap_or(usize::MAX),
        }
    }

    /// Scopes keys to what `scope` returns for a request (its method and
    /// whole path are always part of the scope). The default is the
    /// `Authorization` header as sent; an API whose callers authenticate
    /// otherwise (an API key header, say) should return what identifies
    /// the caller. Requests for which it returns the same bytes share their
    /// keys, so never return a constant. (On axum, the view's
    /// [`peer`](RequestView::peer) is known only for a server run with
    /// `into_make_service_with_connect_info`.) A scope that panics is
    /// answered as a handler that panics is.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};
    ///
    /// let keys = IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(3600)))
    ///     .scope(|request| {
    ///         request
    ///             .header_bytes("x-api-key")
    ///             .or_else(|| request.header_bytes("authorization"))
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

    /// Fingerprints request bodies of up to `max` bytes (default 2 MiB,
    /// the surface's default body limit, so that under that limit every
    /// keyed body is honoured); a keyed request with a larger body, or one
    /// of unknown length (chunked) when the surface's body limit is larger
    /// than `max` (or it has none, [`no_body_limit`](crate::server::Surface::no_body_limit)),
    /// is served without its key being honoured (and logged). The body is
    /// held in memory while it is fingerprinted and served.
    #[must_use]
    pub fn max_request_body(mut self, max: usize) -> Self {
        self.max_request = max;
        self
    }

    /// The store.
    pub(crate) fn store(&self) -> &Arc<dyn IdempotencyStore> {
        &self.store
    }

    /// The most of a request body fingerprinted.
    pub(crate) fn max_request(&self) -> usize {
        self.max_request
    }

    /// The key of `request` (the surface's view of it, with the whole
    /// path), scoped, if it carries one; a 400 if it is unusable.
    pub(crate) fn keyed(&self, request: &RequestView<'_>) -> Result<Option<Keyed>, Rejection> {
        let Some(key) = request.header_bytes("idempotency-key") else {
            return Ok(None);
        };
        Keyed::of(
            request.method(),
            request.path(),
            Some(key),
            &(self.scope)(request),
        )
    }
}
