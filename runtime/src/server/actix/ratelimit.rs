//! The rate limiter in actix-web: what the [`Surface`](crate::server::Surface)
//! middleware does with it, and the same on its own.

use core::future::{Future, Ready, ready};
use core::marker::PhantomData;
use core::pin::Pin;
use std::rc::Rc;
use std::sync::Arc;

use actix_web::HttpMessage as _;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::http::header::{HeaderMap, HeaderName, HeaderValue};

use super::to_actix;
use crate::ApiError;
use crate::ratelimit::{Check, Decided, RateLimiter, RequestView, Verdict};
use crate::rejection::Rejection;

/// A request's check by a limiter, made before the request moves on.
pub(super) struct Checked {
    limiter: Arc<RateLimiter>,
    check: Check,
}

/// Checks `req` against `limiter`.
pub(super) fn check(limiter: &Arc<RateLimiter>, req: &ServiceRequest) -> Option<Checked> {
    // Decided already, by a surface or a middleware outside with this
    // limiter: charged once, its headers written there.
    let decided = limiter.claim(req.extensions().get::<Decided>())?;
    req.extensions_mut().insert(decided);
    let peer = req.peer_addr().map(|addr| addr.ip());
    let view = RequestView::actix(req.method().as_str(), req.path(), req.headers(), peer);
    Some(Checked {
        limiter: limiter.clone(),
        check: limiter.check(&view),
    })
}

impl Checked {
    /// The decision, waiting for it where the store is remote.
    pub(super) async fn settle(self) -> Said {
        let verdict = match self.check {
            Check::Now(verdict) => verdict,
            Check::Later(pending) => {
                let decided = pending.deciding.await;
                self.limiter.verdict(pending.route, decided)
            }
        };
        Said {
            limiter: self.limiter,
            verdict,
        }
    }
}

/// What the limiter said of a request: its headers, and a refusal.
pub(super) struct Said {
    limiter: Arc<RateLimiter>,
    verdict: Verdict,
}

impl Said {
    /// The refusal to answer with instead of serving the request.
    pub(super) fn refusal(&mut self) -> Option<Rejection> {
        self.verdict.take_refusal()
    }

    /// The limiter's headers onto a response, over a refusal's own (the
    /// same values).
    pub(super) fn apply(self, headers: &mut HeaderMap) {
        if self.verdict.strips_legacy(&self.limiter) {
            for name in [
                crate::X_RATELIMIT_LIMIT,
                crate::X_RATELIMIT_REMAINING,
                crate::X_RATELIMIT_RESET,
            ] {
                headers.remove(name.as_str());
            }
        }
        let mut ours = http::HeaderMap::new();
        self.verdict.write_headers(&self.limiter, &mut ours);
        for (name, value) in &ours {
            if let (Ok(name), Ok(value)) = (
                HeaderName::from_bytes(name.as_str().as_bytes()),
                HeaderValue::from_bytes(value.as_bytes()),
            ) {
                headers.insert(name, value);
            }
        }
    }
}

/// `limiter` as an actix-web middleware on its own: the rate-limit headers
/// on every response, a caller over its limit answered with a 429 rendered
/// as `E`'s errors are (inside a [`Surface`](crate::server::Surface), with
/// the request's context; alone, with a fresh request id).
///
/// ```no_run
/// use actix_web::{App, HttpServer, web};
/// use rebuff::ratelimit::RateLimiter;
/// use rebuff::server::actix::RateLimit;
///
/// # #[derive(Debug, thiserror::Error, rebuff::ApiError)]
/// # enum ApiError { #[error("gone")] #[api(status = 410)] Gone }
/// # async fn serve() -> std::io::Result<()> {
/// // One limiter for every worker: its callers' state is shared.
/// let limit = RateLimit::<ApiError>::new(RateLimiter::new());
/// HttpServer::new(move || {
///     App::new()
///         .route("/", web::get().to(|| async { "ok" }))
///         .wrap(limit.clone())
/// })
/// .bind("127.0.0.1:3000")?
/// .run()
/// .await
/// # }
/// ```
pub struct RateLimit<E> {
    limiter: Arc<RateLimiter>,
    _errors: PhantomData<fn() -> E>,
}

impl<E> Clone for RateLimit<E> {
    fn clone(&self) -> Self {
        RateLimit {
            limiter: self.limiter.clone(),
            _errors: PhantomData,
        }
    }
}

impl<E> core::fmt::Debug for RateLimit<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_tuple("RateLimit").field(&self.limiter).finish()
    }
}

impl<E: ApiError> RateLimit<E> {
    /// The middleware of `limiter`.
    #[must_use]
    pub fn new(limiter: RateLimiter) -> Self {
        RateLimit {
            limiter: Arc::new(limiter),
            _errors: PhantomData,
        }
    }
}

impl<S, B, E> Transform<S, ServiceRequest> for RateLimit<E>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    E: ApiError + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = RateLimitMiddleware<S, E>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RateLimitMiddleware {
            service: Rc::new(service),
            limit: self.clone(),
        }))
    }
}

/// The service of the [`RateLimit`] middleware.
pub struct RateLimitMiddleware<S, E> {
    service: Rc<S>,
    limit: RateLimit<E>,
}

impl<S, E> core::fmt::Debug for RateLimitMiddleware<S, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("RateLimitMiddleware")
            .field("limit", &self.limit)
            .finish_non_exhaustive()
    }
}

impl<S, B, E> Service<ServiceRequest> for RateLimitMiddleware<S, E>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    E: ApiError + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let Some(checked) = check(&self.limit.limiter, &req) else {
            let served = self.service.call(req);
            return Box::pin(async move { Ok(served.await?.map_into_left_body()) });
        };
        let service = Rc::clone(&self.service);
        Box::pin(async move {
            let mut said = checked.settle().await;
            if let Some(refused) = said.refusal() {
                let mut response = to_actix(crate::server::respond_refusal::<E>(&refused));
                said.apply(response.headers_mut());
                return Ok(req.into_response(response).map_into_right_body());
            }
            let mut response = match service.call(req).await {
                Ok(response) => response,
                // An inner middleware's error goes on as an error (the
                // request went with it), its response given the headers.
                Err(err) => {
                    let mut answer = err.error_response();
                    said.apply(answer.headers_mut());
                    return Err(actix_web::error::InternalError::from_response(
                        err.to_string(),
                        answer,
                    )
                    .into());
                }
            };
            said.apply(response.headers_mut());
            Ok(response.map_into_left_body())
        })
    }
}
