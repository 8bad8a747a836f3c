//! actix-web: derived errors as `ResponseError`s, the request-context
//! middleware, and extractor configurations whose failures use your envelope.
//!
//! ```no_run
//! use actix_web::{App, HttpServer, web};
//! use rebuff::server::actix;
//! use rebuff::Builtin;
//!
//! # async fn serve() -> std::io::Result<()> {
//! HttpServer::new(|| {
//!     App::new()
//!         .app_data(actix::json_config().limit(1 << 20))
//!         .app_data(actix::path_config())
//!         .app_data(actix::query_config())
//!         .default_service(web::to(actix::not_found))
//!         .wrap(actix::RequestContext::new().envelope(Builtin::Flat).negotiate(true))
//! })
//! .bind("127.0.0.1:3000")?
//! .run()
//! .await
//! # }
//! ```

use core::future::{Future, Ready, ready};
use core::pin::Pin;
use std::error::Error as StdError;
use std::rc::Rc;

use actix_web::dev::{Service, ServiceRequest, ServiceResponse, Transform, forward_ready};
use actix_web::error::{JsonPayloadError, PathError, QueryPayloadError};
use actix_web::http::header::{HeaderName, HeaderValue};
use actix_web::{HttpRequest, HttpResponse, web};

use super::{Rejection, context, is_safe_request_id, new_request_id, scope};
use crate::{ApiError, Builtin, Context};

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

/// An `http` response as actix-web's.
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
            response.insert_header((name, value));
        }
    }
    response.body(body)
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

/// Default service for unknown routes: a 404 [`Rejection`].
#[allow(clippy::unused_async)] // a handler: the framework awaits it
pub async fn not_found(req: HttpRequest) -> Result<HttpResponse, Rejection> {
    Err(Rejection::NotFound {
        path: req.path().to_owned(),
    })
}

/// Default service of a resource whose path matched but method did not: a
/// 405 [`Rejection`].
#[allow(clippy::unused_async)] // a handler: the framework awaits it
pub async fn method_not_allowed(req: HttpRequest) -> Result<HttpResponse, Rejection> {
    Err(Rejection::MethodNotAllowed {
        method: req.method().to_string(),
    })
}

/// A `JsonConfig` whose failures are [`Rejection`]s: 400 for malformed JSON,
/// 415 for another content type, 413 (with `file_size` and `max_size`) for
/// a body over the limit.
#[must_use]
pub fn json_config() -> web::JsonConfig {
    web::JsonConfig::default().error_handler(|err, _| actix_web::Error::from(json_rejection(&err)))
}

fn json_rejection(err: &JsonPayloadError) -> Rejection {
    match err {
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
        JsonPayloadError::Deserialize(err) => Rejection::InvalidJson {
            reason: err.to_string(),
        },
        other => Rejection::BadRequest {
            reason: other.to_string(),
        },
    }
}

/// A `PathConfig` whose failures are [`Rejection`]s.
#[must_use]
pub fn path_config() -> web::PathConfig {
    web::PathConfig::default().error_handler(|err: PathError, _| {
        actix_web::Error::from(Rejection::InvalidPath {
            reason: err.to_string(),
        })
    })
}

/// A `QueryConfig` whose failures are [`Rejection`]s.
#[must_use]
pub fn query_config() -> web::QueryConfig {
    web::QueryConfig::default().error_handler(|err: QueryPayloadError, _| {
        actix_web::Error::from(Rejection::InvalidQuery {
            reason: err.to_string(),
        })
    })
}

/// The request-context middleware: the actix-web twin of
/// [`super::axum::ContextLayer`]. It also answers a handler's panic with
/// the [`Rejection::Panic`] envelope (logged, nothing of it sent), handed
/// on as an error carrying that response, where the connection would
/// otherwise be dropped.
#[derive(Debug, Clone, Copy, Default)]
#[must_use]
pub struct RequestContext {
    negotiate: bool,
    envelope: Builtin,
}

impl RequestContext {
    /// No negotiation; the server's own errors in [`Builtin::Nested`].
    pub const fn new() -> Self {
        RequestContext {
            negotiate: false,
            envelope: Builtin::Nested,
        }
    }

    /// Serve RFC 9457 problem details to clients that ask for them.
    pub const fn negotiate(mut self, on: bool) -> Self {
        self.negotiate = on;
        self
    }

    /// The envelope of the server's own errors.
    pub const fn envelope(mut self, envelope: Builtin) -> Self {
        self.envelope = envelope;
        self
    }
}

impl<S, B> Transform<S, ServiceRequest> for RequestContext
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Transform = RequestContextService<S>;
    type InitError = ();
    type Future = Ready<Result<Self::Transform, Self::InitError>>;

    fn new_transform(&self, service: S) -> Self::Future {
        ready(Ok(RequestContextService {
            service: Rc::new(service),
            config: *self,
        }))
    }
}

/// The service of [`RequestContext`].
#[derive(Debug)]
pub struct RequestContextService<S> {
    service: Rc<S>,
    config: RequestContext,
}

impl<S, B> Service<ServiceRequest> for RequestContextService<S>
where
    S: Service<ServiceRequest, Response = ServiceResponse<B>, Error = actix_web::Error> + 'static,
    B: 'static,
{
    type Response = ServiceResponse<B>;
    type Error = actix_web::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>>>>;

    forward_ready!(service);

    fn call(&self, req: ServiceRequest) -> Self::Future {
        let ctx = request_context(self.config, &req);
        let id = ctx
            .get_request_id()
            .and_then(|id| HeaderValue::from_str(id).ok());
        actix_web::HttpMessage::extensions_mut(&req).insert(ctx.clone());
        let service = Rc::clone(&self.service);
        Box::pin(scope(ctx, async move {
            // A handler that panics gets the `Rejection::Panic` envelope (a
            // 500 saying nothing of the panic, which is logged), as under
            // axum with `panic_response`, instead of a dropped connection.
            // It is rendered here, in the request's context, and handed on
            // as an error carrying that response.
            let called = CatchUnwind {
                inner: async move { service.call(req).await },
            }
            .await;
            let mut response = match called {
                Ok(response) => response?,
                Err(payload) => {
                    let mut panicked = to_actix(super::respond_to_panic(&*payload));
                    if let Some(id) = id {
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
            };
            if let Some(id) = id {
                let name = HeaderName::from_static("x-request-id");
                if !response.headers().contains_key(&name) {
                    response.headers_mut().insert(name, id);
                }
            }
            Ok(response)
        }))
    }
}

pin_project_lite::pin_project! {
    /// `inner`, its panics caught: `Err(payload)` instead of unwinding.
    struct CatchUnwind<F> {
        #[pin]
        inner: F,
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn core::any::Any + Send>>;

    fn poll(
        self: Pin<&mut Self>,
        cx: &mut core::task::Context<'_>,
    ) -> core::task::Poll<Self::Output> {
        let inner = self.project().inner;
        // Once it has panicked, `inner` is never polled again: this future
        // is done.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(core::task::Poll::Pending) => core::task::Poll::Pending,
            Ok(core::task::Poll::Ready(output)) => core::task::Poll::Ready(Ok(output)),
            Err(payload) => core::task::Poll::Ready(Err(payload)),
        }
    }
}

fn request_context(config: RequestContext, req: &ServiceRequest) -> Context {
    let id = req
        .headers()
        .get("x-request-id")
        .map(HeaderValue::as_bytes)
        .filter(|id| is_safe_request_id(id))
        .and_then(|id| core::str::from_utf8(id).ok())
        .map_or_else(new_request_id, str::to_owned);
    let wants_problem = config.negotiate
        && req
            .headers()
            .get_all("accept")
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|item| {
                item.split(';')
                    .next()
                    .unwrap_or("")
                    .trim()
                    .eq_ignore_ascii_case("application/problem+json")
            });
    Context::new()
        .request_id(id)
        .now()
        .instance(req.path())
        .prefer_problem(wants_problem)
        .envelope(config.envelope)
}

/// The request's [`Context`]: the middleware's, or a fresh one.
#[must_use]
pub fn current() -> Context {
    context()
}

impl actix_web::ResponseError for Rejection {
    fn status_code(&self) -> actix_web::http::StatusCode {
        status_code(self)
    }

    fn error_response(&self) -> HttpResponse {
        error_response(self)
    }
}
