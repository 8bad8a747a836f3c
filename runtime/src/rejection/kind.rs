//! The kinds of rejection and their tables: code, status, message and
//! description of each, every code and `details` key spelled in every
//! case at compile time, the catalog, and the derive's collision check.

use http::StatusCode;

use crate::catalog::Entry;
use crate::style::{Case, Spelled};

/// Which [`Rejection`](super::Rejection), without its data: what
/// `#[api(rejection = ...)]` names.
///
/// Each kind's status and code (in the error type's `code_case` on the
/// wire: `RATE_LIMIT_EXCEEDED` with `code_case = "SCREAMING_SNAKE_CASE"`):
///
/// | kind | status | code |
/// |---|---|---|
/// | `NotFound` | 404 | `not_found` |
/// | `MethodNotAllowed` | 405 | `method_not_allowed` |
/// | `InvalidJson` | 400 | `invalid_json` |
/// | `UnsupportedMediaType` | 415 | `unsupported_media_type` |
/// | `PayloadTooLarge` | 413 | `payload_too_large` |
/// | `InvalidPath` | 400 | `invalid_path` |
/// | `InvalidQuery` | 400 | `invalid_query` |
/// | `InvalidForm` | 400 | `invalid_form` |
/// | `InvalidMultipart` | 400 | `invalid_multipart` |
/// | `InvalidHeader` | 400 | `invalid_header` |
/// | `BadRequest` | 400 | `bad_request` |
/// | `Internal` | 500 | `internal_error` |
/// | `RequestInProgress` | 409 | `request_in_progress` |
/// | `IdempotencyKeyReused` | 422 | `idempotency_key_reused` |
/// | `RateLimited` | 429 | `rate_limit_exceeded` |
/// | `Blocked` | 429 | `abnormal_usage_detected` |
/// | `Unavailable` | 503 | `temporarily_unavailable` |
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum RejectionKind {
    /// [`Rejection::NotFound`](super::Rejection::NotFound).
    NotFound,
    /// [`Rejection::MethodNotAllowed`](super::Rejection::MethodNotAllowed).
    MethodNotAllowed,
    /// [`Rejection::InvalidJson`](super::Rejection::InvalidJson).
    InvalidJson,
    /// [`Rejection::UnsupportedMediaType`](super::Rejection::UnsupportedMediaType).
    UnsupportedMediaType,
    /// [`Rejection::PayloadTooLarge`](super::Rejection::PayloadTooLarge).
    PayloadTooLarge,
    /// [`Rejection::InvalidPath`](super::Rejection::InvalidPath).
    InvalidPath,
    /// [`Rejection::InvalidQuery`](super::Rejection::InvalidQuery).
    InvalidQuery,
    /// [`Rejection::InvalidForm`](super::Rejection::InvalidForm).
    InvalidForm,
    /// [`Rejection::InvalidMultipart`](super::Rejection::InvalidMultipart).
    InvalidMultipart,
    /// [`Rejection::InvalidHeader`](super::Rejection::InvalidHeader).
    InvalidHeader,
    /// [`Rejection::BadRequest`](super::Rejection::BadRequest).
    BadRequest,
    /// [`Rejection::Internal`](super::Rejection::Internal).
    Internal,
    /// [`Rejection::RequestInProgress`](super::Rejection::RequestInProgress).
    RequestInProgress,
    /// [`Rejection::IdempotencyKeyReused`](super::Rejection::IdempotencyKeyReused).
    IdempotencyKeyReused,
    /// [`Rejection::RateLimited`](super::Rejection::RateLimited).
    RateLimited,
    /// [`Rejection::Blocked`](super::Rejection::Blocked).
    Blocked,
    /// [`Rejection::Unavailable`](super::Rejection::Unavailable).
    Unavailable,
}

/// Code, status, message and doc line of each kind, in declaration order.
pub(super) const KINDS: [(RejectionKind, &str, u16, &str, &str); 17] = [
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
        "The service cannot answer now (a store the endpoint depends on, for its rate limits or idempotency keys, cannot be reached, or the server is overloaded); `Retry-After` says when to try again.",
    ),
];

/// Every code in every case, built at compile time.
pub(super) const CODES: [[Spelled; 8]; KINDS.len()] = {
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
pub(super) enum Key {
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

pub(super) const KEY_NAMES: [&str; 9] = [
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

pub(super) const KEYS: [[Spelled; 8]; KEY_NAMES.len()] = {
    let mut out = [Spelled::all(""); KEY_NAMES.len()];
    let mut i = 0;
    while i < KEY_NAMES.len() {
        out[i] = Spelled::all(KEY_NAMES[i]);
        i += 1;
    }
    out
};

impl Key {
    pub(super) fn spelled(self, case: Option<Case>) -> &'static str {
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

/// The variant names, as the catalog shows them.
pub(super) const NAMES: [&str; KINDS.len()] = [
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
pub(super) const CATALOG: [Entry; KINDS.len()] = {
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

/// The check of a `transparent` variant, at compile time: a code of the
/// type it holds (`inner`, its catalog, the types it delegates to
/// included) that is a rejection's in the outer type's `case` would let a
/// client take the server's rejection for that error; the reason, if so.
/// (Each of the outer type's own codes is checked with [`has_code`].)
#[doc(hidden)]
#[must_use]
pub const fn clash_within(inner: &[crate::catalog::Entry], case: Case) -> Option<&'static str> {
    let mut i = 0;
    while i < inner.len() {
        let entry = &inner[i];
        if let Some(delegate) = entry.delegate {
            if let Some(found) = clash_within(delegate, case) {
                return Some(found);
            }
        } else {
            // A code that is a rejection's, unless the inner variant answers
            // that very rejection: the client then reads the same error
            // whoever sent it.
            let clashes = match RejectionKind::with_code(entry.code, case) {
                Some(kind) => match entry.answers {
                    Some(answered) => answered as usize != kind as usize,
                    None => true,
                },
                None => false,
            };
            if clashes {
                return Some(
                    "a variant of the type this transparent variant holds has the code of one of rebuff's rejections as this type spells them (its `code_case`): a client would take the server's rejection for that error; give the inner variant another code",
                );
            }
        }
        i += 1;
    }
    None
}

/// The check of two `transparent` variants of one type, at compile time:
/// a code both types they hold have (their catalogs, delegates included)
/// would let a client take one error for the other; the reason, if so.
#[doc(hidden)]
#[must_use]
pub const fn clash_between(
    a: &[crate::catalog::Entry],
    b: &[crate::catalog::Entry],
) -> Option<&'static str> {
    let mut i = 0;
    while i < a.len() {
        let found = match a[i].delegate {
            Some(delegate) => clash_between(delegate, b).is_some(),
            None => has_code(b, a[i].code),
        };
        if found {
            return Some(
                "two transparent variants of this type hold types that share a code: a client could not tell the two errors apart; give one of them another code",
            );
        }
        i += 1;
    }
    None
}

/// Whether a catalog (delegates included) has `code`: the check of a
/// `transparent` variant against each of its type's own codes, at compile
/// time.
#[doc(hidden)]
#[must_use]
pub const fn has_code(entries: &[crate::catalog::Entry], code: &str) -> bool {
    let mut i = 0;
    while i < entries.len() {
        let found = match entries[i].delegate {
            Some(delegate) => has_code(delegate, code),
            None => same(entries[i].code, code),
        };
        if found {
            return true;
        }
        i += 1;
    }
    false
}

/// `a == b`, at compile time.
const fn same(a: &str, b: &str) -> bool {
    let (a, b) = (a.as_bytes(), b.as_bytes());
    if a.len() != b.len() {
        return false;
    }
    let mut i = 0;
    while i < a.len() {
        if a[i] != b[i] {
            return false;
        }
        i += 1;
    }
    true
}

/// Why each rejection's code cannot be a variant's too.
pub(super) const CLASH: [&str; KINDS.len()] = [
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
    "this code is the code of rebuff's `Unavailable` rejection (the service cannot answer now): mark the variant `#[api(rejection = Unavailable)]` to answer it with it, or give it another code",
];

#[cfg(test)]
mod tests {
    use super::KINDS;

    /// The table in [`RejectionKind`](super::RejectionKind)'s docs is
    /// the one the server renders from.
    #[test]
    fn the_documented_table_is_the_real_one() {
        let rows: Vec<String> = include_str!("kind.rs")
            .lines()
            .filter(|line| line.starts_with("/// | `"))
            .map(str::to_owned)
            .collect();
        let real: Vec<String> = KINDS
            .iter()
            .map(|(kind, code, status, _, _)| format!("/// | `{kind:?}` | {status} | `{code}` |"))
            .collect();
        assert_eq!(rows, real);
    }
}
