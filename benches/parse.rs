//! Parsing each seed envelope, and two foreign shapes (Google's
//! `google.rpc.Status` with a `RetryInfo` detail, an OAuth 2.0 token
//! error): `RemoteError::parse` (which must first find out which shape it
//! is looking at) against `serde_json::from_slice` into a hand-written
//! struct of that exact shape, side by side.
//!
//! Run: `cargo bench --bench parse`

use std::hint::black_box;
use std::time::Duration;

use criterion::{Criterion, criterion_group, criterion_main};
use rebuff::client::RemoteError;
use rebuff::http::{HeaderMap, StatusCode};
use serde::Deserialize;

#[derive(Deserialize)]
#[allow(dead_code)]
struct NestedBody {
    error: NestedInner,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct NestedInner {
    code: String,
    message: String,
    details: Option<serde_json::Value>,
    request_id: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct SuccessBody {
    success: bool,
    error: NestedInner,
    request_id: Option<String>,
    timestamp: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct PlainBody {
    error: String,
    retry_after: Option<u64>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct FlatBody {
    success: bool,
    error: String,
    code: String,
    details: Option<serde_json::Value>,
    timestamp: Option<String>,
    request_id: Option<String>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct ProblemBody {
    r#type: String,
    title: String,
    status: u16,
    detail: String,
    instance: Option<String>,
    code: Option<String>,
    request_id: Option<String>,
}

/// Google's error with a gRPC `RetryInfo` in its details.
#[derive(Deserialize)]
#[allow(dead_code)]
struct GoogleBody {
    error: GoogleStatus,
}

#[derive(Deserialize)]
#[allow(dead_code)]
struct GoogleStatus {
    code: u16,
    message: String,
    status: String,
    details: Vec<GoogleDetail>,
}

#[derive(Deserialize)]
#[allow(dead_code)]
#[serde(rename_all = "camelCase")]
struct GoogleDetail {
    #[serde(rename = "@type")]
    kind: String,
    retry_delay: Option<String>,
}

/// RFC 6749's error response.
#[derive(Deserialize)]
#[allow(dead_code)]
struct OAuthBody {
    error: String,
    error_description: Option<String>,
}

const NESTED: &[u8] = br#"{"error":{"code":"file_too_large","message":"Audio file exceeds maximum size of 100 MB","details":{"file_size_mb":150,"max_size_mb":100},"request_id":"req_1a2b3c4d5e"}}"#;
const SUCCESS: &[u8] = br#"{"success":false,"error":{"code":"validation_error","message":"Agent name is already in use"},"request_id":"req_abc123","timestamp":"2025-01-01T12:00:00Z"}"#;
const PLAIN: &[u8] = br#"{"error":"Rate limit exceeded","retry_after":60}"#;
const FLAT: &[u8] = br#"{"success":false,"error":"Email already exists","code":"DUPLICATE_EMAIL","details":{"email":"john.doe@example.com","existingLeadId":"lead_existing123","message":"A lead with this email already exists in your workspace"},"timestamp":"2024-01-16T10:30:00.000Z","requestId":"req_1234567890abcdef"}"#;
const PROBLEM: &[u8] = br#"{"type":"https://api.example.com/errors/lead_not_found","title":"Not Found","status":404,"detail":"Lead not found","instance":"/api/v1/leads/lead_1","code":"lead_not_found","request_id":"req_9"}"#;

const GOOGLE: &[u8] = br#"{"error":{"code":429,"message":"Resource has been exhausted (e.g. check quota).","status":"RESOURCE_EXHAUSTED","details":[{"@type":"type.googleapis.com/google.rpc.RetryInfo","retryDelay":"30s"}]}}"#;
const OAUTH: &[u8] = br#"{"error":"invalid_grant","error_description":"The provided authorization grant is invalid, expired or revoked."}"#;

fn pair<T: for<'de> Deserialize<'de>>(
    c: &mut Criterion,
    name: &str,
    status: StatusCode,
    body: &[u8],
) {
    let headers = HeaderMap::new();
    let parsed = RemoteError::parse(status, &headers, body);
    assert!(
        parsed.code().is_some() || name == "plain",
        "{name}: {parsed:?}"
    );
    assert!(serde_json::from_slice::<T>(body).is_ok(), "{name}");

    let mut group = c.benchmark_group(name);
    group.bench_function("remote_error_parse", |b| {
        b.iter(|| RemoteError::parse(black_box(status), black_box(&headers), black_box(body)));
    });
    group.bench_function("serde_exact_struct", |b| {
        b.iter(|| serde_json::from_slice::<T>(black_box(body)).unwrap())
    });
    group.finish();
}

fn parsing(c: &mut Criterion) {
    pair::<NestedBody>(c, "nested", StatusCode::PAYLOAD_TOO_LARGE, NESTED);
    pair::<SuccessBody>(c, "success", StatusCode::UNPROCESSABLE_ENTITY, SUCCESS);
    pair::<PlainBody>(c, "plain", StatusCode::TOO_MANY_REQUESTS, PLAIN);
    pair::<FlatBody>(c, "flat", StatusCode::CONFLICT, FLAT);
    pair::<ProblemBody>(c, "problem", StatusCode::NOT_FOUND, PROBLEM);
    pair::<GoogleBody>(
        c,
        "google_retry_info",
        StatusCode::TOO_MANY_REQUESTS,
        GOOGLE,
    );
    pair::<OAuthBody>(c, "oauth2", StatusCode::BAD_REQUEST, OAUTH);
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = parsing
}
criterion_main!(benches);
