//! axum: the [`Surface`](crate::server::Surface) layer, derived errors as responses, and extractors
//! whose failures are [`Rejection`]s in the API's envelope.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use rebuff::ApiError;
//! use rebuff::server::Surface;
//! use rebuff::server::axum::{Json, Path};
//!
//! #[derive(Debug, thiserror::Error, ApiError)]
//! #[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE")]
//! enum LeadError {
//!     #[error("lead {lead_id} not found")]
//!     #[api(status = 404, message = "Lead not found")]
//!     LeadNotFound { lead_id: String },
//! }
//!
//! async fn get_lead(Path(id): Path<String>) -> Result<Json<serde_json::Value>, LeadError> {
//!     Err(LeadError::LeadNotFound { lead_id: id })
//! }
//!
//! // Last, so that it covers every route (and the router's own 404 and 405).
//! let app: Router = Router::new()
//!     .route("/api/v1/leads/{id}", get(get_lead))
//!     .layer(Surface::<LeadError>::new());
//! # let _ = app;
//! ```
//!
//! axum's own extractors answer their failures in plain text; rebuff's
//! [`Json`], [`Path`], [`Query`], [`Form`], [`Header`] (and, with the
//! `multipart` feature, [`Multipart`]) are the same extractors with their
//! failures in the envelope. The router's own 404 and 405 (which have no
//! body) are answered in the envelope by the layer, `Allow` kept.
//!
//! `Router::layer` puts a layer on each route the router has at that
//! point. The surface may instead be wrapped around the finished router,
//! as a tower service: then it covers every route whenever it was added,
//! and each request goes through it once, not through a layer axum put on
//! its route (which also costs a little less per request).
//!
//! ```no_run
//! use axum::ServiceExt as _;
//! use axum::{Router, routing::get};
//! use rebuff::server::Surface;
//! # #[derive(Debug, thiserror::Error, rebuff::ApiError)]
//! # enum LeadError { #[error("gone")] #[api(status = 410)] Gone }
//!
//! let router = Router::new().route("/health", get(|| async { "ok" }));
//! let app = tower::Layer::layer(&Surface::<LeadError>::new(), router);
//! // Served as `axum::serve(listener, app.into_make_service())`.
//! let service = app.into_make_service();
//! # let _ = service;
//! ```

#[cfg(feature = "ratelimit")]
mod ratelimit;
mod surface;

use core::convert::Infallible;
use std::error::Error as StdError;

use axum::body::Body;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{Method, StatusCode, Uri};

#[cfg(feature = "ratelimit")]
pub use self::ratelimit::{RateLimitFuture, RateLimitLayer, RateLimitService};
pub(crate) use self::surface::is_rejection;
pub use self::surface::{SurfaceFuture, SurfaceService};
use super::{Rejection, context};
use crate::{ApiError, Context};

/// `err` as the response to the current request.
pub fn into_response<E: ApiError + StdError>(err: &E) -> Response {
    into_response_with(err, Some(err))
}

/// [`into_response`] for an error that may not implement
/// `std::error::Error`; what the derived `IntoResponse` calls.
pub fn into_response_with<E: ApiError>(err: &E, chain: Option<&dyn StdError>) -> Response {
    super::respond_with(err, chain).map(Body::from)
}

/// Any [`ApiError`] as a response, for types that do not derive it (a
/// hand-written impl, a type of another crate).
#[derive(Debug)]
pub struct Api<E>(pub E);

impl<E: ApiError + StdError> IntoResponse for Api<E> {
    fn into_response(self) -> Response {
        into_response(&self.0)
    }
}

impl<E> From<E> for Api<E> {
    fn from(err: E) -> Self {
        Api(err)
    }
}

/// A rejection answers in the request's style: the [`Surface`](crate::server::Surface)'s error
/// type's, or the default style outside one.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        let mut response = super::respond_rejection(&self).map(Body::from);
        response.extensions_mut().insert(Rejected);
        response
    }
}

/// Marks a response rendered from a [`Rejection`] (an extractor's, a
/// fallback's): a request refused, not the application's answer, which
/// idempotency keys do not keep ([`is_rejection`]).
#[derive(Debug, Clone, Copy)]
pub(crate) struct Rejected;

/// Fallback handler for unknown routes: a 404 [`Rejection`] (the
/// [`Surface`](crate::server::Surface) layer answers the router's own bodyless 404 the same way).
#[allow(clippy::unused_async)] // a handler: the framework awaits it
pub async fn not_found(uri: Uri) -> Rejection {
    Rejection::NotFound {
        path: uri.path().to_owned(),
    }
}

/// Fallback handler for a known path with the wrong method: a 405
/// [`Rejection`] (axum adds `Allow`).
#[allow(clippy::unused_async)] // a handler: the framework awaits it
pub async fn method_not_allowed(method: Method) -> Rejection {
    Rejection::MethodNotAllowed {
        method: method.to_string(),
    }
}

/// The handler for tower-http's `CatchPanicLayer::custom`, for stacks
/// without the [`Surface`](crate::server::Surface) layer (which catches panics itself): logs the
/// panic, answers 500 in the envelope with the request id.
#[must_use]
#[allow(clippy::needless_pass_by_value)] // the signature `CatchPanicLayer::custom` takes
pub fn panic_response(payload: Box<dyn core::any::Any + Send + 'static>) -> Response {
    super::respond_to_panic(&*payload).map(Body::from)
}

/// The 413 of an extractor that reached the body limit.
fn too_large() -> Rejection {
    Rejection::PayloadTooLarge {
        file_size: None,
        max_size: super::body_limit(),
    }
}

/// What rebuff's hooks (a limiter's resolver, the keys' scope) see of an
/// axum request: its peer's address too when the server was run with
/// `into_make_service_with_connect_info`.
pub(crate) fn request_view<B>(req: &http::Request<B>) -> crate::view::RequestView<'_> {
    let peer = req
        .extensions()
        .get::<axum::extract::ConnectInfo<std::net::SocketAddr>>()
        .map(|info| info.0.ip());
    crate::view::RequestView::new(req.method().as_str(), req.uri().path(), req.headers(), peer)
}

/// A request body read up to `within` bytes that could not be read whole:
/// a 413 when it ran past that or the body limit (the
/// [`Surface`](crate::server::Surface)'s cuts a chunked body off as it is
/// read), naming the smaller, else a 400.
pub(crate) fn unreadable_body(err: &axum::Error, within: usize) -> Rejection {
    let mut cause: Option<&(dyn StdError + 'static)> = Some(err);
    while let Some(current) = cause {
        if current.is::<http_body_util::LengthLimitError>() {
            return Rejection::PayloadTooLarge {
                file_size: None,
                max_size: super::body_limit().min(within as u64),
            };
        }
        cause = current.source();
    }
    Rejection::BadRequest {
        reason: "the request body could not be read".into(),
    }
}

fn json_rejection(rejection: &JsonRejection) -> Rejection {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Rejection::UnsupportedMediaType {
            expected: "application/json".into(),
        },
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => too_large(),
        JsonRejection::JsonSyntaxError(err) => Rejection::InvalidJson {
            reason: innermost(err),
        },
        JsonRejection::JsonDataError(err) => Rejection::InvalidJson {
            reason: innermost(err),
        },
        other => Rejection::BadRequest {
            reason: other.body_text(),
        },
    }
}

/// The innermost message of an extractor error: serde's own words.
fn innermost(err: &(dyn StdError + 'static)) -> String {
    let mut last: &(dyn StdError + 'static) = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// axum's `Json`, with failures as [`Rejection`]s in the API's envelope.
#[derive(Debug, Clone, Copy, Default)]
pub struct Json<T>(pub T);

impl<T, S> FromRequest<S> for Json<T>
where
    axum::Json<T>: FromRequest<S, Rejection = JsonRejection>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Json::<T>::from_request(req, state).await {
            Ok(axum::Json(value)) => Ok(Json(value)),
            Err(rejection) => Err(json_rejection(&rejection)),
        }
    }
}

/// The value as a JSON body; one that fails to serialize (a map with
/// keys that are not strings, a `Serialize` impl that fails) is the
/// server's fault: a 500 in the envelope, the serializer's words logged and
/// never sent.
impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        let mut body = Vec::with_capacity(128);
        match serde_json::to_writer(&mut body, &self.0) {
            Ok(()) => (
                [(
                    http::header::CONTENT_TYPE,
                    http::HeaderValue::from_static("application/json"),
                )],
                body,
            )
                .into_response(),
            Err(err) => super::respond_failure(&Rejection::Internal, &err).map(Body::from),
        }
    }
}

/// axum's `Form`, with failures as [`Rejection`]s in the API's envelope.
#[derive(Debug, Clone, Copy, Default)]
pub struct Form<T>(pub T);

impl<T, S> FromRequest<S> for Form<T>
where
    axum::Form<T>: FromRequest<S, Rejection = FormRejection>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::Form::<T>::from_request(req, state).await {
            Ok(axum::Form(value)) => Ok(Form(value)),
            Err(FormRejection::InvalidFormContentType(_)) => Err(Rejection::UnsupportedMediaType {
                expected: "application/x-www-form-urlencoded".into(),
            }),
            Err(rejection) if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => {
                Err(too_large())
            }
            Err(rejection) => Err(Rejection::InvalidForm {
                reason: innermost(&rejection),
            }),
        }
    }
}

/// axum's `Path`, with failures as [`Rejection`]s in the API's envelope.
#[derive(Debug, Clone, Copy, Default)]
pub struct Path<T>(pub T);

impl<T, S> FromRequestParts<S> for Path<T>
where
    axum::extract::Path<T>: FromRequestParts<S, Rejection = PathRejection>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Path::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Path(value)) => Ok(Path(value)),
            Err(rejection) => Err(Rejection::InvalidPath {
                reason: rejection.body_text(),
            }),
        }
    }
}

/// axum's `Query`, with failures as [`Rejection`]s in the API's envelope.
#[derive(Debug, Clone, Copy, Default)]
pub struct Query<T>(pub T);

impl<T, S> FromRequestParts<S> for Query<T>
where
    axum::extract::Query<T>: FromRequestParts<S, Rejection = QueryRejection>,
    S: Send + Sync,
{
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Query::<T>::from_request_parts(parts, state).await {
            Ok(axum::extract::Query(value)) => Ok(Query(value)),
            Err(rejection) => Err(Rejection::InvalidQuery {
                reason: innermost(&rejection),
            }),
        }
    }
}

/// A header an endpoint reads, by name and parser: what [`Header`]
/// extracts.
///
/// ```
/// use rebuff::server::axum::TypedHeader;
///
/// /// `X-Workspace: ws_123`.
/// struct Workspace(String);
///
/// impl TypedHeader for Workspace {
///     const NAME: &'static str = "x-workspace";
///     fn parse(value: &str) -> Result<Self, String> {
///         value.strip_prefix("ws_").map(|_| Workspace(value.to_owned())).ok_or_else(|| "expected ws_...".into())
///     }
/// }
/// ```
pub trait TypedHeader: Sized {
    /// The header's name, lowercase.
    const NAME: &'static str;
    /// Reads the value; the error says why it is not one.
    fn parse(value: &str) -> Result<Self, String>;
}

/// A typed header, with a missing or malformed one a
/// [`Rejection::InvalidHeader`] in the API's envelope.
#[derive(Debug, Clone, Copy, Default)]
pub struct Header<T>(pub T);

impl<T: TypedHeader, S: Send + Sync> FromRequestParts<S> for Header<T> {
    type Rejection = Rejection;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let invalid = |reason: String| Rejection::InvalidHeader {
            name: T::NAME.to_owned(),
            reason,
        };
        let value = parts
            .headers
            .get(T::NAME)
            .ok_or_else(|| invalid("missing".into()))?;
        let value = value
            .to_str()
            .map_err(|_| invalid("not visible ASCII".into()))?;
        T::parse(value).map(Header).map_err(invalid)
    }
}

/// axum's `Multipart`, with failures as [`Rejection`]s in the API's
/// envelope (the extraction itself: wrong content type or boundary; the
/// errors of reading fields come from its methods, as axum's).
#[cfg(feature = "multipart")]
#[cfg_attr(docsrs, doc(cfg(feature = "multipart")))]
#[derive(Debug)]
pub struct Multipart(pub axum::extract::Multipart);

#[cfg(feature = "multipart")]
impl<S: Send + Sync> FromRequest<S> for Multipart {
    type Rejection = Rejection;

    async fn from_request(req: Request, state: &S) -> Result<Self, Self::Rejection> {
        match axum::extract::Multipart::from_request(req, state).await {
            Ok(multipart) => Ok(Multipart(multipart)),
            Err(rejection) => Err(Rejection::InvalidMultipart {
                reason: rejection.body_text(),
            }),
        }
    }
}

/// A field read failure of [`Multipart`] as a [`Rejection`]: 413 past the
/// body limit, else an invalid multipart body.
#[cfg(feature = "multipart")]
#[cfg_attr(docsrs, doc(cfg(feature = "multipart")))]
#[must_use]
pub fn multipart_error(err: &axum::extract::multipart::MultipartError) -> Rejection {
    if err.status() == StatusCode::PAYLOAD_TOO_LARGE {
        return too_large();
    }
    Rejection::InvalidMultipart {
        reason: err.body_text(),
    }
}

/// The request's [`Context`], as an extractor: the one the
/// [`Surface`](crate::server::Surface) runs the request in (or one put in
/// the request's extensions); without either, a fresh one, and `None` as
/// an `Option<Context>`.
impl<S: Send + Sync> FromRequestParts<S> for Context {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Context>()
            .cloned()
            .unwrap_or_else(context))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Context {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Context>()
            .cloned()
            .or_else(crate::server::current_context))
    }
}
