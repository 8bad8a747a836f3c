//! Fuzzes `RemoteError::parse` with arbitrary status, headers and body.
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
    "date",
    "content-type",
    "x-request-id",
];

fuzz_target!(|data: &[u8]| {
    let Some((&[hi, lo, header_count], rest)) = data.split_first_chunk::<3>() else {
        return;
    };
    let status = StatusCode::from_u16(100 + u16::from_be_bytes([hi, lo]) % 900).expect("100..=999");
    let mut headers = HeaderMap::new();
    let mut rest = rest;
    for i in 0..usize::from(header_count % 8) {
        let Some((&len, tail)) = rest.split_first() else { break };
        let len = usize::from(len).min(tail.len());
        let (value, tail) = tail.split_at(len);
        rest = tail;
        if let Ok(value) = HeaderValue::from_bytes(value) {
            headers.append(HeaderName::from_static(NAMES[i % NAMES.len()]), value);
        }
    }
    let err = RemoteError::parse(status, &headers, rest);
    assert!(err.body().len() <= 4096);
    let _ = err.to_string();
    let _ = rebuff::to_vec(&err, &rebuff::Context::new());
});
