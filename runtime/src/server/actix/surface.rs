//! The [`Surface`] as actix-web middleware: the request's context and
//! span, its rate limit, its body limit, extractor failures, the router's
//! own 404 and 405 and any 413 or 5xx rebuff did not render in the
//! envelope, and panics caught.

use core::future::{Future, Ready, ready};
use core::pin::Pin;
use core::task::{Context as TaskContext, Poll};
use std::rc::Rc;

use actix_web::HttpMessage;
use actix_web::body::{EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::error::PayloadError;
use actix_web::http::header::{self, HeaderName, HeaderValue};
use tracing::Instrument as _;

use super::idempotency::{flatten, run};
#[cfg(feature = "ratelimit")]
use super::ratelimit::{Checked, Said};
use super::restyle::{Body, restyle, restyle_error};
use super::to_actix;
use crate::ApiError;
use crate::server::{CatchUnwind, Rejection, Surface, request_span, respond_rejection_in, text};

impl<S, B, E> Transform<S, ServiceRequest> for Surface<E>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    E: ApiError + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Transform = SurfaceMiddleware<S, E>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(SurfaceMiddleware {
            service: Rc::new(service),
            surface: self.clone(),
            configs: std::cell::OnceCell::new(),
        }))
    }
}

/// Whether the app has a `T` of its own: actix-web reads each configuration
/// as itself or wrapped in `Data`.
fn has<T: 'static>(req: &ServiceRequest) -> bool {
    req.app_data::<T>().is_some() || req.app_data::<actix_web::web::Data<T>>().is_some()
}

/// The extractor configurations the surface gives the app, made on its
/// first request: those the app has not set itself (an app-wide
/// `JsonConfig` stays the app's, its limit included). The extractors' own
/// limits follow the surface's: it cuts bodies off itself, and an
/// extractor limit below it would answer first. Path and query failures
/// keep their type (actix-web's default handler makes a bad path
/// parameter a 404).
fn configs(body_limit: Option<u64>, req: &ServiceRequest) -> Rc<actix_web::dev::Extensions> {
    use actix_web::web::{FormConfig, JsonConfig, PathConfig, PayloadConfig, QueryConfig};
    let limit = body_limit.map_or(usize::MAX, |limit| {
        usize::try_from(limit).unwrap_or(usize::MAX)
    });
    let mut configs = actix_web::dev::Extensions::new();
    if !has::<JsonConfig>(req) {
        configs.insert(JsonConfig::default().limit(limit));
    }
    if !has::<FormConfig>(req) {
        configs.insert(FormConfig::default().limit(limit));
    }
    if !has::<PayloadConfig>(req) {
        configs.insert(PayloadConfig::new(limit));
    }
    if !has::<PathConfig>(req) {
        configs.insert(
            PathConfig::default()
                .error_handler(|err, _| Rejection::InvalidPath { reason: text(&err) }.into()),
        );
    }
    if !has::<QueryConfig>(req) {
        configs.insert(
            QueryConfig::default()
                .error_handler(|err, _| Rejection::InvalidQuery { reason: text(&err) }.into()),
        );
    }
    Rc::new(configs)
}

/// The service of the [`Surface`] middleware.
pub struct SurfaceMiddleware<S, E> {
    service: Rc<S>,
    surface: Surface<E>,
    /// See [`configs`].
    configs: std::cell::OnceCell<Rc<actix_web::dev::Extensions>>,
}

impl<S, E> core::fmt::Debug for SurfaceMiddleware<S, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SurfaceMiddleware")
            .field("surface", &self.surface)
            .finish_non_exhaustive()
    }
}

impl<S, B, E> Service<ServiceRequest> for SurfaceMiddleware<S, E>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: MessageBody + 'static,
    E: ApiError + 'static,
{
    type Response = ServiceResponse<EitherBody<B>>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    actix_web::dev::forward_ready!(service);

    fn call(&self, mut req: ServiceRequest) -> Self::Future {
        // `Transfer-Encoding` wins over a `Content-Length` sent with it
        // (RFC 9112, section 6.3): actix-web reads such a body as chunked,
        // yet keeps the header, which its extractors would then believe.
        // Dropped, as hyper does, so that nothing inside sees it.
        if super::is_chunked(req.headers(), req.version()) {
            req.headers_mut().remove(header::CONTENT_LENGTH);
        }
        let surface = self.surface.clone();
        let client = req
            .headers()
            .get("x-request-id")
            .and_then(|id| http::HeaderValue::from_bytes(id.as_bytes()).ok());
        let accept = req
            .headers()
            .get_all(header::ACCEPT)
            .map(HeaderValue::as_bytes);
        let ctx = surface.context(
            crate::server::safe_id([client.as_ref()]),
            accept,
            crate::context::RequestPath::text(req.path()),
        );
        let span = request_span(&ctx, || req.method().as_str(), || req.path());
        let echo = ctx
            .get_request_id()
            .and_then(|id| HeaderValue::from_str(id).ok());
        req.extensions_mut().insert(ctx.clone());
        // The limiter's resolver and store are the application's code: a
        // panic in them is answered as a handler's is.
        let checked =
            std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| check(&surface, &req)));
        let configs = Rc::clone(
            self.configs
                .get_or_init(|| configs(self.surface.get_body_limit(), &req)),
        );
        let service = Rc::clone(&self.service);
        Box::pin(
            crate::server::scope(ctx.clone(), async move {
                // The rate limit first: a refused caller's body is not read.
                let settled = match checked {
                    Ok(Some(checked)) => CatchUnwind::new(checked.settle()).await.map(Some),
                    Ok(None) => Ok(None),
                    Err(payload) => Err(payload),
                };
                let mut said = match settled {
                    Ok(said) => said,
                    // The request is still here: answered with it.
                    Err(payload) if surface.catches_panics() => {
                        let answer = to_actix(crate::server::respond_to_panic(&*payload));
                        let response = req.into_response(answer).map_into_right_body();
                        return Ok(finish(response, None, echo));
                    }
                    Err(payload) => std::panic::resume_unwind(payload),
                };
                let early = said
                    .as_mut()
                    .and_then(Said::refusal)
                    .or_else(|| surface.refuse_declared(declared_length(&req)));
                if let Some(refused) = early {
                    let response = to_actix(respond_rejection_in(&refused, &ctx));
                    let response = req.into_response(response).map_into_right_body();
                    return Ok(finish(response, said, echo));
                }
                req.add_data_container(configs);
                // Set when the body is cut off: an error that hides the
                // cut (a multipart stream's) is still answered with 413.
                let overflowed = Rc::new(core::cell::Cell::new(false));
                if let Some(limit) = surface.get_body_limit() {
                    let payload = req.take_payload();
                    req.set_payload(Payload::Stream {
                        payload: Box::pin(Limited {
                            inner: payload,
                            left: limit,
                            done: false,
                            overflowed: Rc::clone(&overflowed),
                        }),
                    });
                }
                let method = req.method().as_str().to_owned();
                let path = req.path().to_owned();
                let outcome = run(service, surface.idempotency_keys(), req).await;
                let response = match outcome {
                    Ok(Ok(response)) => response,
                    Ok(Err(err)) => {
                        // The request went with it: the answer goes out as
                        // an error carrying the response.
                        let body = Body::of(&surface, &overflowed);
                        let mut answer = restyle_error(&err, body, &method, &path, &ctx);
                        finish_headers(answer.headers_mut(), said, echo);
                        return Err(actix_web::error::InternalError::from_response(
                            err.to_string(),
                            answer,
                        )
                        .into());
                    }
                    Err(payload) => return panicked(&surface, payload, said, echo),
                };
                let body = Body::of(&surface, &overflowed);
                let response = flatten(restyle(response, body, &method, &path, &ctx));
                Ok(finish(response, said, echo))
            })
            .instrument(span),
        )
    }
}

/// A panic of the code the request was moved into, answered with a 500 in
/// the envelope, or unwound on when the surface does not catch panics: the
/// answer goes out as an error carrying the response.
fn panicked<T, E: ApiError>(
    surface: &Surface<E>,
    payload: Box<dyn core::any::Any + Send>,
    said: Option<Said>,
    echo: Option<HeaderValue>,
) -> Result<T, actix_web::Error> {
    if !surface.catches_panics() {
        std::panic::resume_unwind(payload);
    }
    let mut answer = to_actix(crate::server::respond_to_panic(&*payload));
    finish_headers(answer.headers_mut(), said, echo);
    Err(actix_web::error::InternalError::from_response("a handler panicked", answer).into())
}

/// The request's `Content-Length`, if it has one.
fn declared_length(req: &ServiceRequest) -> Option<&[u8]> {
    req.headers()
        .get(header::CONTENT_LENGTH)
        .map(HeaderValue::as_bytes)
}

/// The limiter's headers, and the request id echoed.
fn finish<B>(
    mut response: ServiceResponse<B>,
    said: Option<Said>,
    id: Option<HeaderValue>,
) -> ServiceResponse<B> {
    finish_headers(response.headers_mut(), said, id);
    response
}

fn finish_headers(headers: &mut header::HeaderMap, said: Option<Said>, id: Option<HeaderValue>) {
    if let Some(said) = said {
        said.apply(headers);
    }
    if let Some(id) = id {
        let name = HeaderName::from_static("x-request-id");
        if !headers.contains_key(&name) {
            headers.insert(name, id);
        }
    }
}

/// The request checked against the surface's limiter, if it has one.
#[cfg(feature = "ratelimit")]
fn check<E: ApiError>(surface: &Surface<E>, req: &ServiceRequest) -> Option<Checked> {
    surface
        .limiter()
        .and_then(|limiter| super::ratelimit::check(limiter, req))
}

/// Without the `ratelimit` feature there is no limiter.
#[cfg(not(feature = "ratelimit"))]
fn check<E>(_: &Surface<E>, _: &ServiceRequest) -> Option<Checked> {
    None
}

/// Without the `ratelimit` feature, no check is ever made.
#[cfg(not(feature = "ratelimit"))]
enum Checked {}

#[cfg(not(feature = "ratelimit"))]
impl Checked {
    #[allow(clippy::unused_async)] // the same shape as the limiter's
    async fn settle(self) -> Said {
        match self {}
    }
}

/// Without the `ratelimit` feature, nothing is said of a request.
#[cfg(not(feature = "ratelimit"))]
enum Said {}

#[cfg(not(feature = "ratelimit"))]
impl Said {
    fn refusal(&mut self) -> Option<Rejection> {
        match *self {}
    }

    fn apply(self, _: &mut header::HeaderMap) {
        match self {}
    }
}

/// The request body, cut off at the limit: past it, the stream ends with
/// [`PayloadError::Overflow`], which every extractor reports.
struct Limited {
    inner: Payload,
    left: u64,
    done: bool,
    /// Set when the body is cut off.
    overflowed: Rc<core::cell::Cell<bool>>,
}

impl futures_core::Stream for Limited {
    type Item = Result<bytes::Bytes, PayloadError>;

    fn poll_next(mut self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Option<Self::Item>> {
        if self.done {
            return Poll::Ready(None);
        }
        match Pin::new(&mut self.inner).poll_next(cx) {
            Poll::Ready(Some(Ok(chunk))) => {
                let len = u64::try_from(chunk.len()).unwrap_or(u64::MAX);
                if len > self.left {
                    self.done = true;
                    self.overflowed.set(true);
                    return Poll::Ready(Some(Err(PayloadError::Overflow)));
                }
                self.left -= len;
                Poll::Ready(Some(Ok(chunk)))
            }
            other => other,
        }
    }
}
