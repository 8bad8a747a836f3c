//! The surface's keys with its rate limiter, over loopback on both
//! frameworks: the limit before the key, a key waiting for a remote
//! store's decision, and the limiter's own code (its resolver, its store)
//! panicking, answered as a handler's panic is.

use std::time::Duration;

use rebuff::ratelimit::{Caller, Plan, RateLimiter, Window};
use rebuff::server::Surface;

use crate::surface::client;
use crate::surface_idempotency::{Effects, FRAMEWORKS, axum_server, keys, post, start};

/// The rate limiter's resolver is the application's code too: its panic
/// is a 500 in the envelope, and a scope's panic behind the limiter keeps
/// the limiter's headers.
#[tokio::test]
async fn a_resolver_that_panics_is_answered_with_a_500() {
    for framework in FRAMEWORKS {
        let limiter = RateLimiter::new()
            .plan(Plan::new("roomy").window(Window::per_minute(100)))
            .resolve(|request| {
                let caller = request.header("x-api-key")?;
                assert!(caller != "boom", "a resolver that fails");
                Some(Caller::new(caller, "roomy"))
            });
        let surface = Surface::new().rate_limit(limiter).idempotency(keys());
        let (base, effects) = start(framework, surface).await;
        let url = format!("{base}/v1/orders");
        let failed = post(&url, "boom", Some("r"), "{}").await;
        assert_eq!(failed.status, 500, "{framework:?}: {}", failed.body);
        let body: serde_json::Value = serde_json::from_str(&failed.body).unwrap();
        assert_eq!(body["code"], "INTERNAL_ERROR", "{framework:?}: {body}");
        assert!(
            !failed.body.contains("a resolver that fails"),
            "{framework:?}"
        );

        // The scope panics after the limiter decided: its headers stay.
        let response = client()
            .post(&url)
            .header("x-api-key", "panic")
            .header("idempotency-key", "s")
            .body("{}")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 500, "{framework:?}");
        assert_eq!(
            response.headers()["x-ratelimit-remaining"],
            "99",
            "{framework:?}"
        );
        let next = post(&url, "alice", Some("r"), "{}").await;
        assert_eq!(next.status, 201, "{framework:?}: the server goes on");
        assert_eq!(effects.count(), 1, "{framework:?}");
    }
}

/// On axum, a request whose rate limit a remote store decides (a poll
/// later) has its key honoured once the decision is in.
#[tokio::test]
async fn a_key_waits_for_a_remote_rate_limit_decision() {
    use axum::body::Body;
    use rebuff::ratelimit::MemoryStore;
    use tower::ServiceExt;

    let limiter = RateLimiter::new()
        .plan(Plan::new("roomy").window(Window::per_minute(100)))
        .resolve(|request| Some(Caller::new(request.header("x-api-key")?, "roomy")))
        .store(crate::surface_composed::Later(MemoryStore::new()));
    let effects = Effects::default();
    let surface = Surface::new().rate_limit(limiter).idempotency(keys());
    let app = axum_server::router(&effects, surface, None);
    let mut replayed = Vec::new();
    for _ in 0..2 {
        let request = http::Request::post("/v1/orders")
            .header("x-api-key", "alice")
            .header("idempotency-key", "remote")
            .body(Body::from("{}"))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 201);
        assert!(response.headers().contains_key("x-ratelimit-remaining"));
        replayed.push(response.headers().contains_key("idempotent-replayed"));
    }
    assert_eq!(replayed, [false, true]);
    assert_eq!(effects.count(), 1);
}

/// The rate limit comes first: a retry the limiter refuses is not
/// replayed (a replay costs the store a lookup, and is a request like any
/// other), and its refusal leaves the key as it was, so that once
/// admitted the retry gets the first answer.
#[tokio::test]
async fn the_rate_limit_comes_before_the_key() {
    use rebuff::ratelimit::{MemoryStore, TestClock};

    for framework in FRAMEWORKS {
        let clock = TestClock::at_secs(1_700_000_000);
        let limiter = RateLimiter::new()
            .plan(Plan::new("tiny").window(Window::per_minute(1)))
            .resolve(|request| Some(Caller::new(request.header("x-api-key")?, "tiny")))
            .store(MemoryStore::new().clock(clock.clone()));
        let surface = Surface::new().rate_limit(limiter).idempotency(keys());
        let (base, effects) = start(framework, surface).await;
        let url = format!("{base}/v1/orders");
        let first = post(&url, "alice", Some("a"), "{}").await;
        assert_eq!(first.status, 201, "{framework:?}");
        let refused = post(&url, "alice", Some("a"), "{}").await;
        assert_eq!(refused.status, 429, "{framework:?}: {}", refused.body);
        let body: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
        assert_eq!(body["code"], "RATE_LIMIT_EXCEEDED", "{framework:?}: {body}");
        clock.advance(Duration::from_secs(61));
        let retry = post(&url, "alice", Some("a"), "{}").await;
        assert_eq!(retry.status, 201, "{framework:?}: {}", retry.body);
        assert_eq!(retry.body, "order #1", "{framework:?}");
        assert!(retry.replayed, "{framework:?}");
        assert_eq!(effects.count(), 1, "{framework:?}");
    }
}

/// A store of the application's own that panics while deciding (a poll
/// later, as a remote one answers): a 500 in the envelope, and the server
/// goes on.
#[tokio::test]
async fn a_store_that_panics_is_answered_with_a_500() {
    use rebuff::ratelimit::{Ask, Deciding, RateLimitStore};

    struct Fails;

    impl RateLimitStore for Fails {
        fn decide(&self, ask: &Ask<'_>) -> Deciding {
            let caller = format!("{:?}", ask.key.caller);
            Box::pin(async move {
                tokio::task::yield_now().await;
                assert!(!caller.contains("boom"), "a store that fails");
                Err(rebuff::StoreError::new("unreachable"))
            })
        }
    }

    for framework in FRAMEWORKS {
        let limiter = RateLimiter::new()
            .plan(Plan::new("roomy").window(Window::per_minute(100)))
            .resolve(|request| Some(Caller::new(request.header("x-api-key")?, "roomy")))
            .store(Fails);
        let (base, effects) = start(framework, Surface::new().rate_limit(limiter)).await;
        let url = format!("{base}/v1/orders");
        let failed = post(&url, "boom", None, "{}").await;
        assert_eq!(failed.status, 500, "{framework:?}: {}", failed.body);
        let body: serde_json::Value = serde_json::from_str(&failed.body).unwrap();
        assert_eq!(body["code"], "INTERNAL_ERROR", "{framework:?}: {body}");
        assert_eq!(failed.request_id, failed.sent_id, "{framework:?}");
        // A store that fails without panicking admits (decided here).
        let next = post(&url, "alice", None, "{}").await;
        assert_eq!(next.status, 201, "{framework:?}: the server goes on");
        assert_eq!(effects.count(), 1, "{framework:?}");
    }
}
