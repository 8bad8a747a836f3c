//! Serving errors from axum and actix-web: one setup call gives a server its
//! whole error surface, taken from its error type.
//!
//! ```no_run
//! # #[cfg(feature = "axum")] {
//! use axum::{Router, routing::post};
//! use rebuff::ApiError;
//! use rebuff::server::Surface;
//! use rebuff::server::axum::Json;
//!
//! #[derive(Debug, thiserror::Error, ApiError)]
//! #[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
//! enum LeadError {
//!     #[error("duplicate lead")]
//!     #[api(status = 409, message = "A lead with this email already exists")]
//!     DuplicateLead { email: String },
//! }
//!
//! async fn create(Json(lead): Json<serde_json::Value>) -> Result<Json<serde_json::Value>, LeadError> {
//!     Ok(Json(lead))
//! }
//!
//! let app: Router = Router::new()
//!     .route("/api/v1/leads", post(create))
//!     .layer(Surface::<LeadError>::new().body_limit(1 << 20));
//! # let _ = app; }
//! ```
//!
//! The same [`Surface`] is an actix-web middleware, built once and cloned
//! into each worker (see `rebuff::server::actix`):
//! `App::new().service(...).wrap(surface.clone())`.
//!
//! With it, every response of the server speaks the API's error contract:
//!
//! - **one envelope for everything**: the handlers' own errors (a derived
//!   type is an axum `IntoResponse` and an actix `ResponseError`), and the
//!   server's [`Rejection`]s: unknown routes (404), wrong methods (405,
//!   with `Allow`; on actix-web, for the methods of one `web::resource`),
//!   bodies that are not the JSON expected, wrong content
//!   types, oversized bodies, bad path, query, form, multipart or header
//!   values, panics. Rejections are rendered in the error type's style
//!   ([`crate::rejection::InStyle`]): its envelope (built-in or custom),
//!   code case, key case and problem-type base; a variant of the type can
//!   answer one itself (`#[api(rejection = NotFound)]`). On actix-web, an
//!   error of another type (a handler's or a middleware's) is answered as
//!   the rejection it stands for (an extractor's by its type, a 400 with
//!   its reason, a 413 or 5xx as below); one whose status no rejection has
//!   (an auth middleware's 401, a 403, a 415 or 429 of a type rebuff does
//!   not know, a 501) goes out as it is, with the request id, rather than
//!   become another status. On axum, read bodies, paths and queries with
//!   [`axum`]'s extractors: axum's own answer their failures in plain
//!   text, which the surface cannot tell from the application's own 4xx.
//! - **no framework's text in place of an error**: on both frameworks, a 413,
//!   500, 502, 503 or 504 that rebuff did not render and whose body is plain text, of no
//!   stated type, or empty (a framework's, a middleware's, a handler's own
//!   `(StatusCode::BAD_GATEWAY, "...")`) is answered in the envelope, its
//!   text never sent: a 503 as [`Rejection::Unavailable`] (its
//!   `Retry-After` kept, 1 s without one), a 500, 502 or 504 as a 500, a
//!   413 as the body limit's. The same holds for an actix-web error of a
//!   type rebuff does not know with such a status. A 501 or 505, which a
//!   client does not retry, is not made a 500 it would retry, and goes out
//!   as it is. A JSON or HTML error response of the application's goes out
//!   as it is.
//! - **the request context**: the request id (the client's `X-Request-Id`
//!   if it is safe, the one tower-http's `SetRequestIdLayer` chose, or a
//!   new `req_` + 16 random characters), echoed on every response and
//!   recorded on a `tracing` span (`request`) around the request when a
//!   subscriber listens at `INFO` (the span is skipped otherwise, to cost
//!   nothing), so every log line a handler writes carries it; the time;
//!   the path as RFC 9457
//!   `instance`.
//! - **content negotiation** (RFC 9110, section 12.5.1): a client that
//!   prefers `application/problem+json` to `application/json` gets RFC 9457
//!   problem details ([`negotiate`]).
//! - **a body limit** that holds for bodies sent with `Content-Length` (refused
//!   before the handler runs) and chunked ones (cut off as they are read).
//! - **panics** answered with a 500 in the envelope, nothing of the panic
//!   sent, the panic logged.
//! - **rate limits**, when given a limiter (`Surface::rate_limit`, feature
//!   `ratelimit`): per-plan limits with their headers on every response,
//!   a caller over its limit answered with a 429 in the envelope (see
//!   `rebuff::ratelimit`).
//! - **idempotency keys**, when given a store ([`Surface::idempotency`]):
//!   a request retried with its `Idempotency-Key` answered with the first
//!   response instead of being served twice, after the rate limit and
//!   under the body limit ([`idempotency::IdempotencyKeys`]).
//!
//! Every 5xx is logged once with `tracing` at `ERROR`, with its status,
//! code, request id and source chain; 4xx at `INFO`. The client sees only
//! the public message and the request id.
//!
//! The pieces stay public for servers that compose their own stack:
//! [`context`] and [`scope`], [`respond`], [`respond_rejection`],
//! [`negotiate::prefers_problem`], and per framework the extractors and
//! fallbacks of [`axum`] and [`actix`].

#[cfg(feature = "axum")]
#[cfg_attr(docsrs, doc(cfg(feature = "axum")))]
pub mod axum;

#[cfg(feature = "actix")]
#[cfg_attr(docsrs, doc(cfg(feature = "actix")))]
pub mod actix;

#[cfg(any(feature = "axum", feature = "actix"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "axum", feature = "actix"))))]
pub mod idempotency;

mod current;
pub mod negotiate;
pub(crate) mod surface;

use core::fmt;
use core::pin::Pin;
use core::task::{Context as TaskContext, Poll};
use std::error::Error as StdError;

use bytes::Bytes;
use http::Response;

pub use crate::rejection::Rejection;
pub use crate::view::RequestView;
use crate::{ApiError, Context};
pub use surface::{DEFAULT_BODY_LIMIT, Surface};

/// The longest request id taken from a client.
pub const MAX_REQUEST_ID: usize = 128;

/// The context of the request being served, or, outside one, a new context
/// with a fresh request id and the current time.
#[must_use]
pub fn context() -> Context {
    current_context().unwrap_or_else(|| Context::new().request_id(new_request_id()).now())
}

/// The context of the request being served, if any (none outside a
/// [`Surface`] or a [`scope`]).
pub(crate) fn current_context() -> Option<Context> {
    current::with(Clone::clone)
}

/// Runs `future` with `ctx` as the request context: the context is there
/// while `future` is polled, and while it is dropped (whether it finished
/// or not).
pub fn scope<F: Future>(ctx: Context, future: F) -> impl Future<Output = F::Output> {
    current::Scoped::new(ctx, future)
}

/// The body limit of the request being served, for a 413 an extractor
/// reports: the [`Surface`]'s, else the frameworks' default.
#[cfg(feature = "axum")]
pub(crate) fn body_limit() -> u64 {
    current::with(Context::get_body_limit)
        .flatten()
        .unwrap_or(surface::DEFAULT_BODY_LIMIT)
}

/// A new request id: `req_` and 16 random letters and digits.
#[must_use]
pub fn new_request_id() -> String {
    let id = request_id_bytes();
    String::from_utf8_lossy(&id).into_owned()
}

/// `req_` and 16 random letters and digits, drawn from two random words:
/// each digit is the integer part of the word, read as a fraction of 1,
/// times 62; the fraction left over gives the next (8 digits use 48 of a
/// word's 64 bits).
pub(crate) fn request_id_bytes() -> [u8; 20] {
    const DIGITS: &[u8; 62] = b"0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz";
    let mut id = *b"req_0000000000000000";
    for half in id[4..].chunks_exact_mut(8) {
        let mut fraction = fastrand::u64(..);
        for slot in half {
            let scaled = u128::from(fraction) * 62;
            // `scaled >> 64` is below 62.
            *slot = DIGITS[usize::try_from(scaled >> 64).unwrap_or(0)];
            // The low 64 bits: the fraction left for the next digit.
            #[allow(clippy::cast_possible_truncation)]
            let rest = scaled as u64;
            fraction = rest;
        }
    }
    id
}

/// The first of `candidates` that is a safe request id.
pub(crate) fn safe_id<'a>(
    candidates: impl IntoIterator<Item = Option<&'a http::HeaderValue>>,
) -> Option<http::HeaderValue> {
    candidates
        .into_iter()
        .flatten()
        .find(|id| is_safe_request_id(id.as_bytes()))
        .cloned()
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
    // Read inside each event, which reads its fields only when enabled.
    let request_id = || ctx.get_request_id().unwrap_or("-");
    if status >= 500 {
        match chain {
            Some(chain) => tracing::error!(
                target: "rebuff::server",
                status,
                code = err.code(),
                request_id = request_id(),
                error = %SourceChain(chain),
                "request failed"
            ),
            None => tracing::error!(
                target: "rebuff::server",
                status,
                code = err.code(),
                request_id = request_id(),
                error = %err.message(),
                "request failed"
            ),
        }
    } else {
        tracing::info!(target: "rebuff::server", status, code = err.code(), request_id = request_id(), "request rejected");
    }
}

/// `rejection` answered as an API whose errors are `E` answers it, and
/// logged as what its client gets: `E`'s own variant if one answers it
/// (its status, code and message), else the rejection in `E`'s style (its
/// code in `E`'s code case), so that the logs can be searched for what a
/// client quotes. `chain` is what to log as the cause.
pub(crate) fn respond_rejection_as<E: ApiError>(
    rejection: &Rejection,
    chain: Option<&dyn StdError>,
    ctx: &Context,
) -> Response<Bytes> {
    match E::from_rejection(rejection) {
        Some(own) => {
            log(&own, chain, ctx);
            crate::to_response(&own, ctx)
        }
        None => {
            let styled = crate::rejection::InStyle::<E>::new(rejection);
            log(&styled, chain, ctx);
            crate::to_response(&styled, ctx)
        }
    }
}

/// An error and its sources: `a: b: c`. A source whose text its error's
/// own text already ends with (thiserror's `#[error("db: {0}")]` over a
/// `#[source]`) is not written twice.
struct SourceChain<'a>(&'a dyn StdError);

impl fmt::Display for SourceChain<'_> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        let mut previous = self.0.to_string();
        f.write_str(&previous)?;
        let mut source = self.0.source();
        while let Some(cause) = source {
            let text = cause.to_string();
            if !previous.ends_with(&text) {
                write!(f, ": {text}")?;
            }
            previous = text;
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
    let respond = |ctx: &Context| {
        log(err, chain, ctx);
        crate::to_response(err, ctx)
    };
    // The request's context is borrowed where it lives, not cloned.
    current::with(respond).unwrap_or_else(|| respond(&context()))
}

/// `rejection` as the response to the current request: logged, and
/// rendered as the request's error type renders it
/// ([`Context::rejections_as`]).
#[must_use]
pub fn respond_rejection(rejection: &Rejection) -> Response<Bytes> {
    current::with(|ctx| respond_rejection_in(rejection, ctx))
        .unwrap_or_else(|| respond_rejection_in(rejection, &context()))
}

/// A rate limiter's refusal as the response to the current request: in
/// the request's context inside a [`Surface`], else as `E` renders its
/// rejections, in a fresh context.
#[cfg(feature = "ratelimit")]
pub(crate) fn respond_refusal<E: ApiError>(refused: &Rejection) -> Response<Bytes> {
    current::with(|ctx| respond_rejection_in(refused, ctx))
        .unwrap_or_else(|| respond_rejection_in(refused, &context().rejections_as::<E>()))
}

/// [`respond_rejection`] in an explicit context.
pub(crate) fn respond_rejection_in(rejection: &Rejection, ctx: &Context) -> Response<Bytes> {
    ctx.respond_rejection(rejection, Some(rejection))
}

/// [`respond_rejection_in`] for a rejection that stands in for a failure
/// of something else (an error of another type, a framework's response):
/// that failure is what is logged, once.
pub(crate) fn respond_rejection_for(
    rejection: &Rejection,
    cause: &dyn StdError,
    ctx: &Context,
) -> Response<Bytes> {
    ctx.respond_rejection(rejection, Some(cause))
}

/// `f` of the request's whole path: as the surface around it saw it, for
/// a layer inside a `Router::nest` (which strips the nest's prefix from
/// the URI the layer sees), else `path`.
#[cfg(feature = "axum")]
pub(crate) fn with_whole_path<R>(path: &str, f: impl Fn(&str) -> R) -> R {
    current::with(|ctx| f(ctx.surface_path().unwrap_or(path))).unwrap_or_else(|| f(path))
}

/// [`respond_rejection_for`] in the current request's context.
pub(crate) fn respond_failure(rejection: &Rejection, cause: &dyn StdError) -> Response<Bytes> {
    current::with(|ctx| respond_rejection_for(rejection, cause, ctx))
        .unwrap_or_else(|| respond_rejection_for(rejection, cause, &context()))
}

/// The message of a panic payload, for the log.
pub(crate) fn panic_message(payload: &(dyn core::any::Any + Send)) -> &str {
    payload
        .downcast_ref::<&str>()
        .copied()
        .or_else(|| payload.downcast_ref::<String>().map(String::as_str))
        .unwrap_or("(non-string panic payload)")
}

/// Logs a panic and answers it with [`Rejection::Internal`].
#[must_use]
pub fn respond_to_panic(payload: &(dyn core::any::Any + Send)) -> Response<Bytes> {
    respond_to_panic_in(payload, &context())
}

/// [`respond_to_panic`] in an explicit context.
pub(crate) fn respond_to_panic_in(
    payload: &(dyn core::any::Any + Send),
    ctx: &Context,
) -> Response<Bytes> {
    tracing::error!(
        target: "rebuff::server",
        status = 500,
        request_id = ctx.get_request_id().unwrap_or("-"),
        panic = panic_message(payload),
        "handler panicked"
    );
    ctx.render_rejection(&Rejection::Internal)
}

pin_project_lite::pin_project! {
    /// `inner`, its panics caught: `Err(payload)` instead of unwinding.
    pub(crate) struct CatchUnwind<F> {
        #[pin]
        inner: F,
    }
}

impl<F> CatchUnwind<F> {
    pub(crate) fn new(inner: F) -> Self {
        CatchUnwind { inner }
    }
}

impl<F: Future> Future for CatchUnwind<F> {
    type Output = Result<F::Output, Box<dyn core::any::Any + Send>>;

    fn poll(self: Pin<&mut Self>, cx: &mut TaskContext<'_>) -> Poll<Self::Output> {
        let inner = self.project().inner;
        // Once it has panicked, `inner` is never polled again: this future
        // is done.
        match std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| inner.poll(cx))) {
            Ok(Poll::Pending) => Poll::Pending,
            Ok(Poll::Ready(output)) => Poll::Ready(Ok(output)),
            Err(payload) => Poll::Ready(Err(payload)),
        }
    }
}

/// The span a request's log lines are recorded under (none when nothing
/// listens at `INFO`). The request's method and path are asked for only
/// when the span is recorded.
pub(crate) fn request_span<'a>(
    ctx: &Context,
    method: impl FnOnce() -> &'a str,
    path: impl FnOnce() -> &'a str,
) -> tracing::Span {
    if tracing::level_filters::LevelFilter::current() < tracing::Level::INFO {
        return tracing::Span::none();
    }
    let id = ctx.get_request_id().unwrap_or_default();
    // The macro evaluates the fields only for a span that is recorded.
    tracing::info_span!(target: "rebuff::server", "request", request_id = id, method = method(), path = path())
}

/// Writes `value`'s `Display` into a `String` (for reasons taken from
/// framework errors).
#[cfg(feature = "actix")]
pub(crate) fn text(value: &dyn fmt::Display) -> String {
    use core::fmt::Write as _;
    let mut out = String::new();
    let _ = write!(out, "{value}");
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug)]
    struct Db(std::io::Error);

    impl fmt::Display for Db {
        fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            write!(f, "database: {}", self.0)
        }
    }

    impl StdError for Db {
        fn source(&self) -> Option<&(dyn StdError + 'static)> {
            Some(&self.0)
        }
    }

    #[test]
    fn a_source_already_in_the_message_is_not_repeated() {
        let err = Db(std::io::Error::other("connection refused"));
        assert_eq!(
            SourceChain(&err).to_string(),
            "database: connection refused"
        );
        let wrapped = std::io::Error::other(Db(std::io::Error::other("reset")));
        assert_eq!(SourceChain(&wrapped).to_string(), "database: reset");
    }
}
