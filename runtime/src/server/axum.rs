//! axum: derived errors as responses, the request-context layer, and
//! extractors and fallbacks whose failures use your envelope.
//!
//! ```no_run
//! use axum::{Router, routing::get};
//! use rebuff::server::axum::{ContextLayer, Json, Path};
//! use rebuff::{ApiError, Builtin};
//!
//! #[derive(Debug, thiserror::Error, ApiError)]
//! #[api(envelope = rebuff::envelope::Flat)]
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
//! let app: Router = Router::new()
//!     .route("/api/v1/leads/{id}", get(get_lead))
//!     .fallback(rebuff::server::axum::not_found)
//!     .method_not_allowed_fallback(rebuff::server::axum::method_not_allowed)
//!     .layer(tower_http::catch_panic::CatchPanicLayer::custom(rebuff::server::axum::panic_response))
//!     .layer(ContextLayer::new().envelope(Builtin::Flat).negotiate(true));
//! # let _ = app;
//! ```

use core::future::Future;
use core::pin::Pin;
use core::task::{Context as TaskContext, Poll};
use std::error::Error as StdError;

use axum::extract::rejection::{JsonRejection, PathRejection, QueryRejection};
use axum::extract::{FromRequest, FromRequestParts, OptionalFromRequestParts, Request};
use axum::response::{IntoResponse, Response};
use bytes::Bytes;
use http::request::Parts;
use http::{HeaderValue, Method, StatusCode, Uri, header};

use super::{Rejection, context, is_safe_request_id, new_request_id, scope};
use crate::{ApiError, Builtin, Context, X_REQUEST_ID};

/// `err` as the response to the current request.
pub fn into_response<E: ApiError + StdError>(err: &E) -> Response {
    into_response_with(err, Some(err))
}

/// [`into_response`] for an error that may not implement
/// `std::error::Error`; what the derived `IntoResponse` calls.
pub fn into_response_with<E: ApiError>(err: &E, chain: Option<&dyn StdError>) -> Response {
    super::respond_with(err, chain).map(axum::body::Body::from)
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

/// Fallback handler for unknown routes: a 404 [`Rejection`].
#[allow(clippy::unused_async)] // a handler: the framework awaits it
pub async fn not_found(uri: Uri) -> Rejection {
    Rejection::NotFound {
        path: uri.path().to_owned(),
    }
}

/// Fallback handler for a known path with the wrong method: a 405
/// [`Rejection`].
#[allow(clippy::unused_async)] // a handler: the framework awaits it
pub async fn method_not_allowed(method: Method) -> Rejection {
    Rejection::MethodNotAllowed {
        method: method.to_string(),
    }
}

/// The handler for tower-http's `CatchPanicLayer::custom`: logs the panic,
/// answers 500 in the server's envelope with the request id, and sends
/// nothing of the panic.
#[must_use]
#[allow(clippy::needless_pass_by_value)] // the signature `CatchPanicLayer::custom` takes
pub fn panic_response(payload: Box<dyn core::any::Any + Send + 'static>) -> Response {
    super::respond_to_panic(&*payload).map(axum::body::Body::from)
}

fn json_rejection(rejection: &JsonRejection) -> Rejection {
    match rejection {
        JsonRejection::MissingJsonContentType(_) => Rejection::UnsupportedMediaType {
            expected: "application/json".into(),
        },
        _ if rejection.status() == StatusCode::PAYLOAD_TOO_LARGE => payload_too_large(None),
        JsonRejection::JsonSyntaxError(err) => Rejection::InvalidJson {
            reason: source_text(err),
        },
        JsonRejection::JsonDataError(err) => Rejection::InvalidJson {
            reason: source_text(err),
        },
        other => Rejection::BadRequest {
            reason: other.body_text(),
        },
    }
}

/// The innermost message of an extractor error: serde's own words.
fn source_text(err: &(dyn StdError + 'static)) -> String {
    let mut last: &(dyn StdError + 'static) = err;
    while let Some(next) = last.source() {
        last = next;
    }
    last.to_string()
}

/// A 413 with the limit the layer was given, if any.
fn payload_too_large(file_size: Option<u64>) -> Rejection {
    let max_size = BODY_LIMIT
        .try_with(|limit| *limit)
        .ok()
        .flatten()
        .unwrap_or(0);
    Rejection::PayloadTooLarge {
        file_size,
        max_size,
    }
}

tokio::task_local! {
    static BODY_LIMIT: Option<u64>;
}

/// axum's `Json`, with failures as [`Rejection`]s in your envelope.
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

/// axum's `Path`, with failures as [`Rejection`]s in your envelope.
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

/// axum's `Query`, with failures as [`Rejection`]s in your envelope.
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
                reason: source_text(&rejection),
            }),
        }
    }
}

/// The request's [`Context`], as an extractor (the layer puts it in the
/// request's extensions; without the layer, a fresh one).
impl<S: Send + Sync> FromRequestParts<S> for Context {
    type Rejection = core::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        Ok(parts
            .extensions
            .get::<Context>()
            .cloned()
            .unwrap_or_else(context))
    }
}

impl<S: Send + Sync> OptionalFromRequestParts<S> for Context {
    type Rejection = core::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Option<Self>, Self::Rejection> {
        Ok(parts.extensions.get::<Context>().cloned())
    }
}

/// The request-context layer, for axum or any tower service over
/// `http::Request`: request id (taken if safe, else made), time, instance,
/// negotiation and the server's envelope; `X-Request-Id` on every response.
///
/// Works with tower-http's request-id layers rather than replacing them: put
/// `SetRequestIdLayer` outside this one and the id it chose is used;
/// `PropagateRequestIdLayer` is not needed, as this layer echoes the id.
#[derive(Debug, Clone, Copy)]
#[must_use]
pub struct ContextLayer {
    negotiate: bool,
    envelope: Builtin,
    body_limit: Option<u64>,
}

impl Default for ContextLayer {
    fn default() -> Self {
        Self::new()
    }
}

impl ContextLayer {
    /// No negotiation, the server's own errors in [`Builtin::Nested`], no
    /// body limit.
    pub const fn new() -> Self {
        ContextLayer {
            negotiate: false,
            envelope: Builtin::Nested,
            body_limit: None,
        }
    }

    /// Serve RFC 9457 problem details to clients that ask for them with
    /// `Accept: application/problem+json`.
    pub const fn negotiate(mut self, on: bool) -> Self {
        self.negotiate = on;
        self
    }

    /// The envelope of the server's own errors (rejections, fallbacks,
    /// panics): make it your error type's.
    pub const fn envelope(mut self, envelope: Builtin) -> Self {
        self.envelope = envelope;
        self
    }

    /// Refuse bodies over `bytes` with a 413 [`Rejection::PayloadTooLarge`]
    /// (`file_size` from `Content-Length`, `max_size`): at once when
    /// `Content-Length` says so, else when an extractor reaches the limit
    /// (set axum's `DefaultBodyLimit` to the same value).
    pub const fn body_limit(mut self, bytes: u64) -> Self {
        self.body_limit = Some(bytes);
        self
    }
}

impl<S> tower::Layer<S> for ContextLayer {
    type Service = ContextService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        ContextService {
            inner,
            config: *self,
        }
    }
}

/// The service of [`ContextLayer`].
#[derive(Debug, Clone)]
pub struct ContextService<S> {
    inner: S,
    config: ContextLayer,
}

impl<S, B, R> tower::Service<http::Request<B>> for ContextService<S>
where
    S: tower::Service<http::Request<B>, Response = http::Response<R>> + Send + 'static,
    S::Future: Send + 'static,
    R: From<Bytes> + Send + 'static,
{
    type Response = http::Response<R>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = Result<Self::Response, Self::Error>> + Send>>;

    fn poll_ready(&mut self, cx: &mut TaskContext<'_>) -> Poll<Result<(), Self::Error>> {
        self.inner.poll_ready(cx)
    }

    fn call(&mut self, mut req: http::Request<B>) -> Self::Future {
        let ctx = request_context(&self.config, &req);
        let id = ctx
            .get_request_id()
            .and_then(|id| HeaderValue::from_str(id).ok());
        req.extensions_mut().insert(ctx.clone());
        let declared = req
            .headers()
            .get(header::CONTENT_LENGTH)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.parse::<u64>().ok());
        let limit = self.config.body_limit;
        let over = matches!((declared, limit), (Some(size), Some(max)) if size > max);
        let inner = (!over).then(|| self.inner.call(req));
        Box::pin(BODY_LIMIT.scope(
            limit,
            scope(ctx, async move {
                let mut response = match inner {
                    Some(inner) => inner.await?,
                    None => {
                        let rejection = Rejection::PayloadTooLarge {
                            file_size: declared,
                            max_size: limit.unwrap_or(0),
                        };
                        super::respond(&rejection).map(R::from)
                    }
                };
                if let Some(id) = id {
                    response.headers_mut().entry(X_REQUEST_ID).or_insert(id);
                }
                Ok(response)
            }),
        ))
    }
}

/// The context of one request, by the layer's rules.
fn request_context<B>(config: &ContextLayer, req: &http::Request<B>) -> Context {
    let from_tower_http = req
        .extensions()
        .get::<tower_http::request_id::RequestId>()
        .map(|id| id.header_value().as_bytes());
    let from_client = req.headers().get(X_REQUEST_ID).map(HeaderValue::as_bytes);
    let id = [from_tower_http, from_client]
        .into_iter()
        .flatten()
        .find(|id| is_safe_request_id(id))
        .and_then(|id| core::str::from_utf8(id).ok())
        .map_or_else(new_request_id, str::to_owned);
    let wants_problem = config.negotiate
        && req
            .headers()
            .get_all(header::ACCEPT)
            .iter()
            .filter_map(|v| v.to_str().ok())
            .flat_map(|v| v.split(','))
            .any(|item| {
                let media = item.split(';').next().unwrap_or("").trim();
                media.eq_ignore_ascii_case("application/problem+json")
            });
    Context::new()
        .request_id(id)
        .now()
        .instance(req.uri().path())
        .prefer_problem(wants_problem)
        .envelope(config.envelope)
}
