//! Telling what an error body is from its first bytes (nothing, JSON, an
//! object that is almost JSON, XML, an HTML page or plain text) and handing
//! it to the reader of that kind.

use std::borrow::Cow;

use super::shapes::{self, Format, Found};
use super::text;

/// Bodies longer than this are not parsed as JSON: their first bytes are
/// kept and read as text.
const MAX_JSON: usize = 1 << 20;

/// Reads `body` into `found`, and says what it is. `content_type` is the
/// response's.
pub(super) fn read_body<'a>(
    content_type: Option<&str>,
    body: &'a [u8],
    found: &mut Found<'a>,
) -> Format {
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Format::Empty;
    }
    if trimmed.len() <= MAX_JSON && matches!(trimmed[0], b'{' | b'[') {
        if let Some(format) = shapes::read_json(content_type, trimmed, found) {
            return format;
        }
        if trimmed[0] == b'{' && text::lenient_object(trimmed, shapes::found_setter(found)) {
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
        shapes::read_xml(&content, found);
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
