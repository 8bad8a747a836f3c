//! [`IdempotencyLayer`]: the tower middleware that serves a keyed request
//! once and replays its response to the retries, over any
//! [`IdempotencyStore`].

use core::fmt;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context as TaskContext, Poll};
use std::sync::Arc;

use axum::body::Body;

use super::MAX_REQUEST;
use super::{Begin, Honoured, IdempotencyStore, Keyed, StoredResponse};

/// The tower layer: requests with an `Idempotency-Key` are served once and
/// replayed after (with `Idempotent-Replayed: true`, and the
/// `X-Request-Id` of the retry, not of the first request); a duplicate that
/// arrives while the first is still being served waits for it (up to 5 s,
/// then a retryable 409).
///
/// Keys are honoured on the methods that are not idempotent (POST, PATCH,
/// and any RFC 9110 does not call idempotent); a key on GET, HEAD, PUT,
/// DELETE, OPTIONS or TRACE is ignored, as sending those again does no
/// harm and a GET's first answer replayed would be stale. A key is scoped
/// to the request's method and path (the whole path inside a
/// [`Surface`](crate::server::Surface); without one, a layer inside a
/// `Router::nest` sees the path with the nest's prefix stripped, so layer
/// the outer router instead) and to its caller (by default the
/// credentials it sent, its `Authorization` and `X-API-Key` headers; see
/// [`IdempotencyLayer::scope`]), and bound to its request: sent again
/// with another query or body, it gets a 422 `idempotency_key_reused`.
/// The request body is read first to fingerprint it, up to 1 MiB
/// ([`IdempotencyLayer::max_request_body`]); a keyed request with a
/// larger body is refused with a 413 (a chunked one once it has run past
/// that size), as served without its key it would run again on every
/// retry its client thinks safe (the actix-web middleware keeps the same
/// rules).
///
/// Not remembered, so a retry with the key does the work again: a 5xx, an
/// answer that asks to be retried (408, 429, any `Retry-After`), a request
/// cancelled midway, and a response body of unknown length or over 1 MiB
/// (streamed through as it is).
///
/// [`Surface::idempotency`](crate::server::Surface::idempotency) gives a
/// surface the same rules in its one call; this layer is for composing by
/// hand, and sees the whole request when scoping keys. A key is claimed
/// once however it and a surface with keys nest: the outer one honours it,
/// and the inner one passes the request through.
pub struct IdempotencyLayer<St> {
    store: Arc<St>,
    scope: Scope,
    max_request: usize,
}

/// Whose keys a request's are.
type Scope = Arc<dyn Fn(&http::request::Parts) -> Vec<u8> + Send + Sync>;

/// The default scope, as the surface's.
fn by_caller(parts: &http::request::Parts) -> Vec<u8> {
    let view = crate::view::RequestView::new(
        parts.method.as_str(),
        parts.uri.path(),
        &parts.headers,
        None,
    );
    super::default_scope(&view)
}

impl<St> Clone for IdempotencyLayer<St> {
    fn clone(&self) -> Self {
        IdempotencyLayer {
            store: Arc::clone(&self.store),
            scope: Arc::clone(&self.scope),
            max_request: self.max_request,
        }
    }
}

impl<St: fmt::Debug> fmt::Debug for IdempotencyLayer<St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyLayer")
            .field("store", &self.store)
            .field("max_request", &self.max_request)
            .finish_non_exhaustive()
    }
}

impl<St: IdempotencyStore> IdempotencyLayer<St> {
    /// A layer over `store`.
    pub fn new(store: St) -> Self {
        IdempotencyLayer {
            store: Arc::new(store),
            scope: Arc::new(by_caller),
            max_request: MAX_REQUEST,
        }
    }

    /// Scopes keys to what `scope` returns for a request (its method and
    /// path are always part of the scope). The default is the credentials
    /// the request sent: its `Authorization` and `X-API-Key` headers (both,
    /// when both are sent). An API whose callers authenticate otherwise (a
    /// session cookie, a client certificate) should return the caller's
    /// identity here, for example one an authentication layer put in the
    /// request's extensions. That layer must run before this one (be
    /// layered outside it): the scope is taken before any layer inside
    /// this one, or the handler, sees the request. For a request it
    /// returns nothing for (an empty vector; by default, a request without
    /// credentials), the key is ignored (said once in the log) rather than
    /// shared with every such request.
    ///
    /// ```
    /// use std::time::Duration;
    /// use rebuff::server::idempotency::{IdempotencyLayer, MemoryStore};
    ///
    /// #[derive(Clone)]
    /// struct UserId(u64);
    ///
    /// let layer = IdempotencyLayer::new(MemoryStore::new(Duration::from_secs(3600)))
    ///     .scope(|parts| match parts.extensions.get::<UserId>() {
    ///         Some(user) => user.0.to_be_bytes().to_vec(),
    ///         // Not authenticated (yet): scoped by the credentials sent.
    ///         None => parts
    ///             .headers
    ///             .get("authorization")
    ///             .map(|value| value.as_bytes().to_vec())
    ///             .unwrap_or_default(),
    ///     });
    /// # let _ = layer;
    /// ```
    #[must_use]
    pub fn scope(
        mut self,
        scope: impl Fn(&http::request::Parts) -> Vec<u8> + Send + Sync + 'static,
    ) -> Self {
        self.scope = Arc::new(scope);
        self
    }

    /// Fingerprints request bodies of up to `max` bytes (default 1 MiB);
    /// a keyed request with a larger body is refused with a 413.
    #[must_use]
    pub fn max_request_body(mut self, max: usize) -> Self {
        self.max_request = max;
        self
    }
}

impl<S, St> tower::Layer<S> for IdempotencyLayer<St> {
    type Service = IdempotencyService<S, St>;

    fn layer(&self, inner: S) -> Self::Service {
        IdempotencyService {
            inner,
            store: Arc::clone(&self.store),
            scope: Arc::clone(&self.scope),
            max_request: self.max_request,
        }
    }
}

/// The service of [`IdempotencyLayer`].
pub struct IdempotencyService<S, St> {
    inner: S,
    store: Arc<St>,
    scope: Scope,
    max_request: usize,
}

impl<S: Clone, St> Clone for IdempotencyService<S, St> {
    fn clone(&self) -> Self {
        IdempotencyService {
            inner: self.inner.clone(),
            store: Arc::clone(&self.store),
            scope: Arc::clone(&self.scope),
            max_request: self.max_request,
        }
    }
}

impl<S: fmt::Debug, St: fmt::Debug> fmt::Debug for IdempotencyService<S, St> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("IdempotencyService")
            .field("inner", &self.inner)
            .field("store", &self.store)
            .field("max_request", &self.max_request)
            .finish_non_exhaustive()
    }
}

fn replay(stored: StoredResponse) -> http::Response<Body> {
    let mut response = http::Response::new(Body::from(stored.body));
    *response.status_mut() = stored.status;
    *response.headers_mut() = stored.headers;
    response
}

impl<S, St> tower::Service<http::Request<Body>> for IdempotencyService<S, St>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>
        + Clone
        + Send
        + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    St: IdempotencyStore,
{
    type Response = http::Response<Body>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<Body>) -> Self::Future {
        // Honoured already, by a surface or a layer outside: claiming it
        // again would find it in flight, and wait for itself.
        if req.extensions().get::<Honoured>().is_some() {
            return Box::pin(self.inner.call(req));
        }
        let (parts, body) = req.into_parts();
        // The whole path: a `Router::nest` strips its prefix from the URI
        // this layer sees, and two nests would share their keys.
        let keyed = crate::server::with_whole_path(parts.uri.path(), |path| {
            let sent = parts.headers.get_all("idempotency-key").iter();
            let sent = sent.map(http::HeaderValue::as_bytes);
            Keyed::of(parts.method.as_str(), path, sent, || (self.scope)(&parts))
        });
        req = http::Request::from_parts(parts, body);
        let keyed = match keyed {
            Ok(Some(keyed)) => keyed,
            Ok(None) => return Box::pin(self.inner.call(req)),
            // Rendered when polled, inside the surface's context if any.
            Err(unusable) => {
                return Box::pin(async move {
                    Ok(axum::response::IntoResponse::into_response(unusable))
                });
            }
        };
        let length = axum::body::HttpBody::size_hint(req.body()).exact();
        if let Err(too_large) = Keyed::fits(length, self.max_request) {
            return Box::pin(
                async move { Ok(axum::response::IntoResponse::into_response(too_large)) },
            );
        }
        req.extensions_mut().insert(Honoured);
        let inner = crate::ready::take_ready(&mut self.inner);
        Box::pin(serve_keyed(
            inner,
            Arc::clone(&self.store),
            keyed,
            self.max_request,
            req,
        ))
    }
}

/// Serves a keyed request by `inner` (polled ready): its body read and
/// fingerprinted (up to `max_request` bytes), its key claimed in `store`,
/// then served and its answer kept, or the first answer replayed, or the
/// request refused (a key reused, a duplicate still in flight, the store
/// unreachable), in the request's style.
pub(crate) async fn serve_keyed<S, St>(
    mut inner: S,
    store: Arc<St>,
    keyed: Keyed,
    max_request: usize,
    req: http::Request<Body>,
) -> Result<http::Response<Body>, S::Error>
where
    S: tower::Service<http::Request<Body>, Response = http::Response<Body>>,
    St: IdempotencyStore + ?Sized,
{
    let (parts, body) = req.into_parts();
    let body = match axum::body::to_bytes(body, max_request).await {
        Ok(body) => body,
        Err(err) => {
            let unreadable = crate::server::axum::unreadable_body(&err, max_request);
            // In the request's style (the surface's error type's).
            return Ok(axum::response::IntoResponse::into_response(unreadable));
        }
    };
    let query = parts.uri.query().unwrap_or("");
    let claimed = match keyed.begin(&store, query, &body).await {
        Begin::Serve(claimed) => claimed,
        Begin::Replay(stored) => return Ok(replay(stored)),
        Begin::Refuse(rejection) => {
            return Ok(axum::response::IntoResponse::into_response(rejection));
        }
    };
    // From here the key is ours: given back unless completed, even if this
    // future is dropped midway.
    let request = http::Request::from_parts(parts, Body::from(body));
    let response = inner.call(request).await?;
    let length = axum::body::HttpBody::size_hint(response.body()).upper();
    let rejection = crate::server::axum::is_rejection(&response);
    if !claimed.keeps(response.status(), response.headers(), length, rejection) {
        return Ok(response);
    }
    let (parts, body) = response.into_parts();
    let Ok(bytes) = axum::body::to_bytes(body, claimed.max_body()).await else {
        // The handler's body failed mid-way (or ran past the length it
        // announced): sent as it was, it would have broken off, so the
        // client knows the request failed; an empty answer with the
        // status would tell it the request worked. A 500 it is, and the
        // key is given back for a retry.
        let failed =
            crate::server::respond_failure(&crate::Rejection::Internal, &super::BodyFailed);
        return Ok(failed.map(Body::from));
    };
    claimed
        .complete(StoredResponse {
            status: parts.status,
            headers: parts.headers.clone(),
            body: bytes.clone(),
        })
        .await;
    Ok(http::Response::from_parts(parts, Body::from(bytes)))
}
