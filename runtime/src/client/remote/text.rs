//! Reading what non-JSON error bodies say: HTML pages from proxies, XML
//! error documents, plain text, and JSON-ish objects that are not JSON.

/// The longest message taken from a page or text body, in characters.
const MAX_MESSAGE: usize = 256;

/// The first non-empty line, cut to a readable length.
pub(crate) fn first_line(text: &str) -> Option<&str> {
    let line = text.lines().map(str::trim).find(|l| !l.is_empty())?;
    Some(cut(line))
}

fn cut(text: &str) -> &str {
    match text.char_indices().nth(MAX_MESSAGE) {
        Some((end, _)) => &text[..end],
        None => text,
    }
}

/// The text of the first `<name>...</name>` element, entities decoded,
/// whitespace collapsed.
pub(crate) fn tag(document: &str, name: &str) -> Option<String> {
    let text = collapse(&tag_lines(document, name)?);
    (!text.is_empty()).then_some(text)
}

/// The text of the first `<name>...</name>` element, entities decoded,
/// line breaks kept.
pub(crate) fn tag_lines(document: &str, name: &str) -> Option<String> {
    let open = format!("<{name}>");
    let close = format!("</{name}>");
    let start = document.find(&open)? + open.len();
    let end = start + document[start..].find(&close)?;
    Some(decode_entities(&strip_tags(&document[start..end])))
}

/// A message's prose and the request id of its trailer: lines of the form
/// `Key:value` (a name, a colon, a value without spaces, as Azure Storage
/// appends `RequestId:...` and `Time:...`) are data, not text; the other
/// lines are one paragraph.
pub(crate) fn prose_and_request_id(text: &str) -> (Option<String>, Option<String>) {
    let mut prose = Vec::new();
    let mut request_id = None;
    for line in text.lines().map(str::trim).filter(|l| !l.is_empty()) {
        let trailer = line.split_once(':').filter(|(key, value)| {
            !key.is_empty()
                && key.bytes().all(|b| b.is_ascii_alphanumeric())
                && !value.is_empty()
                && !value.contains(char::is_whitespace)
        });
        match trailer {
            Some((key, value)) if !prose.is_empty() => {
                if key.eq_ignore_ascii_case("requestid") && request_id.is_none() {
                    request_id = Some(value.to_owned());
                }
            }
            _ => prose.push(line),
        }
    }
    let prose = collapse(&prose.join(" "));
    ((!prose.is_empty()).then_some(prose), request_id)
}

/// What an HTML error page says.
pub(crate) struct Page {
    pub(crate) code: Option<String>,
    pub(crate) message: Option<String>,
}

/// The message of an HTML error page: Cloudflare's 5xx pages (520 to 527)
/// put the reason and "Error code 522" in the first `<h1>`, its 1xxx pages
/// the error number in the first `<h1>` and the reason in the first
/// `<h2>`; other pages (nginx, load balancers) say it in `<title>`, else
/// in `<h1>`.
pub(crate) fn html_error(page: &str) -> Page {
    let lower = page.to_ascii_lowercase();
    let element = |name: &str| -> Option<String> {
        let open = format!("<{name}");
        let mut from = 0;
        // Skip `<h1x` lookalikes such as `<head` for `<h`.
        loop {
            let at = from + lower[from..].find(&open)?;
            let after = at + open.len();
            let next = lower.as_bytes().get(after).copied()?;
            if next == b'>' || next.is_ascii_whitespace() {
                let body_start = after + lower[after..].find('>')? + 1;
                let close = format!("</{name}>");
                let body_end = body_start + lower[body_start..].find(&close)?;
                let text = collapse(&decode_entities(&strip_tags(&page[body_start..body_end])));
                return (!text.is_empty()).then_some(text);
            }
            from = after;
        }
    };
    let cloudflare = lower.contains("cf-error") || lower.contains("cloudflare ray id");
    if cloudflare {
        let heading = element("h1");
        // `<h1><span>Connection timed out</span><span>Error code 522</span></h1>`
        if let Some((reason, number)) = heading
            .as_deref()
            .and_then(|h| h.rsplit_once("Error code "))
        {
            let (reason, number) = (reason.trim(), number.trim());
            if !reason.is_empty()
                && !number.is_empty()
                && number.bytes().all(|b| b.is_ascii_digit())
            {
                return Page {
                    code: Some(number.to_owned()),
                    message: Some(cut(reason).to_owned()),
                };
            }
        }
        let code = heading
            .map(|h| h.trim_start_matches("Error").trim().to_owned())
            .filter(|c| !c.is_empty() && c.chars().all(|c| c.is_ascii_digit()));
        if let Some(message) = element("h2") {
            return Page {
                code,
                message: Some(cut(&message).to_owned()),
            };
        }
    }
    // A title of just "Error" (Express's page) says nothing.
    let message = element("title")
        .filter(|t| !t.eq_ignore_ascii_case("error"))
        .or_else(|| element("h1"))
        .or_else(|| element("pre"))
        .map(|m| cut(&m).to_owned());
    Page {
        code: None,
        message,
    }
}

fn strip_tags(html: &str) -> String {
    let mut out = String::with_capacity(html.len());
    let mut in_tag = false;
    for c in html.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => {
                in_tag = false;
                out.push(' ');
            }
            _ if !in_tag => out.push(c),
            _ => {}
        }
    }
    out
}

fn collapse(text: &str) -> String {
    text.split_whitespace().collect::<Vec<_>>().join(" ")
}

fn decode_entities(text: &str) -> String {
    if !text.contains('&') {
        return text.to_owned();
    }
    text.replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&#x27;", "'")
        .replace("&nbsp;", " ")
        .replace("&bull;", "•")
        .replace("&amp;", "&")
}

/// Reads `{ key: "value", "key": 'value' }` pairs of an object that is not
/// strict JSON (unquoted keys, single quotes), handing each string value to
/// `set`. True if at least one pair was read.
pub(crate) fn lenient_object(body: &[u8], mut set: impl FnMut(&str, String)) -> bool {
    let Ok(text) = core::str::from_utf8(body) else {
        return false;
    };
    let mut any = false;
    let mut rest = text.trim().trim_start_matches('{');
    while let Some(colon) = rest.find(':') {
        let key = rest[..colon]
            .trim()
            .trim_start_matches([',', '{'])
            .trim()
            .trim_matches(['"', '\'']);
        let after = rest[colon + 1..].trim_start();
        let Some(quote) = after.chars().next().filter(|c| *c == '"' || *c == '\'') else {
            // Not a string value: skip to the next pair.
            match after.find(',') {
                Some(comma) => {
                    rest = &after[comma + 1..];
                    continue;
                }
                None => break,
            }
        };
        let Some(end) = after[1..].find(quote) else {
            break;
        };
        let value = &after[1..=end];
        if !key.is_empty()
            && key.len() < 64
            && key
                .chars()
                .all(|c| c.is_alphanumeric() || c == '_' || c == '-')
        {
            set(key, value.to_owned());
            any = true;
        }
        rest = &after[end + 2..];
    }
    any
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn html_pages() {
        let nginx = "<html>\n<head><title>502 Bad Gateway</title></head>\n<body><center><h1>502 Bad Gateway</h1></center></body></html>";
        assert_eq!(
            html_error(nginx).message.as_deref(),
            Some("502 Bad Gateway")
        );
        let no_title =
            "<html><body><h1 class=x>Service\n  Unavailable &amp; more</h1></body></html>";
        assert_eq!(
            html_error(no_title).message.as_deref(),
            Some("Service Unavailable & more")
        );
        let cloudflare = "<html><head><title>Access denied</title></head><body><div class=\"cf-error-details\"><h1><span>1015</span></h1><h2 class=a>You are being rate limited</h2></div></body></html>";
        let origin = html_error(
            "<html><head><title>api.example.com | 522: Connection timed out</title></head><body><div id=\"cf-error-details\"><h1 class=x>\n  <span class=\"inline-block\">Connection timed out</span>\n  <span class=\"code-label\">Error code 522</span>\n</h1><h2>What happened?</h2></div></body></html>",
        );
        assert_eq!(origin.code.as_deref(), Some("522"));
        assert_eq!(origin.message.as_deref(), Some("Connection timed out"));
        let page = html_error(cloudflare);
        assert_eq!(page.code.as_deref(), Some("1015"));
        assert_eq!(page.message.as_deref(), Some("You are being rate limited"));
        assert!(html_error("<html><title>").message.is_none());
    }

    #[test]
    fn xml_tags_and_text() {
        let s3 = "<?xml version=\"1.0\"?><Error><Code>NoSuchKey</Code><Message>The resource &amp; key</Message></Error>";
        assert_eq!(tag(s3, "Code").as_deref(), Some("NoSuchKey"));
        assert_eq!(tag(s3, "Message").as_deref(), Some("The resource & key"));
        assert_eq!(tag(s3, "RequestId"), None);
        assert_eq!(
            first_line("\n\n  upstream connect error  \nmore"),
            Some("upstream connect error")
        );
        assert_eq!(
            first_line(&"é".repeat(1000)).map(|l| l.chars().count()),
            Some(256)
        );
    }

    #[test]
    fn message_trailers_are_data() {
        let azure = "The specified blob does not exist.\nRequestId:9a2d\nTime:2023-05-16T10:12:44Z";
        assert_eq!(
            prose_and_request_id(azure),
            (
                Some("The specified blob does not exist.".into()),
                Some("9a2d".into())
            )
        );
        let wrapped = "\n  Value (x) is invalid.\n  Must be short.\n";
        assert_eq!(
            prose_and_request_id(wrapped),
            (Some("Value (x) is invalid. Must be short.".into()), None)
        );
        // A first line of that form is the text itself.
        assert_eq!(
            prose_and_request_id("Error:Unknown").0.as_deref(),
            Some("Error:Unknown")
        );
    }

    #[test]
    fn lenient_objects() {
        let mut pairs = Vec::new();
        let body = b"{\n  id: \"too_many_requests\",\n  message: 'API Rate limit exceeded.', n: 5, \"x\": \"y\"\n}";
        assert!(lenient_object(body, |k, v| pairs.push((k.to_owned(), v))));
        assert_eq!(
            pairs,
            [
                ("id".to_owned(), "too_many_requests".to_owned()),
                ("message".to_owned(), "API Rate limit exceeded.".to_owned()),
                ("x".to_owned(), "y".to_owned()),
            ]
        );
        assert!(!lenient_object(b"{ nothing here", |_, _| {}));
    }
}
