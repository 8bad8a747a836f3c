//! Telling what an error body is from its first bytes (nothing, JSON, an
//! object that is almost JSON, XML, an HTML page or plain text) and handing
//! it to the reader of that kind.

use std::borrow::Cow;

use super::shapes::{self, Format, Found};
use super::text;

/// Of a JSON body longer than this, only this much is read, as a document
/// cut short.
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
    if matches!(trimmed[0], b'{' | b'[') {
        if trimmed.len() <= MAX_JSON {
            if let Some(format) = shapes::read_json(status, content_type, trimmed, found) {
                return format;
            }
        }
        // A document cut short (by a client's limit on what it reads of an
        // error body, or by a dropped connection, or past `MAX_JSON`): what
        // came before the cut, closed.
        let start = &trimmed[..trimmed.len().min(MAX_JSON)];
        if let Some(closed) = close_cut_json(start) {
            let mut read = Found::default();
            if let Some(format) =
                shapes::read_json(status, content_type, closed.as_bytes(), &mut read)
            {
                *found = read.into_owned();
                return format;
            }
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

/// A JSON document cut short, closed after its last whole member: each
/// container still open ends after the last of its members or entries that
/// came whole. `None` when nothing is open (the document was not cut, but
/// is not JSON) or no member came whole.
fn close_cut_json(body: &[u8]) -> Option<String> {
    // The cut may have split a character: the text is what came before it.
    let text = match core::str::from_utf8(body) {
        Ok(text) => text,
        Err(err) => core::str::from_utf8(&body[..err.valid_up_to()]).ok()?,
    };
    let mut open: Vec<u8> = Vec::new();
    let (mut in_string, mut escaped) = (false, false);
    // Whether the string being read is a value (not a key), and the last
    // byte outside strings and whitespace.
    let (mut value, mut last) = (false, 0u8);
    // Where the text may end, and how many containers are open there:
    // before a comma between whole members, after a container closed, or
    // after a whole string value.
    let mut cut: Option<(usize, usize)> = None;
    for (at, byte) in text.bytes().enumerate() {
        if in_string {
            match byte {
                _ if escaped => escaped = false,
                b'\\' => escaped = true,
                b'"' => {
                    in_string = false;
                    if value {
                        cut = Some((at + 1, open.len()));
                    }
                }
                _ => {}
            }
            continue;
        }
        let prev = last;
        if !byte.is_ascii_whitespace() {
            last = byte;
        }
        match byte {
            b'"' => {
                in_string = true;
                let in_list = open.last() == Some(&b']');
                value = prev == b':' || (in_list && matches!(prev, b'[' | b','));
            }
            b'{' => open.push(b'}'),
            b'[' => open.push(b']'),
            b'}' | b']' => {
                if open.pop() != Some(byte) {
                    return None;
                }
                cut = Some((at + 1, open.len()));
            }
            b',' => cut = Some((at, open.len())),
            _ => {}
        }
    }
    if open.is_empty() {
        return None;
    }
    let (end, depth) = cut?;
    // Since the cut, no container below `depth` closed (a close moves the
    // cut): they are the ones still open, innermost last.
    let mut closed = String::with_capacity(end + depth);
    closed.push_str(&text[..end]);
    closed.extend(open[..depth].iter().rev().map(|&b| char::from(b)));
    Some(closed)
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

    #[test]
    fn a_json_body_cut_short_still_gives_what_came_before_the_cut() {
        use core::fmt::Write as _;
        let mut body = String::from(
            r#"{"error":{"code":"invalid_rows","message":"3000 rows are invalid","request_id":"req_1","details":["#,
        );
        for i in 0..3000 {
            write!(
                body,
                r#"{{"row":{i},"reason":"a \"quoted\" reason, with commas"}},"#
            )
            .unwrap();
        }
        // As a client that read only the first 64 KiB has it.
        let cut = &body.as_bytes()[..64 * 1024];
        let err = RemoteError::parse(StatusCode::UNPROCESSABLE_ENTITY, &HeaderMap::new(), cut);
        assert_eq!(err.format(), Format::Nested, "{err:?}");
        assert_eq!(err.code(), Some("invalid_rows"));
        assert_eq!(err.message(), "3000 rows are invalid");
        assert_eq!(err.request_id(), Some("req_1"));
        let rows = err.details().and_then(|d| d.as_array()).map_or(0, Vec::len);
        assert!(rows > 100, "{rows} rows of details");
    }

    #[test]
    fn a_cut_document_is_closed_after_its_last_whole_member() {
        let close = |text: &[u8]| super::close_cut_json(text);
        let cases: [(&[u8], Option<&str>); 11] = [
            (
                br#"{"error":{"code":"x""#,
                Some(r#"{"error":{"code":"x"}}"#),
            ),
            (
                br#"{"error":{"code":"x","mess"#,
                Some(r#"{"error":{"code":"x"}}"#),
            ),
            (
                br#"{"a":{"b":[1,{"c":2}],"d""#,
                Some(r#"{"a":{"b":[1,{"c":2}]}}"#),
            ),
            (br#"["a","b"#, Some(r#"["a"]"#)),
            (b"[1,2", Some("[1]")),
            // An escaped quote ends no string.
            (br#"{"a":"q\",","#, Some(r#"{"a":"q\","}"#)),
            // A number may be cut: it is left out.
            (br#"{"n":12"#, None),
            // A key is no value.
            (br#"{"key""#, None),
            // Not cut, only not JSON; or not nested as JSON nests.
            (br#"{"a":x}"#, None),
            (br#"{"a":[}"#, None),
            // A character split by the cut.
            (
                &"{\"m\":\"\u{e9}\",\"x\":\"\u{e9}".as_bytes()[..16],
                Some("{\"m\":\"\u{e9}\"}"),
            ),
        ];
        for (cut, want) in cases {
            assert_eq!(
                close(cut).as_deref(),
                want,
                "{}",
                String::from_utf8_lossy(cut)
            );
        }
        // Closing a deep cut document takes no stack, nor does reading it.
        let deep = format!("{}1,", "[{\"a\":".repeat(100_000));
        let closed = close(deep.as_bytes()).unwrap();
        assert!(closed.ends_with("}]}]"));
        let err = RemoteError::parse(StatusCode::BAD_REQUEST, &HeaderMap::new(), deep.as_bytes());
        assert_eq!(err.status(), StatusCode::BAD_REQUEST);
    }
}
