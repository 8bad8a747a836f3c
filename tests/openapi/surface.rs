//! The server surface's own answers in the document: what one setup call
//! can answer any route with, taken from how it is configured.

use std::time::Duration;

use rebuff::RejectionKind;
use rebuff::openapi::Responses;
use rebuff::ratelimit::{Plan, RateLimiter, Window};
use rebuff::server::Surface;
use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE")]
enum OrderError {
    /// No order has this id.
    #[error("no such order")]
    #[api(status = 404, message = "No such order")]
    NoSuchOrder,
}

/// Each status's example codes, and whether it has problem details.
fn documented(surface: &Surface<OrderError>) -> Vec<(String, Vec<String>, bool)> {
    let built =
        serde_json::to_value(Responses::<OrderError>::none().surface(surface).build()).unwrap();
    built
        .as_object()
        .unwrap()
        .iter()
        .map(|(status, response)| {
            let codes = response["content"]["application/json"]["examples"]
                .as_object()
                .map(|examples| examples.keys().cloned().collect())
                .unwrap_or_default();
            let problem = response["content"]
                .get("application/problem+json")
                .is_some();
            (status.clone(), codes, problem)
        })
        .collect()
}

fn headers(surface: &Surface<OrderError>, status: &str) -> Vec<String> {
    let built =
        serde_json::to_value(Responses::<OrderError>::none().surface(surface).build()).unwrap();
    built[status]["headers"]
        .as_object()
        .map(|headers| headers.keys().map(|k| k.to_ascii_lowercase()).collect())
        .unwrap_or_default()
}

#[test]
fn a_default_surface_documents_its_500_and_413() {
    let surface = Surface::<OrderError>::new();
    assert_eq!(
        surface.rejections(),
        [RejectionKind::Internal, RejectionKind::PayloadTooLarge]
    );
    let seen = documented(&surface);
    let statuses: Vec<&str> = seen.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(statuses, ["413", "500"]);
    assert_eq!(seen[0].1, ["PAYLOAD_TOO_LARGE"], "in the type's code case");
    assert!(seen.iter().all(|(_, _, problem)| *problem), "negotiated");
    assert!(!headers(&surface, "500").contains(&"ratelimit".to_owned()));

    // Without a body limit, no 413; without negotiation, no problem details.
    let bare = Surface::<OrderError>::new()
        .no_body_limit()
        .negotiate(false);
    let seen = documented(&bare);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "500");
    assert!(
        !seen[0].2,
        "no problem details when the surface never sends them"
    );
}

#[test]
fn a_surface_with_a_limiter_and_keys_documents_their_answers() {
    let limiter = RateLimiter::new()
        .plan(Plan::new("free").window(Window::per_minute(60)))
        .escalate(5, Duration::from_secs(60), Duration::from_secs(600))
        .fail_closed(|request| request.path().starts_with("/v1/payments"));
    let keys = IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(60)));
    let surface = Surface::<OrderError>::new()
        .rate_limit(limiter)
        .idempotency(keys);
    let seen = documented(&surface);
    let by_status = |status: &str| {
        seen.iter()
            .find(|(s, _, _)| s == status)
            .map(|(_, codes, _)| codes.clone())
            .unwrap_or_else(|| panic!("no {status} in {seen:?}"))
    };
    assert_eq!(
        seen.iter().map(|(s, _, _)| s.as_str()).collect::<Vec<_>>(),
        ["400", "409", "413", "422", "429", "500", "503"]
    );
    assert_eq!(
        by_status("429"),
        ["ABNORMAL_USAGE_DETECTED", "RATE_LIMIT_EXCEEDED"]
    );
    assert_eq!(by_status("409"), ["REQUEST_IN_PROGRESS"]);
    assert_eq!(by_status("422"), ["IDEMPOTENCY_KEY_REUSED"]);
    assert_eq!(by_status("503"), ["TEMPORARILY_UNAVAILABLE"]);
    // Every response carries the limiter's headers.
    for status in ["400", "500"] {
        let names = headers(&surface, status);
        for name in ["x-ratelimit-limit", "ratelimit-policy", "ratelimit"] {
            assert!(
                names.iter().any(|n| n == name),
                "{status}: {name} in {names:?}"
            );
        }
    }

    // In shadow mode the limiter refuses nothing: no 429, headers still.
    let shadow = Surface::<OrderError>::new().rate_limit(RateLimiter::new().shadow(true));
    let statuses: Vec<String> = documented(&shadow).into_iter().map(|(s, _, _)| s).collect();
    assert_eq!(statuses, ["413", "500"]);
    assert!(
        headers(&shadow, "500")
            .iter()
            .any(|n| n == "x-ratelimit-limit")
    );
}

/// The document follows the limiter as configured: no 503 without
/// requests that fail closed, only the header families it sends, and a
/// `problem(false)` set before is kept.
#[test]
fn the_document_follows_the_limiters_settings() {
    let surface = Surface::<OrderError>::new().rate_limit(RateLimiter::new().legacy_headers(false));
    let statuses: Vec<String> = documented(&surface)
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    assert_eq!(statuses, ["413", "429", "500"]);
    for status in ["429", "500"] {
        let names = headers(&surface, status);
        assert!(
            names.iter().any(|n| n == "ratelimit-policy"),
            "{status}: {names:?}"
        );
        assert!(
            !names.iter().any(|n| n.starts_with("x-ratelimit")),
            "{status}: {names:?}"
        );
    }

    let built = serde_json::to_value(
        Responses::<OrderError>::none()
            .problem(false)
            .surface(&surface)
            .build(),
    )
    .unwrap();
    assert!(
        built["500"]["content"]
            .get("application/problem+json")
            .is_none(),
        "{built}"
    );
}
