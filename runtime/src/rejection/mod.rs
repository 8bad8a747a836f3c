//! The errors rebuff itself answers with: what a server framework rejects
//! before a handler runs (unknown routes, wrong methods, bodies that are
//! not the JSON expected, oversized bodies), a handler's panic, and the
//! refusals of rebuff's own layers. Each renders in the style of the API's
//! error type ([`InStyle`]), so they look like the API's own errors: its
//! envelope, its code case, its key case, its problem-type base.
//!
//! ```
//! use rebuff::{ApiError, Context, Rejection, rejection::InStyle};
//!
//! #[derive(Debug, thiserror::Error, ApiError)]
//! #[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
//! enum LeadError {
//!     #[error("lead not found")]
//!     #[api(status = 404, message = "Lead not found")]
//!     LeadNotFound,
//! }
//!
//! let too_large = Rejection::PayloadTooLarge { file_size: None, max_size: 1024 };
//! let body = rebuff::to_vec(&InStyle::<LeadError>::new(&too_large), &Context::new());
//! assert_eq!(
//!     String::from_utf8(body).unwrap(),
//!     r#"{"success":false,"error":"Request body exceeds maximum size of 1024 bytes","code":"PAYLOAD_TOO_LARGE","details":{"maxSize":1024}}"#,
//! );
//! ```
//!
//! A variant of the API's type can answer a rejection itself:
//! `#[api(rejection = NotFound)]` on a variant makes unknown routes come
//! back as that variant (see [`ApiError::from_rejection`](crate::ApiError::from_rejection)). No other
//! variant may have the code of a rejection: the derive refuses it at
//! compile time, so a client never mistakes a mistyped URL for one of the
//! API's own "not found" errors.

use core::fmt;

use serde::ser::SerializeMap;

use crate::style::Case;

mod kind;
mod style;

use kind::{KEY_NAMES, Key};
pub use kind::{RejectionKind, clash, clash_between, clash_within, has_code};
pub use style::{InStyle, render};

/// The server's own errors: what the framework rejects before a handler
/// runs, a handler's panic, and the refusals of rebuff's layers.
///
/// Rendered in the style of the server's error type by [`InStyle`];
/// alone, in the default style (nested envelope, `snake_case`).
#[derive(Debug, Clone, PartialEq, Eq)]
#[non_exhaustive]
pub enum Rejection {
    /// No route for the request path.
    NotFound {
        /// The path asked for.
        path: String,
    },
    /// The path exists, the method does not.
    MethodNotAllowed {
        /// The method used.
        method: String,
    },
    /// The body is not the JSON the endpoint expects.
    InvalidJson {
        /// What the parser said.
        reason: String,
    },
    /// The body's `Content-Type` is not one the endpoint takes.
    UnsupportedMediaType {
        /// The type expected.
        expected: String,
    },
    /// The body is larger than the server accepts.
    PayloadTooLarge {
        /// The body's size in bytes, when the client said
        /// (`Content-Length`); left out of `details` otherwise.
        file_size: Option<u64>,
        /// The limit in bytes; `u64::MAX` when it is not known (a layer
        /// inside a surface without a limit of its own refused the body),
        /// left out of `details` and the message then.
        max_size: u64,
    },
    /// A path parameter could not be read.
    InvalidPath {
        /// Why.
        reason: String,
    },
    /// The query string could not be read.
    InvalidQuery {
        /// Why.
        reason: String,
    },
    /// The form body could not be read.
    InvalidForm {
        /// Why.
        reason: String,
    },
    /// The multipart body could not be read.
    InvalidMultipart {
        /// Why.
        reason: String,
    },
    /// A header the endpoint reads is missing or malformed.
    InvalidHeader {
        /// The header's name.
        name: String,
        /// Why.
        reason: String,
    },
    /// Anything else wrong with the request.
    BadRequest {
        /// Why.
        reason: String,
    },
    /// The server failed while handling the request: a handler panicked,
    /// or answered with an error that is not the API's. Nothing of the
    /// failure reaches the client; it is logged.
    Internal,
    /// A request with this `Idempotency-Key` is still being served: send it
    /// again shortly.
    RequestInProgress {
        /// Seconds to wait.
        retry_after: u64,
    },
    /// The `Idempotency-Key` was first sent to this endpoint with a different
    /// request (another query or body): it cannot stand for this one.
    IdempotencyKeyReused,
    /// The caller is over its rate limit.
    RateLimited {
        /// Whole seconds until a request is admitted again (also
        /// `Retry-After`).
        retry_after: u64,
        /// The window that refused, as `60/minute`.
        limit: String,
        /// The window's state, for the `X-RateLimit-*` headers.
        rate_limit: crate::RateLimit,
    },
    /// The caller kept going over its limit and is blocked for a while.
    Blocked {
        /// Whole seconds until the block ends (also `Retry-After`).
        retry_after: u64,
    },
    /// A store the endpoint cannot do without (its shared rate limits on a
    /// route that fails closed, its idempotency keys) is unreachable; or,
    /// behind a [`Surface`](crate::server::Surface), a 503 that rebuff did
    /// not render (a load shedder's, a framework's). Nothing of the failure
    /// is sent; it is logged.
    Unavailable {
        /// Whole seconds to wait (also `Retry-After`).
        retry_after: u64,
    },
}

impl Rejection {
    /// Which rejection this is.
    #[must_use]
    pub const fn kind(&self) -> RejectionKind {
        match self {
            Rejection::NotFound { .. } => RejectionKind::NotFound,
            Rejection::MethodNotAllowed { .. } => RejectionKind::MethodNotAllowed,
            Rejection::InvalidJson { .. } => RejectionKind::InvalidJson,
            Rejection::UnsupportedMediaType { .. } => RejectionKind::UnsupportedMediaType,
            Rejection::PayloadTooLarge { .. } => RejectionKind::PayloadTooLarge,
            Rejection::InvalidPath { .. } => RejectionKind::InvalidPath,
            Rejection::InvalidQuery { .. } => RejectionKind::InvalidQuery,
            Rejection::InvalidForm { .. } => RejectionKind::InvalidForm,
            Rejection::InvalidMultipart { .. } => RejectionKind::InvalidMultipart,
            Rejection::InvalidHeader { .. } => RejectionKind::InvalidHeader,
            Rejection::BadRequest { .. } => RejectionKind::BadRequest,
            Rejection::Internal => RejectionKind::Internal,
            Rejection::RequestInProgress { .. } => RejectionKind::RequestInProgress,
            Rejection::IdempotencyKeyReused => RejectionKind::IdempotencyKeyReused,
            Rejection::RateLimited { .. } => RejectionKind::RateLimited,
            Rejection::Blocked { .. } => RejectionKind::Blocked,
            Rejection::Unavailable { .. } => RejectionKind::Unavailable,
        }
    }

    /// A `details` value by its `snake_case` key (`"path"`, `"max_size"`,
    /// ...), for a variant of the API's type that answers this rejection
    /// and takes its fields from it.
    #[must_use]
    pub fn detail(&self, key: &str) -> Option<serde_json::Value> {
        let mut found = None;
        self.each_detail(&mut |name, value| {
            if KEY_NAMES[name as usize] == key {
                found = Some(match value {
                    Value::Text(text) => serde_json::Value::from(text),
                    Value::Number(n) => serde_json::Value::from(n),
                });
            }
        });
        found
    }

    /// Calls `f` with each `details` entry, in order.
    fn each_detail<'a>(&'a self, f: &mut dyn FnMut(Key, Value<'a>)) {
        match self {
            Rejection::NotFound { path } => f(Key::Path, Value::Text(path)),
            Rejection::MethodNotAllowed { method } => f(Key::Method, Value::Text(method)),
            Rejection::UnsupportedMediaType { expected } => {
                f(Key::Expected, Value::Text(expected));
            }
            Rejection::PayloadTooLarge {
                file_size,
                max_size,
            } => {
                if let Some(size) = file_size {
                    f(Key::FileSize, Value::Number(*size));
                }
                if *max_size != u64::MAX {
                    f(Key::MaxSize, Value::Number(*max_size));
                }
            }
            Rejection::InvalidHeader { name, reason } => {
                f(Key::Name, Value::Text(name));
                f(Key::Reason, Value::Text(reason));
            }
            Rejection::InvalidJson { reason }
            | Rejection::InvalidPath { reason }
            | Rejection::InvalidQuery { reason }
            | Rejection::InvalidForm { reason }
            | Rejection::InvalidMultipart { reason }
            | Rejection::BadRequest { reason } => f(Key::Reason, Value::Text(reason)),
            Rejection::RateLimited {
                retry_after, limit, ..
            } => {
                f(Key::RetryAfter, Value::Number(*retry_after));
                f(Key::Limit, Value::Text(limit));
            }
            Rejection::Blocked { retry_after } | Rejection::Unavailable { retry_after } => {
                f(Key::RetryAfter, Value::Number(*retry_after));
            }
            Rejection::Internal
            | Rejection::RequestInProgress { .. }
            | Rejection::IdempotencyKeyReused => {}
        }
    }

    fn serialize_details_in<M: SerializeMap>(
        &self,
        map: &mut M,
        case: Option<Case>,
    ) -> Result<(), M::Error> {
        let mut result = Ok(());
        self.each_detail(&mut |key, value| {
            if result.is_ok() {
                let key = key.spelled(case);
                result = match value {
                    Value::Text(text) => map.serialize_entry(key, text),
                    Value::Number(n) => map.serialize_entry(key, &n),
                };
            }
        });
        result
    }

    fn write_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Rejection::MethodNotAllowed { method } => write!(f, "Method {method} not allowed"),
            Rejection::UnsupportedMediaType { expected } => {
                write!(f, "Expected a body of type {expected}")
            }
            Rejection::PayloadTooLarge {
                max_size: u64::MAX, ..
            } => f.write_str("Request body exceeds the maximum size"),
            Rejection::PayloadTooLarge { max_size, .. } => {
                write!(f, "Request body exceeds maximum size of {max_size} bytes")
            }
            Rejection::InvalidHeader { name, .. } => write!(f, "Invalid header {name}"),
            Rejection::RateLimited { retry_after, .. } => write!(
                f,
                "Rate limit exceeded. Please try again in {retry_after} seconds."
            ),
            Rejection::Blocked { retry_after } => write!(
                f,
                "Too many requests over the limit: blocked for {retry_after} seconds."
            ),
            Rejection::Unavailable { retry_after } => write!(
                f,
                "The service is temporarily unavailable. Please try again in {retry_after} seconds."
            ),
            other => f.write_str(other.kind().message_template()),
        }
    }

    fn fixed_message(&self) -> Option<&'static str> {
        match self {
            Rejection::MethodNotAllowed { .. }
            | Rejection::UnsupportedMediaType { .. }
            | Rejection::PayloadTooLarge { .. }
            | Rejection::InvalidHeader { .. }
            | Rejection::RateLimited { .. }
            | Rejection::Blocked { .. }
            | Rejection::Unavailable { .. } => None,
            other => Some(other.kind().message_template()),
        }
    }
}

/// A `details` value of a rejection.
enum Value<'a> {
    Text(&'a str),
    Number(u64),
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
            Rejection::PayloadTooLarge {
                max_size: u64::MAX, ..
            } => f.write_str("body over the limit"),
            Rejection::PayloadTooLarge { max_size, .. } => write!(f, "body over {max_size} bytes"),
            Rejection::InvalidPath { reason } => write!(f, "invalid path: {reason}"),
            Rejection::InvalidQuery { reason } => write!(f, "invalid query: {reason}"),
            Rejection::InvalidForm { reason } => write!(f, "invalid form: {reason}"),
            Rejection::InvalidMultipart { reason } => write!(f, "invalid multipart: {reason}"),
            Rejection::InvalidHeader { name, reason } => {
                write!(f, "invalid header {name}: {reason}")
            }
            Rejection::BadRequest { reason } => write!(f, "bad request: {reason}"),
            Rejection::Internal => f.write_str("the server failed handling the request"),
            Rejection::RequestInProgress { .. } => {
                f.write_str("a request with this idempotency key is in progress")
            }
            Rejection::IdempotencyKeyReused => {
                f.write_str("the idempotency key was used with a different request")
            }
            Rejection::RateLimited { limit, .. } => write!(f, "rate limited ({limit})"),
            Rejection::Blocked { retry_after } => {
                write!(f, "blocked for {retry_after} s after repeated refusals")
            }
            Rejection::Unavailable { .. } => f.write_str("the service cannot answer now"),
        }
    }
}

impl std::error::Error for Rejection {}

#[cfg(test)]
mod tests;
