//! Typed, checked HTTP API errors.
//!
//! rebuff turns an ordinary Rust error enum into the error responses a good
//! public API sends: the right status, a stable machine-readable code, a
//! message safe to show, a `details` object, retry advice and the headers
//! that go with it (`X-Request-Id`, `Retry-After`, `X-RateLimit-*`), in the
//! JSON envelope your API documents, and without leaking internals on a 5xx.
//!
//! ```
//! use rebuff::{ApiError, Context};
//!
//! #[derive(Debug, thiserror::Error, ApiError)]
//! #[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
//! pub enum LeadError {
//!     /// The lead id names no lead of this workspace.
//!     #[error("lead {lead_id} not found")]
//!     #[api(status = 404, message = "Lead not found")]
//!     LeadNotFound { lead_id: String, message: &'static str },
//!
//!     /// Too many requests.
//!     #[error("rate limited")]
//!     #[api(status = 429, message = "Rate limit exceeded. Please try again in {retry_after} seconds.")]
//!     RateLimited { #[api(retry_after)] retry_after: u64 },
//!
//!     /// The database failed: nothing of it reaches the client.
//!     #[error("database: {0}")]
//!     #[api(status = 500)]
//!     Database(#[source] std::io::Error),
//! }
//!
//! let err = LeadError::LeadNotFound {
//!     lead_id: "lead_nonexistent123".into(),
//!     message: "No lead found with this ID in your workspace",
//! };
//! let ctx = Context::new().request_id("req_1234567890abcdef");
//! assert_eq!(
//!     String::from_utf8(rebuff::to_vec(&err, &ctx)).unwrap(),
//!     r#"{"success":false,"error":"Lead not found","code":"LEAD_NOT_FOUND","details":{"leadId":"lead_nonexistent123","message":"No lead found with this ID in your workspace"},"requestId":"req_1234567890abcdef"}"#,
//! );
//!
//! let err = LeadError::Database(std::io::Error::other("connection to 10.0.0.7 refused"));
//! assert_eq!(
//!     String::from_utf8(rebuff::to_vec(&err, &Context::new())).unwrap(),
//!     r#"{"success":false,"error":"Internal Server Error","code":"DATABASE"}"#,
//! );
//!
//! let response = rebuff::to_response(&LeadError::RateLimited { retry_after: 32 }, &ctx);
//! assert_eq!(response.status(), 429);
//! assert_eq!(response.headers()["retry-after"], "32");
//! assert_eq!(response.headers()["x-request-id"], "req_1234567890abcdef");
//! ```
//!
//! # Deriving `ApiError`
//!
//! [`#[derive(ApiError)]`](macro@ApiError) works on enums (one error per
//! variant) and structs (one error). Every variant names its status; the rest
//! has defaults that follow the API guides rebuff implements:
//!
//! - the **code** comes from the variant name, in `code_case` (default
//!   `snake_case`): `LeadNotFound` is `lead_not_found`;
//! - the **message** is `message = "..."`, whose `{field}` placeholders are
//!   checked by the compiler; without one, a 4xx shows the type's `Display`
//!   and a 5xx its status's reason phrase ("Internal Server Error");
//! - the **details** are the variant's fields, keyed by field name (`rename`,
//!   `rename_all`, `skip` and `flatten` as in serde). A 5xx shows no details
//!   but the fields marked `expose`;
//! - the **retry advice** is "retry" for 408, 429, 500, 502, 503 and 504,
//!   and a `retry_after` field gives the delay and the `Retry-After` header.
//!
//! The full attribute reference is on [the derive](macro@ApiError).
//!
//! # Envelopes
//!
//! The [`envelope`] module holds the five built-in JSON shapes (and the
//! [`envelope::Envelope`] trait for your own). `envelope = ...` on
//! the type picks its default; every format can also be used explicitly:
//!
//! ```
//! # #[derive(Debug, rebuff::ApiError)]
//! # #[api(status = 404, message = "Lead not found")]
//! # struct LeadNotFound;
//! use rebuff::envelope::{Envelope, Problem};
//! let body = Problem::to_vec(&LeadNotFound, &rebuff::Context::new());
//! assert!(body.starts_with(br#"{"type":"about:blank","title":"Not Found","status":404"#));
//! ```
//!
//! Rendering writes straight into the output buffer: no intermediate
//! `serde_json::Value`, no `String` for the message, no allocation besides the
//! buffer itself. It cannot fail either: a detail whose `Serialize` impl
//! errors makes rebuff log the failure and send the status's generic message.
//!
//! # Request context
//!
//! A [`Context`] carries what the error itself does not know: the request id,
//! the time, and the request path for RFC 9457's `instance`. Keys whose value
//! the context lacks are left out of the body.
//!
//! # The error catalog
//!
//! [`catalog::markdown`] prints the table of every error a type can be, as
//! API guides publish it, from the derive's codes, statuses, messages and doc
//! comments.
//!
//! # Retrying
//!
//! [`#[retry]`](macro@retry) wraps a function in exponential backoff with
//! jitter, honours the server's `Retry-After` (as a floor, bounded by the
//! policy), respects a deadline, and logs every retry with `tracing`. Whether
//! an error is worth retrying is the error's own answer ([`Retryable`]): a
//! derived `ApiError` retries 408, 429 and the transient 5xx, never a 404.
//!
//! ```
//! use rebuff::{retry, ApiError, Policy};
//!
//! #[derive(Debug, thiserror::Error, ApiError)]
//! enum CallError {
//!     #[error("unavailable")]
//!     #[api(status = 503)]
//!     Unavailable,
//! }
//!
//! #[retry(max_retries = 2, initial_delay = "10ms")]
//! fn call(attempts: &mut u32) -> Result<u32, CallError> {
//!     *attempts += 1;
//!     if *attempts < 3 { Err(CallError::Unavailable) } else { Ok(*attempts) }
//! }
//!
//! let mut attempts = 0;
//! assert_eq!(call(&mut attempts).unwrap(), 3);
//! ```
//!
//! [`retry::run`] and [`retry::Retry`] are the same engine for closures, and
//! [`retry::testing`] turns sleeping off in your tests.
//!
//! ## Circuit breaker and retry budget
//!
//! Retries help one caller and can hurt a struggling service. A
//! [`Breaker`] stops calling a service that keeps failing (closed → open →
//! half-open probes → closed) and a [`Budget`] caps retries at a share of
//! first attempts, so an outage never multiplies the load. Both are
//! lock-free and `const`-constructible for a `static` shared by every call:
//!
//! ```
//! use std::time::Duration;
//! use rebuff::{retry, ApiError, Breaker, Budget, CircuitOpen};
//!
//! static UPSTREAM: Breaker = Breaker::new().failures(5).cooldown(Duration::from_secs(10));
//! static RETRIES: Budget = Budget::new().ratio_percent(20);
//!
//! #[derive(Debug, thiserror::Error, ApiError)]
//! enum CallError {
//!     #[error("unavailable")]
//!     #[api(status = 503)]
//!     Unavailable,
//!     #[error(transparent)]
//!     #[api(status = 503)]
//!     Open(#[from] CircuitOpen),
//! }
//!
//! #[retry(max_retries = 3, initial_delay = "1ms", breaker = UPSTREAM, budget = RETRIES)]
//! fn call() -> Result<u32, CallError> {
//!     Ok(7)
//! }
//!
//! assert_eq!(call().unwrap(), 7);
//! ```
//!
//! [`breaker::Breakers`] keeps one breaker per host. With the `reqwest`
//! feature, [`client::reqwest::SendRetrying`] retries only what is safe to
//! repeat (idempotent methods, or a `POST` carrying an `Idempotency-Key`,
//! which it adds unless told not to: against an API that ignores the
//! header, turn that off), and on the server
//! [`server::Surface::idempotency`] replays the stored answer to a
//! repeated key instead of doing the work twice (keys scoped to the caller
//! and endpoint; a key reused with another body is refused with a 422).
//!
//! # Serving errors (axum, actix-web)
//!
//! With the `axum` or `actix` feature, a derived error is also a response
//! (`IntoResponse`; and actix-web's `ResponseError` when it carries
//! thiserror's `#[error]` messages, which make it a `std::error::Error`):
//! handlers return `Result<T, MyError>`.
//! One setup call, [`server::Surface`], then gives the whole server its
//! error surface, everything taken from the error type: the request id,
//! time and path of every error (and a `tracing` span carrying the id),
//! RFC 9457 for clients that prefer it, a body limit, panics answered,
//! idempotency keys when given a store ([`server::Surface::idempotency`]),
//! and the server's own rejections (unknown routes, wrong methods, malformed
//! JSON, oversized bodies, bad parameters) in the type's envelope and
//! style, `code_case`, `rename_all` and `type_base` included. On axum the
//! body, path and query are read with [`server::axum`]'s extractors (`Json`,
//! `Path`, `Query`, `Form`), whose failures are rejections; axum's own answer
//! in plain text, which the surface cannot tell from the application's own
//! 4xx (a plain-text 413, 500, 502, 503 or 504 it still answers in the
//! envelope):
//!
//! ```no_run
//! # #[cfg(all(feature = "axum", feature = "actix"))] {
//! # #[derive(Debug, thiserror::Error, rebuff::ApiError)]
//! # #[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE")]
//! # enum LeadError { #[error("gone")] #[api(status = 410)] Gone }
//! use rebuff::server::Surface;
//!
//! // axum: a layer, added last
//! let app: axum::Router = axum::Router::new()
//!     // .route(...)
//!     .layer(Surface::<LeadError>::new().body_limit(1 << 20));
//!
//! // actix-web: a middleware, built once and cloned into each worker
//! // (`HttpServer::new` runs its factory once per worker; clones share
//! // the surface's rate limits and idempotency keys)
//! let surface = Surface::<LeadError>::new().body_limit(1 << 20);
//! let factory = move || {
//!     actix_web::App::new()
//!         // .service(web::resource(...).route(...))
//!         .wrap(surface.clone())
//! };
//! # let _ = (app, factory); }
//! ```
//!
//! Every 5xx is logged once with its source chain; nothing of it is sent.
//! See [`server`].
//!
//! # Rate limits, one server or a fleet
//!
//! With the `ratelimit` feature, [`server::Surface::rate_limit`] limits
//! callers per plan (windows decided together, headers on every response,
//! the 429 in the type's envelope, escalation to a block): see
//! [`ratelimit`]. The in-process store is the default; with the `redis`
//! feature, [`ratelimit::RedisStore`] shares the limits across a fleet (one
//! atomic script per decision, each server falling back to its share of
//! the limits while Redis is away), and `server::idempotency::RedisStore`
//! shares idempotency keys (a keyed request fails with a 503 while Redis is
//! away: an answer cannot be promised once without it).
//!
//! # Reading errors (any API)
//!
//! [`client::RemoteError::parse`] reads any error response, from rebuff or
//! not: the nested, success, plain and flat envelopes, RFC 9457, the shapes
//! of the large public APIs, and the HTML and text pages of proxies, with the
//! request id, `Retry-After` and rate limits. `#[api(decode)]` rebuilds a
//! derived error from it, [`client::ClientError`] is the one error a client
//! call returns, and with the `reqwest` feature [`client::reqwest`] sends,
//! checks and decodes in one call (`client::reqwest::blocking`, feature
//! `reqwest-blocking`, for reqwest's blocking client). Clients built on reqwest-middleware or
//! tower retry through the same engine with
//! `client::middleware::RetryMiddleware` (feature `reqwest-middleware`) and
//! `client::tower::RetryLayer` (feature `tower-client`). See [`client`].
//!
//! ```
//! use rebuff::client::RemoteError;
//! use rebuff::http::{HeaderMap, StatusCode};
//!
//! let page = b"<html><head><title>502 Bad Gateway</title></head></html>";
//! let err = RemoteError::parse(StatusCode::BAD_GATEWAY, &HeaderMap::new(), page);
//! assert_eq!(err.message(), "502 Bad Gateway");
//! assert_eq!(err.format(), rebuff::client::Format::Html);
//! ```
//!
//! # OpenAPI
//!
//! With the `openapi` feature, the derive also documents the type for
//! utoipa 5: `utoipa::IntoResponses` with one response per status, a named
//! example per code rendered by [`to_vec`] from a sample value (so it is
//! what the server sends), the exact schema of the envelope and of each
//! `details`, and the headers. [`openapi::Responses`] picks the errors of
//! one route, the server's rejections included, and
//! [`openapi_responses!`] names the selection for `#[utoipa::path]`.
//! `#[api(example = ...)]` on a field sets the value its examples show.
//! See [`openapi`].
//!
//! ```
//! # #[cfg(feature = "openapi")] {
//! use rebuff::RejectionKind;
//! use rebuff::openapi::Responses;
//!
//! #[derive(Debug, thiserror::Error, rebuff::ApiError)]
//! enum LeadError {
//!     #[error("lead not found")]
//!     #[api(status = 404, message = "Lead not found")]
//!     LeadNotFound { #[api(example = "lead_123")] lead_id: String },
//! }
//!
//! rebuff::openapi_responses! {
//!     /// The errors of `GET /leads/{id}`.
//!     struct GetLeadErrors = Responses::<LeadError>::new()
//!         .rejections(&[RejectionKind::RateLimited]);
//! }
//!
//! let responses = <GetLeadErrors as utoipa::IntoResponses>::responses();
//! assert_eq!(responses.keys().collect::<Vec<_>>(), ["404", "429"]);
//! # }
//! ```
//!
//! # Features
//!
//! | feature | gives |
//! |---|---|
//! | `tokio` (default) | the async retry engine on tokio's timer |
//! | `reqwest` | [`client::reqwest`]: checked requests, typed errors |
//! | `reqwest-blocking` | `client::reqwest::blocking`: the same for reqwest's blocking client (turns `reqwest` on) |
//! | `reqwest-middleware` | [`client::middleware`]: a retrying middleware for reqwest-middleware clients, and `send_api` on their requests |
//! | `tower-client` | [`client::tower`]: a retrying tower layer for HTTP clients built on tower (hyper-util's, your own) |
//! | `axum` | derived errors as axum responses, [`server::Surface`] as a tower layer, [`server::axum`], idempotency keys ([`server::idempotency`]) |
//! | `actix` | derived errors as actix-web responses, [`server::Surface`] as a middleware, [`server::actix`], idempotency keys ([`server::idempotency`]) |
//! | `multipart` | the axum multipart extractor whose failures use the envelope (turns `axum` on) |
//! | `ratelimit` | [`ratelimit`]: per-plan rate limits, their headers and 429s, in the [`server::Surface`] or alone |
//! | `redis` | rate limits ([`ratelimit::RedisStore`]) shared by a fleet of servers through Redis, and, with `axum` or `actix`, idempotency keys (`server::idempotency::RedisStore`), over `redis://` (turns `ratelimit` on) |
//! | `redis-tls` | the Redis stores over TLS too (`rediss://`), the server's certificate checked against the system's roots; rustls, on the process's default crypto provider or else aws-lc-rs (turns `redis` on) |
//! | `openapi` | [`openapi`]: derived errors and the server's rejections as utoipa 5 responses, with schemas and examples |
//!
//! # Implementing `ApiError` by hand
//!
//! See [`ApiError`]: three methods and the envelope are required, everything
//! else has a default.
#![forbid(unsafe_code)]
#![cfg_attr(docsrs, feature(doc_cfg))]

// Lets the runtime derive its own `ApiError`s (`::rebuff::...` paths).
#[allow(unused_extern_crates)]
extern crate self as rebuff;

mod api_error;
pub mod breaker;
pub mod budget;
pub mod catalog;
pub mod client;
mod context;
pub mod envelope;
mod example;
pub mod fields;
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
pub mod openapi;
mod rate_limit;
#[cfg(feature = "ratelimit")]
#[cfg_attr(docsrs, doc(cfg(feature = "ratelimit")))]
pub mod ratelimit;
#[cfg(any(feature = "axum", feature = "tower-client"))]
mod ready;
#[cfg(feature = "redis")]
mod redis_link;
pub mod rejection;
pub mod retry;
mod retryable;
mod ser;
#[cfg(any(feature = "axum", feature = "actix"))]
#[cfg_attr(docsrs, doc(cfg(any(feature = "axum", feature = "actix"))))]
pub mod server;
mod store_error;
mod style;
#[cfg(any(feature = "ratelimit", feature = "axum", feature = "actix"))]
mod view;

#[doc(hidden)]
#[path = "private.rs"]
pub mod __private;

pub use api_error::{ApiError, Message, retryable_status};
pub use breaker::{Breaker, CircuitOpen};
pub use budget::Budget;
pub use client::RemoteError;
pub use context::Context;
pub use rate_limit::RateLimit;
pub use rejection::{Rejection, RejectionKind};
pub use retry::{Jitter, Policy};
pub use retryable::{Advice, CanTimeOut, Retryable};
pub use store_error::StoreError;
pub use style::{Case, Style};

/// The `http` crate rebuff speaks, for naming its types without a direct
/// dependency.
pub use http;
pub use http::StatusCode;
/// The `serde` crate rebuff serializes with, for naming its traits (as
/// derived code does) without a direct dependency.
pub use serde;

#[doc = include_str!("derive.md")]
pub use rebuff_macros::ApiError;

#[doc = include_str!("retry.md")]
pub use rebuff_macros::retry;

use bytes::Bytes;
use http::{HeaderName, Response};

use crate::envelope::Envelope;

/// `X-Request-Id`: the id of the request an error answers.
pub const X_REQUEST_ID: HeaderName = HeaderName::from_static("x-request-id");
/// `X-RateLimit-Limit`: requests allowed per window.
pub const X_RATELIMIT_LIMIT: HeaderName = HeaderName::from_static("x-ratelimit-limit");
/// `X-RateLimit-Remaining`: requests left in the window.
pub const X_RATELIMIT_REMAINING: HeaderName = HeaderName::from_static("x-ratelimit-remaining");
/// `X-RateLimit-Reset`: when the window resets, in Unix seconds.
pub const X_RATELIMIT_RESET: HeaderName = HeaderName::from_static("x-ratelimit-reset");

/// The body of `err` in its type's envelope, as JSON bytes.
///
/// Never fails; see [`Envelope::write_into`] for what happens when a detail
/// cannot be serialized.
#[must_use]
pub fn to_vec<E: ApiError>(err: &E, ctx: &Context) -> Vec<u8> {
    E::Envelope::to_vec(err, ctx)
}

/// Appends the body of `err` in its type's envelope to `out`, allocating
/// only if `out` has to grow.
pub fn write_into<E: ApiError>(err: &E, ctx: &Context, out: &mut Vec<u8>) {
    E::Envelope::write_into(err, ctx, out);
}

/// `err` as a complete response in its type's envelope (or as RFC 9457
/// problem details, if the context [prefers them](Context::prefer_problem)):
/// status, headers (see [`Envelope::to_response`]) and body.
#[must_use]
pub fn to_response<E: ApiError>(err: &E, ctx: &Context) -> Response<Bytes> {
    #[allow(unused_mut)] // marked with the `axum` feature only
    let mut response = if ctx.prefers_problem() {
        envelope::Problem::to_response(err, ctx)
    } else {
        E::Envelope::to_response(err, ctx)
    };
    #[cfg(feature = "axum")]
    server::surface::mark_rendered(&mut response);
    response
}

/// Framework impls for a derived type: the derive calls this with whether
/// the type has thiserror's `Display` (`[display]`), the impl's generics, the
/// type and its `where` predicates; each enabled framework feature adds its
/// impl.
#[doc(hidden)]
#[macro_export]
macro_rules! __rebuff_frameworks {
    ($($tokens:tt)*) => {
        $crate::__rebuff_axum! { $($tokens)* }
        $crate::__rebuff_actix! { $($tokens)* }
    };
}

/// The OpenAPI impls of a derived type (feature `openapi`): the derive
/// calls this with the impl's generics, the type, its `where` predicates,
/// the name of the output parameter and the body that fills it.
#[cfg(feature = "openapi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __rebuff_openapi {
    ([$($generics:tt)*] [$($ty:tt)*] [$($predicates:tt)*] [$out:ident] { $($body:tt)* }) => {
        #[automatically_derived]
        #[allow(unused_qualifications, clippy::needless_lifetimes)]
        impl $($generics)* $crate::openapi::Documented for $($ty)*
        where
            $($predicates)*
        {
            fn variants($out: &mut ::std::vec::Vec<$crate::openapi::Variant<Self>>) {
                $($body)*
            }
        }

        #[automatically_derived]
        #[allow(unused_qualifications, clippy::needless_lifetimes)]
        impl $($generics)* $crate::__private::utoipa::IntoResponses for $($ty)*
        where
            $($predicates)*
        {
            fn responses() -> ::std::collections::BTreeMap<
                ::std::string::String,
                $crate::__private::utoipa::openapi::RefOr<$crate::__private::utoipa::openapi::Response>,
            > {
                $crate::openapi::Responses::<Self>::new().build()
            }
        }
    };
}

/// Names a selection of errors as a type implementing
/// `utoipa::IntoResponses`, for `#[utoipa::path(responses(...))]`: the
/// [`Responses`](crate::openapi::Responses) built by the expression, one
/// response per status (feature `openapi`).
///
/// ```
/// use rebuff::RejectionKind;
/// use rebuff::openapi::Responses;
///
/// #[derive(Debug, thiserror::Error, rebuff::ApiError)]
/// enum LeadError {
///     #[error("unauthorized")]
///     #[api(status = 401, message = "Invalid or missing API key")]
///     Unauthorized,
///     #[error("duplicate")]
///     #[api(status = 409, message = "Email already exists")]
///     DuplicateEmail { #[api(example = "ada@example.com")] email: String },
/// }
///
/// rebuff::openapi_responses! {
///     /// The errors of `POST /leads`: the type's, malformed JSON, too
///     /// large a body.
///     pub struct CreateLeadErrors = Responses::<LeadError>::new()
///         .rejections(&[RejectionKind::InvalidJson, RejectionKind::PayloadTooLarge]);
/// }
///
/// let responses = <CreateLeadErrors as utoipa::IntoResponses>::responses();
/// assert_eq!(responses.keys().collect::<Vec<_>>(), ["400", "401", "409", "413"]);
/// ```
#[cfg(feature = "openapi")]
#[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
#[macro_export]
macro_rules! openapi_responses {
    ($(#[$meta:meta])* $vis:vis struct $name:ident = $responses:expr;) => {
        $(#[$meta])*
        $vis struct $name;

        impl $crate::__private::utoipa::IntoResponses for $name {
            fn responses() -> ::std::collections::BTreeMap<
                ::std::string::String,
                $crate::__private::utoipa::openapi::RefOr<$crate::__private::utoipa::openapi::Response>,
            > {
                $crate::openapi::Responses::build(&$responses)
            }
        }
    };
}

#[cfg(not(feature = "openapi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __rebuff_openapi {
    ($($tokens:tt)*) => {};
}

/// The derive's check of its `example = ...` values, without the `openapi`
/// feature (with it, the documents check them as they use them).
#[cfg(not(feature = "openapi"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __rebuff_examples {
    ($($tokens:tt)*) => { $($tokens)* };
}

#[cfg(feature = "openapi")]
#[doc(hidden)]
#[macro_export]
macro_rules! __rebuff_examples {
    ($($tokens:tt)*) => {};
}

#[cfg(feature = "axum")]
#[doc(hidden)]
#[macro_export]
macro_rules! __rebuff_axum {
    ([$($display:ident)?] [$($generics:tt)*] [$($ty:tt)*] [$($predicates:tt)*]) => {
        #[automatically_derived]
        impl $($generics)* $crate::__private::axum::response::IntoResponse for $($ty)*
        where
            $($predicates)*
        {
            fn into_response(self) -> $crate::__private::axum::response::Response {
                #[allow(unused_imports)]
                use $crate::__private::{ViaError as _, ViaOther as _};
                let chain = (&$crate::__private::Probe(&self)).__rebuff_chain();
                $crate::server::axum::into_response_with(&self, chain)
            }
        }
    };
}

#[cfg(not(feature = "axum"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __rebuff_axum {
    ($($tokens:tt)*) => {};
}

#[cfg(feature = "actix")]
#[doc(hidden)]
#[macro_export]
macro_rules! __rebuff_actix {
    ([display] [$($generics:tt)*] [$($ty:tt)*] [$($predicates:tt)*]) => {
        #[automatically_derived]
        impl $($generics)* $crate::__private::actix_web::ResponseError for $($ty)*
        where
            $($predicates)*
        {
            fn status_code(&self) -> $crate::__private::actix_web::http::StatusCode {
                $crate::server::actix::status_code(self)
            }

            fn error_response(&self) -> $crate::__private::actix_web::HttpResponse {
                #[allow(unused_imports)]
                use $crate::__private::{ViaError as _, ViaOther as _};
                let chain = (&$crate::__private::Probe(self)).__rebuff_chain();
                $crate::server::actix::error_response_with(self, chain)
            }
        }
    };
    ([] $($tokens:tt)*) => {};
}

#[cfg(not(feature = "actix"))]
#[doc(hidden)]
#[macro_export]
macro_rules! __rebuff_actix {
    ($($tokens:tt)*) => {};
}
