//! The shapes of public APIs' error bodies: which members a body's shape
//! is told by, and which of them mean the code, the message, the details,
//! the request id and the retry-after hint.
//!
//! Teaching the parser a new shape happens here: a [`Format`] for it, the
//! members it reads in the slot tables (`fields`), and a step in the
//! cascade of [`read_json`]. Which member wins is `pick`'s; reading the
//! members is `json`'s work.

use core::time::Duration;
use std::borrow::Cow;

use http::StatusCode;
use serde_json::value::RawValue;

use super::fields::{ErrorMember, Fields, Top, object};
use super::json::{self, is_false, string, value};
use super::pick::{self, Level};
use super::{names, text};

/// The shape an error body was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// `{"error":{"code","message","details",...}}`: the nested envelope,
    /// Stripe, OpenAI, Anthropic, Google, Microsoft Graph; also the error
    /// object under `Error`, `fault`, `Fault` or `odata.error`.
    Nested,
    /// `{"success":false,"error":{...},"request_id",...}`: the success envelope.
    Success,
    /// `{"error":"..."}` or `{"errors":["..."]}`: the plain envelope; also
    /// OAuth 2.0's `{"error":"invalid_grant","error_description":"..."}`.
    Plain,
    /// `{"success":false,"error":"...","code":...}`: the flat envelope.
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
    /// An XML error document (S3, Azure Storage, AWS query APIs, Google
    /// Cloud Storage, Twilio's legacy API).
    Xml,
    /// An HTML page, usually from a proxy or load balancer.
    Html,
    /// Plain text.
    Text,
    /// No body.
    Empty,
}

/// What the body yielded: the parts of a [`RemoteError`](super::RemoteError)
/// read from it.
#[derive(Default)]
pub(super) struct Found<'a> {
    pub(super) code: Option<Cow<'a, str>>,
    pub(super) message: Option<Cow<'a, str>>,
    pub(super) details: Option<serde_json::Value>,
    pub(super) errors: Vec<String>,
    pub(super) request_id: Option<Cow<'a, str>>,
    pub(super) retry_after: Option<Duration>,
}

impl Found<'_> {
    /// The same parts, borrowing nothing.
    pub(super) fn into_owned(self) -> Found<'static> {
        let owned = |text: Option<Cow<'_, str>>| text.map(|t| Cow::Owned(t.into_owned()));
        Found {
            code: owned(self.code),
            message: owned(self.message),
            details: self.details,
            errors: self.errors,
            request_id: owned(self.request_id),
            retry_after: self.retry_after,
        }
    }
}

/// Lets the lenient reader (of objects that are almost JSON) fill the
/// same fields.
pub(super) fn found_setter<'f>(found: &'f mut Found<'_>) -> impl FnMut(&str, String) + 'f {
    move |key, value| match key {
        "code" | "id" | "error_code" | "errorCode" => {
            found.code.get_or_insert(Cow::Owned(value));
        }
        "message" | "error" | "detail" | "description" | "error_description" => {
            found.message.get_or_insert(Cow::Owned(value));
        }
        _ if names::request_id_member(key).is_some() => {
            found.request_id.get_or_insert(Cow::Owned(value));
        }
        _ => {}
    }
}

/// What an XML error document says (S3, Azure Storage, AWS query APIs,
/// Google Cloud Storage, Twilio's legacy API): its `Code`, `Message` and
/// `RequestId` (or `RequestID`) elements, wherever they are nested. A
/// message's trailing `Key:value` lines (Azure's `RequestId:` and `Time:`)
/// are data, not text: the request id is taken from them when no element
/// holds it.
pub(super) fn read_xml(document: &str, found: &mut Found<'_>) {
    found.code = text::tag(document, "Code").map(Cow::Owned);
    let (message, trailer_id) = match text::tag_lines(document, "Message") {
        Some(lines) => text::prose_and_request_id(&lines),
        None => (None, None),
    };
    found.message = message.map(Cow::Owned);
    found.request_id = text::tag(document, "RequestId")
        .or_else(|| text::tag(document, "RequestID"))
        .or(trailer_id)
        .map(Cow::Owned);
}

/// Reads a JSON body into `found`, and says which shape it has; `None` if
/// it is not JSON. `content_type` is the response's.
// One cascade, in the order shapes are told apart: reads best in one place.
#[allow(clippy::too_many_lines)]
pub(super) fn read_json<'a>(
    status: StatusCode,
    content_type: Option<&str>,
    body: &'a [u8],
    found: &mut Found<'a>,
) -> Option<Format> {
    let text = core::str::from_utf8(body).ok()?;
    if text.starts_with('[') {
        // A list at the top: read its first object, if any, through at
        // most two levels of lists. Deeper ones are no error's shape, and
        // are not followed: a body of thousands of nested lists must not
        // take the stack with it.
        let mut first = text;
        for _ in 0..2 {
            if !first.starts_with('[') {
                break;
            }
            let list: Vec<&RawValue> = serde_json::from_str(first).ok()?;
            first = list.first()?.get();
        }
        if first.starts_with('[') {
            return Some(Format::Json);
        }
        return read_json(status, content_type, first.as_bytes(), found).or(Some(Format::Json));
    }
    let mut top = Top::default();
    let unknown = json::read_object(text, &mut top)?;
    let f = &top.fields;
    fill(&mut found.request_id, string(f.request_id()));
    found.retry_after = pick::retry_after(f);

    // AWS JSON: `__type` names the exception, maybe behind a namespace.
    if let Some(kind) = string(f.aws_type) {
        let code = kind
            .rsplit('#')
            .next()
            .unwrap_or(&kind)
            .split(':')
            .next()
            .unwrap_or(&kind)
            .to_owned();
        found.code = Some(Cow::Owned(code));
        found.message = string(f.message);
        return Some(Format::Aws);
    }

    // `error` is an object: the nested family.
    // Matched in place: the object's slots are a few hundred bytes.
    if let Some(ErrorMember::Object(inner)) = &mut top.error {
        let e = &inner.fields;
        found.code = pick::code(e, Level::Error);
        // An error object without text of its own: its first entry's
        // (QuickBooks' `Fault`), else the body's beside it (Dropbox's
        // `error_summary`).
        found.message = pick::message(e)
            .or_else(|| pick::first_entry(e.errors).and_then(|first| pick::message(&first)))
            .or_else(|| pick::message(f));
        found.details = inner.details.take().or_else(|| value(f.details));
        found.request_id = pick::request_id(e).or(found.request_id.take());
        found.retry_after = pick::retry_after(e)
            .or_else(|| found.details.as_ref().and_then(pick::details_retry_after))
            .or(found.retry_after);
        return Some(if is_false(top.success) {
            Format::Success
        } else {
            Format::Nested
        });
    }

    // `error` is a string or a number: a code or a message.
    if let Some(ErrorMember::Text(error)) = &mut top.error {
        let error = core::mem::take(error);
        if is_false(top.ok) {
            found.code = Some(error);
            return Some(Format::Slack);
        }
        let coded = pick::error_is_code(&error, status);
        fill(&mut found.details, value(f.details));
        if let Some(text) = pick::message(f) {
            // Another member holds the text: `error` is the code, unless
            // it is prose or the reason phrase.
            found.message = Some(text);
            found.code = if coded {
                Some(error)
            } else {
                pick::code(f, Level::Top)
            };
            return Some(Format::Plain);
        }
        fill(&mut found.code, pick::code(f, Level::Top));
        if found.code.is_some() {
            found.message = Some(error);
            return Some(Format::Flat);
        }
        if coded {
            found.code = Some(error);
        } else {
            found.message = Some(error);
        }
        return Some(Format::Plain);
    }

    // RFC 9457: by content type, or by its members.
    let problem_type = content_type
        .is_some_and(|v| v.len() >= 24 && v[..24].eq_ignore_ascii_case("application/problem+json"));
    // By its members: `type` or `title`, with `detail` or `status`; not a
    // body whose own `message` says what went wrong, with neither `title`
    // nor `detail` (Box's `{"type":"error","status":404,"message":...}`).
    let own_message = f.message.is_some() && f.title.is_none() && f.detail.is_none();
    if problem_type
        || ((f.kind.is_some() || f.title.is_some())
            && (f.detail.is_some() || f.status.is_some())
            && !own_message)
    {
        let kind = string(f.kind).filter(|k| k != "about:blank" && !pick::is_status_link(k));
        found.code = string(f.code).or(kind);
        found.message = string(f.detail).or_else(|| string(f.title));
        found.details = if unknown + top.extensions_read() > 0 {
            problem_extensions(text)
        } else {
            None
        };
        found.retry_after = found
            .retry_after
            .or_else(|| found.details.as_ref().and_then(pick::details_retry_after));
        return Some(Format::Problem);
    }

    // A list of errors (under `errors`, or FastAPI's `detail`).
    if let Some(errors) = f.errors.filter(|e| e.get().starts_with('[')) {
        if let Some(format) = read_error_list(f, errors, found) {
            return Some(format);
        }
    }
    if let Some(errors) = f.detail.filter(|e| e.get().starts_with('[')) {
        if let Some(format) = read_error_list(f, errors, found) {
            return Some(format);
        }
    }

    found.details = value(f.details);
    found.retry_after = found
        .retry_after
        .or_else(|| found.details.as_ref().and_then(pick::details_retry_after));
    found.code = pick::code(f, Level::Top);
    found.message = pick::message(f);
    if found.message.is_none() {
        // `errors` as one message (Shopify's `{"errors":"Exceeded 2 calls
        // per second..."}`).
        found.message = string(f.errors.filter(|e| e.get().starts_with('"')));
    }
    if found.message.is_none() {
        // `errors` as one error object (Phoenix), or keyed by field name.
        if let Some(errors) = f.errors.filter(|e| e.get().starts_with('{')) {
            match object(Some(errors)).as_ref().and_then(pick::message) {
                Some(text) => found.message = Some(Cow::Owned(text.into_owned())),
                None => found.message = pick::field_message(errors.get()).map(Cow::Owned),
            }
        }
    }
    if f.message.is_some() || f.error_messages.is_some() {
        if let Some(list) = f
            .error_messages
            .and_then(|m| serde_json::from_str::<Vec<String>>(m.get()).ok())
        {
            found.errors = list;
        }
        return Some(Format::Message);
    }
    if found.message.is_none() && string(f.status).as_deref() == Some("fail") {
        // JSend's `"fail"`: the rejected fields under `data`.
        if let Some(data) = top.data.filter(|d| d.get().starts_with('{')) {
            found.message = pick::field_message(data.get()).map(Cow::Owned);
        }
    }
    if found.message.is_none() && found.code.is_none() && unknown > 0 {
        // The whole body keyed by field name (Django REST framework, Rails).
        found.message = pick::field_map_message(text).map(Cow::Owned);
    }
    Some(Format::Json)
}

/// Puts `value` into a slot still empty, if there is a value. Writing an
/// empty value over an empty slot was slow: the `None`, stored in part,
/// was copied whole before the CPU had stored it, and the copy waited
/// (three such copies were a tenth of a small body's parse).
#[allow(clippy::inline_always)]
#[inline(always)]
fn fill<T>(slot: &mut Option<T>, value: Option<T>) {
    debug_assert!(slot.is_none());
    if value.is_some() {
        *slot = value;
    }
}

/// `{"errors":[...]}`: strings (the plain envelope), JSON:API, GraphQL,
/// Cloudflare, GitHub validation, and a `detail` list (as `FastAPI` sends).
fn read_error_list<'a>(
    top: &Fields<'a>,
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
    let detail_text = first.detail.is_some_and(|d| d.get().starts_with('"'));
    if first.title.is_some() || detail_text || string(first.status).is_some() {
        found.code = string(first.code).or_else(|| string(first.title));
        found.message = string(first.detail).or_else(|| string(first.title));
        found.errors = collect(&list, |e| string(e.detail).or_else(|| string(e.title)));
        return Some(Format::JsonApi);
    }
    if first.message.is_some()
        && (first.extensions.is_some() || first.locations.is_some() || first.path.is_some())
    {
        // The code in `extensions`, or in `type` (GitHub's).
        found.code = object(first.extensions)
            .and_then(|ext| string(ext.code))
            .or_else(|| string(first.kind).filter(|kind| pick::name_like(kind)));
        found.message = string(first.message);
        found.errors = collect(&list, |e| string(e.message));
        return Some(Format::GraphQl);
    }
    found.code = pick::code(top, Level::Top).or_else(|| pick::code(&first, Level::Error));
    found.message = pick::message(top).or_else(|| pick::message(&first));
    found.errors = collect(&list, |e| pick::message(&e));
    Some(if top.message.is_some() {
        Format::Message
    } else {
        Format::ErrorList
    })
}

fn collect<'a>(
    list: &[&'a RawValue],
    get: impl Fn(Fields<'a>) -> Option<Cow<'a, str>>,
) -> Vec<String> {
    list.iter()
        .take(64)
        .filter_map(|raw| object(Some(raw)))
        .filter_map(get)
        .map(Cow::into_owned)
        .collect()
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
