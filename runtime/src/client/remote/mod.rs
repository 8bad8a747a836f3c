mod headers;
mod text;

use headers::{Seen, read_timing};

use core::fmt;
use core::time::Duration;
use std::borrow::Cow;
use std::time::SystemTime;

use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use serde::Deserialize;
use serde_json::value::RawValue;

use crate::RateLimit;

/// Bodies longer than this are not parsed as JSON: their first bytes are
/// kept and read as text.
const MAX_JSON: usize = 1 << 20;
/// How much of the raw body a [`RemoteError`] keeps.
const KEPT_BODY: usize = 4096;
/// Longest code, message or request id kept, in bytes.
const MAX_FIELD: usize = 1024;

/// The shape an error body was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// `{"error":{"code","message","details",...}}`: seeds 000 and 003,
    /// Stripe, OpenAI, Anthropic, Google, Microsoft Graph.
    Nested,
    /// `{"success":false,"error":{...},"request_id",...}`: seed 001.
    Success,
    /// `{"error":"..."}` or `{"errors":["..."]}`: seed 002.
    Plain,
    /// `{"success":false,"error":"...","code":...}`: seed 004.
    Flat,
    /// RFC 9457 problem details.
    Problem,
    /// `{"message":...,"code"?:...}`: GitHub, GitLab, DigitalOcean, Discord,
    /// PayPal.
    Message,
    /// `{"errors":[{"status","code","title","detail"}]}`: JSON:API.
    JsonApi,
    /// `{"errors":[{"message","extensions":{"code"}}]}`: GraphQL.
    GraphQl,
    /// `{"success":false,"errors":[{"code","message"}]}`: Cloudflare's API.
    ErrorList,
    /// `{"ok":false,"error":"code"}`: Slack.
    Slack,
    /// `{"__type":"...#Code","message":...}`: AWS JSON protocols.
    Aws,
    /// Any other JSON.
    Json,
    /// An XML error document (S3, Twilio's legacy API).
    Xml,
    /// An HTML page, usually from a proxy or load balancer.
    Html,
    /// Plain text.
    Text,
    /// No body.
    Empty,
}

/// An error response from any HTTP API, read as well as its shape allows.
///
/// [`RemoteError::parse`] never fails and never panics: whatever the status,
/// headers and body, it returns the status and what it could find of a code,
/// a message, details, the server's request id, when to retry and the
/// rate-limit state, plus the recognised [`Format`] and the first 4 KiB of
/// the body.
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
        let format = read_body(&seen, body, &mut found);
        let request_id = found
            .request_id
            .take()
            .or_else(|| seen.request_id.map(|id| Cow::Owned(id.to_owned())));
        let (retry_after, rate_limit) = read_timing(status, &seen, found.retry_after, now);
        let kept = &body[..body.len().min(KEPT_BODY)];
        RemoteError {
            status,
            format,
            code: found.code.map(|c| Text::keep(cap(&c), kept)),
            message: found
                .message
                .map(|m| Text::keep(cap(trim(&m)), kept))
                .filter(|m| !m.is_empty()),
            details: found.details,
            errors: found.errors,
            request_id: request_id.map(|r| Text::keep(cap(&r), kept)),
            retry_after,
            rate_limit,
            body: Bytes::copy_from_slice(kept),
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

    /// The server's request id, from the body or a header (`X-Request-Id`,
    /// `Request-Id`, AWS's, GitHub's, Twilio's, Microsoft's, Cloudflare's
    /// `CF-Ray`, ...): quote it to the API's support.
    #[must_use]
    pub fn request_id(&self) -> Option<&str> {
        self.text(self.request_id.as_ref())
    }

    /// How long to wait before retrying, if the response said:
    /// `Retry-After` (seconds or HTTP-date), a body's `retry_after`, or the
    /// rate-limit reset of an exhausted limit.
    #[must_use]
    pub fn retry_after(&self) -> Option<Duration> {
        self.retry_after
    }

    /// The rate-limit state from `X-RateLimit-*` (or `RateLimit-*`) headers,
    /// with the reset as Unix seconds.
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

/// What the body yielded.
#[derive(Default)]
struct Found<'a> {
    code: Option<Cow<'a, str>>,
    message: Option<Cow<'a, str>>,
    details: Option<serde_json::Value>,
    errors: Vec<String>,
    request_id: Option<Cow<'a, str>>,
    retry_after: Option<Duration>,
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

fn read_body<'a>(seen: &Seen<'_>, body: &'a [u8], found: &mut Found<'a>) -> Format {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Format::Empty;
    }
    if trimmed.len() <= MAX_JSON && matches!(trimmed[0], b'{' | b'[') {
        if let Some(format) = read_json(seen, trimmed, found) {
            return format;
        }
        if trimmed[0] == b'{' && text::lenient_object(trimmed, found_setter(found)) {
            return Format::Json;
        }
    }
    let content = String::from_utf8_lossy(&trimmed[..trimmed.len().min(64 * 1024)]);
    let lower_start: String = content
        .chars()
        .take(256)
        .collect::<String>()
        .to_ascii_lowercase();
    if lower_start.starts_with("<?xml")
        || lower_start.starts_with("<error")
        || lower_start.starts_with("<twilioresponse")
    {
        let content = content.into_owned();
        found.code = text::tag(&content, "Code").map(Cow::Owned);
        found.message = text::tag(&content, "Message").map(Cow::Owned);
        found.request_id = text::tag(&content, "RequestId").map(Cow::Owned);
        return Format::Xml;
    }
    if lower_start.contains("<html")
        || lower_start.starts_with("<!doctype")
        || lower_start.starts_with("<head")
        || lower_start.starts_with("<body")
    {
        let page = text::html_error(&content);
        found.code = page.code.map(Cow::Owned);
        found.message = page.message.map(Cow::Owned);
        return Format::Html;
    }
    found.message = text::first_line(&content).map(|l| Cow::Owned(l.to_owned()));
    Format::Text
}

/// Lets the lenient reader fill the same fields.
fn found_setter<'f>(found: &'f mut Found<'_>) -> impl FnMut(&str, String) + 'f {
    move |key, value| match key {
        "code" | "id" | "error_code" | "errorCode" => {
            found.code.get_or_insert(Cow::Owned(value));
        }
        "message" | "error" | "detail" => {
            found.message.get_or_insert(Cow::Owned(value));
        }
        "request_id" | "requestId" => {
            found.request_id.get_or_insert(Cow::Owned(value));
        }
        _ => {}
    }
}

/// The top-level keys error bodies use, borrowed unparsed.
#[derive(Default)]
struct Top<'a> {
    /// Read as it comes: the nested family's object is read into its slots
    /// in the same pass over the body.
    error: Option<ErrorMember<'a>>,
    errors: Option<&'a RawValue>,
    message: Option<&'a RawValue>,
    message_aws: Option<&'a RawValue>,
    code: Option<&'a RawValue>,
    id: Option<&'a RawValue>,
    name: Option<&'a RawValue>,
    error_code: Option<&'a RawValue>,
    error_code_camel: Option<&'a RawValue>,
    error_description: Option<&'a RawValue>,
    error_messages: Option<&'a RawValue>,
    detail: Option<&'a RawValue>,
    title: Option<&'a RawValue>,
    kind: Option<&'a RawValue>,
    aws_type: Option<&'a RawValue>,
    status: Option<&'a RawValue>,
    success: Option<&'a RawValue>,
    ok: Option<&'a RawValue>,
    details: Option<&'a RawValue>,
    request_id: Option<&'a RawValue>,
    request_id_camel: Option<&'a RawValue>,
    debug_id: Option<&'a RawValue>,
    trace_id: Option<&'a RawValue>,
    retry_after: Option<RetryAfterSecs>,
    retry_after_camel: Option<RetryAfterSecs>,
}

impl<'a> Top<'a> {
    /// The slot of a member, or `None` for a member no format reads.
    fn slot(&mut self, key: &str) -> Option<Slot<'_, 'a>> {
        Some(Slot::Raw(match key {
            "errors" => &mut self.errors,
            "message" => &mut self.message,
            "Message" => &mut self.message_aws,
            "code" => &mut self.code,
            "id" => &mut self.id,
            "name" => &mut self.name,
            "error_code" => &mut self.error_code,
            "errorCode" => &mut self.error_code_camel,
            "error_description" => &mut self.error_description,
            "errorMessages" => &mut self.error_messages,
            "detail" => &mut self.detail,
            "title" => &mut self.title,
            "type" => &mut self.kind,
            "__type" => &mut self.aws_type,
            "status" => &mut self.status,
            "success" => &mut self.success,
            "ok" => &mut self.ok,
            "details" => &mut self.details,
            "request_id" => &mut self.request_id,
            "requestId" => &mut self.request_id_camel,
            "debug_id" => &mut self.debug_id,
            "traceId" => &mut self.trace_id,
            "retry_after" => return Some(Slot::RetryAfter(&mut self.retry_after)),
            "retryAfter" => return Some(Slot::RetryAfter(&mut self.retry_after_camel)),
            _ => return None,
        }))
    }
}

/// The key under which `serde_json` hands a number over as a one-entry map
/// when its `arbitrary_precision` feature is on (anything in a build may
/// turn it on).
const NUMBER_TOKEN: &str = "$serde_json::private::Number";

/// Skips the rest of a map.
fn drain<'de, M: serde::de::MapAccess<'de>>(map: &mut M) -> Result<(), M::Error> {
    while map
        .next_entry::<serde::de::IgnoredAny, serde::de::IgnoredAny>()?
        .is_some()
    {}
    Ok(())
}

/// Where a member read goes: most are kept raw (borrowed from the body,
/// interpreted once the shape is known); retry-after values are read as
/// durations where they are found.
enum Slot<'s, 'a> {
    Raw(&'s mut Option<&'a RawValue>),
    RetryAfter(&'s mut Option<RetryAfterSecs>),
}

impl<'a> Slot<'_, 'a> {
    /// Reads the member's value into the slot unless an earlier member of
    /// the same name filled it (the first wins). With [`Read::Raw`], a
    /// retry-after value is taken as written and then read.
    // Always inlined: called from two readers, it would stay out of line,
    // and it runs for every member a shape reads.
    #[allow(clippy::inline_always)]
    #[inline(always)]
    fn fill<M: serde::de::MapAccess<'a>>(self, map: &mut M, read: Read) -> Result<(), M::Error> {
        match self {
            Slot::Raw(slot) => {
                let value: &'a RawValue = map.next_value()?;
                slot.get_or_insert(value);
            }
            Slot::RetryAfter(slot @ None) => {
                *slot = Some(match read {
                    Read::Fast => map.next_value()?,
                    Read::Raw => RetryAfterSecs::from_raw(map.next_value()?),
                });
            }
            Slot::RetryAfter(Some(_)) => {
                map.next_value::<serde::de::IgnoredAny>()?;
            }
        }
        Ok(())
    }
}

/// How retry-after values are read.
#[derive(Clone, Copy)]
enum Read {
    /// As numbers, where they are found.
    Fast,
    /// Kept as written, then read. Slower, but a number too large for a
    /// float (`1e400`), which the fast read rejects along with the whole
    /// body, reads as no hint here.
    Raw,
}

/// A retry-after member: whole or fractional seconds, as a number or a
/// numeric string. Anything else (negative, not a number) reads as no hint.
/// (A number out of a float's range fails the fast read of the whole body,
/// which is then read again with [`Read::Raw`].)
#[derive(Clone, Copy)]
struct RetryAfterSecs(Option<Duration>);

impl RetryAfterSecs {
    /// A raw JSON value: a number, or a string (unescaped as the fast
    /// read would).
    fn from_raw(raw: &RawValue) -> Self {
        string_of(raw).map_or(RetryAfterSecs(None), |text| {
            RetryAfterSecs::from_text(&text)
        })
    }

    fn from_text(text: &str) -> Self {
        if let Ok(secs) = text.parse::<u64>() {
            return RetryAfterSecs(Some(Duration::from_secs(secs)));
        }
        RetryAfterSecs(
            text.parse::<f64>()
                .ok()
                .and_then(|secs| Duration::try_from_secs_f64(secs).ok()),
        )
    }
}

impl<'de> Deserialize<'de> for RetryAfterSecs {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = RetryAfterSecs;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a number of seconds")
            }
            fn visit_u64<E>(self, secs: u64) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs(Some(Duration::from_secs(secs))))
            }
            fn visit_i64<E>(self, secs: i64) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs(
                    u64::try_from(secs).ok().map(Duration::from_secs),
                ))
            }
            fn visit_f64<E>(self, secs: f64) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs(Duration::try_from_secs_f64(secs).ok()))
            }
            fn visit_str<E>(self, text: &str) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs::from_text(text))
            }
            fn visit_bool<E>(self, _: bool) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs(None))
            }
            fn visit_unit<E>(self) -> Result<RetryAfterSecs, E> {
                Ok(RetryAfterSecs(None))
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<RetryAfterSecs, A::Error> {
                while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
                Ok(RetryAfterSecs(None))
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<RetryAfterSecs, M::Error> {
                let Some(Key(key)) = map.next_key()? else {
                    return Ok(RetryAfterSecs(None));
                };
                let seconds = if key == NUMBER_TOKEN {
                    let number: String = map.next_value()?;
                    RetryAfterSecs::from_text(&number)
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    RetryAfterSecs(None)
                };
                drain(&mut map)?;
                Ok(seconds)
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

/// The duration a retry-after slot holds, if it was there and readable.
fn seconds(slot: Option<RetryAfterSecs>) -> Option<Duration> {
    slot.and_then(|s| s.0)
}

/// An object's key, borrowed from the body unless it had escapes. (Serde's
/// own `Cow<str>` always copies: every key would be an allocation.)
struct Key<'de>(Cow<'de, str>);

impl<'de> Deserialize<'de> for Key<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Key<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("an object key")
            }
            fn visit_borrowed_str<E>(self, key: &'de str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Borrowed(key)))
            }
            fn visit_str<E>(self, key: &str) -> Result<Key<'de>, E> {
                Ok(Key(Cow::Owned(key.to_owned())))
            }
        }
        deserializer.deserialize_str(Visit)
    }
}

/// Reads a top-level object in one pass, straight into the slots of a
/// [`Top`] (written in place: it is a few hundred bytes), and returns how
/// many members no slot takes (RFC 9457 extension members).
struct TopSeed<'t, 'a>(&'t mut Top<'a>, Read);

impl<'de> serde::de::DeserializeSeed<'de> for TopSeed<'_, 'de> {
    type Value = usize;

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<usize, D::Error> {
        deserializer.deserialize_map(self)
    }
}

impl<'de> serde::de::Visitor<'de> for TopSeed<'_, 'de> {
    type Value = usize;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a JSON object")
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<usize, M::Error> {
        let mut unknown = 0;
        while let Some(Key(key)) = map.next_key()? {
            if key == "error" {
                if self.0.error.is_none() {
                    map.next_value_seed(ErrorSeed(&mut self.0.error, self.1))?;
                } else {
                    map.next_value::<serde::de::IgnoredAny>()?;
                }
                continue;
            }
            // A member no slot takes is skipped, not borrowed.
            match self.0.slot(&key) {
                Some(slot) => slot.fill(&mut map, self.1)?,
                None => {
                    map.next_value::<serde::de::IgnoredAny>()?;
                    if key != "instance" {
                        unknown += 1;
                    }
                }
            }
        }
        Ok(unknown)
    }
}

/// The keys of a nested `error` object or of one entry of an `errors` list.
#[derive(Default)]
struct Inner<'a> {
    code: Option<&'a RawValue>,
    status: Option<&'a RawValue>,
    kind: Option<&'a RawValue>,
    message: Option<&'a RawValue>,
    title: Option<&'a RawValue>,
    detail: Option<&'a RawValue>,
    details: Option<&'a RawValue>,
    issue: Option<&'a RawValue>,
    extensions: Option<&'a RawValue>,
    locations: Option<&'a RawValue>,
    path: Option<&'a RawValue>,
    request_id: Option<&'a RawValue>,
    request_id_camel: Option<&'a RawValue>,
    ms_inner_error: Option<&'a RawValue>,
    request_id_dash: Option<&'a RawValue>,
    retry_after: Option<RetryAfterSecs>,
    /// `details`, already parsed: set when the object is the nested
    /// family's `error`, whose details are always kept.
    details_value: Option<serde_json::Value>,
}

impl<'a> Inner<'a> {
    fn slot(&mut self, key: &str) -> Option<Slot<'_, 'a>> {
        Some(Slot::Raw(match key {
            "code" => &mut self.code,
            "status" => &mut self.status,
            "type" => &mut self.kind,
            "message" => &mut self.message,
            "title" => &mut self.title,
            "detail" => &mut self.detail,
            "details" => &mut self.details,
            "issue" => &mut self.issue,
            "extensions" => &mut self.extensions,
            "locations" => &mut self.locations,
            "path" => &mut self.path,
            "request_id" => &mut self.request_id,
            "requestId" => &mut self.request_id_camel,
            "innerError" => &mut self.ms_inner_error,
            "request-id" => &mut self.request_id_dash,
            "retry_after" => return Some(Slot::RetryAfter(&mut self.retry_after)),
            _ => return None,
        }))
    }

    /// Reads an object's members into the slots; the first of a repeated
    /// key wins, as at the top level. With `parse_details`, `details` is
    /// parsed in the same pass instead of kept raw.
    fn read<M: serde::de::MapAccess<'a>>(
        &mut self,
        mut map: M,
        parse_details: bool,
        read: Read,
    ) -> Result<(), M::Error> {
        while let Some(Key(key)) = map.next_key()? {
            self.member(&key, &mut map, parse_details, read)?;
        }
        Ok(())
    }

    /// Reads the value of the member `key` into its slot, or skips it.
    #[inline]
    fn member<M: serde::de::MapAccess<'a>>(
        &mut self,
        key: &str,
        map: &mut M,
        parse_details: bool,
        read: Read,
    ) -> Result<(), M::Error> {
        if parse_details && key == "details" && self.details.is_none() {
            let value: serde_json::Value = map.next_value()?;
            if !value.is_null() {
                self.details_value.get_or_insert(value);
            }
            return Ok(());
        }
        match self.slot(key) {
            Some(slot) => slot.fill(map, read),
            None => map.next_value::<serde::de::IgnoredAny>().map(drop),
        }
    }
}

impl<'de> Deserialize<'de> for Inner<'de> {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = Inner<'de>;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a JSON object")
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                map: M,
            ) -> Result<Inner<'de>, M::Error> {
                // Read from a raw value, on the slow paths: robust first.
                let mut inner = Inner::default();
                inner.read(map, false, Read::Raw)?;
                Ok(inner)
            }
        }
        deserializer.deserialize_map(Visit)
    }
}

/// A top-level `error` member: an object (the nested family), a string or
/// number (its message or code), or anything else.
// It lives in place inside `Top`, on the stack: boxing the large variant
// would cost an allocation per parse to save stack space nobody needs.
#[allow(clippy::large_enum_variant)]
enum ErrorMember<'a> {
    Object(Inner<'a>),
    Text(Cow<'a, str>),
    Other,
}

/// Reads the `error` member into its place in [`Top`] (the object's slots
/// are a few hundred bytes: built where they stay, not moved there).
struct ErrorSeed<'t, 'de>(&'t mut Option<ErrorMember<'de>>, Read);

impl<'de> serde::de::DeserializeSeed<'de> for ErrorSeed<'_, 'de> {
    type Value = ();

    fn deserialize<D: serde::Deserializer<'de>>(self, deserializer: D) -> Result<(), D::Error> {
        deserializer.deserialize_any(self)
    }
}

impl<'de> serde::de::Visitor<'de> for ErrorSeed<'_, 'de> {
    type Value = ();

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("any JSON value")
    }

    fn visit_map<M: serde::de::MapAccess<'de>>(self, mut map: M) -> Result<(), M::Error> {
        let first: Option<Key<'de>> = map.next_key()?;
        if let Some(Key(key)) = &first {
            if key == NUMBER_TOKEN {
                // `"error": 404`, handed over as a map by serde_json's
                // `arbitrary_precision`.
                let number: String = map.next_value()?;
                drain(&mut map)?;
                *self.0 = Some(ErrorMember::Text(Cow::Owned(number)));
                return Ok(());
            }
        }
        match self.0.insert(ErrorMember::Object(Inner::default())) {
            ErrorMember::Object(inner) => {
                if let Some(Key(key)) = first {
                    inner.member(&key, &mut map, true, self.1)?;
                }
                inner.read(map, true, self.1)
            }
            // Not reached: the object was just put there.
            ErrorMember::Text(_) | ErrorMember::Other => Ok(()),
        }
    }

    fn visit_borrowed_str<E>(self, text: &'de str) -> Result<(), E> {
        *self.0 = Some(ErrorMember::Text(Cow::Borrowed(text)));
        Ok(())
    }

    fn visit_str<E>(self, text: &str) -> Result<(), E> {
        *self.0 = Some(ErrorMember::Text(Cow::Owned(text.to_owned())));
        Ok(())
    }

    fn visit_u64<E>(self, n: u64) -> Result<(), E> {
        *self.0 = Some(ErrorMember::Text(Cow::Owned(n.to_string())));
        Ok(())
    }

    fn visit_i64<E>(self, n: i64) -> Result<(), E> {
        *self.0 = Some(ErrorMember::Text(Cow::Owned(n.to_string())));
        Ok(())
    }

    fn visit_f64<E>(self, n: f64) -> Result<(), E> {
        *self.0 = Some(ErrorMember::Text(Cow::Owned(n.to_string())));
        Ok(())
    }

    fn visit_bool<E>(self, _: bool) -> Result<(), E> {
        *self.0 = Some(ErrorMember::Other);
        Ok(())
    }

    fn visit_unit<E>(self) -> Result<(), E> {
        *self.0 = Some(ErrorMember::Other);
        Ok(())
    }

    fn visit_seq<A: serde::de::SeqAccess<'de>>(self, mut seq: A) -> Result<(), A::Error> {
        while seq.next_element::<serde::de::IgnoredAny>()?.is_some() {}
        *self.0 = Some(ErrorMember::Other);
        Ok(())
    }
}

/// A raw JSON value as a string: strings as themselves, numbers as written,
/// anything else `None`.
#[inline]
fn string(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    // Most slots are empty: that check is inlined, the rest is not.
    string_of(raw?)
}

fn string_of(raw: &RawValue) -> Option<Cow<'_, str>> {
    let raw = raw.get();
    match raw.as_bytes().first()? {
        // A string without escapes is its own text: no second parse.
        b'"' if raw.len() >= 2 && !raw.contains('\\') => {
            Some(Cow::Borrowed(&raw[1..raw.len() - 1]))
        }
        b'"' => serde_json::from_str::<Cow<'_, str>>(raw).ok(),
        b'-' | b'0'..=b'9' => Some(Cow::Borrowed(raw)),
        _ => None,
    }
}

fn is_false(raw: Option<&RawValue>) -> bool {
    raw.is_some_and(|r| r.get() == "false")
}

fn object(raw: Option<&RawValue>) -> Option<Inner<'_>> {
    let raw = raw?;
    if !raw.get().starts_with('{') {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

fn value(raw: Option<&RawValue>) -> Option<serde_json::Value> {
    let raw = raw?;
    if raw.get() == "null" {
        return None;
    }
    serde_json::from_str(raw.get()).ok()
}

// One cascade, in the order shapes are told apart: reads best in one place.
#[allow(clippy::too_many_lines)]
fn read_json<'a>(seen: &Seen<'_>, body: &'a [u8], found: &mut Found<'a>) -> Option<Format> {
    let text = core::str::from_utf8(body).ok()?;
    if text.starts_with('[') {
        // A list at the top: read its first object, if any.
        let list: Vec<&RawValue> = serde_json::from_str(text).ok()?;
        let first = list.first()?.get();
        return read_json(seen, first.as_bytes(), found).or(Some(Format::Json));
    }
    let mut top = Top::default();
    let unknown = match read_top(text, &mut top, Read::Fast) {
        Some(unknown) => unknown,
        // Not JSON, or a retry-after number out of a float's range: read
        // again taking retry-after values as written, so that such a
        // number costs the hint and not the body.
        None => {
            top = Top::default();
            read_top(text, &mut top, Read::Raw)?
        }
    };
    found.request_id = string(top.request_id)
        .or_else(|| string(top.request_id_camel))
        .or_else(|| string(top.debug_id))
        .or_else(|| string(top.trace_id));
    found.retry_after = seconds(top.retry_after).or_else(|| seconds(top.retry_after_camel));

    // AWS JSON: `__type` names the exception, maybe behind a namespace.
    if let Some(kind) = string(top.aws_type) {
        let code = kind
            .rsplit('#')
            .next()
            .unwrap_or(&kind)
            .split(':')
            .next()
            .unwrap_or(&kind)
            .to_owned();
        found.code = Some(Cow::Owned(code));
        found.message = string(top.message).or_else(|| string(top.message_aws));
        return Some(Format::Aws);
    }

    // `error` is an object: the nested family.
    // Matched in place: the object's slots are a few hundred bytes.
    if let Some(ErrorMember::Object(inner)) = &mut top.error {
        found.code = string(inner.code)
            .filter(|c| !c.starts_with(|ch: char| ch.is_ascii_digit()))
            .or_else(|| {
                string(inner.status).filter(|s| !s.starts_with(|ch: char| ch.is_ascii_digit()))
            })
            .or_else(|| string(inner.kind))
            .or_else(|| string(inner.code));
        found.message = string(inner.message);
        found.details = inner.details_value.take().or_else(|| value(top.details));
        let inner_request_id = object(inner.ms_inner_error)
            .and_then(|e| string(e.request_id_dash).or_else(|| string(e.request_id)));
        found.request_id = string(inner.request_id)
            .or_else(|| string(inner.request_id_camel))
            .or(inner_request_id)
            .or(found.request_id.take());
        found.retry_after = seconds(inner.retry_after)
            .or_else(|| {
                found
                    .details
                    .as_ref()
                    .and_then(|d| d.get("retry_after"))
                    .and_then(json_seconds)
            })
            .or(found.retry_after);
        return Some(if is_false(top.success) {
            Format::Success
        } else {
            Format::Nested
        });
    }

    // `error` is a string.
    if let Some(ErrorMember::Text(error)) = &mut top.error {
        let error = core::mem::take(error);
        if is_false(top.ok) {
            found.code = Some(error);
            return Some(Format::Slack);
        }
        if top.code.is_some() {
            found.code = string(top.code);
            found.message = Some(error);
            found.details = value(top.details);
            return Some(Format::Flat);
        }
        if let Some(description) = string(top.error_description) {
            found.code = Some(error);
            found.message = Some(description);
            return Some(Format::Plain);
        }
        found.message = Some(error);
        return Some(Format::Plain);
    }

    // RFC 9457: by content type, or by its members.
    let problem_type = seen
        .content_type
        .is_some_and(|v| v.len() >= 24 && v[..24].eq_ignore_ascii_case("application/problem+json"));
    if problem_type
        || ((top.kind.is_some() || top.title.is_some())
            && (top.detail.is_some() || top.status.is_some()))
    {
        let kind = string(top.kind).filter(|k| k != "about:blank");
        found.code = string(top.code).or(kind);
        found.message = string(top.detail).or_else(|| string(top.title));
        found.details = if unknown > 0 {
            problem_extensions(text)
        } else {
            None
        };
        return Some(Format::Problem);
    }

    // A list of errors.
    if let Some(errors) = top.errors.filter(|e| e.get().starts_with('[')) {
        if let Some(format) = read_error_list(&top, errors, found) {
            return Some(format);
        }
    }

    if let Some(message) = top.message.or(top.message_aws) {
        found.message = message_text(message);
        found.code = string(top.code)
            .or_else(|| string(top.id))
            .or_else(|| string(top.error_code))
            .or_else(|| string(top.error_code_camel));
        found.details = value(top.details);
        if found.code.is_none() {
            // PayPal: the class in `name`, the specific issue in details.
            let issue = top
                .details
                .filter(|d| d.get().starts_with('['))
                .and_then(|d| serde_json::from_str::<Vec<&RawValue>>(d.get()).ok())
                .and_then(|list| list.first().copied().and_then(|first| object(Some(first))))
                .and_then(|first| string(first.issue).map(|i| Cow::Owned(i.into_owned())));
            found.code = issue.or_else(|| string(top.name));
        }
        return Some(Format::Message);
    }

    if let Some(messages) = top.error_messages {
        if let Ok(list) = serde_json::from_str::<Vec<String>>(messages.get()) {
            found.message = list.first().cloned().map(Cow::Owned);
            found.errors = list;
        }
        return Some(Format::Message);
    }
    found.message = string(top.detail).or_else(|| string(top.title));
    found.code = string(top.code).or_else(|| string(top.error_code));
    Some(Format::Json)
}

/// Reads a top-level object into `top`; how many members no slot takes.
// Always inlined: the fast read is a quarter of a small body's parse, and
// the compiler keeps a function called twice out of line.
#[allow(clippy::inline_always)]
#[inline(always)]
fn read_top<'a>(text: &'a str, top: &mut Top<'a>, read: Read) -> Option<usize> {
    let mut reader = serde_json::Deserializer::from_str(text);
    let unknown = serde::de::DeserializeSeed::deserialize(TopSeed(top, read), &mut reader).ok()?;
    reader.end().ok()?;
    Some(unknown)
}

fn json_seconds(value: &serde_json::Value) -> Option<Duration> {
    let secs = value.as_f64().or_else(|| value.as_str()?.parse().ok())?;
    Duration::try_from_secs_f64(secs).ok()
}

/// `{"errors":[...]}`: strings (seed 002), JSON:API, GraphQL, Cloudflare,
/// GitHub validation.
fn read_error_list<'a>(
    top: &Top<'a>,
    errors: &'a RawValue,
    found: &mut Found<'a>,
) -> Option<Format> {
    if let Ok(list) = serde_json::from_str::<Vec<String>>(errors.get()) {
        found.message = if list.is_empty() {
            None
        } else {
            Some(Cow::Owned(list.join("; ")))
        };
        found.errors = list;
        return Some(Format::Plain);
    }
    let list: Vec<&'a RawValue> = serde_json::from_str(errors.get()).ok()?;
    let first = object(list.first().copied())?;
    let top_message = top.message.and_then(message_text);
    if first.title.is_some() || first.detail.is_some() || string(first.status).is_some() {
        found.code = string(first.code).or_else(|| string(first.title));
        found.message = string(first.detail).or_else(|| string(first.title));
        found.errors = collect(&list, |e| string(e.detail).or_else(|| string(e.title)));
        return Some(Format::JsonApi);
    }
    if first.message.is_some()
        && (first.extensions.is_some() || first.locations.is_some() || first.path.is_some())
    {
        found.code = object(first.extensions).and_then(|ext| string(ext.code));
        found.message = string(first.message);
        found.errors = collect(&list, |e| string(e.message));
        return Some(Format::GraphQl);
    }
    found.code = string(first.code);
    found.message = top_message.or_else(|| string(first.message));
    found.errors = collect(&list, |e| string(e.message));
    Some(if top.message.is_some() {
        Format::Message
    } else {
        Format::ErrorList
    })
}

fn collect<'a>(
    list: &[&'a RawValue],
    get: impl Fn(Inner<'a>) -> Option<Cow<'a, str>>,
) -> Vec<String> {
    list.iter()
        .take(64)
        .filter_map(|raw| object(Some(raw)))
        .filter_map(get)
        .map(Cow::into_owned)
        .collect()
}

/// A `message` that is a string, a list of strings, or GitLab's map of
/// field to messages (`{"bio":["is too long"]}` reads "bio is too long").
fn message_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    if let Some(text) = string(Some(raw)) {
        return Some(text);
    }
    match serde_json::from_str::<serde_json::Value>(raw.get()).ok()? {
        serde_json::Value::Array(items) => {
            let texts: Vec<&str> = items.iter().filter_map(serde_json::Value::as_str).collect();
            (!texts.is_empty()).then(|| Cow::Owned(texts.join("; ")))
        }
        serde_json::Value::Object(map) => {
            let (field, messages) = map.into_iter().next()?;
            let first = match messages {
                serde_json::Value::String(text) => text,
                serde_json::Value::Array(items) => items
                    .into_iter()
                    .find_map(|i| i.as_str().map(str::to_owned))?,
                _ => return None,
            };
            Some(Cow::Owned(format!("{field} {first}")))
        }
        _ => None,
    }
}

/// RFC 9457 extension members: everything but the standard ones, which is
/// what rebuff's own `Problem` envelope puts its details in.
fn problem_extensions(text: &str) -> Option<serde_json::Value> {
    let serde_json::Value::Object(mut map) = serde_json::from_str(text).ok()? else {
        return None;
    };
    map.retain(|key, _| !crate::envelope::PROBLEM_MEMBERS.contains(&key.as_str()));
    (!map.is_empty()).then_some(serde_json::Value::Object(map))
}

#[cfg(test)]
mod tests {
    use serde::de::DeserializeSeed as _;
    use serde::de::value::{Error as ValueError, MapDeserializer};

    use super::*;

    /// A number as `serde_json` hands it over when `arbitrary_precision` is on
    /// somewhere in the build: a one-entry map.
    fn arbitrary_precision(
        text: &'static str,
    ) -> MapDeserializer<'static, std::vec::IntoIter<(&'static str, &'static str)>, ValueError>
    {
        MapDeserializer::new(vec![(NUMBER_TOKEN, text)].into_iter())
    }

    #[test]
    fn numbers_handed_over_as_maps_still_read() {
        let seconds = RetryAfterSecs::deserialize(arbitrary_precision("60")).unwrap();
        assert_eq!(seconds.0, Some(Duration::from_secs(60)));
        let seconds = RetryAfterSecs::deserialize(arbitrary_precision("1.5")).unwrap();
        assert_eq!(seconds.0, Some(Duration::from_millis(1500)));
        // Any other object is no hint.
        let other = MapDeserializer::<_, ValueError>::new(vec![("s", "60")].into_iter());
        assert_eq!(RetryAfterSecs::deserialize(other).unwrap().0, None);

        let mut error = None;
        ErrorSeed(&mut error, Read::Fast)
            .deserialize(arbitrary_precision("404"))
            .unwrap();
        assert!(
            matches!(&error, Some(ErrorMember::Text(text)) if text == "404"),
            "an `error` number is its text, not an empty object"
        );
    }

    #[test]
    fn raw_and_fast_reads_agree() {
        for value in [
            "60",
            "1.5",
            r#""60""#,
            r#""\u0036""#,
            r#""1.5""#,
            "-5",
            "null",
            r#""soon""#,
            "[1]",
            r#"{"a":1}"#,
            "true",
        ] {
            let raw: &RawValue = serde_json::from_str(value).unwrap();
            let fast: RetryAfterSecs = serde_json::from_str(value).unwrap();
            assert_eq!(RetryAfterSecs::from_raw(raw).0, fast.0, "{value}");
        }
    }
}
