//! The per-request cost of rate limiting, through a full axum router
//! (`tower::ServiceExt::oneshot`), side by side:
//!
//! - `tower_governor`: `tower_governor::GovernorLayer`, its default answers
//!   (no headers on an admitted request; a plain-text 429 with
//!   `x-ratelimit-after` and `retry-after`);
//! - `tower_governor_headers`: the same with `use_headers()` (its
//!   `x-ratelimit-limit`/`-remaining` on admitted requests too);
//! - `rebuff`: `rebuff::server::axum::RateLimitLayer` (the legacy
//!   `X-RateLimit-*` headers and the IETF `RateLimit-Policy`/`RateLimit`
//!   on every response; the 429 in the API's JSON envelope with a request
//!   id and `Retry-After`);
//! - `rebuff_legacy_headers`: the same without the IETF fields (three
//!   headers, near what `tower_governor_headers` sends).
//!
//! The same quota and keying on every side: one GCRA window, callers keyed
//! by their `x-api-key` header, 1,024 keys in turn. `admitted` allows 900
//! requests a second per key, which no run exhausts (a key comes round at
//! most a few hundred times a second); `refused` allows one request an
//! hour, so past the warm-up every request is refused.
//!
//! `no_limiter` is the same router with no limiter, for the cost of the
//! rest of the request; `headers_only` the same with a layer that decides
//! nothing and only writes rebuff's five headers, every value static (no
//! limiter can send them for less; admitted requests only): what the
//! headers alone cost.
//!
//! Every router is taken as `axum::serve` runs it, `with_state` done once
//! (its handlers and the layers over them made into services up front,
//! rather than on every request).
//!
//! `ratelimit_redis` puts the decision in a real `redis-server` (started on
//! a free loopback port; the group is skipped, and says so, when there is
//! none on PATH), against a hand-written baseline:
//!
//! - `hand_evalsha`: an axum middleware of a dozen lines, one EVALSHA of a
//!   single-window GCRA script per request through redis-rs's connection
//!   manager, three `X-RateLimit-*` headers, a plain-text 429;
//! - `rebuff_redis`: `RateLimitLayer` over `RedisStore` (no leases), every
//!   header and the envelope as above, the breaker and timeout in front;
//! - `rebuff_redis_leases`: the same with leases of 10 requests.
//!
//! Before the timings it counts the round trips per request as Redis
//! itself counts them (`INFO commandstats`: every EVALSHA, EVAL and SCRIPT
//! the clients sent), and checks them: exactly one without leases, at
//! most 0.2 with leases for callers under half their quota.
//!
//! Run: `cargo bench --bench ratelimit`

use std::hint::black_box;
use std::sync::Arc;
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request};
use rebuff::ApiError;
use rebuff::ratelimit::{Caller, Plan, RateLimiter, Window};
use rebuff::server::axum::RateLimitLayer;
use tower::ServiceExt;
use tower_governor::GovernorError;
use tower_governor::governor::GovernorConfigBuilder;
use tower_governor::key_extractor::KeyExtractor;

#[path = "ratelimit/fleet.rs"]
mod fleet;
#[path = "../tests/support/redis.rs"]
#[allow(dead_code)] // the fault-injection half is for the tests
mod redis_server;

/// The API's errors; the limiter's refusal renders in their style.
#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
enum ApiErr {
    #[error("lead missing")]
    #[api(status = 404, message = "Lead not found")]
    LeadNotFound,
}

const KEYS: usize = 1024;

/// tower_governor's callers by API key, as rebuff's resolver below.
#[derive(Debug, Clone, Copy)]
struct ApiKey;

impl KeyExtractor for ApiKey {
    type Key = String;

    fn extract<T>(&self, req: &Request<T>) -> Result<String, GovernorError> {
        req.headers()
            .get("x-api-key")
            .and_then(|key| key.to_str().ok())
            .map(str::to_owned)
            .ok_or(GovernorError::UnableToExtractKey)
    }
}

fn routes() -> Router {
    Router::new()
        .route("/api/v1/leads", get(|| async { "[]" }))
        .route(
            "/api/v1/leads/{id}",
            get(|| async { Err::<&str, _>(ApiErr::LeadNotFound) }),
        )
}

/// One window of `quota` per `period`, the burst the quota (as GCRA in
/// both crates has it).
fn governor(quota: u32, period: Duration, headers: bool) -> Router {
    let interval = period / quota;
    let mut builder = GovernorConfigBuilder::default().key_extractor(ApiKey);
    builder.period(interval).burst_size(quota);
    if headers {
        let config = builder.use_headers().finish().unwrap();
        routes()
            .layer(tower_governor::GovernorLayer::new(Arc::new(config)))
            .with_state(())
    } else {
        let config = builder.finish().unwrap();
        routes()
            .layer(tower_governor::GovernorLayer::new(Arc::new(config)))
            .with_state(())
    }
}

fn rebuff(quota: u32, period: Duration, ietf: bool) -> Router {
    let limiter = RateLimiter::new()
        .ietf_headers(ietf)
        .plan(Plan::new("free").window(Window::new(quota, period)))
        .resolve(|request| Some(Caller::new(request.header("x-api-key")?, "free")));
    routes()
        .layer(RateLimitLayer::<ApiErr>::new(limiter))
        .with_state(())
}

/// No limiter, only rebuff's five headers on every response, their values
/// static: the least any limiter sending them pays for them.
fn headers_only() -> Router {
    routes()
        .layer(tower::util::MapResponseLayer::new(
            |mut response: axum::response::Response| {
                let headers = response.headers_mut();
                headers.reserve(5);
                for (name, value) in [
                    ("x-ratelimit-limit", "900"),
                    ("x-ratelimit-remaining", "899"),
                    ("x-ratelimit-reset", "1700000001"),
                    ("ratelimit-policy", "\"free\";q=900;w=1"),
                    ("ratelimit", "\"free\";r=899;t=1"),
                ] {
                    headers.insert(
                        http::HeaderName::from_static(name),
                        HeaderValue::from_static(value),
                    );
                }
                response
            },
        ))
        .with_state(())
}

/// The 1,024 callers' keys, taken in turn.
struct Keys {
    keys: Vec<HeaderValue>,
    next: std::cell::Cell<usize>,
}

impl Keys {
    fn new() -> Self {
        Keys {
            keys: (0..KEYS)
                .map(|i| HeaderValue::from_str(&format!("key_{i:04}")).unwrap())
                .collect(),
            next: std::cell::Cell::new(0),
        }
    }

    fn next(&self) -> HeaderValue {
        let i = self.next.get();
        self.next.set((i + 1) % KEYS);
        self.keys[i].clone()
    }
}

/// One `GET /api/v1/leads` as the next caller, answered in full: its
/// status, its `X-RateLimit-Remaining` and its body.
fn get_leads(
    runtime: &tokio::runtime::Runtime,
    router: &Router,
    keys: &Keys,
) -> (http::StatusCode, Option<HeaderValue>, bytes::Bytes) {
    let router = router.clone();
    let key = keys.next();
    runtime.block_on(async move {
        let request = Request::get("/api/v1/leads")
            .header("x-api-key", key)
            .body(Body::empty())
            .unwrap();
        let response = router.oneshot(request).await.unwrap();
        let status = response.status();
        let remaining = response.headers().get("x-ratelimit-remaining").cloned();
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        black_box((status, remaining, body))
    })
}

fn ratelimit(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let keys = Keys::new();
    let run = |router: &Router| get_leads(&runtime, router, &keys);

    let second = Duration::from_secs(1);
    let hour = Duration::from_secs(3600);
    for (group, quota, period, expected) in [
        ("ratelimit_admitted", 900, second, 200),
        ("ratelimit_refused", 1, hour, 429),
    ] {
        let limiters = [
            ("tower_governor", governor(quota, period, false)),
            ("tower_governor_headers", governor(quota, period, true)),
            ("rebuff", rebuff(quota, period, true)),
            ("rebuff_legacy_headers", rebuff(quota, period, false)),
        ];
        // Every key's first request spent, then each side answers as the
        // group says.
        for (name, router) in &limiters {
            for _ in 0..KEYS {
                run(router);
            }
            let (status, _, _) = run(router);
            assert_eq!(status.as_u16(), expected, "{name} in {group}");
        }
        let mut sides = vec![("no_limiter", routes().with_state(()))];
        if expected == 200 {
            sides.push(("headers_only", headers_only()));
        }
        sides.extend(limiters);
        let mut group = c.benchmark_group(group);
        for (name, router) in &sides {
            group.bench_function(*name, |b| b.iter(|| run(router)));
        }
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(6)).sample_size(150);
    targets = ratelimit, fleet::ratelimit_redis
}
criterion_main!(benches);
