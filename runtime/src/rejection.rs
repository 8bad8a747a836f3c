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
//! back as that variant (see [`ApiError::from_rejection`]). No other
//! variant may have the code of a rejection: the derive refuses it at
//! compile time, so a client never mistakes a mistyped URL for one of the
//! API's own "not found" errors.

use core::fmt;
use core::marker::PhantomData;
use core::time::Duration;

use http::StatusCode;
use serde::ser::SerializeMap;

use crate::catalog::Entry;
use crate::style::{Case, Spelled, Style};
use crate::{ApiError, envelope};

/// Which [`Rejection`], without its data: what
/// `#[api(rejection = ...)]` names.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// [`Rejection::NotFound`].
    NotFound,
    /// [`Rejection::MethodNotAllowed`].
    MethodNotAllowed,
    /// [`Rejection::InvalidJson`].
    InvalidJson,
    /// [`Rejection::UnsupportedMediaType`].
    UnsupportedMediaType,
    /// [`Rejection::PayloadTooLarge`].
    PayloadTooLarge,
    /// [`Rejection::InvalidPath`].
    InvalidPath,
    /// [`Rejection::InvalidQuery`].
    InvalidQuery,
    /// [`Rejection::InvalidForm`].
    InvalidForm,
    /// [`Rejection::InvalidMultipart`].
    InvalidMultipart,
    /// [`Rejection::InvalidHeader`].
    InvalidHeader,
    /// [`Rejection::BadRequest`].
    BadRequest,
    /// [`Rejection::Internal`].
    Internal,
    /// [`Rejection::RequestInProgress`].
    RequestInProgress,
    /// [`Rejection::IdempotencyKeyReused`].
    IdempotencyKeyReused,
    /// [`Rejection::RateLimited`].
    RateLimited,
    /// [`Rejection::Blocked`].
    Blocked,
    /// [`Rejection::Unavailable`].
    Unavailable,
}

/// Code, status, message and doc line of each kind, in declaration order.
const KINDS: [(RejectionKind, &str, u16, &str, &str); 17] = [
    (
        RejectionKind::NotFound,
        "not_found",
        404,
        "Resource not found",
        "No route for the request path.",
    ),
    (
        RejectionKind::MethodNotAllowed,
        "method_not_allowed",
        405,
        "Method {method} not allowed",
        "The path exists, the method does not (`Allow` lists those that do).",
    ),
    (
        RejectionKind::InvalidJson,
        "invalid_json",
        400,
        "Invalid JSON body",
        "The body is not JSON, or not the JSON the endpoint expects.",
    ),
    (
        RejectionKind::UnsupportedMediaType,
        "unsupported_media_type",
        415,
        "Expected a body of type {expected}",
        "The body's `Content-Type` is not one the endpoint takes.",
    ),
    (
        RejectionKind::PayloadTooLarge,
        "payload_too_large",
        413,
        "Request body exceeds maximum size of {max_size} bytes",
        "The body is larger than the server accepts.",
    ),
    (
        RejectionKind::InvalidPath,
        "invalid_path",
        400,
        "Invalid path parameter",
        "A path parameter could not be read.",
    ),
    (
        RejectionKind::InvalidQuery,
        "invalid_query",
        400,
        "Invalid query string",
        "The query string could not be read.",
    ),
    (
        RejectionKind::InvalidForm,
        "invalid_form",
        400,
        "Invalid form body",
        "The form body could not be read.",
    ),
    (
        RejectionKind::InvalidMultipart,
        "invalid_multipart",
        400,
        "Invalid multipart body",
        "The multipart body could not be read.",
    ),
    (
        RejectionKind::InvalidHeader,
        "invalid_header",
        400,
        "Invalid header {name}",
        "A header the endpoint reads is missing or malformed.",
    ),
    (
        RejectionKind::BadRequest,
        "bad_request",
        400,
        "Bad request",
        "Anything else wrong with the request.",
    ),
    (
        RejectionKind::Internal,
        "internal_error",
        500,
        "Internal Server Error",
        "The server failed while handling the request; nothing of the failure is sent.",
    ),
    (
        RejectionKind::RequestInProgress,
        "request_in_progress",
        409,
        "A request with this idempotency key is in progress",
        "A request with this `Idempotency-Key` is still being served: send it again shortly.",
    ),
    (
        RejectionKind::IdempotencyKeyReused,
        "idempotency_key_reused",
        422,
        "This idempotency key was used with a different request",
        "The `Idempotency-Key` was first sent with a different request (another query or body).",
    ),
    (
        RejectionKind::RateLimited,
        "rate_limit_exceeded",
        429,
        "Rate limit exceeded. Please try again in {retry_after} seconds.",
        "The caller sent more requests than its plan allows; `Retry-After` says when to try again.",
    ),
    (
        RejectionKind::Blocked,
        "abnormal_usage_detected",
        429,
        "Too many requests over the limit: blocked for {retry_after} seconds.",
        "The caller kept sending requests over its limit and is blocked for a while.",
    ),
    (
        RejectionKind::Unavailable,
        "temporarily_unavailable",
        503,
        "The service is temporarily unavailable. Please try again in {retry_after} seconds.",
        "A store the endpoint depends on (its rate limits, its idempotency keys) cannot be reached; `Retry-After` says when to try again.",
    ),
];

/// Every code in every case, built at compile time.
const CODES: [[Spelled; 8]; KINDS.len()] = {
    let mut out = [Spelled::all(""); KINDS.len()];
    let mut i = 0;
    while i < KINDS.len() {
        out[i] = Spelled::all(KINDS[i].1);
        i += 1;
    }
    out
};

/// The `details` keys rejections write.
#[derive(Clone, Copy)]
enum Key {
    Path,
    Method,
    Reason,
    Expected,
    FileSize,
    MaxSize,
    Name,
    RetryAfter,
    Limit,
}

const KEY_NAMES: [&str; 9] = [
    "path",
    "method",
    "reason",
    "expected",
    "file_size",
    "max_size",
    "name",
    "retry_after",
    "limit",
];

const KEYS: [[Spelled; 8]; KEY_NAMES.len()] = {
    let mut out = [Spelled::all(""); KEY_NAMES.len()];
    let mut i = 0;
    while i < KEY_NAMES.len() {
        out[i] = Spelled::all(KEY_NAMES[i]);
        i += 1;
    }
    out
};

impl Key {
    fn spelled(self, case: Option<Case>) -> &'static str {
        match case {
            None => KEY_NAMES[self as usize],
            Some(case) => KEYS[self as usize][case.index()].as_str(),
        }
    }
}

impl RejectionKind {
    /// Every kind.
    pub const ALL: [RejectionKind; KINDS.len()] = {
        let mut out = [RejectionKind::NotFound; KINDS.len()];
        let mut i = 0;
        while i < KINDS.len() {
            out[i] = KINDS[i].0;
            i += 1;
        }
        out
    };

    /// The code in `snake_case`, as an API with the default style sends it.
    #[must_use]
    pub const fn code(self) -> &'static str {
        KINDS[self as usize].1
    }

    /// The code in `case`.
    #[must_use]
    pub fn code_in(self, case: Case) -> &'static str {
        CODES[self as usize][case.index()].as_str()
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(self) -> StatusCode {
        StatusCode::from_u16(KINDS[self as usize].2).unwrap_or(StatusCode::BAD_REQUEST)
    }

    /// The public message, with its `{field}` placeholders.
    #[must_use]
    pub const fn message_template(self) -> &'static str {
        KINDS[self as usize].3
    }

    /// What the rejection means, one line.
    #[must_use]
    pub const fn description(self) -> &'static str {
        KINDS[self as usize].4
    }

    /// The kind whose code, spelled in `case`, is `code`.
    #[must_use]
    pub const fn with_code(code: &str, case: Case) -> Option<RejectionKind> {
        let mut i = 0;
        while i < KINDS.len() {
            if CODES[i][case.index()].is(code) {
                return Some(KINDS[i].0);
            }
            i += 1;
        }
        None
    }
}

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
        /// The limit in bytes.
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
    /// route that fails closed, its idempotency keys) is unreachable.
    /// Nothing of the failure is sent; it is logged.
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
                f(Key::MaxSize, Value::Number(*max_size));
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
            Rejection::Unavailable { .. } => {
                f.write_str("a store the endpoint needs is unreachable")
            }
        }
    }
}

impl std::error::Error for Rejection {}

/// The variant names, as the catalog shows them.
const NAMES: [&str; KINDS.len()] = [
    "NotFound",
    "MethodNotAllowed",
    "InvalidJson",
    "UnsupportedMediaType",
    "PayloadTooLarge",
    "InvalidPath",
    "InvalidQuery",
    "InvalidForm",
    "InvalidMultipart",
    "InvalidHeader",
    "BadRequest",
    "Internal",
    "RequestInProgress",
    "IdempotencyKeyReused",
    "RateLimited",
    "Blocked",
    "Unavailable",
];

/// Every rejection, for catalogs and API documents.
const CATALOG: [Entry; KINDS.len()] = {
    let mut out = [Entry::new("", "", 0, "", false, ""); KINDS.len()];
    let mut i = 0;
    while i < KINDS.len() {
        let (_, code, status, message, description) = KINDS[i];
        let name = NAMES[i];
        // 409 "in progress" is worth repeating; the others are not, but a
        // 500, which is.
        let retryable = status == 409 || status == 429 || status == 500 || status == 503;
        out[i] = Entry::new(name, code, status, message, retryable, description);
        i += 1;
    }
    out
};

/// A rejection in the style of `E`: `E`'s envelope, code case, key case
/// and problem-type base. What a server answers when a request fails
/// before (or outside) its handlers.
pub struct InStyle<'r, E> {
    rejection: &'r Rejection,
    _type: PhantomData<fn() -> E>,
}

impl<'r, E> InStyle<'r, E> {
    /// `rejection`, to be rendered as `E`'s errors are.
    #[must_use]
    pub const fn new(rejection: &'r Rejection) -> Self {
        InStyle {
            rejection,
            _type: PhantomData,
        }
    }
}

impl<E> fmt::Debug for InStyle<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_tuple("InStyle")
            .field(self.rejection)
            .field(&core::any::type_name::<E>())
            .finish()
    }
}

impl<E> fmt::Display for InStyle<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Display::fmt(self.rejection, f)
    }
}

impl<E: ApiError> ApiError for InStyle<'_, E> {
    type Envelope = E::Envelope;
    const STYLE: Style = E::STYLE;

    fn status(&self) -> StatusCode {
        self.rejection.status()
    }

    fn code(&self) -> &str {
        self.rejection.kind().code_in(E::STYLE.code_case)
    }

    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.rejection.write_message(f)
    }

    fn message_str(&self) -> Option<&str> {
        self.rejection.fixed_message()
    }

    fn has_details(&self) -> bool {
        self.rejection.has_details()
    }

    fn serialize_details<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        self.rejection.serialize_details_in(map, E::STYLE.key_case)
    }

    fn retry_after(&self) -> Option<Duration> {
        self.rejection.retry_after()
    }

    fn retryable(&self) -> bool {
        self.rejection.retryable()
    }

    fn rate_limit(&self) -> Option<crate::RateLimit> {
        self.rejection.rate_limit()
    }
}

/// Alone, a rejection renders in the default style: the nested envelope,
/// `snake_case` codes and keys.
impl ApiError for Rejection {
    type Envelope = envelope::Nested;
    const CATALOG: &'static [Entry] = &CATALOG;

    fn status(&self) -> StatusCode {
        self.kind().status()
    }

    fn code(&self) -> &str {
        self.kind().code()
    }

    fn fmt_message(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        self.write_message(f)
    }

    fn message_str(&self) -> Option<&str> {
        self.fixed_message()
    }

    fn has_details(&self) -> bool {
        let mut any = false;
        self.each_detail(&mut |_, _| any = true);
        any
    }

    fn serialize_details<M: SerializeMap>(&self, map: &mut M) -> Result<(), M::Error> {
        self.serialize_details_in(map, None)
    }

    fn retry_after(&self) -> Option<Duration> {
        match self {
            Rejection::RequestInProgress { retry_after }
            | Rejection::RateLimited { retry_after, .. }
            | Rejection::Blocked { retry_after }
            | Rejection::Unavailable { retry_after } => Some(Duration::from_secs(*retry_after)),
            _ => None,
        }
    }

    fn retryable(&self) -> bool {
        matches!(
            self,
            Rejection::RequestInProgress { .. }
                | Rejection::Internal
                | Rejection::RateLimited { .. }
                | Rejection::Blocked { .. }
                | Rejection::Unavailable { .. }
        )
    }

    fn rate_limit(&self) -> Option<crate::RateLimit> {
        match self {
            Rejection::RateLimited { rate_limit, .. } => Some(*rate_limit),
            _ => None,
        }
    }
}

/// `rejection` as the response of an API whose errors are `E`: `E`'s own
/// variant if one answers it ([`ApiError::from_rejection`]), else the
/// rejection in `E`'s style; RFC 9457 when the context prefers it.
#[must_use]
pub fn render<E: ApiError>(
    rejection: &Rejection,
    ctx: &crate::Context,
) -> http::Response<bytes::Bytes> {
    match E::from_rejection(rejection) {
        Some(own) => crate::to_response(&own, ctx),
        None => crate::to_response(&InStyle::<E>::new(rejection), ctx),
    }
}

/// Whether a code, spelled in `case`, is also the code of a rejection that
/// the variant does not answer (`answers`): the message for the derive's
/// compile-time check, or `None`.
#[doc(hidden)]
#[must_use]
pub const fn clash(code: &str, case: Case, answers: Option<RejectionKind>) -> Option<&'static str> {
    let Some(kind) = RejectionKind::with_code(code, case) else {
        return None;
    };
    if let Some(answered) = answers {
        if answered as usize == kind as usize {
            return None;
        }
    }
    Some(CLASH[kind as usize])
}

/// Why each rejection's code cannot be a variant's too.
const CLASH: [&str; KINDS.len()] = [
    "this code is the code of rebuff's `NotFound` rejection (unknown routes): mark the variant `#[api(rejection = NotFound)]` to answer unknown routes with it, or give it another code",
    "this code is the code of rebuff's `MethodNotAllowed` rejection (wrong methods): mark the variant `#[api(rejection = MethodNotAllowed)]` to answer them with it, or give it another code",
    "this code is the code of rebuff's `InvalidJson` rejection (malformed JSON bodies): mark the variant `#[api(rejection = InvalidJson)]` to answer them with it, or give it another code",
    "this code is the code of rebuff's `UnsupportedMediaType` rejection (wrong content types): mark the variant `#[api(rejection = UnsupportedMediaType)]` to answer them with it, or give it another code",
    "this code is the code of rebuff's `PayloadTooLarge` rejection (bodies over the limit): mark the variant `#[api(rejection = PayloadTooLarge)]` to answer them with it, or give it another code",
    "this code is the code of rebuff's `InvalidPath` rejection (unreadable path parameters): mark the variant `#[api(rejection = InvalidPath)]` to answer them with it, or give it another code",
    "this code is the code of rebuff's `InvalidQuery` rejection (unreadable query strings): mark the variant `#[api(rejection = InvalidQuery)]` to answer them with it, or give it another code",
    "this code is the code of rebuff's `InvalidForm` rejection (unreadable form bodies): mark the variant `#[api(rejection = InvalidForm)]` to answer them with it, or give it another code",
    "this code is the code of rebuff's `InvalidMultipart` rejection (unreadable multipart bodies): mark the variant `#[api(rejection = InvalidMultipart)]` to answer them with it, or give it another code",
    "this code is the code of rebuff's `InvalidHeader` rejection (missing or malformed headers): mark the variant `#[api(rejection = InvalidHeader)]` to answer them with it, or give it another code",
    "this code is the code of rebuff's `BadRequest` rejection (other bad requests): mark the variant `#[api(rejection = BadRequest)]` to answer them with it, or give it another code",
    "this code is the code of rebuff's `Internal` rejection (a handler that panicked or failed): mark the variant `#[api(rejection = Internal)]` to answer those with it, or give it another code",
    "this code is the code of rebuff's `RequestInProgress` rejection (an idempotency key in flight): mark the variant `#[api(rejection = RequestInProgress)]` to answer it with it, or give it another code",
    "this code is the code of rebuff's `IdempotencyKeyReused` rejection (a key reused with another request): mark the variant `#[api(rejection = IdempotencyKeyReused)]` to answer it with it, or give it another code",
    "this code is the code of rebuff's `RateLimited` rejection (a caller over its rate limit): mark the variant `#[api(rejection = RateLimited)]` to answer it with it, or give it another code",
    "this code is the code of rebuff's `Blocked` rejection (a caller blocked after repeated refusals): mark the variant `#[api(rejection = Blocked)]` to answer it with it, or give it another code",
    "this code is the code of rebuff's `Unavailable` rejection (a store the endpoint needs is unreachable): mark the variant `#[api(rejection = Unavailable)]` to answer it with it, or give it another code",
];

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_tables_follow_the_kinds() {
        for (i, kind) in RejectionKind::ALL.iter().enumerate() {
            assert_eq!(*kind as usize, i);
            assert!(CLASH[i].contains(&format!("`{kind:?}`")), "{kind:?}");
            assert_eq!(NAMES[i], format!("{kind:?}"));
            assert_eq!(
                RejectionKind::with_code(kind.code_in(Case::Camel), Case::Camel),
                Some(*kind)
            );
        }
        assert_eq!(
            RejectionKind::NotFound.code_in(Case::ScreamingSnake),
            "NOT_FOUND"
        );
        assert_eq!(
            RejectionKind::with_code("not_found", Case::ScreamingSnake),
            None
        );
    }

    #[test]
    fn a_code_clashes_unless_the_variant_answers_that_rejection() {
        assert!(clash("NOT_FOUND", Case::ScreamingSnake, None).is_some());
        assert!(
            clash(
                "NOT_FOUND",
                Case::ScreamingSnake,
                Some(RejectionKind::NotFound)
            )
            .is_none()
        );
        assert!(
            clash(
                "NOT_FOUND",
                Case::ScreamingSnake,
                Some(RejectionKind::BadRequest)
            )
            .is_some()
        );
        assert!(clash("LEAD_NOT_FOUND", Case::ScreamingSnake, None).is_none());
    }

    #[test]
    fn details_by_key() {
        let too_large = Rejection::PayloadTooLarge {
            file_size: Some(5),
            max_size: 4,
        };
        assert_eq!(too_large.detail("max_size"), Some(4.into()));
        assert_eq!(too_large.detail("file_size"), Some(5.into()));
        assert_eq!(too_large.detail("path"), None);
        let unsized_body = Rejection::PayloadTooLarge {
            file_size: None,
            max_size: 4,
        };
        assert_eq!(unsized_body.detail("file_size"), None);
    }
}
