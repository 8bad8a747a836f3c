//! Idempotency keys in actix-web: [`Idempotency`], the same rules as the
//! axum [`IdempotencyLayer`](crate::server::idempotency::IdempotencyLayer)
//! over the same stores.

use core::future::{Future, Ready, ready};
use core::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::HttpMessage as _;
use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header;
use bytes::{Bytes, BytesMut};

use super::to_actix;
use crate::rejection::Rejection;
use crate::server::CatchUnwind;
use crate::server::idempotency::{
    Begin, BodyFailed, Honoured, IdempotencyKeys, IdempotencyStore, Keyed, MAX_REQUEST,
    StoredResponse,
};
use crate::view::RequestView;

/// Whose keys a request's are.
type Scope = Arc<dyn Fn(&ServiceRequest) -> Vec<u8> + Send + Sync>;

/// Requests with an `Idempotency-Key` served once and replayed after (with
/// `Idempotent-Replayed: true`), as the axum
/// [`IdempotencyLayer`](crate::server::idempotency::IdempotencyLayer) does:
/// keys honoured on the methods that are not idempotent (a key on GET,
/// HEAD, PUT, DELETE, OPTIONS or TRACE is ignored), scoped to the method,
/// the path and the caller (by default the credentials it sent, its
/// `Authorization` and `X-API-Key` headers), a key reused with another
/// query or body refused with a 422, a body too large to fingerprint
/// refused with a 413, a duplicate of a request in flight waiting for its
/// answer, 5xx and retry-me answers not kept.
///
/// ```no_run
/// use std::time::Duration;
/// use actix_web::{App, HttpServer, web};
/// use rebuff::server::actix::Idempotency;
/// use rebuff::server::idempotency::MemoryStore;
///
/// # async fn serve() -> std::io::Result<()> {
/// // One store for every worker.
/// let keys = Idempotency::new(MemoryStore::new(Duration::from_secs(24 * 3600)));
/// HttpServer::new(move || {
///     App::new()
///         .route("/api/v1/orders", web::post().to(|| async { "created" }))
///         .wrap(keys.clone())
/// })
/// .bind("127.0.0.1:3000")?
/// .run()
/// .await
/// # }
/// ```
pub struct Idempotency<St> {
    store: Arc<St>,
    scope: Scope,
    max_request: usize,
}

impl<St> Clone for Idempotency<St> {
    fn clone(&self) -> Self {
        Idempotency {
            store: Arc::clone(&self.store),
            scope: Arc::clone(&self.scope),
            max_request: self.max_request,
        }
    }
}

impl<St: core::fmt::Debug> core::fmt::Debug for Idempotency<St> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("Idempotency")
            .field("store", &self.store)
            .field("max_request", &self.max_request)
            .finish_non_exhaustive()
    }
}

/// The default scope, as the surface's.
fn by_caller(req: &ServiceRequest) -> Vec<u8> {
    let view = RequestView::actix(req.method().as_str(), req.path(), req.headers(), None);
    crate::server::idempotency::default_scope(&view)
}

impl<St: IdempotencyStore> Idempotency<St> {
    /// The middleware over `store`.
    pub fn new(store: St) -> Self {
        Idempotency {
            store: Arc::new(store),
            scope: Arc::new(by_caller),
            max_request: MAX_REQUEST,
        }
    }

    /// Scopes keys to what `scope` returns for a request (its method and
    /// path are always part of the scope); the default is the credentials
    /// the request sent, its `Authorization` and `X-API-Key` headers. For
    /// a request it returns nothing for (an empty vector; by default, one
    /// without credentials), the key is ignored (said once in the log)
    /// rather than shared with every such request.
    #[must_use]
    pub fn scope(
        mut self,
        scope: impl Fn(&ServiceRequest) -> Vec<u8> + Send + Sync + 'static,
    ) -> Self {
        self.scope = Arc::new(scope);
        self
    }

    /// Fingerprints request bodies of up to `max` bytes (default 1 MiB);
    /// a keyed request with a larger body is refused with a 413 (a chunked
    /// one once it has run past `max`): served without its key, it would
    /// run again on every retry its client thinks safe.
    #[must_use]
    pub fn max_request_body(mut self, max: usize) -> Self {
        self.max_request = max;
        self
    }
}

impl<S, B, St> Transform<S, ServiceRequest> for Idempotency<St>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    St: IdempotencyStore,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = IdempotencyMiddleware<S, St>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(IdempotencyMiddleware {
            service: Rc::new(service),
            store: Arc::clone(&self.store),
            scope: Arc::clone(&self.scope),
            max_request: self.max_request,
        }))
    }
}

/// The service of the [`Idempotency`] middleware.
pub struct IdempotencyMiddleware<S, St> {
    service: Rc<S>,
    store: Arc<St>,
    scope: Scope,
    max_request: usize,
}

impl<S, St: core::fmt::Debug> core::fmt::Debug for IdempotencyMiddleware<S, St> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("IdempotencyMiddleware")
            .field("store", &self.store)
            .finish_non_exhaustive()
    }
}

impl<S, B, St> Service<ServiceRequest> for IdempotencyMiddleware<S, St>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    St: IdempotencyStore,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let service = Rc::clone(&self.service);
        let key = req
            .headers()
            .get_all("idempotency-key")
            .map(header::HeaderValue::as_bytes);
        // Honoured already, by a surface or a middleware outside: claiming
        // it again would find it in flight, and wait for itself.
        let keyed = if req.extensions().contains::<Honoured>() {
            Ok(None)
        } else {
            Keyed::of(req.method().as_str(), req.path(), key, || {
                (self.scope)(&req)
            })
        };
        let keyed = keyed.and_then(|keyed| {
            if keyed.is_some() {
                Keyed::fits(body_length(&req), self.max_request)?;
            }
            Ok(keyed)
        });
        let keyed = match keyed {
            Ok(keyed) => keyed,
            // Rendered when polled, inside the surface's context if any.
            Err(unusable) => return Box::pin(async move { Ok(refuse(req, &unusable)) }),
        };
        let Some(keyed) = keyed else {
            return Box::pin(async move { Ok(service.call(req).await?.map_into_left_body()) });
        };
        req.extensions_mut().insert(Honoured);
        Box::pin(serve_keyed(
            service,
            Arc::clone(&self.store),
            keyed,
            self.max_request,
            req,
        ))
    }
}

/// The length of a request's body, as far as it is known before reading
/// it. A body's length is its `Content-Length`; a chunked body's (or an
/// HTTP/2 one's without the header) is unknown, and any other HTTP/1
/// request has none. `Transfer-Encoding` wins over a `Content-Length` sent
/// with it (RFC 9112, section 6.3): actix-web reads such a body as chunked,
/// yet keeps the header. A body of unknown length is read up to the most
/// that is fingerprinted, and refused past it.
pub(crate) fn body_length(req: &ServiceRequest) -> Option<u64> {
    let chunked = super::is_chunked(req.headers(), req.version());
    match req.headers().get(header::CONTENT_LENGTH) {
        _ if chunked => None,
        Some(length) => length.to_str().ok().and_then(|v| v.parse::<u64>().ok()),
        None if req.headers().contains_key(header::TRANSFER_ENCODING)
            || req.version() >= actix_web::http::Version::HTTP_2 =>
        {
            None
        }
        None => Some(0),
    }
}

/// Serves a keyed request by `service`: its body read and fingerprinted
/// (up to `max_request` bytes), its key claimed in `store`, then served
/// and its answer kept, or the first answer replayed, or the request
/// refused (a key reused, a duplicate still in flight, the store
/// unreachable).
pub(crate) async fn serve_keyed<S, B, St>(
    service: Rc<S>,
    store: Arc<St>,
    keyed: Keyed,
    max_request: usize,
    mut req: ServiceRequest,
) -> Result<ServiceResponse<EitherBody<B>>, actix_web::Error>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    St: IdempotencyStore + ?Sized,
{
    let body = match read(req.take_payload(), max_request).await {
        Ok(body) => body,
        Err(overflowed) => {
            // Past the surface's body limit (which cuts a body off as it is
            // read), a 413; anything else, a 400.
            let unreadable = if overflowed {
                // The surface's limit, or the most fingerprinted if less.
                let limit = req
                    .extensions()
                    .get::<crate::Context>()
                    .and_then(crate::Context::get_body_limit);
                let most = max_request as u64;
                crate::server::surface::overflowed(Some(limit.map_or(most, |l| l.min(most))))
            } else {
                Rejection::BadRequest {
                    reason: "the request body could not be read".into(),
                }
            };
            let response = to_actix(crate::server::respond_rejection(&unreadable));
            return Ok(req.into_response(response).map_into_right_body());
        }
    };
    let claimed = match keyed.begin(&store, req.query_string(), &body).await {
        Begin::Serve(claimed) => claimed,
        Begin::Replay(stored) => {
            let response = to_actix(stored_response(stored));
            return Ok(req.into_response(response).map_into_right_body());
        }
        Begin::Refuse(rejection) => return Ok(refuse(req, &rejection)),
    };
    req.set_payload(Payload::from(body));
    let response = service.call(req).await?;
    let length = match response.response().body().size() {
        BodySize::Sized(length) => Some(length),
        BodySize::None => Some(0),
        BodySize::Stream => None,
    };
    let headers = to_http(response.headers());
    let rejection = super::restyle::is_rejection(&response);
    if !claimed.keeps(http_status(response.status()), &headers, length, rejection) {
        return Ok(response.map_into_left_body());
    }
    let (req, response) = response.into_parts();
    let (head, body) = response.into_parts();
    let Ok(Ok(bytes)) = actix_web::body::to_bytes_limited(body, claimed.max_body()).await else {
        // The handler's body failed mid-way (or ran past the length it
        // announced): sent as it was, it would have broken off, so the
        // client knows the request failed; an empty answer with the
        // status would tell it the request worked. A 500 it is, and the
        // key is given back for a retry.
        let failed = crate::server::respond_failure(&Rejection::Internal, &BodyFailed);
        let failed = to_actix(failed);
        return Ok(ServiceResponse::new(req, failed).map_into_right_body());
    };
    claimed
        .complete(StoredResponse {
            status: http_status(head.status()),
            headers,
            body: bytes.clone(),
        })
        .await;
    Ok(ServiceResponse::new(req, head.set_body(bytes).map_into_boxed_body()).map_into_right_body())
}

// The surface's own use of its idempotency keys.

/// The request served by `service`, through its idempotency key if the
/// surface has `keys` and honours the one it carries; a panic caught (the
/// keys' scope's, one in an inner middleware's synchronous part, or a
/// guard's, as a handler's is).
pub(super) async fn run<S, B>(
    service: Rc<S>,
    keys: Option<&IdempotencyKeys>,
    req: ServiceRequest,
) -> Result<Result<ServiceResponse<EitherBody<B>>, actix_web::Error>, Box<dyn core::any::Any + Send>>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
{
    let keyed = match keys {
        // Honoured already, by a middleware outside.
        Some(_) if req.extensions().contains::<Honoured>() => None,
        Some(keys) => {
            match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| keyed(keys, &req)))? {
                Ok(keyed) => keyed,
                Err(unusable) => return Ok(Ok(refuse(req, &unusable))),
            }
        }
        None => None,
    };
    if let Some((keyed, keys, max_request)) = keyed {
        // Honoured here, and by no idempotency middleware inside.
        req.extensions_mut().insert(Honoured);
        let store = std::sync::Arc::clone(keys.store());
        let served = serve_keyed(service, store, keyed, max_request, req);
        return CatchUnwind::new(served).await;
    }
    match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| service.call(req))) {
        Ok(call) => CatchUnwind::new(call)
            .await
            .map(|result| result.map(ServiceResponse::map_into_left_body)),
        Err(payload) => Err(payload),
    }
}

/// The scoped key of a request whose `Idempotency-Key` the surface
/// honours, and the most of its body fingerprinted; a 400 for an unusable
/// key, a 413 for a body larger than that.
fn keyed<'k>(
    keys: &'k IdempotencyKeys,
    req: &ServiceRequest,
) -> Result<Option<(Keyed, &'k IdempotencyKeys, usize)>, Rejection> {
    let peer = req.peer_addr().map(|addr| addr.ip());
    let view = RequestView::actix(req.method().as_str(), req.path(), req.headers(), peer);
    let Some(keyed) = keys.keyed(&view)? else {
        return Ok(None);
    };
    let limit = req
        .extensions()
        .get::<crate::Context>()
        .and_then(crate::Context::get_body_limit);
    let max_request = keys.max_request(limit);
    Keyed::fits(body_length(req), max_request)?;
    Ok(Some((keyed, keys, max_request)))
}

/// `req` answered with `rejection`, in the request's context.
fn refuse<B>(req: ServiceRequest, rejection: &Rejection) -> ServiceResponse<EitherBody<B>> {
    let response = to_actix(crate::server::respond_rejection(rejection));
    req.into_response(response).map_into_right_body()
}

/// A response of the surface's own (left: the service's body; right: an
/// answer of the surface's or of the idempotency store's) with its body in
/// one `EitherBody`.
pub(super) fn flatten<B>(
    response: ServiceResponse<EitherBody<EitherBody<B>>>,
) -> ServiceResponse<EitherBody<B>> {
    response.map_body(|_, body| match body {
        EitherBody::Left {
            body: EitherBody::Left { body },
        } => EitherBody::left(body),
        EitherBody::Left {
            body: EitherBody::Right { body },
        }
        | EitherBody::Right { body } => EitherBody::right(body),
    })
}

/// The whole body, up to `max` bytes; `Err(true)` when it ran past a body
/// limit, `Err(false)` when it could not be read.
async fn read(mut payload: Payload, max: usize) -> Result<Bytes, bool> {
    let mut body = BytesMut::new();
    loop {
        let chunk =
            core::future::poll_fn(|cx| futures_core::Stream::poll_next(Pin::new(&mut payload), cx))
                .await;
        match chunk {
            None => return Ok(body.freeze()),
            Some(Ok(chunk)) if body.len() + chunk.len() <= max => body.extend_from_slice(&chunk),
            Some(Ok(_) | Err(actix_web::error::PayloadError::Overflow)) => return Err(true),
            Some(Err(_)) => return Err(false),
        }
    }
}

fn http_status(status: actix_web::http::StatusCode) -> http::StatusCode {
    http::StatusCode::from_u16(status.as_u16()).unwrap_or(http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// actix-web's headers in `http`'s types, for the store.
fn to_http(headers: &header::HeaderMap) -> http::HeaderMap {
    let mut out = http::HeaderMap::with_capacity(headers.len());
    for (name, value) in headers {
        if let (Ok(name), Ok(value)) = (
            http::HeaderName::from_bytes(name.as_str().as_bytes()),
            http::HeaderValue::from_bytes(value.as_bytes()),
        ) {
            out.append(name, value);
        }
    }
    out
}

/// A stored response as one rebuff sends.
fn stored_response(stored: StoredResponse) -> http::Response<Bytes> {
    let mut response = http::Response::new(stored.body);
    *response.status_mut() = stored.status;
    *response.headers_mut() = stored.headers;
    response
}
