//! Real error responses published by public APIs, frameworks and proxies
//! (`tests/corpus/*.http`), read by `RemoteError::parse`: the code,
//! message, request id and retry delay a careful reader would take from
//! each.
//!
//! Each file starts with `#` lines: `source:` (the public documentation the
//! body is taken from), `provider:` (the API or framework; the corpus must
//! cover at least 60), `expect-code:`, `expect-message:`,
//! `expect-request-id:` and `expect-retry-after-secs:` (`-` where the
//! response has none), and `note:`s; then the response as sent. Every
//! mismatch is reported at once.

use std::time::{Duration, SystemTime};

use rebuff::client::RemoteError;
use rebuff::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

struct Case {
    name: String,
    provider: String,
    source: String,
    expect: std::collections::BTreeMap<String, String>,
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn load(path: &std::path::Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let mut expect = std::collections::BTreeMap::new();
    let mut provider = String::new();
    let mut source = String::new();
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next_if(|l| l.starts_with('#')) {
        if let Some((key, value)) = line.trim_start_matches("# ").split_once(':') {
            if let Some(key) = key.strip_prefix("expect-") {
                // A message with line breaks is written with `\r` and `\n`.
                let value = value.trim().replace("\\r", "\r").replace("\\n", "\n");
                expect.insert(key.to_owned(), value);
            }
            match key {
                "provider" => provider = value.trim().to_owned(),
                "source" => source = value.trim().to_owned(),
                _ => {}
            }
        }
    }
    let status_line = lines.next().expect("status line");
    let code: u16 = status_line
        .split_whitespace()
        .nth(1)
        .unwrap()
        .parse()
        .unwrap();
    let mut headers = HeaderMap::new();
    for line in lines.by_ref() {
        let line = line.trim_end();
        if line.is_empty() {
            break;
        }
        let (name, value) = line.split_once(':').unwrap();
        headers.append(
            HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
            HeaderValue::from_str(value.trim()).unwrap(),
        );
    }
    let body: String = lines.collect();
    Case {
        name: path.file_name().unwrap().to_string_lossy().into_owned(),
        provider,
        source,
        expect,
        status: StatusCode::from_u16(code).unwrap(),
        headers,
        body: body.trim_end().as_bytes().to_vec(),
    }
}

fn expected<'a>(case: &'a Case, key: &str) -> Option<&'a str> {
    let value = case
        .expect
        .get(key)
        .unwrap_or_else(|| panic!("{}: no expect-{key}", case.name));
    (value != "-").then_some(value.as_str())
}

/// What `err` gets wrong about `case`, one line per field.
fn mismatches(case: &Case, err: &RemoteError) -> Vec<String> {
    let name = &case.name;
    let format = err.format();
    let mut wrong = Vec::new();
    if err.status() != case.status {
        wrong.push(format!("{name}: status {}", err.status()));
    }
    if err.code() != expected(case, "code") {
        wrong.push(format!(
            "{name}: code {:?}, want {:?} ({format:?})",
            err.code(),
            expected(case, "code")
        ));
    }
    match expected(case, "message") {
        Some(message) if err.message() != message => wrong.push(format!(
            "{name}: message {:?}, want {message:?} ({format:?})",
            err.message()
        )),
        None if err.has_message() => wrong.push(format!(
            "{name}: no message expected, got {:?} ({format:?})",
            err.message()
        )),
        _ => {}
    }
    if err.request_id() != expected(case, "request-id") {
        wrong.push(format!(
            "{name}: request id {:?}, want {:?}",
            err.request_id(),
            expected(case, "request-id")
        ));
    }
    let want = expected(case, "retry-after-secs")
        .map(|secs| Duration::from_secs_f64(secs.parse().unwrap()));
    // Discord sends 64.57 in the body and 65 in Retry-After.
    let close = match (err.retry_after(), want) {
        (Some(got), Some(want)) => got.abs_diff(want) <= Duration::from_secs(1),
        (got, want) => got == want,
    };
    if !close {
        wrong.push(format!(
            "{name}: retry after {:?}, want {want:?}",
            err.retry_after()
        ));
    }
    if err.to_string().is_empty() {
        wrong.push(format!("{name}: empty Display"));
    }
    wrong
}

#[test]
fn every_corpus_response_is_read() {
    let mut files: Vec<_> = std::fs::read_dir("tests/corpus")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 80, "the corpus has {} files", files.len());
    let mut providers = std::collections::BTreeSet::new();
    let mut wrong = Vec::new();
    for path in files {
        let case = load(&path);
        assert!(!case.provider.is_empty(), "{}: no provider", case.name);
        assert!(
            case.source.starts_with("https://"),
            "{}: no source URL",
            case.name
        );
        providers.insert(case.provider.clone());
        let err = RemoteError::parse_at(case.status, &case.headers, &case.body, SystemTime::now());
        wrong.extend(mismatches(&case, &err));
    }
    assert!(
        wrong.is_empty(),
        "{} mismatches:\n{}",
        wrong.len(),
        wrong.join("\n")
    );
    assert!(
        providers.len() >= 60,
        "{} APIs and frameworks",
        providers.len()
    );
}
