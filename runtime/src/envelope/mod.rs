//! The JSON shapes an error leaves the server in.
//!
//! Five formats are built in, one for each shape public APIs commonly give
//! their errors. Keys always come in the order shown; keys whose value is
//! missing (no details, no request id in the [`Context`]) are left out.
//!
//! | format | body |
//! |---|---|
//! | [`Nested`] | `{"error":{"code":"file_too_large","message":"...","details":{...},"request_id":"req_..."}}` |
//! | [`Success`] | `{"success":false,"error":{"code":"...","message":"...","details":{...}},"request_id":"req_abc123","timestamp":"2025-01-01T12:00:00Z"}` |
//! | [`Plain`] | `{"error":"Invalid or expired API key"}`, `{"error":"Rate limit exceeded","retry_after":60}`, `{"errors":["...","..."]}` |
//! | [`Flat`] | `{"success":false,"error":"Lead not found","code":"LEAD_NOT_FOUND","details":{...},"timestamp":"2024-01-16T10:30:00.000Z","requestId":"req_..."}` |
//! | [`Problem`] | RFC 9457 `application/problem+json`: `type`, `title`, `status`, `detail`, `instance`, `code`, `request_id`, then the details as extension members |
//!
//! # Your own format
//!
//! Implement [`Envelope`] with ordinary serde code. The [`parts`] module holds
//! the pieces the built-in formats are made of, so a new format allocates
//! nothing either:
//!
//! ```
//! use rebuff::envelope::{Envelope, parts};
//! use rebuff::{ApiError, Context};
//! use serde::ser::{SerializeMap, Serializer};
//!
//! /// `{"status":404,"reason":"..."}`
//! struct Terse;
//!
//! impl Envelope for Terse {
//!     fn serialize<E: ApiError, S: Serializer>(err: &E, _: &Context, s: S) -> Result<S::Ok, S::Error> {
//!         let mut map = s.serialize_map(None)?;
//!         map.serialize_entry("status", &err.status().as_u16())?;
//!         map.serialize_entry("reason", &parts::Message(err))?;
//!         map.end()
//!     }
//! }
//!
//! #[derive(Debug, rebuff::ApiError)]
//! #[api(envelope = Terse, status = 404, message = "Lead not found")]
//! struct LeadNotFound;
//!
//! assert_eq!(rebuff::to_vec(&LeadNotFound, &Context::new()), br#"{"status":404,"reason":"Lead not found"}"#);
//! ```

mod formats;
pub mod parts;

pub(crate) use formats::PROBLEM_MEMBERS;
pub use formats::{Flat, Nested, Plain, Problem, Success};

use bytes::Bytes;
use http::{HeaderValue, Response, header};
use serde::Serializer;

use crate::{ApiError, Context, RateLimit};

/// A JSON shape for errors. See the [module docs](self) for the built-in
/// ones and how to write one.
pub trait Envelope {
    /// The `Content-Type` of a response in this format: visible ASCII and
    /// spaces, as a header value must be (a program whose envelope's
    /// content type is not one fails to build where it renders a response,
    /// rather than panicking at run time).
    const CONTENT_TYPE: &'static str = "application/json";

    /// Serializes `err`, answering the request described by `ctx`.
    fn serialize<E: ApiError, S: Serializer>(
        err: &E,
        ctx: &Context,
        serializer: S,
    ) -> Result<S::Ok, S::Error>;

    /// Appends the JSON of `err` to `out`. Allocates only if `out` must
    /// grow.
    ///
    /// This never fails: if a field of `err` cannot be serialized (a map
    /// with non-string keys, a `Serialize` impl that errors), whatever was
    /// written is taken back, the failure is logged with `tracing`, and the
    /// error is rendered again with its status's reason phrase as message
    /// and no details.
    fn write_into<E: ApiError>(err: &E, ctx: &Context, out: &mut Vec<u8>) {
        let start = out.len();
        let Err(failure) = Self::serialize(err, ctx, &mut serde_json::Serializer::new(&mut *out))
        else {
            return;
        };
        out.truncate(start);
        tracing::error!(
            status = err.status().as_u16(),
            code = err.code(),
            error = %failure,
            "could not serialize the error's details; sent a generic message instead"
        );
        let generic = parts::Generic(err);
        if Self::serialize(&generic, ctx, &mut serde_json::Serializer::new(&mut *out)).is_err() {
            // Only a broken custom envelope gets here: keep the body valid JSON.
            out.truncate(start);
            out.extend_from_slice(b"{}");
        }
    }

    /// The JSON of `err` in a new buffer.
    #[must_use]
    fn to_vec<E: ApiError>(err: &E, ctx: &Context) -> Vec<u8> {
        let mut out = Vec::with_capacity(256);
        Self::write_into(err, ctx, &mut out);
        out
    }

    /// A complete response: status, headers and body.
    ///
    /// Headers: `Content-Type`; `X-Request-Id` when the context has an id
    /// (left out if it is not a valid header value); `Retry-After` in whole
    /// seconds, rounded up, when the error has a retry delay; and
    /// `X-RateLimit-Limit`, `-Remaining` and `-Reset` when it carries a
    /// [`crate::RateLimit`].
    #[must_use]
    fn to_response<E: ApiError>(err: &E, ctx: &Context) -> Response<Bytes> {
        let body = Bytes::from(Self::to_vec(err, ctx));
        // Evaluated when the envelope is compiled: a `CONTENT_TYPE` that is
        // no header value fails the build, not every error response.
        let content_type = const { HeaderValue::from_static(Self::CONTENT_TYPE) };
        error_response(
            body,
            err.status(),
            content_type,
            ErrorHeaders {
                request_id: ctx.request_id_value(),
                retry_after: err.retry_after(),
                rate_limit: err.rate_limit(),
            },
        )
    }

    /// The JSON Schema of one error's body in this format, for API
    /// documents ([`crate::openapi`]).
    ///
    /// The built-in formats give their exact shape: every key they write,
    /// which are always there, the code and a fixed message as constants,
    /// the error's `details`. The default, for a format of your own, is the
    /// shape of the example body ([`Shape::example`](crate::openapi::Shape::example)):
    /// each member with the JSON type it has there, none required.
    #[cfg(feature = "openapi")]
    #[cfg_attr(docsrs, doc(cfg(feature = "openapi")))]
    #[must_use]
    fn schema(
        shape: &crate::openapi::Shape<'_>,
    ) -> utoipa::openapi::RefOr<utoipa::openapi::schema::Schema> {
        crate::openapi::infer(shape.example())
    }
}

/// The headers an error calls for, besides `Content-Type`.
struct ErrorHeaders {
    request_id: Option<HeaderValue>,
    retry_after: Option<core::time::Duration>,
    rate_limit: Option<RateLimit>,
}

/// An error's response: `body`, its status and headers. Not generic, so
/// that every error type and envelope shares one copy of it (and of the
/// header map's insertion) rather than each compiling its own.
#[inline(never)]
fn error_response(
    body: Bytes,
    status: http::StatusCode,
    content_type: HeaderValue,
    extra: ErrorHeaders,
) -> Response<Bytes> {
    let mut response = Response::new(body);
    *response.status_mut() = status;
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_TYPE, content_type);
    if let Some(value) = extra.request_id {
        headers.insert(crate::X_REQUEST_ID, value);
    }
    if let Some(delay) = extra.retry_after {
        headers.insert(header::RETRY_AFTER, HeaderValue::from(ceil_secs(delay)));
    }
    if let Some(limits) = extra.rate_limit {
        headers.insert(crate::X_RATELIMIT_LIMIT, HeaderValue::from(limits.limit));
        headers.insert(
            crate::X_RATELIMIT_REMAINING,
            HeaderValue::from(limits.remaining),
        );
        headers.insert(crate::X_RATELIMIT_RESET, HeaderValue::from(limits.reset));
    }
    response
}

/// Whole seconds, rounded up: a client told "0" for 300 ms would not wait.
pub(crate) fn ceil_secs(delay: core::time::Duration) -> u64 {
    // Saturating: a server's `Retry-After` may be read as the longest
    // duration there is.
    delay
        .as_secs()
        .saturating_add(u64::from(delay.subsec_nanos() > 0))
}
