//! Fuzzes `RemoteError::parse` with arbitrary status, headers and body.
//!
//! The first bytes pick the status, a content type and a start for the
//! body (nothing, an XML declaration and `<Error>` root, an AWS query
//! document, an HTML page, a JSON object), so that random input reaches
//! the XML, HTML and text readers as often as the JSON one; then come the
//! headers (rate-limit fields, reset times, request ids, code headers) and
//! the rest of the body.
//!
//! Run: `cargo +nightly fuzz run parse` (from the repository root, with
//! `cargo install cargo-fuzz`).
#![no_main]

use libfuzzer_sys::fuzz_target;
use rebuff::client::RemoteError;
use rebuff::http::{HeaderMap, HeaderName, HeaderValue, StatusCode};

const NAMES: &[&str] = &[
    "retry-after",
    "x-ratelimit-limit",
    "x-ratelimit-remaining",
    "x-ratelimit-reset",
    "x-ratelimit-reset-after",
    "x-rate-limit-reset",
    "ratelimit",
    "ratelimit-policy",
    "ratelimit-reset",
    "date",
    "x-request-id",
    "x-amzn-errortype",
    "x-ms-error-code",
];

const CONTENT_TYPES: &[&str] = &[
    "application/json",
    "application/problem+json",
    "application/xml",
    "text/xml; charset=utf-8",
    "text/html; charset=utf-8",
    "text/plain",
    "application/hal+json",
];

const STARTS: &[&[u8]] = &[
    b"",
    b"<?xml version=\"1.0\" encoding=\"UTF-8\"?><Error><Code>",
    b"<ErrorResponse><Error><Type>Sender</Type><Code>",
    b"<Response><Errors><Error><Message>",
    b"<!DOCTYPE html><html><head><title>",
    b"{\"error\":",
    b"{\"errors\":[{\"detail\":",
    b"{\"error\":{\"details\":[{\"retryDelay\":",
];

fuzz_target!(|data: &[u8]| {
    let Some((&[hi, lo, kind, start, header_count], rest)) = data.split_first_chunk::<5>() else {
        return;
    };
    let status = StatusCode::from_u16(100 + u16::from_be_bytes([hi, lo]) % 900).expect("100..=999");
    let mut headers = HeaderMap::new();
    // One kind in eight sends no content type.
    if let Some(content_type) = CONTENT_TYPES.get(usize::from(kind % 8)) {
        headers.insert("content-type", HeaderValue::from_static(content_type));
    }
    let mut rest = rest;
    for i in 0..usize::from(header_count % 8) {
        let Some((&len, tail)) = rest.split_first() else { break };
        let len = usize::from(len).min(tail.len());
        let (value, tail) = tail.split_at(len);
        rest = tail;
        if let Ok(value) = HeaderValue::from_bytes(value) {
            let name = NAMES[(i + usize::from(len)) % NAMES.len()];
            headers.append(HeaderName::from_static(name), value);
        }
    }
    let mut body = STARTS[usize::from(start) % STARTS.len()].to_vec();
    body.extend_from_slice(rest);
    let err = RemoteError::parse(status, &headers, &body);
    assert!(err.body().len() <= 4096);
    assert!(err.code().is_none_or(|c| c.len() <= 1024));
    assert!(err.request_id().is_none_or(|id| id.len() <= 1024));
    let _ = err.to_string();
    let _ = rebuff::to_vec(&err, &rebuff::Context::new());
});
