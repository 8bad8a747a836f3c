//! Serving errors from axum and actix-web: request context, content
//! negotiation, logging, and the frameworks' own rejections in your envelope.
//!
//! With the `axum` (or `actix`) feature, `#[derive(ApiError)]` also makes the
//! type a response (`IntoResponse`, `ResponseError`), so handlers return
//! `Result<T, MyError>`. What the error alone cannot know comes from the
//! request context that [`axum::ContextLayer`] (or the actix middleware)
//! keeps for each request:
//!
//! - the **request id**: the client's `X-Request-Id` if it is safe (visible
//!   ASCII, at most 128 bytes), the one tower-http's `SetRequestIdLayer` set,
//!   or a new `req_` + 16 random characters; echoed on every response;
//! - the **time** and the request path as RFC 9457 `instance`;
//! - **content negotiation**: with [`axum::ContextLayer::negotiate`], a
//!   client sending `Accept: application/problem+json` gets problem details
//!   whatever the type's envelope;
//! - the **envelope** of the server's own errors ([`Rejection`]: malformed
//!   JSON, unknown routes, wrong methods, oversized bodies, panics), so they
//!   look like the application's.
//!
//! Every 5xx is logged once with `tracing` at `ERROR`, with its status, code,
//! request id and full source chain; 4xx at `INFO`. The client sees only the
//! public message and the request id.
//!
//! An error rendered outside any request (or without the layer) still gets a
//! fresh request id and the current time.

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod idempotency;

use core::fmt;
use std::error::Error as StdError;

use bytes::Bytes;
use http::Response;

use crate::{ApiError, Context};

tokio::task_local! {
    static CONTEXT: Context;
}

/// The longest request id taken from a client.
pub const MAX_REQUEST_ID: usize = 128;

/// The context of the request being served, or, outside one, a new context
/// with a fresh request id and the current time.
#[must_use]
pub fn context() -> Context {
    CONTEXT
        .try_with(Clone::clone)
        .unwrap_or_else(|_| Context::new().request_id(new_request_id()).now())
}

/// Runs `future` with `ctx` as the request context.
pub async fn scope<F: Future>(ctx: Context, future: F) -> F::Output {
    CONTEXT.scope(ctx, future).await
}

/// A new request id: `req_` and 16 random letters and digits.
#[must_use]
pub fn new_request_id() -> String {
    let mut id = String::with_capacity(20);
    id.push_str("req_");
    id.extend((0..16).map(|_| fastrand::alphanumeric()));
    id
}

/// Whether a client's request id may be used as given: 1 to
/// [`MAX_REQUEST_ID`] bytes of visible ASCII (no spaces, no control
/// characters, nothing a log or a header could be fooled by).
#[must_use]
pub fn is_safe_request_id(id: &[u8]) -> bool {
    !id.is_empty() && id.len() <= MAX_REQUEST_ID && id.iter().all(|b| (0x21..=0x7e).contains(b))
}

/// Logs `err` as API guides ask: every 5xx once at `ERROR` with its full
/// source chain (`chain`: the error as `dyn Error`, when it is one); 4xx at
/// `INFO`. Nothing logged here is sent to the client.
pub fn log<E: ApiError + ?Sized>(err: &E, chain: Option<&dyn StdError>, ctx: &Context) {
    let status = err.status().as_u16();
    let request_id = ctx.get_request_id().unwrap_or("-");
    if status >= 500 {
        match chain {
            Some(chain) => tracing::error!(
                target: "rebuff::server",
                status,
                code = err.code(),
                request_id,
                error = %SourceChain(chain),
                "request failed"
            ),
            None => tracing::error!(
                target: "rebuff::server",
                status,
                code = err.code(),
                request_id,
                error = %err.message(),
                "request failed"
            ),
        }
    } else {
        tracing::info!(target: "rebuff::server", status, code = err.code(), request_id, "request rejected");
    }
}

/// An error and its sources: `a: b: c`.
struct SourceChain<'a>(&'a dyn StdError);

impl fmt::Display for SourceChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.0)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            write!(f, ": {cause}")?;
            source = cause.source();
        }
        Ok(())
    }
}

/// `err` as the response to the current request: logged, in its envelope
/// (or problem details when negotiated), with the request's id.
#[must_use]
pub fn respond<E: ApiError + StdError>(err: &E) -> Response<Bytes> {
    respond_with(err, Some(err))
}

/// [`respond`] for an error that may not implement `std::error::Error`:
/// `chain` is what to log as its source chain.
#[must_use]
pub fn respond_with<E: ApiError>(err: &E, chain: Option<&dyn StdError>) -> Response<Bytes> {
    let ctx = context();
    log(err, chain, &ctx);
    crate::to_response(err, &ctx)
}

/// The server's own errors: what the framework rejects before a handler
/// runs, and a handler's panic.
///
/// Rendered in the envelope the server layer was configured with, so a
/// malformed JSON body looks like any other error of the API.
#[derive(Debug, Clone, PartialEq, Eq, rebuff_macros::ApiError)]
#[api(envelope = crate::envelope::FromContext)]
#[non_exhaustive]
pub enum Rejection {
    /// No route for the request path.
    #[api(status = 404, message = "Resource not found")]
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// The path exists, the method does not.
    #[api(status = 405, message = "Method {method} not allowed")]
    MethodNotAllowed {
        /// The method used.
        method: String,
    },
    /// The body is not the JSON the endpoint expects.
    #[api(status = 400, message = "Invalid JSON body")]
    InvalidJson {
        /// What the parser said.
        reason: String,
    },
    /// The body's `Content-Type` is not one the endpoint takes.
    #[api(status = 415, message = "Expected a body of type {expected}")]
    UnsupportedMediaType {
        /// The type expected.
        expected: String,
    },
    /// The body is larger than the server accepts.
    #[api(
        status = 413,
        message = "Request body exceeds maximum size of {max_size} bytes"
    )]
    PayloadTooLarge {
        /// The body's size in bytes, when the client said
        /// (`Content-Length`).
        file_size: Option<u64>,
        /// The limit in bytes.
        max_size: u64,
    },
    /// A path parameter could not be read.
    #[api(status = 400, message = "Invalid path parameter")]
    InvalidPath {
        /// Why.
        reason: String,
    },
    /// The query string could not be read.
    #[api(status = 400, message = "Invalid query string")]
    InvalidQuery {
        /// Why.
        reason: String,
    },
    /// Anything else wrong with the request.
    #[api(status = 400, message = "Bad request")]
    BadRequest {
        /// Why.
        reason: String,
    },
    /// A handler panicked. Nothing of the panic reaches the client.
    #[api(status = 500)]
    Panic,
    /// A request with this `Idempotency-Key` is still being served: send it
    /// again shortly.
    #[api(
        status = 409,
        retryable,
        message = "A request with this idempotency key is in progress"
    )]
    RequestInProgress {
        /// Seconds to wait.
        #[api(retry_after)]
        retry_after: u64,
    },
    /// The `Idempotency-Key` was first sent to this endpoint with a different
    /// request (another query or body): it cannot stand for this one.
    #[api(
        status = 422,
        message = "This idempotency key was used with a different request"
    )]
    IdempotencyKeyReused,
}

impl fmt::Display for Rejection {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::NotFound { path } => write!(f, "no route for {path}"),
            Rejection::MethodNotAllowed { method } => write!(f, "method {method} not allowed"),
            Rejection::InvalidJson { reason } => write!(f, "invalid JSON body: {reason}"),
            Rejection::UnsupportedMediaType { expected } => {
                write!(f, "expected a body of type {expected}")
            }
            Rejection::PayloadTooLarge { max_size, .. } => write!(f, "body over {max_size} bytes"),
            Rejection::InvalidPath { reason } => write!(f, "invalid path: {reason}"),
            Rejection::InvalidQuery { reason } => write!(f, "invalid query: {reason}"),
            Rejection::BadRequest { reason } => write!(f, "bad request: {reason}"),
            Rejection::Panic => f.write_str("a handler panicked"),
            Rejection::RequestInProgress { .. } => {
                f.write_str("a request with this idempotency key is in progress")
            }
            Rejection::IdempotencyKeyReused => {
                f.write_str("the idempotency key was used with a different request")
            }
        }
    }
}

impl StdError for Rejection {}

/// The message of a panic payload, for the log.
pub(crate) fn panic_message(payload: &(dyn core::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}

/// Logs a panic and answers it with [`Rejection::Panic`].
#[must_use]
pub fn respond_to_panic(payload: &(dyn core::any::Any + Send)) -> Response<Bytes> {
    let ctx = context();
    tracing::error!(
        target: "rebuff::server",
        status = 500,
        request_id = ctx.get_request_id().unwrap_or("-"),
        panic = panic_message(payload),
        "handler panicked"
    );
    crate::to_response_in(ctx.get_envelope(), &Rejection::Panic, &ctx)
}
