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
    status: http::StatusCode,
    content_type: Option<&str>,
    body: &'a [u8],
    found: &mut Found<'a>,
) -> Format {
    // A byte-order mark, which some servers put before JSON or XML, is no
    // part of the document.
    let body = body.strip_prefix(b"\xEF\xBB\xBF").unwrap_or(body);
    let trimmed = body.trim_ascii();
    if trimmed.is_empty() {
        return Format::Empty;
    }
    if trimmed.len() <= MAX_JSON && matches!(trimmed[0], b'{' | b'[') {
        if let Some(format) = shapes::read_json(status, content_type, trimmed, found) {
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
    let html = lower_start.contains("<html")
        || lower_start.starts_with("<!doctype")
        || lower_start.starts_with("<head")
        || lower_start.starts_with("<body");
    // XML: declared, or said by the content type, or a root element of a
    // document format (`<Error>`, `<ErrorResponse>`, `<Response>`: XML
    // error documents capitalise their elements; HTML's are lower case).
    let xml_type = content_type.is_some_and(|t| {
        let t = t.to_ascii_lowercase();
        t.contains("xml") && !t.contains("html")
    });
    let xml_root = trimmed.len() > 1 && trimmed[0] == b'<' && trimmed[1].is_ascii_uppercase();
    // An XHTML page declares itself XML too, and is read as a page.
    if (lower_start.starts_with("<?xml") && !html)
        || lower_start.starts_with("<error")
        || (!html && trimmed[0] == b'<' && (xml_type || xml_root))
    {
        let content = content.into_owned();
        shapes::read_xml(&content, found);
        return Format::Xml;
    }
    if html || trimmed[0] == b'<' {
        let page = text::html_error(&content);
        found.code = page.code.map(Cow::Owned);
        found.message = page.message.map(Cow::Owned);
        return Format::Html;
    }
    found.message = text::first_line(&content).map(|l| Cow::Owned(l.to_owned()));
    Format::Text
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use http::{HeaderMap, StatusCode};

    use crate::client::{Format, RemoteError};

    #[test]
    fn a_byte_order_mark_before_the_body_is_no_part_of_it() {
        let body = b"\xEF\xBB\xBF{\"error\":{\"code\":\"rate_limited\",\"message\":\"Slow down\",\"retry_after\":30}}";
        let err = RemoteError::parse(StatusCode::TOO_MANY_REQUESTS, &HeaderMap::new(), body);
        assert_eq!(err.format(), Format::Nested);
        assert_eq!(err.code(), Some("rate_limited"));
        assert_eq!(err.message(), "Slow down");
        assert_eq!(err.retry_after(), Some(Duration::from_secs(30)));
        let xml = "\u{FEFF}<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>gone</Message></Error>";
        let err = RemoteError::parse(StatusCode::NOT_FOUND, &HeaderMap::new(), xml.as_bytes());
        assert_eq!((err.format(), err.code()), (Format::Xml, Some("NoSuchKey")));
    }
}
