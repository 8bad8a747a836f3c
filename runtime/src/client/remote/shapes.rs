//! The shapes of public APIs' error bodies: which members a body's shape
//! is told by, and which of them mean the code, the message, the details,
//! the request id and the retry-after hint.
//!
//! Teaching the parser a new shape happens here: a [`Format`] for it, the
//! members it reads in the slot tables ([`Top`], [`Inner`]), and a step in
//! the cascade of [`read_json`]. Reading the members is `json`'s work.

use core::time::Duration;
use std::borrow::Cow;

use serde_json::value::RawValue;

use super::json::{
    self, Member, RetryAfterSecs, Slot, Slots, is_false, json_seconds, seconds, string, value,
};
use super::text;

/// The shape an error body was recognised as.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
#[non_exhaustive]
pub enum Format {
    /// `{"error":{"code","message","details",...}}`: the nested envelope,
    /// Stripe, OpenAI, Anthropic, Google, Microsoft Graph.
    Nested,
    /// `{"success":false,"error":{...},"request_id",...}`: the success envelope.
    Success,
    /// `{"error":"..."}` or `{"errors":["..."]}`: the plain envelope.
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
    /// An XML error document (S3, Twilio's legacy API).
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

/// Lets the lenient reader (of objects that are almost JSON) fill the
/// same fields.
pub(super) fn found_setter<'f>(found: &'f mut Found<'_>) -> impl FnMut(&str, String) + 'f {
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

/// What an XML error document (S3, Twilio's legacy API) says: its `Code`,
/// `Message` and `RequestId` elements.
pub(super) fn read_xml(document: &str, found: &mut Found<'_>) {
    found.code = text::tag(document, "Code").map(Cow::Owned);
    found.message = text::tag(document, "Message").map(Cow::Owned);
    found.request_id = text::tag(document, "RequestId").map(Cow::Owned);
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

impl<'a> Slots<'a> for Top<'a> {
    type Nested = ErrorObject<'a>;

    /// The slot of a member, or `None` for a member no format reads.
    fn slot(&mut self, key: &str) -> Option<Slot<'_, 'a, ErrorObject<'a>>> {
        Some(Slot::Raw(match key {
            "error" => return Some(Slot::Object(&mut self.error)),
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
            // RFC 9457's own, read by no shape: not an extension member.
            "instance" => return Some(Slot::Skip),
            _ => return None,
        }))
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
    /// family's `error` ([`ErrorObject`]), whose details are always kept.
    details_value: Option<serde_json::Value>,
}

impl<'a> Slots<'a> for Inner<'a> {
    type Nested = Self;

    fn slot(&mut self, key: &str) -> Option<Slot<'_, 'a, Self>> {
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
}

/// The nested family's `error` object: an [`Inner`] whose `details` are
/// parsed in the same pass rather than kept raw.
#[derive(Default)]
struct ErrorObject<'a>(Inner<'a>);

impl<'a> Slots<'a> for ErrorObject<'a> {
    type Nested = Inner<'a>;

    fn slot(&mut self, key: &str) -> Option<Slot<'_, 'a, Inner<'a>>> {
        match key {
            "details" => Some(Slot::Value(&mut self.0.details_value)),
            _ => self.0.slot(key),
        }
    }
}

/// A top-level `error` member: an object (the nested family), a string or
/// number (its message or code), or anything else.
type ErrorMember<'a> = Member<'a, ErrorObject<'a>>;

/// A raw JSON object's members, as an entry of an `errors` list or an object
/// inside one reads them.
fn object(raw: Option<&RawValue>) -> Option<Inner<'_>> {
    json::object(raw)
}

/// Reads a JSON body into `found`, and says which shape it has; `None` if
/// it is not JSON. `content_type` is the response's.
// One cascade, in the order shapes are told apart: reads best in one place.
#[allow(clippy::too_many_lines)]
pub(super) fn read_json<'a>(
    content_type: Option<&str>,
    body: &'a [u8],
    found: &mut Found<'a>,
) -> Option<Format> {
    let text = core::str::from_utf8(body).ok()?;
    if text.starts_with('[') {
        // A list at the top: read its first object, if any.
        let list: Vec<&RawValue> = serde_json::from_str(text).ok()?;
        let first = list.first()?.get();
        return read_json(content_type, first.as_bytes(), found).or(Some(Format::Json));
    }
    let mut top = Top::default();
    let unknown = json::read_object(text, &mut top)?;
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
    if let Some(ErrorMember::Object(ErrorObject(inner))) = &mut top.error {
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
    let problem_type = content_type
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

/// `{"errors":[...]}`: strings (the plain envelope), JSON:API, GraphQL, Cloudflare,
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
