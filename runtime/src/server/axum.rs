//! axum: the [`Surface`] layer, derived errors as responses, and extractors
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

use core::convert::Infallible;
use core::future::Future;
use core::pin::Pin;
use core::task::{Context as TaskContext, Poll};
use std::error::Error as StdError;

use axum::body::Body;
use axum::extract::rejection::{FormRejection, JsonRejection, PathRejection, QueryRejection};
use axum::extract::{
    DefaultBodyLimit, FromRequest, FromRequestParts, OptionalFromRequestParts, Request,
};
use axum::response::{IntoResponse, Response};
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode, Uri, header};
use http_body::Body as _;
use tracing::Instrument as _;

use super::surface::{bare_rejection, keep_headers};
use super::{CatchUnwind, Rejection, Surface, context, request_span, respond_rejection_in};
use crate::{ApiError, Context, X_REQUEST_ID};

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

/// A rejection answers in the request's style: the [`Surface`]'s error
/// type's, or the default style outside one.
impl IntoResponse for Rejection {
    fn into_response(self) -> Response {
        super::respond_rejection(&self).map(Body::from)
    }
}

/// Fallback handler for unknown routes: a 404 [`Rejection`] (the
/// [`Surface`] layer answers the router's own bodyless 404 the same way).
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
/// without the [`Surface`] layer (which catches panics itself): logs the
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

impl<T: serde::Serialize> IntoResponse for Json<T> {
    fn into_response(self) -> Response {
        axum::Json(self.0).into_response()
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

/// The request's [`Context`], as an extractor (the [`Surface`] puts it in
/// the request's extensions; without it, a fresh one).
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
        Ok(parts.extensions.get::<Context>().cloned())
    }
}

impl<S, E: ApiError> tower::Layer<S> for Surface<E> {
    type Service = SurfaceService<S, E>;

    fn layer(&self, inner: S) -> Self::Service {
        SurfaceService {
            inner,
            surface: *self,
        }
    }
}

/// The service of the [`Surface`] layer.
pub struct SurfaceService<S, E> {
    inner: S,
    surface: Surface<E>,
}

impl<S: Clone, E> Clone for SurfaceService<S, E> {
    fn clone(&self) -> Self {
        SurfaceService {
            inner: self.inner.clone(),
            surface: self.surface,
        }
    }
}

impl<S: core::fmt::Debug, E> core::fmt::Debug for SurfaceService<S, E> {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("SurfaceService")
            .field("inner", &self.inner)
            .field("surface", &self.surface)
            .finish()
    }
}

impl<S, E> tower::Service<Request> for SurfaceService<S, E>
where
    S: tower::Service<Request, Response = Response>,
    E: ApiError,
{
    type Response = Response;
    type Error = S::Error;
    type Future = SurfaceFuture<S::Future, S::Error>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, req: Request) -> Self::Future {
        let surface = self.surface;
        let chosen = req
            .extensions()
            .get::<tower_http::request_id::RequestId>()
            .map(tower_http::request_id::RequestId::header_value);
        let id = super::safe_id([chosen, req.headers().get(X_REQUEST_ID)]);
        let accept = req
            .headers()
            .get_all(header::ACCEPT)
            .iter()
            .map(HeaderValue::as_bytes);
        let ctx = surface.context(id, accept);
        let ctx = match req.uri().path_and_query() {
            Some(path) => ctx.instance_path(path.clone()),
            None => ctx.instance(req.uri().path()),
        };
        let span = request_span(&ctx, req.method().as_str(), req.uri().path());
        let after = After {
            method: req.method().clone(),
            catch_panics: surface.catches_panics(),
        };

        // The body's size, when the framework knows it exactly (from
        // `Content-Length`): one over the limit is refused unread; one of
        // unknown size (chunked) is cut off at the limit as it is read.
        let size = req.body().size_hint().exact();
        let start = match (surface.get_body_limit(), size) {
            (Some(_), Some(size)) => match surface.refuse_size(size) {
                Some(refused) => Start::Done {
                    response: span
                        .in_scope(|| respond_rejection_in(&refused, &ctx))
                        .map(Body::from),
                },
                None => Start::Run { req: Some(req) },
            },
            (Some(limit), None) => {
                let limit = usize::try_from(limit).unwrap_or(usize::MAX);
                Start::Run {
                    req: Some(req.map(|body| Body::new(http_body_util::Limited::new(body, limit)))),
                }
            }
            (None, _) => Start::Run { req: Some(req) },
        };
        let inner = match start {
            Start::Run { req: Some(mut req) } => {
                // The limit is this layer's: axum's own default is lifted
                // where it would cut a body short first.
                if surface
                    .get_body_limit()
                    .is_none_or(|limit| limit > super::DEFAULT_BODY_LIMIT)
                {
                    DefaultBodyLimit::disable().apply(&mut req);
                }
                let _entered = span.enter();
                match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
                    self.inner.call(req)
                })) {
                    Ok(future) => Inner::Running {
                        future: CatchUnwind::new(future),
                    },
                    Err(payload) => Inner::Done {
                        outcome: Some(Err(payload)),
                    },
                }
            }
            Start::Run { req: None } => unreachable!("built with a request"),
            Start::Done { response } => Inner::Done {
                outcome: Some(Ok(Ok(response))),
            },
        };
        SurfaceFuture {
            inner: super::scoped(ctx, inner.instrument(span)),
            after: Some(after),
        }
    }
}

/// How a request starts: handed to the router, or answered at once.
enum Start {
    Run { req: Option<Request> },
    Done { response: Response },
}

/// What the answer of a request needs once the router is done (with its
/// context, which the task-local hands back).
struct After {
    method: Method,
    catch_panics: bool,
}

/// The outcome of the router's future: its result, or the panic it raised.
type Outcome<T, E> = Result<Result<T, E>, Box<dyn core::any::Any + Send>>;

pin_project_lite::pin_project! {
    /// The router's future, its panics caught, or an answer given at once.
    #[project = InnerProj]
    #[doc(hidden)]
    pub enum Inner<F, E> {
        Running { #[pin] future: CatchUnwind<F> },
        Done { outcome: Option<Outcome<Response, E>> },
    }
}

impl<F, E> Future for Inner<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Outcome<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        match self.project() {
            InnerProj::Running { future } => future.poll(cx),
            InnerProj::Done { outcome } => {
                Poll::Ready(outcome.take().expect("polled after completion"))
            }
        }
    }
}

pin_project_lite::pin_project! {
    /// The future of [`SurfaceService`]: the request run in its context and
    /// span, then its answer restyled and given the request id.
    pub struct SurfaceFuture<F, E> {
        #[pin]
        inner: tokio::task::futures::TaskLocalFuture<Context, tracing::instrument::Instrumented<Inner<F, E>>>,
        after: Option<After>,
    }
}

impl<F, E> Future for SurfaceFuture<F, E>
where
    F: Future<Output = Result<Response, E>>,
{
    type Output = Result<Response, E>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let mut this = self.project();
        let outcome = core::task::ready!(this.inner.as_mut().poll(cx));
        let after = this.after.take().expect("polled after completion");
        let ctx = this.inner.take_value().unwrap_or_default();
        let response = match outcome {
            Ok(Ok(response)) => restyle(response, &after.method, &ctx),
            Ok(Err(err)) => return Poll::Ready(Err(err)),
            Err(payload) if after.catch_panics => {
                super::respond_to_panic_in(&*payload, &ctx).map(Body::from)
            }
            Err(payload) => std::panic::resume_unwind(payload),
        };
        Poll::Ready(Ok(finish(response, &ctx)))
    }
}

/// A bodyless error response of the router (its 404 and 405) answered in
/// the envelope, its headers kept; any other response as it is.
fn restyle(response: Response, method: &Method, ctx: &Context) -> Response {
    // Everything rebuff renders has a content type.
    let bare = response.status().as_u16() >= 400
        && !response.headers().contains_key(header::CONTENT_TYPE)
        && response.body().size_hint().exact() == Some(0);
    if !bare {
        return response;
    }
    let path = ctx.get_instance().unwrap_or_default();
    let Some(rejection) = bare_rejection(response.status(), method.as_str(), path) else {
        return response;
    };
    let mut restyled = respond_rejection_in(&rejection, ctx);
    keep_headers(response.headers(), restyled.headers_mut());
    restyled.map(Body::from)
}

/// Echoes the request id (an error's response has it already).
fn finish(mut response: Response, ctx: &Context) -> Response {
    if let header::Entry::Vacant(entry) = response.headers_mut().entry(X_REQUEST_ID) {
        if let Some(id) = ctx.request_id_value() {
            entry.insert(id);
        }
    }
    response
}
