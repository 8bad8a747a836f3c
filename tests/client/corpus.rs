//! Real error responses published by public APIs and proxies
//! (`tests/corpus/*.http`, each with its source), read by
//! `RemoteError::parse`: the code, message, request id and retry delay a
//! careful reader would take from each.

use std::time::{Duration, SystemTime};

use rebuff::client::RemoteError;
use rebuff::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

struct Case {
    name: String,
    expect: std::collections::BTreeMap<String, String>,
    status: StatusCode,
    headers: HeaderMap,
    body: Vec<u8>,
}

fn load(path: &std::path::Path) -> Case {
    let text = std::fs::read_to_string(path).unwrap();
    let mut expect = std::collections::BTreeMap::new();
    let mut lines = text.split_inclusive('\n').peekable();
    while let Some(line) = lines.next_if(|l| l.starts_with('#')) {
        if let Some((key, value)) = line.trim_start_matches("# ").split_once(':') {
            if let Some(key) = key.strip_prefix("expect-") {
                expect.insert(key.to_owned(), value.trim().to_owned());
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

#[test]
fn every_corpus_response_is_read() {
    let mut files: Vec<_> = std::fs::read_dir("tests/corpus")
        .unwrap()
        .map(|e| e.unwrap().path())
        .collect();
    files.sort();
    assert!(files.len() >= 20, "the corpus has {} files", files.len());
    let mut providers = std::collections::BTreeSet::new();
    for path in files {
        let case = load(&path);
        providers.insert(case.name.split('-').next().unwrap().to_owned());
        let err = RemoteError::parse_at(case.status, &case.headers, &case.body, SystemTime::now());
        let name = &case.name;
        assert_eq!(err.status(), case.status, "{name}");
        assert_eq!(
            err.code(),
            expected(&case, "code"),
            "{name}: code ({:?})",
            err.format()
        );
        match expected(&case, "message") {
            Some(message) => assert_eq!(
                err.message(),
                message,
                "{name}: message ({:?})",
                err.format()
            ),
            None => assert!(
                !err.has_message(),
                "{name}: no message expected, got {:?}",
                err.message()
            ),
        }
        assert_eq!(
            err.request_id(),
            expected(&case, "request-id"),
            "{name}: request id"
        );
        match expected(&case, "retry-after-secs") {
            Some(secs) => {
                let want = Duration::from_secs_f64(secs.parse().unwrap());
                let got = err
                    .retry_after()
                    .unwrap_or_else(|| panic!("{name}: no retry delay"));
                // Discord sends 64.57 in the body and 65 in Retry-After.
                assert!(
                    got.abs_diff(want) <= Duration::from_secs(1),
                    "{name}: retry after {got:?}, want {want:?}"
                );
            }
            None => assert_eq!(err.retry_after(), None, "{name}: retry delay"),
        }
        assert!(!err.to_string().is_empty());
    }
    assert!(providers.len() >= 16, "{} providers", providers.len());
}
