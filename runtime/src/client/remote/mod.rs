//! [`RemoteError`]: an error response of any HTTP API, read as well as its
//! shape allows.
//!
//! [`RemoteError::parse`] reads the headers (`headers`: request id,
//! retry-after, rate limits) and the body: `sniff` tells what kind of body
//! it is, `shapes` what a JSON body's members mean (read in one pass by
//! `json`), and `text` what a page or a text says.

mod fields;
mod headers;
mod json;
mod names;
mod pick;
mod shapes;
mod sniff;
mod text;

pub use shapes::Format;

use core::fmt;
use core::time::Duration;
use std::borrow::Cow;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};

use crate::RateLimit;
use headers::{Seen, read_timing};
use shapes::Found;

/// How much of the raw body a [`RemoteError`] keeps.
const KEPT_BODY: usize = 4096;
/// Longest code, message or request id kept, in bytes.
const MAX_FIELD: usize = 1024;

/// An error response from any HTTP API, read as well as its shape allows.
///
/// [`RemoteError::parse`] never fails and never panics: whatever the status,
/// headers and body, it returns the status and what it could find of a code,
/// a message, details, the server's request id, when to retry and the
/// rate-limit state, plus the recognised [`Format`] and the first 4 KiB of
/// the body. Which member wins is in the
/// [precedence table](crate::client#how-an-error-body-is-read).
///
/// ```
/// use rebuff::client::{Format, RemoteError};
/// use rebuff::http::{HeaderMap, StatusCode};
///
/// let mut headers = HeaderMap::new();
/// headers.insert("retry-after", "32".parse().unwrap());
/// let body = br#"{"error":{"code":"rate_limit_exceeded","message":"Rate limit exceeded. Please try again in 32 seconds.","details":{"retry_after":32,"limit":"60/minute"},"request_id":"req_1a2b3c4d5e"}}"#;
/// let err = RemoteError::parse(StatusCode::TOO_MANY_REQUESTS, &headers, body);
///
/// assert_eq!(err.format(), Format::Nested);
/// assert_eq!(err.code(), Some("rate_limit_exceeded"));
/// assert_eq!(err.message(), "Rate limit exceeded. Please try again in 32 seconds.");
/// assert_eq!(err.request_id(), Some("req_1a2b3c4d5e"));
/// assert_eq!(err.retry_after(), Some(std::time::Duration::from_secs(32)));
/// assert_eq!(err.details().unwrap()["limit"], "60/minute");
/// ```
#[derive(Clone)]
pub struct RemoteError {
    status: StatusCode,
    format: Format,
    code: Option<Text>,
    message: Option<Text>,
    details: Option<serde_json::Value>,
    errors: Vec<String>,
    request_id: Option<Text>,
    retry_after: Option<Duration>,
    rate_limit: Option<RateLimit>,
    body: Bytes,
    body_len: usize,
}

impl RemoteError {
    /// Reads an error response. See the type's documentation.
    #[must_use]
    pub fn parse(status: StatusCode, headers: &HeaderMap, body: &[u8]) -> Self {
        Self::parse_with(status, headers, body, SystemTime::now)
    }

    /// [`RemoteError::parse`] with the current time given, for HTTP-dates and
    /// epoch reset times (tests).
    #[must_use]
    pub fn parse_at(status: StatusCode, headers: &HeaderMap, body: &[u8], now: SystemTime) -> Self {
        Self::parse_with(status, headers, body, || now)
    }

    fn parse_with(
        status: StatusCode,
        headers: &HeaderMap,
        body: &[u8],
        now: impl Fn() -> SystemTime,
    ) -> Self {
        let seen = Seen::read(headers);
        let mut found = Found::default();
        let format = sniff::read_body(status, seen.content_type, body, &mut found);
        // Copied first: the copy's handle, written by the allocator's code,
        // is then long stored when it is moved into the result (moved at
        // once, the CPU waited for it, a tenth of a small body's parse).
        let kept = &body[..body.len().min(KEPT_BODY)];
        let body_copy = Bytes::copy_from_slice(kept);
        let request_id = found
            .request_id
            .take()
            .or_else(|| seen.request_id.map(|id| Cow::Owned(id.to_owned())));
        let mut code = found
            .code
            .take()
            .or_else(|| seen.code.map(|code| Cow::Owned(code.to_owned())));
        // An OAuth resource server's answer is often only its challenge.
        if code.is_none() || found.message.is_none() {
            let (bearer_code, description) = seen.bearer_error();
            code = code.or(bearer_code.map(Cow::Owned));
            if found.message.is_none() {
                found.message = description.map(Cow::Owned);
            }
        }
        let (retry_after, rate_limit) = read_timing(status, &seen, found.retry_after, now);
        let message = found
            .message
            .map(|m| Text::keep(cap(pick::without_code(trim(&m), code.as_deref())), kept))
            .filter(|m| !m.is_empty());
        RemoteError {
            status,
            format,
            code: code.map(|c| Text::keep(cap(&c), kept)),
            message,
            details: found.details,
            errors: found.errors,
            request_id: request_id.map(|r| Text::keep(cap(&r), kept)),
            retry_after,
            rate_limit,
            body: body_copy,
            body_len: body.len(),
        }
    }

    /// A remote error built from its parts, as a client that got no body (or
    /// a test) would make it.
    #[must_use]
    pub fn new(status: StatusCode, code: Option<&str>, message: Option<&str>) -> Self {
        RemoteError {
            status,
            format: Format::Empty,
            code: code.map(Text::owned),
            message: message.map(Text::owned),
            details: None,
            errors: Vec::new(),
            request_id: None,
            retry_after: None,
            rate_limit: None,
            body: Bytes::new(),
            body_len: 0,
        }
    }

    /// The HTTP status.
    #[must_use]
    pub fn status(&self) -> StatusCode {
        self.status
    }

    /// The machine-readable code, if the body had one.
    #[must_use]
    pub fn code(&self) -> Option<&str> {
        self.text(self.code.as_ref())
    }

    fn text<'s>(&'s self, text: Option<&'s Text>) -> Option<&'s str> {
        match text? {
            Text::Kept(range) => {
                core::str::from_utf8(self.body.get(range.start as usize..range.end as usize)?).ok()
            }
            Text::Owned(text) => Some(text),
        }
    }

    /// The human-readable message: the body's, else the code, else the
    /// status's reason phrase.
    #[must_use]
    pub fn message(&self) -> &str {
        self.text(self.message.as_ref())
            .or_else(|| self.code())
            .unwrap_or_else(|| crate::envelope::parts::reason_phrase(self.status))
    }

    /// Whether the body carried a message of its own (rather than
    /// [`RemoteError::message`] falling back).
    #[must_use]
    pub fn has_message(&self) -> bool {
        self.message.is_some()
    }

    /// The `details` of the error, if any.
    #[must_use]
    pub fn details(&self) -> Option<&serde_json::Value> {
        self.details.as_ref()
    }

    /// A list of messages, when the body had one (`{"errors":[...]}`).
    #[must_use]
    pub fn errors(&self) -> &[String] {
        &self.errors
    }

    /// The server's request id, from the body (`request_id`, `traceId`,
    /// `correlationId`, `debug_id`, ...) or a header (`X-Request-Id`,
    /// `Request-Id`, AWS's, GitHub's, Twilio's, Microsoft's, Cloudflare's
    /// `CF-Ray`, ...): quote it to the API's support. The order is in the
    /// [module documentation](crate::client#how-an-error-body-is-read).
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.text(self.request_id.as_ref())
    }

    /// How long to wait before retrying, if the response said:
    /// `Retry-After` (seconds or HTTP-date), a body's `retry_after` or
    /// gRPC `RetryInfo` (`"retryDelay": "30s"`), the IETF `RateLimit`
    /// field's `t=`, or the reset of an exhausted limit (epoch or delta).
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The rate-limit state from `X-RateLimit-*` (or `X-Rate-Limit-*`,
    /// `RateLimit-*`, or the IETF `RateLimit` and `RateLimit-Policy`
    /// fields), with the reset as Unix seconds. `None` unless the response
    /// gives the limit or the remaining count; a member it does not give
    /// reads as 0 (a response with only `X-RateLimit-Remaining: 0` has a
    /// `limit` of 0: unknown, not a quota of none).
    #[must_use]
    pub fn rate_limit(&self) -> Option<RateLimit> {
        self.rate_limit
    }

    /// The shape the body was recognised as.
    #[must_use]
    pub fn format(&self) -> Format {
        self.format
    }

    /// The first 4 KiB of the body, as received.
    #[must_use]
    pub fn body(&self) -> &Bytes {
        &self.body
    }

    /// Whether the body was longer than what [`RemoteError::body`] keeps.
    #[must_use]
    pub fn body_truncated(&self) -> bool {
        self.body_len > self.body.len()
    }

    /// Sets the request id (e.g. one the client generated itself).
    #[must_use]
    pub fn with_request_id(mut self, id: &str) -> Self {
        self.request_id = Some(Text::owned(cap(id)));
        self
    }

    /// Sets the details.
    #[must_use]
    pub fn with_details(mut self, details: serde_json::Value) -> Self {
        self.details = Some(details);
        self
    }
}

impl fmt::Display for RemoteError {
    /// `404 Not Found lead_not_found: Lead not found (request id req_123)`
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}", self.status.as_u16())?;
        if let Some(reason) = self.status.canonical_reason() {
            write!(f, " {reason}")?;
        }
        match (self.code(), self.text(self.message.as_ref())) {
            (Some(code), Some(message)) => write!(f, " {code}: {message}")?,
            (Some(code), None) => write!(f, " {code}")?,
            (None, Some(message)) => write!(f, ": {message}")?,
            (None, None) => {}
        }
        if let Some(id) = self.request_id() {
            write!(f, " (request id {id})")?;
        }
        Ok(())
    }
}

impl std::error::Error for RemoteError {}

impl fmt::Debug for RemoteError {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("RemoteError")
            .field("status", &self.status)
            .field("format", &self.format)
            .field("code", &self.code())
            .field("message", &self.text(self.message.as_ref()))
            .field("details", &self.details)
            .field("errors", &self.errors)
            .field("request_id", &self.request_id())
            .field("retry_after", &self.retry_after)
            .field("rate_limit", &self.rate_limit)
            .field("body", &self.body)
            .field("body_len", &self.body_len)
            .finish()
    }
}

/// Equal when everything the accessors show is equal, however each string
/// is stored.
impl PartialEq for RemoteError {
    fn eq(&self, other: &Self) -> bool {
        self.status == other.status
            && self.format == other.format
            && self.code() == other.code()
            && self.text(self.message.as_ref()) == other.text(other.message.as_ref())
            && self.details == other.details
            && self.errors == other.errors
            && self.request_id() == other.request_id()
            && self.retry_after == other.retry_after
            && self.rate_limit == other.rate_limit
            && self.body == other.body
            && self.body_len == other.body_len
    }
}

/// A string of a [`RemoteError`]: most are slices of the body it keeps, so
/// parsing allocates once for the body instead of once per string.
#[derive(Clone)]
enum Text {
    /// This range of the kept body.
    Kept(core::ops::Range<u32>),
    /// Unescaped, or read from beyond the kept body or from a header.
    Owned(Box<str>),
}

impl Text {
    fn owned(text: &str) -> Self {
        Text::Owned(text.into())
    }

    /// `text` as a range of `kept` when it is a slice of it, else a copy.
    fn keep(text: &str, kept: &[u8]) -> Self {
        // Address arithmetic only: a slice of `kept` starts within it and
        // ends by its end; any other string (an unescaped copy, a header)
        // fails the test and is copied.
        let start = (text.as_ptr() as usize).wrapping_sub(kept.as_ptr() as usize);
        if start <= kept.len() && text.len() <= kept.len() - start {
            if let (Ok(from), Ok(to)) = (u32::try_from(start), u32::try_from(start + text.len())) {
                return Text::Kept(from..to);
            }
        }
        Text::owned(text)
    }

    fn is_empty(&self) -> bool {
        match self {
            Text::Kept(range) => range.is_empty(),
            Text::Owned(text) => text.is_empty(),
        }
    }
}

/// `text` without surrounding whitespace; most messages have none, and
/// are returned after a look at their first and last bytes.
#[inline]
fn trim(text: &str) -> &str {
    match (text.as_bytes().first(), text.as_bytes().last()) {
        (Some(first), Some(last)) if first.is_ascii_graphic() && last.is_ascii_graphic() => text,
        _ => text.trim(),
    }
}

fn cap(text: &str) -> &str {
    if text.len() <= MAX_FIELD {
        return text;
    }
    let mut end = MAX_FIELD;
    while !text.is_char_boundary(end) {
        end -= 1;
    }
    &text[..end]
}
