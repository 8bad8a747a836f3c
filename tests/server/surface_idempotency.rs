//! Idempotency keys from the one setup call (`Surface::idempotency`), over
//! loopback on both frameworks: a keyed request served once and replayed,
//! a key reused with another body refused in the type's style, keys
//! scoped by caller and by whole path, a panicking request giving its key
//! back, and a request the rate limiter refuses claiming none.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rebuff::server::Surface;
use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};

use crate::surface::client;

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE")]
enum OrderError {
    #[error("no such order")]
    #[api(status = 404)]
    NoSuchOrder,
}

#[derive(Debug, Clone, Copy)]
enum Framework {
    Axum,
    Actix,
}

const FRAMEWORKS: [Framework; 2] = [Framework::Axum, Framework::Actix];

/// Keys scoped by the caller's `x-api-key`.
fn keys() -> IdempotencyKeys {
    IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(60))).scope(|request| {
        request
            .header("x-api-key")
            .unwrap_or("")
            .as_bytes()
            .to_vec()
    })
}

/// The handlers' work: each call counted, the count in the answer.
#[derive(Clone, Default)]
struct Effects(Arc<AtomicU32>);

impl Effects {
    fn next(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    fn count(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// `POST /v1/orders` and `/v1/refunds` answer `<what> #<n>`; `/v1/flaky`
/// panics on its first call. The routes are nested under `/v1`, so that a
/// key scoped by the path a nest strips would be shared by both.
mod axum_server {
    use super::Effects;
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::post;

    pub(super) fn router(
        effects: Effects,
        surface: rebuff::server::Surface<super::OrderError>,
    ) -> Router {
        let orders = effects.clone();
        let refunds = effects.clone();
        let flaky = effects;
        let v1 = Router::new()
            .route(
                "/orders",
                post(move |_: String| {
                    let n = orders.next();
                    async move { (StatusCode::CREATED, format!("order #{n}")) }
                }),
            )
            .route(
                "/refunds",
                post(move |_: String| {
                    let n = refunds.next();
                    async move { (StatusCode::CREATED, format!("refund #{n}")) }
                }),
            )
            .route(
                "/flaky",
                post(move |_: String| {
                    let n = flaky.next();
                    async move {
                        assert!(n > 1, "the first call fails");
                        (StatusCode::CREATED, format!("flaky #{n}"))
                    }
                }),
            );
        Router::new().nest("/v1", v1).layer(surface)
    }
}

mod actix_server {
    use super::Effects;
    use actix_web::{App, HttpResponse, web};

    pub(super) fn serve(
        listener: std::net::TcpListener,
        effects: Effects,
        surface: rebuff::server::Surface<super::OrderError>,
    ) -> actix_web::dev::Server {
        actix_web::HttpServer::new(move || {
            let orders = effects.clone();
            let refunds = effects.clone();
            let flaky = effects.clone();
            App::new()
                .service(
                    web::scope("/v1")
                        .route(
                            "/orders",
                            web::post().to(move |_: web::Bytes| {
                                let n = orders.next();
                                async move { HttpResponse::Created().body(format!("order #{n}")) }
                            }),
                        )
                        .route(
                            "/refunds",
                            web::post().to(move |_: web::Bytes| {
                                let n = refunds.next();
                                async move { HttpResponse::Created().body(format!("refund #{n}")) }
                            }),
                        )
                        .route(
                            "/flaky",
                            web::post().to(move |_: web::Bytes| {
                                let n = flaky.next();
                                async move {
                                    assert!(n > 1, "the first call fails");
                                    HttpResponse::Created().body(format!("flaky #{n}"))
                                }
                            }),
                        ),
                )
                .wrap(surface.clone())
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run()
    }
}

/// A server of `framework` behind `surface`, and its handlers' count.
async fn start(framework: Framework, surface: Surface<OrderError>) -> (String, Effects) {
    let effects = Effects::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    match framework {
        Framework::Axum => {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum_server::router(effects.clone(), surface);
            tokio::spawn(axum::serve(listener, app).into_future());
        }
        Framework::Actix => {
            tokio::spawn(actix_server::serve(listener, effects.clone(), surface));
        }
    }
    (base, effects)
}

/// What a `POST` got: status, replayed or not, request id, body.
struct Answer {
    status: u16,
    replayed: bool,
    request_id: String,
    body: String,
}

async fn post(url: &str, caller: &str, key: Option<&str>, body: &'static str) -> Answer {
    let mut request = client()
        .post(url)
        .header("x-api-key", caller)
        .header("x-request-id", format!("req_{}", fastrand::u64(..)))
        .body(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let replayed = header("idempotent-replayed").as_deref() == Some("true");
    let request_id = header("x-request-id").unwrap_or_default();
    let body = response.text().await.unwrap();
    Answer {
        status,
        replayed,
        request_id,
        body,
    }
}

#[tokio::test]
async fn a_keyed_request_is_served_once_and_its_retry_replayed() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let url = format!("{base}/v1/orders");
        let first = post(&url, "alice", Some("order-1"), "{}").await;
        assert_eq!(first.status, 201, "{framework:?}: {}", first.body);
        assert_eq!(first.body, "order #1", "{framework:?}");
        assert!(!first.replayed, "{framework:?}");

        let retry = post(&url, "alice", Some("order-1"), "{}").await;
        assert_eq!(retry.status, 201, "{framework:?}");
        assert_eq!(retry.body, "order #1", "{framework:?}: the first answer");
        assert!(retry.replayed, "{framework:?}: marked as replayed");
        assert_ne!(retry.request_id, first.request_id, "{framework:?}");
        assert!(
            retry.request_id.starts_with("req_"),
            "{framework:?}: the retry's own id, {}",
            retry.request_id
        );
        assert_eq!(effects.count(), 1, "{framework:?}: the work done once");

        // Without a key, every request is served.
        for n in [2, 3] {
            let plain = post(&url, "alice", None, "{}").await;
            assert_eq!(plain.body, format!("order #{n}"), "{framework:?}");
            assert!(!plain.replayed, "{framework:?}");
        }
        assert_eq!(effects.count(), 3, "{framework:?}");
    }
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_refused_in_the_types_style() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let url = format!("{base}/v1/orders");
        let first = post(&url, "alice", Some("k"), r#"{"amount":1}"#).await;
        assert_eq!(first.status, 201, "{framework:?}");
        let reused = post(&url, "alice", Some("k"), r#"{"amount":2}"#).await;
        assert_eq!(reused.status, 422, "{framework:?}: {}", reused.body);
        let body: serde_json::Value = serde_json::from_str(&reused.body).unwrap();
        assert_eq!(
            body["code"], "IDEMPOTENCY_KEY_REUSED",
            "{framework:?}: {body}"
        );
        assert_eq!(
            body["requestId"], reused.request_id,
            "{framework:?}: {body}"
        );
        assert_eq!(effects.count(), 1, "{framework:?}");
    }
}

#[tokio::test]
async fn keys_are_scoped_by_caller_and_by_whole_path() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let orders = format!("{base}/v1/orders");
        let refunds = format!("{base}/v1/refunds");
        let alice = post(&orders, "alice", Some("same"), "{}").await;
        let bob = post(&orders, "bob", Some("same"), "{}").await;
        assert_eq!(alice.body, "order #1", "{framework:?}");
        assert_eq!(bob.body, "order #2", "{framework:?}: another caller's key");
        assert!(!bob.replayed, "{framework:?}");
        // Inside `/v1`, both routes see their path without the prefix on
        // axum; keys are scoped by the whole one.
        let refund = post(&refunds, "alice", Some("same"), "{}").await;
        assert_eq!(
            refund.body, "refund #3",
            "{framework:?}: another path's key"
        );
        assert!(!refund.replayed, "{framework:?}");
        let again = post(&orders, "alice", Some("same"), "{}").await;
        assert_eq!(again.body, "order #1", "{framework:?}");
        assert!(again.replayed, "{framework:?}");
        assert_eq!(effects.count(), 3, "{framework:?}");
    }
}

#[tokio::test]
async fn a_keyed_request_that_panics_gives_its_key_back() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let url = format!("{base}/v1/flaky");
        let failed = post(&url, "alice", Some("flaky-1"), "{}").await;
        assert_eq!(failed.status, 500, "{framework:?}");
        let body: serde_json::Value = serde_json::from_str(&failed.body).unwrap();
        assert_eq!(body["code"], "INTERNAL_ERROR", "{framework:?}: {body}");
        // The key was given back: the retry does the work, and is kept.
        let retry = post(&url, "alice", Some("flaky-1"), "{}").await;
        assert_eq!(retry.status, 201, "{framework:?}: {}", retry.body);
        assert_eq!(retry.body, "flaky #2", "{framework:?}");
        let replay = post(&url, "alice", Some("flaky-1"), "{}").await;
        assert_eq!(replay.body, "flaky #2", "{framework:?}");
        assert!(replay.replayed, "{framework:?}");
        assert_eq!(effects.count(), 2, "{framework:?}");
    }
}

/// The rate limit comes first: a retry the limiter refuses is not
/// replayed (a replay costs the store a lookup, and is a request like any
/// other), and its refusal leaves the key as it was, so that once
/// admitted the retry gets the first answer.
#[tokio::test]
async fn the_rate_limit_comes_before_the_key() {
    use rebuff::ratelimit::{Caller, MemoryStore, Plan, RateLimiter, TestClock, Window};

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
