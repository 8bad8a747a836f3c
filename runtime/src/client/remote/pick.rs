//! The precedence rules: which of an object's members is the code, the
//! message, the request id and the retry hint. They read what a value
//! looks like (a token or prose, a number, a link to the HTTP
//! specification), never which vendor sent it. The table they implement is
//! in the `client` module's documentation.

use core::fmt;
use core::time::Duration;
use std::borrow::Cow;

use http::StatusCode;
use serde::Deserialize;
use serde_json::value::RawValue;

use super::fields::{Fields, bit, object};
use super::json::{self, Key, drain, json_seconds, seconds, string};

/// What a string value looks like.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Look {
    /// Digits only (with a sign): a numeric code, often the HTTP status again.
    Number,
    /// A token that names something (`card_declined`, `NotFound`,
    /// `E0000011`, `14_030`): no whitespace, starting with a letter, a
    /// digit or `_`, not a number, not a link.
    Name,
    /// Anything else: text for people, a link, nothing.
    Other,
}

/// One pass over the bytes, stopping at the first whitespace (most prose
/// has some within its first few bytes).
fn look(text: &str) -> Look {
    let bytes = text.as_bytes();
    if bytes.is_empty() || bytes.len() > 128 {
        return Look::Other;
    }
    if bytes.iter().any(u8::is_ascii_whitespace) {
        return Look::Other;
    }
    let digits = bytes.strip_prefix(b"-").unwrap_or(bytes);
    if !digits.is_empty() && digits.iter().all(u8::is_ascii_digit) {
        Look::Number
    } else if !(bytes[0].is_ascii_alphanumeric() || bytes[0] == b'_') || text.contains("://") {
        Look::Other
    } else {
        Look::Name
    }
}

/// A value that names something: see [`Look::Name`].
pub(super) fn name_like(text: &str) -> bool {
    look(text) == Look::Name
}

/// Whether a top-level `error` string is a code: a number, or a name that
/// is not just the status's reason phrase (`"Unauthorized"` on a 401 is
/// the status said again, and reads as the message).
pub(super) fn error_is_code(error: &str, status: StatusCode) -> bool {
    match look(error) {
        Look::Number => true,
        Look::Name => !status
            .canonical_reason()
            .is_some_and(|reason| reason.eq_ignore_ascii_case(error)),
        Look::Other => false,
    }
}

/// A name-like member as the code.
#[inline]
fn named(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    string(raw).filter(|text| name_like(text))
}

/// Where the object sits: the body's top level or an error object (nested,
/// or an entry of a list). At the top level, `type` is an object's kind
/// (`"error.list"`, `"error"`) and `status` the outcome (`"error"`,
/// `"Failure"`), so neither is read as a code.
#[derive(Clone, Copy, PartialEq, Eq)]
pub(super) enum Level {
    Top,
    Error,
}

/// The code of an object, first match wins:
///
/// 1. a name-like `code`, then `error_code` / `errorCode`;
/// 2. (error objects) a name-like `status` (`"RESOURCE_EXHAUSTED"`);
/// 3. a name-like `reason`, `category`, `id`;
/// 4. the `issue` of the first entry of `details` (PayPal's specific issue);
/// 5. a name-like `name`, then (error objects) `type`;
/// 6. (error objects) a `message` that starts with its own code
///    ([`message_code`]);
/// 7. the first entry of `errors`: its name-like `reason` or `code`;
/// 8. the first of `error_codes`;
/// 9. the name-like `errorcode` of a `detail` object (Apigee's faults);
/// 10. a numeric `code`, then `error_code`.
#[inline]
pub(super) fn code<'a>(f: &Fields<'a>, level: Level) -> Option<Cow<'a, str>> {
    // Most objects have one of these or none: the empty case is inlined.
    const CODES: u32 = bit::CODE
        | bit::ERROR_CODE
        | bit::STATUS
        | bit::REASON
        | bit::CATEGORY
        | bit::ID
        | bit::DETAILS
        | bit::NAME
        | bit::KIND
        | bit::ERRORS
        | bit::ERROR_CODES
        | bit::DETAIL;
    let none = f.filled & CODES == 0;
    if none { None } else { code_of(f, level) }
}

fn code_of<'a>(f: &Fields<'a>, level: Level) -> Option<Cow<'a, str>> {
    let error = level == Level::Error;
    named(f.code)
        .or_else(|| named(f.error_code))
        .or_else(|| if error { named(f.status) } else { None })
        .or_else(|| named(f.reason))
        .or_else(|| named(f.category))
        .or_else(|| named(f.id))
        .or_else(|| first_entry(f.details).and_then(|first| string(first.issue)))
        .or_else(|| named(f.name))
        .or_else(|| if error { named(f.kind) } else { None })
        .or_else(|| if error { message_code(f.message) } else { None })
        .or_else(|| {
            first_entry(f.errors).and_then(|first| named(first.reason).or(named(first.code)))
        })
        .or_else(|| first_string(f.error_codes))
        .or_else(|| detail_code(f.detail))
        .or_else(|| string(f.code))
        .or_else(|| string(f.error_code))
}

/// The code a message starts with, as Firebase writes them: a message that
/// is one upper-case token with an underscore (`"EMAIL_EXISTS"`), alone or
/// followed by a colon and the text (`"WEAK_PASSWORD : Password should be
/// at least 6 characters"`).
fn message_code(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let text = string(raw)?;
    let end = text
        .bytes()
        .position(|b| !(b.is_ascii_uppercase() || b.is_ascii_digit() || b == b'_'))
        .unwrap_or(text.len());
    let head = &text.as_bytes()[..end];
    let coded = end >= 3 && head[0].is_ascii_uppercase() && head.contains(&b'_');
    let rest = text[end..].trim_start();
    if !(coded && (rest.is_empty() || rest.starts_with(':'))) {
        return None;
    }
    Some(match text {
        Cow::Borrowed(text) => Cow::Borrowed(&text[..end]),
        Cow::Owned(text) => Cow::Owned(text[..end].to_owned()),
    })
}

/// A message without the code it starts with (`"E1: Card declined"` with
/// code `E1` reads `"Card declined"`): the code is said apart.
pub(super) fn without_code<'t>(message: &'t str, code: Option<&str>) -> &'t str {
    code.and_then(|code| message.strip_prefix(code))
        .and_then(|rest| rest.trim_start().strip_prefix(':'))
        .map(str::trim)
        .filter(|rest| !rest.is_empty())
        .unwrap_or(message)
}

/// The code in a `detail` object (`{"detail":{"errorcode":"..."}}`).
#[inline]
fn detail_code(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    let raw = raw.filter(|r| r.get().starts_with('{'))?;
    let detail: Fields<'_> = object(Some(raw))?;
    named(detail.error_code)
}

/// The message of an object, first match wins: `message` (a string, a list
/// of strings, or an object keyed by field), the text under another name
/// (`error_description`, `description`, `errorSummary`, `msg`, ...),
/// `detail` (a string), `title`, `reason` when it is prose, the first of
/// `errorMessages`.
#[inline]
pub(super) fn message<'a>(f: &Fields<'a>) -> Option<Cow<'a, str>> {
    const TEXTS: u32 = bit::MESSAGE
        | bit::DESCRIPTION
        | bit::DETAIL
        | bit::TITLE
        | bit::REASON
        | bit::ERROR_MESSAGES;
    let none = f.filled & TEXTS == 0;
    if none { None } else { message_of(f) }
}

fn message_of<'a>(f: &Fields<'a>) -> Option<Cow<'a, str>> {
    f.message
        .and_then(message_text)
        .or_else(|| string(f.description))
        .or_else(|| string(f.detail).filter(|_| is_string(f.detail)))
        .or_else(|| string(f.title))
        .or_else(|| string(f.reason).filter(|r| look(r) == Look::Other))
        .or_else(|| first_string(f.error_messages))
}

/// The request id of an error object: its own member, else the one inside
/// its `innerError` (Microsoft Graph).
pub(super) fn request_id<'a>(f: &Fields<'a>) -> Option<Cow<'a, str>> {
    string(f.request_id()).or_else(|| {
        let inner = object(f.inner_error)?;
        string(inner.request_id())
    })
}

/// The retry hint of an object: its own `retry_after` / `retryAfter` /
/// `retryDelay`, else the `retry_after` of its `parameters` (Telegram).
pub(super) fn retry_after(f: &Fields<'_>) -> Option<Duration> {
    seconds(f.retry_after).or_else(|| seconds(object(f.parameters)?.retry_after))
}

/// The retry hint in parsed `details`: a `retry_after` member of an object,
/// or a gRPC `google.rpc.RetryInfo` entry of a list (`retryDelay`, a
/// protobuf `Duration` such as `"30s"`).
pub(super) fn details_retry_after(details: &serde_json::Value) -> Option<Duration> {
    const KEYS: [&str; 3] = ["retry_after", "retryAfter", "retryDelay"];
    match details {
        serde_json::Value::Object(map) => KEYS
            .iter()
            .find_map(|key| map.get(*key))
            .and_then(json_seconds),
        serde_json::Value::Array(items) => items.iter().take(16).find_map(|item| {
            KEYS.iter()
                .find_map(|key| item.get(*key))
                .and_then(json_seconds)
        }),
        _ => None,
    }
}

/// A `message` that is a string, a list of strings (joined), or an object
/// keyed by field ([`field_message`]).
pub(super) fn message_text(raw: &RawValue) -> Option<Cow<'_, str>> {
    if let Some(text) = string(Some(raw)) {
        return Some(text);
    }
    match raw.get().as_bytes().first()? {
        b'[' => {
            let items: Vec<serde_json::Value> = serde_json::from_str(raw.get()).ok()?;
            let texts: Vec<&str> = items.iter().filter_map(serde_json::Value::as_str).collect();
            (!texts.is_empty()).then(|| Cow::Owned(texts.join("; ")))
        }
        b'{' => odata_text(raw.get())
            .or_else(|| field_message(raw.get()))
            .map(Cow::Owned),
        _ => None,
    }
}

/// A localised message, `{"lang": "en-US", "value": "..."}`, as the
/// `OData` services of Microsoft and SAP write it: its `value`, without
/// the `RequestId:` and `Time:` lines Azure Storage ends it with.
fn odata_text(raw: &str) -> Option<String> {
    #[derive(Deserialize)]
    struct Localised {
        #[serde(rename = "lang")]
        _lang: serde::de::IgnoredAny,
        value: String,
    }
    let localised: Localised = serde_json::from_str(raw).ok()?;
    if localised.value.contains('\n') {
        return super::text::prose_and_request_id(&localised.value).0;
    }
    (!localised.value.is_empty()).then_some(localised.value)
}

/// The first field's first message of an object keyed by field name: a
/// fragment reads after the field (`"email can't be blank"`), a sentence
/// after a colon (`"email: This field is required."`).
pub(super) fn field_message(raw: &str) -> Option<String> {
    first_field_message(raw, false).map(field_text)
}

/// [`field_message`] of a whole body, read only when the body is nothing
/// but fields and their messages (every member a string or a list of
/// strings, as Django REST framework and Rails send them): any other
/// member (a number, an object, a list of objects) says the body is of
/// another shape, whose strings (a time, an outcome) are no message.
pub(super) fn field_map_message(raw: &str) -> Option<String> {
    first_field_message(raw, true).map(field_text)
}

fn field_text((field, message): (String, String)) -> String {
    let fragment = message.starts_with(|c: char| c.is_lowercase());
    if fragment {
        format!("{field} {message}")
    } else {
        format!("{field}: {message}")
    }
}

/// Whether a problem document's `type` only points at the HTTP
/// specification's definition of the status (as ASP.NET Core's do): it says
/// no more than the status.
pub(super) fn is_status_link(kind: &str) -> bool {
    kind.contains("#section-")
        && (kind.contains("ietf.org/") || kind.contains("rfc-editor.org/"))
        && kind.contains("rfc")
}

fn is_string(raw: Option<&RawValue>) -> bool {
    raw.is_some_and(|r| r.get().starts_with('"'))
}

/// The first entry of a list, as [`Fields`].
#[inline]
pub(super) fn first_entry(raw: Option<&RawValue>) -> Option<Fields<'_>> {
    // Most slots are empty: that check is inlined, the rest is not.
    first_entry_of(raw?)
}

fn first_entry_of<'a>(raw: &'a RawValue) -> Option<Fields<'a>> {
    let raw = Some(raw).filter(|r| r.get().starts_with('['))?;
    let list: Vec<&'a RawValue> = serde_json::from_str(raw.get()).ok()?;
    object(list.first().copied())
}

/// The first string of a list (`["payment_source_required"]`).
#[inline]
fn first_string(raw: Option<&RawValue>) -> Option<Cow<'_, str>> {
    first_string_of(raw?)
}

fn first_string_of(raw: &RawValue) -> Option<Cow<'_, str>> {
    let raw = Some(raw).filter(|r| r.get().starts_with('['))?;
    let list: Vec<&RawValue> = serde_json::from_str(raw.get()).ok()?;
    json::string(list.first().copied())
}

/// The first member of an object keyed by field name whose value is a
/// message or a list of them (`{"email":["can't be blank"]}`): the field
/// and its first message. Other members are skipped, unless `strict`, where
/// any makes it `None`.
fn first_field_message(raw: &str, strict: bool) -> Option<(String, String)> {
    struct Visit {
        strict: bool,
    }
    impl<'de> serde::de::Visitor<'de> for Visit {
        type Value = Option<(String, String)>;
        fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
            f.write_str("an object of field messages")
        }
        fn visit_map<M: serde::de::MapAccess<'de>>(
            self,
            mut map: M,
        ) -> Result<Self::Value, M::Error> {
            let mut first = None;
            while let Some(Key(field)) = map.next_key()? {
                let messages: FieldMessages = map.next_value()?;
                if self.strict && !messages.texts_only {
                    drain(&mut map)?;
                    return Ok(None);
                }
                if let (None, Some(text)) = (&first, messages.first) {
                    first = Some((field.into_owned(), text));
                    if !self.strict {
                        drain(&mut map)?;
                        break;
                    }
                }
            }
            Ok(first)
        }
    }
    let mut reader = serde_json::Deserializer::from_str(raw);
    serde::Deserializer::deserialize_map(&mut reader, Visit { strict }).ok()?
}

/// A field's messages: a string, or the first string of a list (`first`
/// is `None` for anything else); `texts_only` if the value was a string or
/// a list holding only strings.
struct FieldMessages {
    first: Option<String>,
    texts_only: bool,
}

impl FieldMessages {
    const OTHER: Self = FieldMessages {
        first: None,
        texts_only: false,
    };
}

impl<'de> Deserialize<'de> for FieldMessages {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> Result<Self, D::Error> {
        struct Visit;
        impl<'de> serde::de::Visitor<'de> for Visit {
            type Value = FieldMessages;
            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("field messages")
            }
            fn visit_str<E>(self, text: &str) -> Result<FieldMessages, E> {
                Ok(FieldMessages {
                    first: Some(text.to_owned()),
                    texts_only: true,
                })
            }
            fn visit_seq<A: serde::de::SeqAccess<'de>>(
                self,
                mut seq: A,
            ) -> Result<FieldMessages, A::Error> {
                let mut first = None;
                let mut texts_only = true;
                while let Some(item) = seq.next_element::<serde_json::Value>()? {
                    match item {
                        serde_json::Value::String(text) => {
                            first.get_or_insert(text);
                        }
                        _ => texts_only = false,
                    }
                }
                Ok(FieldMessages { first, texts_only })
            }
            fn visit_map<M: serde::de::MapAccess<'de>>(
                self,
                mut map: M,
            ) -> Result<FieldMessages, M::Error> {
                drain(&mut map)?;
                Ok(FieldMessages::OTHER)
            }
            fn visit_bool<E>(self, _: bool) -> Result<FieldMessages, E> {
                Ok(FieldMessages::OTHER)
            }
            fn visit_i64<E>(self, _: i64) -> Result<FieldMessages, E> {
                Ok(FieldMessages::OTHER)
            }
            fn visit_u64<E>(self, _: u64) -> Result<FieldMessages, E> {
                Ok(FieldMessages::OTHER)
            }
            fn visit_f64<E>(self, _: f64) -> Result<FieldMessages, E> {
                Ok(FieldMessages::OTHER)
            }
            fn visit_unit<E>(self) -> Result<FieldMessages, E> {
                Ok(FieldMessages::OTHER)
            }
        }
        deserializer.deserialize_any(Visit)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn values_look_like_names_numbers_or_prose() {
        for name in [
            "card_declined",
            "NotFound",
            "E0000011",
            "14_030",
            "api.context.x",
        ] {
            assert_eq!(look(name), Look::Name, "{name}");
        }
        for number in ["404", "-1", "000"] {
            assert_eq!(look(number), Look::Number, "{number}");
        }
        for other in ["", "Not Found", "https://example.com/x", "-", "a\tb"] {
            assert_eq!(look(other), Look::Other, "{other:?}");
        }
        assert!(error_is_code("invalid_grant", StatusCode::BAD_REQUEST));
        assert!(error_is_code("403", StatusCode::FORBIDDEN));
        assert!(!error_is_code("Unauthorized", StatusCode::UNAUTHORIZED));
        assert!(!error_is_code("not found", StatusCode::NOT_FOUND));
    }

    #[test]
    fn a_message_may_start_with_its_code() {
        let raw = |json: &str| RawValue::from_string(json.to_owned()).unwrap();
        for (message, code) in [
            (r#""EMAIL_EXISTS""#, Some("EMAIL_EXISTS")),
            (
                r#""WEAK_PASSWORD : Password is short""#,
                Some("WEAK_PASSWORD"),
            ),
            (r#""INVALID_ID_TOKEN: expired""#, Some("INVALID_ID_TOKEN")),
            (r#""Not found""#, None),
            (r#""NOTFOUND""#, None),
            (r#""API_KEY invalid""#, None),
            (r#""_X_: y""#, None),
            (r#""A_\u0042""#, Some("A_B")),
        ] {
            let raw = raw(message);
            assert_eq!(message_code(Some(&raw)).as_deref(), code, "{message}");
        }
        assert_eq!(
            without_code("E1: Card declined", Some("E1")),
            "Card declined"
        );
        assert_eq!(
            without_code("E1 : Card declined", Some("E1")),
            "Card declined"
        );
        assert_eq!(without_code("E1:", Some("E1")), "E1:");
        assert_eq!(without_code("E12 left", Some("E1")), "E12 left");
        assert_eq!(without_code("Card declined", None), "Card declined");
    }

    #[test]
    fn field_messages_read_as_fragments_or_sentences() {
        assert_eq!(
            field_message(r#"{"email":["can't be blank"],"name":["is short"]}"#).as_deref(),
            Some("email can't be blank")
        );
        assert_eq!(
            field_message(r#"{"n":1,"email":"This field is required."}"#).as_deref(),
            Some("email: This field is required.")
        );
        assert_eq!(field_message(r#"{"a":{"b":1},"c":[1]}"#), None);
        assert_eq!(field_message("[1]"), None);
    }

    #[test]
    fn a_whole_body_is_read_as_fields_only_when_it_is_nothing_else() {
        assert_eq!(
            field_map_message(r#"{"non_field_errors":["Invalid token."],"email":"Taken."}"#)
                .as_deref(),
            Some("non_field_errors: Invalid token.")
        );
        // A member of another kind anywhere: the strings are no messages.
        for body in [
            r#"{"time":"2015-01-27T11:17:09","Fault":{"type":"x"}}"#,
            r#"{"status":"fail","data":{"title":"A title is required"}}"#,
            r#"{"err":"Not found","status":404}"#,
            r#"{"email":["can't be blank",{"code":"blank"}]}"#,
        ] {
            assert_eq!(field_map_message(body), None, "{body}");
        }
        // Within another member, other values are skipped.
        assert_eq!(
            field_message(r#"{"n":1,"email":["can't be blank",{"x":1}]}"#).as_deref(),
            Some("email can't be blank")
        );
    }

    #[test]
    fn retry_info_and_details_hints() {
        let details: serde_json::Value = serde_json::from_str(
            r#"[{"@type":"x.Help"},{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"1.500s"}]"#,
        )
        .unwrap();
        assert_eq!(
            details_retry_after(&details),
            Some(Duration::from_millis(1500))
        );
        let object = serde_json::json!({"retry_after": "30"});
        assert_eq!(details_retry_after(&object), Some(Duration::from_secs(30)));
        assert_eq!(
            details_retry_after(&serde_json::json!({"retryDelay": "soon"})),
            None
        );
        assert!(is_status_link(
            "https://tools.ietf.org/html/rfc9110#section-15.5.1"
        ));
        assert!(!is_status_link("https://example.com/probs/out-of-credit"));
    }
}
