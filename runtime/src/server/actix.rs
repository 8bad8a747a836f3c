//! actix-web: the [`Surface`] middleware and derived errors as
//! `ResponseError`s.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use rebuff::ApiError;
//! use rebuff::server::Surface;
//!
//! #[derive(Debug, thiserror::Error, ApiError)]
//! #[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE")]
//! enum LeadError {
//!     #[error("lead {lead_id} not found")]
//!     #[api(status = 404, message = "Lead not found")]
//!     LeadNotFound { lead_id: String },
//! }
//!
//! async fn get_lead(id: web::Path<String>) -> Result<web::Json<serde_json::Value>, LeadError> {
//!     Err(LeadError::LeadNotFound { lead_id: id.into_inner() })
//! }
//!
//! # async fn serve() -> std::io::Result<()> {
//! HttpServer::new(|| {
//!     App::new()
//!         .route("/api/v1/leads/{id}", web::get().to(get_lead))
//!         .wrap(Surface::<LeadError>::new().body_limit(1 << 20))
//! })
//! .bind("127.0.0.1:3000")?
//! .run()
//! .await
//! # }
//! ```
//!
//! actix-web's own extractors work as they are: the middleware sees the
//! error an extractor failed with (`web::Json`, `web::Path`, `web::Query`,
//! `web::Form`, `web::Bytes`, ...) and answers it as the matching
//! [`Rejection`] in the API's envelope. The router's bodyless 404 and 405
//! are answered in the envelope too, `Allow` kept. A handler error that is
//! not the API's own (an `actix_web::error::ErrorInternalServerError`, say)
//! is a 4xx rejection by its status, or a 500 that says nothing of it.

use core::future::{Future, Ready, ready};
use core::pin::Pin;
use core::task::{Context as TaskContext, Poll};
use std::error::Error as StdError;
use std::rc::Rc;

use actix_web::body::{BodySize, EitherBody, MessageBody};
use actix_web::dev::{Payload, Service, ServiceRequest, ServiceResponse, Transform};
use actix_web::error::{
    JsonPayloadError, PathError, PayloadError, QueryPayloadError, UrlencodedError,
};
use actix_web::http::header::{self, HeaderName, HeaderValue};
use actix_web::{FromRequest, HttpMessage, HttpRequest, HttpResponse};
use tracing::Instrument as _;

use super::surface::bare_rejection;
use super::{CatchUnwind, Rejection, Surface, request_span, respond_rejection_in, text};
use crate::{ApiError, Context};

/// The status of `err` in actix-web's `http` types.
pub fn status_code<E: ApiError>(err: &E) -> actix_web::http::StatusCode {
    actix_web::http::StatusCode::from_u16(err.status().as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR)
}

/// `err` as the response to the current request.
pub fn error_response<E: ApiError + StdError>(err: &E) -> HttpResponse {
    error_response_with(err, Some(err))
}

/// [`error_response`] for an error that may not implement
/// `std::error::Error`; what the derived `ResponseError` calls.
pub fn error_response_with<E: ApiError>(err: &E, chain: Option<&dyn StdError>) -> HttpResponse {
    to_actix(super::respond_with(err, chain))
}

/// Marks a response rebuff rendered, so that the middleware does not
/// render it again (actix-web hands it the error behind it too).
#[derive(Debug, Clone, Copy)]
struct Rendered;

/// A response rebuff rendered, as actix-web's, marked as such.
fn to_actix(response: http::Response<bytes::Bytes>) -> HttpResponse {
    let (parts, body) = response.into_parts();
    let status = actix_web::http::StatusCode::from_u16(parts.status.as_u16())
        .unwrap_or(actix_web::http::StatusCode::INTERNAL_SERVER_ERROR);
    let mut response = HttpResponse::build(status);
    for (name, value) in &parts.headers {
        if let (Ok(name), Ok(value)) = (
            HeaderName::from_bytes(name.as_ref()),
            HeaderValue::from_bytes(value.as_bytes()),
        ) {
            response.append_header((name, value));
        }
    }
    let mut response = response.body(body);
    response.extensions_mut().insert(Rendered);
    response
}

/// Any [`ApiError`] as a response, for types that do not derive it.
#[derive(Debug)]
pub struct Api<E>(pub E);

impl<E: ApiError + StdError> core::fmt::Display for Api<E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        core::fmt::Display::fmt(&self.0, f)
    }
}

impl<E: ApiError + StdError> actix_web::ResponseError for Api<E> {
    fn status_code(&self) -> actix_web::http::StatusCode {
        status_code(&self.0)
    }

    fn error_response(&self) -> HttpResponse {
        error_response(&self.0)
    }
}

/// A rejection answers in the request's style: the [`Surface`]'s error
/// type's, or the default style outside one.
impl actix_web::ResponseError for Rejection {
    fn status_code(&self) -> actix_web::http::StatusCode {
        status_code(self)
    }

    fn error_response(&self) -> HttpResponse {
        to_actix(super::respond_rejection(self))
    }
}

/// Default service for unknown routes: a 404 [`Rejection`] (the
/// [`Surface`] answers the router's own bodyless 404 the same way).
#[allow(clippy::unused_async)] // a handler: the framework awaits it
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, Rejection> {
    Err(Rejection::NotFound {
        path: req.path().to_owned(),
    })
}

/// A typed header (actix-web's `Header` trait), with a missing or malformed
/// one a [`Rejection::InvalidHeader`] that names it.
#[derive(Debug, Clone)]
pub struct Header<T>(pub T);

impl<T: header::Header> FromRequest for Header<T> {
    type Error = Rejection;
    type Future = Ready<Result<Self, Rejection>>;

    fn from_request(req: &HttpRequest, _: &mut Payload) -> Self::Future {
        ready(
            T::parse(req)
                .map(Header)
                .map_err(|err| Rejection::InvalidHeader {
                    name: T::name().as_str().to_owned(),
                    reason: if req.headers().contains_key(T::name()) {
                        text(&err)
                    } else {
                        "missing".to_owned()
                    },
                }),
        )
    }
}

/// The request's [`Context`]: the middleware's, or a fresh one.
#[must_use]
pub fn current() -> Context {
    super::context()
}

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
        // The extractors' own limits follow the surface's: it cuts bodies
        // off itself, and an extractor limit below it would answer first.
        let limit = self.get_body_limit().map_or(usize::MAX, |limit| {
            usize::try_from(limit).unwrap_or(usize::MAX)
        });
        // Path and query failures keep their type (actix-web's default
        // handler makes a bad path parameter a 404).
        let mut configs = actix_web::dev::Extensions::new();
        configs.insert(actix_web::web::JsonConfig::default().limit(limit));
        configs.insert(actix_web::web::FormConfig::default().limit(limit));
        configs.insert(actix_web::web::PayloadConfig::new(limit));
        configs.insert(
            actix_web::web::PathConfig::default()
                .error_handler(|err, _| Rejection::InvalidPath { reason: text(&err) }.into()),
        );
        configs.insert(
            actix_web::web::QueryConfig::default()
                .error_handler(|err, _| Rejection::InvalidQuery { reason: text(&err) }.into()),
        );
        ready(Ok(SurfaceMiddleware {
            service: Rc::new(service),
            surface: *self,
            configs: Rc::new(configs),
        }))
    }
}

/// The service of the [`Surface`] middleware.
pub struct SurfaceMiddleware<S, E> {
    service: Rc<S>,
    surface: Surface<E>,
    configs: Rc<actix_web::dev::Extensions>,
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
        let surface = self.surface;
        let client = req
            .headers()
            .get("x-request-id")
            .and_then(|id| http::HeaderValue::from_bytes(id.as_bytes()).ok());
        let accept = req
            .headers()
            .get_all(header::ACCEPT)
            .map(HeaderValue::as_bytes);
        let ctx = surface
            .context(super::safe_id([client.as_ref()]), accept)
            .instance(req.path());
        let span = request_span(&ctx, req.method().as_str(), req.path());
        let echo = ctx
            .get_request_id()
            .and_then(|id| HeaderValue::from_str(id).ok());
        req.extensions_mut().insert(ctx.clone());

        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .map(HeaderValue::as_bytes);
        if let Some(refused) = surface.refuse_declared(declared) {
            let response = span.in_scope(|| to_actix(respond_rejection_in(&refused, &ctx)));
            let response = finish(req.into_response(response).map_into_right_body(), echo);
            return Box::pin(ready(Ok(response)));
        }
        req.add_data_container(Rc::clone(&self.configs));
        if let Some(limit) = surface.get_body_limit() {
            let payload = req.take_payload();
            req.set_payload(Payload::Stream {
                payload: Box::pin(Limited {
                    inner: payload,
                    left: limit,
                    done: false,
                }),
            });
        }
        let method = req.method().as_str().to_owned();
        let path = req.path().to_owned();
        let service = Rc::clone(&self.service);
        Box::pin(
            super::scope(ctx.clone(), async move {
                let outcome = CatchUnwind::new(service.call(req)).await;
                let response = match outcome {
                    Ok(response) => response?,
                    Err(payload) if surface.catches_panics() => {
                        // The request was moved into the handler: the answer
                        // goes out as an error carrying the response.
                        let mut panicked = to_actix(super::respond_to_panic(&*payload));
                        if let Some(id) = echo {
                            panicked
                                .headers_mut()
                                .insert(HeaderName::from_static("x-request-id"), id);
                        }
                        return Err(actix_web::error::InternalError::from_response(
                            "a handler panicked",
                            panicked,
                        )
                        .into());
                    }
                    Err(payload) => std::panic::resume_unwind(payload),
                };
                Ok(finish(
                    restyle(response, &surface, &method, &path, &ctx),
                    echo,
                ))
            })
            .instrument(span),
        )
    }
}

/// An error response rebuff did not render, answered in the envelope: the
/// error an extractor (or a handler) failed with as the matching
/// rejection, or a bodyless 404 and 405 of the router; its headers kept.
fn restyle<B: MessageBody + 'static, E: ApiError>(
    response: ServiceResponse<B>,
    surface: &Surface<E>,
    method: &str,
    path: &str,
    ctx: &Context,
) -> ServiceResponse<EitherBody<B>> {
    let status = response.status();
    if status.as_u16() < 400 || response.response().extensions().get::<Rendered>().is_some() {
        return response.map_into_left_body();
    }
    let Ok(status) = http::StatusCode::from_u16(status.as_u16()) else {
        return response.map_into_left_body();
    };
    let rejection = match response.response().error() {
        Some(err) => Some(from_actix(err, status, surface, method, path)),
        None => {
            let bare = !response.headers().contains_key(header::CONTENT_TYPE)
                && matches!(
                    response.response().body().size(),
                    BodySize::None | BodySize::Sized(0)
                );
            if bare {
                bare_rejection(status, method, path)
            } else {
                None
            }
        }
    };
    let Some(rejection) = rejection else {
        return response.map_into_left_body();
    };
    let mut restyled = to_actix(respond_rejection_in(&rejection, ctx));
    for (name, value) in response.headers() {
        if name != header::CONTENT_TYPE
            && name != header::CONTENT_LENGTH
            && !restyled.headers().contains_key(name)
        {
            restyled.headers_mut().insert(name.clone(), value.clone());
        }
    }
    let (req, _) = response.into_parts();
    ServiceResponse::new(req, restyled).map_into_right_body()
}

/// The rejection an actix-web error stands for: the extractors' by their
/// type, anything else by its status (a 5xx says nothing of itself).
fn from_actix<E: ApiError>(
    err: &actix_web::Error,
    status: http::StatusCode,
    surface: &Surface<E>,
    method: &str,
    path: &str,
) -> Rejection {
    if let Some(rejection) = err.as_error::<Rejection>() {
        return rejection.clone();
    }
    if let Some(err) = err.as_error::<JsonPayloadError>() {
        return match err {
            JsonPayloadError::OverflowKnownLength { length, limit } => Rejection::PayloadTooLarge {
                file_size: u64::try_from(*length).ok(),
                max_size: u64::try_from(*limit).unwrap_or(u64::MAX),
            },
            JsonPayloadError::Overflow { limit } => Rejection::PayloadTooLarge {
                file_size: None,
                max_size: u64::try_from(*limit).unwrap_or(u64::MAX),
            },
            JsonPayloadError::ContentType => Rejection::UnsupportedMediaType {
                expected: "application/json".into(),
            },
            JsonPayloadError::Deserialize(err) => Rejection::InvalidJson { reason: text(err) },
            JsonPayloadError::Payload(err) => from_payload(err, surface),
            other => Rejection::BadRequest {
                reason: text(other),
            },
        };
    }
    if let Some(err) = err.as_error::<UrlencodedError>() {
        return match err {
            UrlencodedError::Overflow { size, limit } => Rejection::PayloadTooLarge {
                file_size: u64::try_from(*size).ok(),
                max_size: u64::try_from(*limit).unwrap_or(u64::MAX),
            },
            UrlencodedError::ContentType => Rejection::UnsupportedMediaType {
                expected: "application/x-www-form-urlencoded".into(),
            },
            UrlencodedError::Payload(err) => from_payload(err, surface),
            other => Rejection::InvalidForm {
                reason: text(other),
            },
        };
    }
    if let Some(err) = err.as_error::<PathError>() {
        return Rejection::InvalidPath { reason: text(err) };
    }
    if let Some(err) = err.as_error::<QueryPayloadError>() {
        return Rejection::InvalidQuery { reason: text(err) };
    }
    if let Some(err) = err.as_error::<PayloadError>() {
        return from_payload(err, surface);
    }
    if let Some(rejection) = bare_rejection(status, method, path) {
        return rejection;
    }
    match status.as_u16() {
        413 => surface.overflowed(),
        400..=499 => Rejection::BadRequest { reason: text(err) },
        status => {
            tracing::error!(
                target: "rebuff::server",
                status,
                error = %err,
                "a handler failed with an error that is not the API's"
            );
            Rejection::Internal
        }
    }
}

fn from_payload<E: ApiError>(err: &PayloadError, surface: &Surface<E>) -> Rejection {
    match err {
        PayloadError::Overflow => surface.overflowed(),
        other => Rejection::BadRequest {
            reason: text(other),
        },
    }
}

/// Echoes the request id.
fn finish<B>(mut response: ServiceResponse<B>, id: Option<HeaderValue>) -> ServiceResponse<B> {
    if let Some(id) = id {
        let name = HeaderName::from_static("x-request-id");
        if !response.headers().contains_key(&name) {
            response.headers_mut().insert(name, id);
        }
    }
    response
}

/// The request body, cut off at the limit: past it, the stream ends with
/// [`PayloadError::Overflow`], which every extractor reports.
struct Limited {
    inner: Payload,
    left: u64,
    done: bool,
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
                    return Poll::Ready(Some(Err(PayloadError::Overflow)));
                }
                self.left -= len;
                Poll::Ready(Some(Ok(chunk)))
            }
            other => other,
        }
    }
}
