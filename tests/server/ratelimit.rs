//! Per-plan rate limits through the server surface, on axum and actix-web
//! over loopback, on a test clock: the headers on every response, the 61st
//! request of a free key refused in the API's envelope, independent keys,
//! the pro plan, escalation and its expiry, per-address limits for
//! unauthenticated traffic (and spoofed `X-Forwarded-For` ignored).

use std::net::{IpAddr, SocketAddr};
use std::time::Duration;

use rebuff::ApiError;
use rebuff::ratelimit::{Caller, MemoryStore, Plan, RateLimiter, TestClock, Window};
use rebuff::server::Surface;
use serde_json::Value;

/// An API that answers the limiter's refusal with its own variant.
#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
pub enum ApiErr {
    #[error("missing")]
    #[api(status = 404, message = "Thing not found")]
    ThingNotFound,
    #[error("down")]
    #[api(status = 503, message = "Down for maintenance")]
    Down,
    #[error("rate limited")]
    #[api(status = 429, message = "Slow down: {retry_after} s", rejection = RateLimited)]
    RateLimitExceeded {
        #[api(retry_after)]
        retry_after: u64,
        limit: String,
        #[api(rate_limit)]
        limits: rebuff::RateLimit,
    },
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framework {
    Axum,
    Actix,
}

const FRAMEWORKS: [Framework; 2] = [Framework::Axum, Framework::Actix];

/// Keys `free_*` and `pro_*`; anything else by address, 5 a minute; 3
/// refusals within 10 s block for 60 s.
fn limiter(clock: &TestClock, trusted: &[&str]) -> RateLimiter {
    RateLimiter::new()
        .plan(Plan::free())
        .plan(Plan::pro())
        .anonymous(Plan::new("anonymous").window(Window::per_minute(5)))
        .resolve(|request| {
            let key = request.header("x-api-key")?;
            let plan = key.split('_').next()?;
            Some(Caller::new(key, plan))
        })
        .escalate(3, Duration::from_secs(10), Duration::from_secs(60))
        .trust_proxies(trusted.iter().copied())
        .unwrap()
        .store(MemoryStore::new().clock(clock.clone()))
}

mod axum_server {
    use axum::Router;
    use axum::routing::get;

    use super::ApiErr;

    pub(super) fn routes() -> Router {
        Router::new()
            .route("/ok", get(|| async { "ok" }))
            .route(
                "/missing",
                get(|| async { Err::<(), _>(ApiErr::ThingNotFound) }),
            )
            .route("/down", get(|| async { Err::<(), _>(ApiErr::Down) }))
    }
}

mod actix_server {
    use actix_web::web;

    use super::ApiErr;

    fn routes(config: &mut web::ServiceConfig) {
        config
            .route("/ok", web::get().to(|| async { "ok" }))
            .route(
                "/missing",
                web::get().to(|| async { Err::<String, _>(ApiErr::ThingNotFound) }),
            )
            .route(
                "/down",
                web::get().to(|| async { Err::<String, _>(ApiErr::Down) }),
            );
    }

    /// Serves the routes wrapped in `$middleware` (one value for every
    /// worker, so that they share the limiter).
    macro_rules! serve {
        ($listener:expr, $middleware:expr) => {{
            let middleware = $middleware;
            actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .configure(routes)
                    .wrap(middleware.clone())
            })
            .workers(1)
            .disable_signals()
            .listen($listener)
            .expect("listen")
            .run()
        }};
        ($listener:expr, $inner:expr, $outer:expr) => {{
            let (inner, outer) = ($inner, $outer);
            actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .configure(routes)
                    .wrap(inner.clone())
                    .wrap(outer.clone())
            })
            .workers(1)
            .disable_signals()
            .listen($listener)
            .expect("listen")
            .run()
        }};
    }

    pub(super) fn serve(
        listener: std::net::TcpListener,
        mount: super::Mount,
    ) -> actix_web::dev::Server {
        match mount {
            super::Mount::Surface(surface) => serve!(listener, surface),
            super::Mount::Alone(limiter) => {
                serve!(
                    listener,
                    rebuff::server::actix::RateLimit::<ApiErr>::new(*limiter)
                )
            }
            super::Mount::LayerInSurface(limiter) => serve!(
                listener,
                rebuff::server::actix::RateLimit::<ApiErr>::new((*limiter).clone()),
                rebuff::server::Surface::<ApiErr>::new().rate_limit(*limiter)
            ),
            super::Mount::SurfaceInSurface(limiter) => serve!(
                listener,
                rebuff::server::Surface::<ApiErr>::new().rate_limit((*limiter).clone()),
                rebuff::server::Surface::<ApiErr>::new().rate_limit(*limiter)
            ),
        }
    }
}

/// How the limiter is mounted: inside the surface, alone, or twice (its
/// layer inside a surface with it, or two surfaces with it).
enum Mount {
    Surface(Surface<ApiErr>),
    Alone(Box<RateLimiter>),
    LayerInSurface(Box<RateLimiter>),
    SurfaceInSurface(Box<RateLimiter>),
}

async fn start(framework: Framework, limiter: RateLimiter) -> String {
    mount(
        framework,
        Mount::Surface(Surface::<ApiErr>::new().rate_limit(limiter)),
    )
    .await
}

async fn mount(framework: Framework, mount: Mount) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    match framework {
        Framework::Axum => {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = match mount {
                Mount::Surface(surface) => axum_server::routes().layer(surface),
                Mount::Alone(limiter) => axum_server::routes().layer(
                    rebuff::server::axum::RateLimitLayer::<ApiErr>::new(*limiter),
                ),
                Mount::LayerInSurface(limiter) => axum_server::routes()
                    .layer(rebuff::server::axum::RateLimitLayer::<ApiErr>::new(
                        (*limiter).clone(),
                    ))
                    .layer(Surface::<ApiErr>::new().rate_limit(*limiter)),
                Mount::SurfaceInSurface(limiter) => axum_server::routes()
                    .layer(Surface::<ApiErr>::new().rate_limit((*limiter).clone()))
                    .layer(Surface::<ApiErr>::new().rate_limit(*limiter)),
            };
            let app = app.into_make_service_with_connect_info::<SocketAddr>();
            tokio::spawn(axum::serve(listener, app).into_future());
        }
        Framework::Actix => {
            tokio::spawn(actix_server::serve(listener, mount));
        }
    }
    format!("http://{addr}")
}

/// A client sending from `from` (127.0.0.1 or another loopback address).
fn client_from(from: &str) -> reqwest::Client {
    reqwest::Client::builder()
        .local_address(from.parse::<IpAddr>().unwrap())
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

async fn get(client: &reqwest::Client, url: String, key: Option<&str>) -> reqwest::Response {
    let mut request = client.get(url);
    if let Some(key) = key {
        request = request.header("x-api-key", key);
    }
    request.send().await.unwrap()
}

fn header(response: &reqwest::Response, name: &str) -> String {
    response
        .headers()
        .get(name)
        .unwrap_or_else(|| panic!("no {name} on a {}", response.status()))
        .to_str()
        .unwrap()
        .to_owned()
}

fn number(response: &reqwest::Response, name: &str) -> u64 {
    header(response, name).parse().unwrap()
}

#[tokio::test]
async fn every_response_carries_the_headers_and_remaining_counts_down() {
    for framework in FRAMEWORKS {
        let clock = TestClock::at_secs(1_700_000_000);
        let base = start(framework, limiter(&clock, &[])).await;
        let client = client_from("127.0.0.1");
        let mut remaining = Vec::new();
        for path in ["/ok", "/missing", "/down", "/ok", "/nowhere"] {
            let response = get(&client, format!("{base}{path}"), Some("free_k1")).await;
            assert_eq!(
                header(&response, "x-ratelimit-limit"),
                "60",
                "{framework:?} {path}"
            );
            assert_eq!(header(&response, "ratelimit-policy"), r#""free";q=60;w=60"#);
            let left = number(&response, "x-ratelimit-remaining");
            assert_eq!(
                header(&response, "ratelimit"),
                format!(r#""free";r={left};t={}"#, 60 - left),
                "{framework:?} {path}"
            );
            assert!(number(&response, "x-ratelimit-reset") > 1_700_000_000);
            remaining.push((response.status().as_u16(), left));
        }
        assert_eq!(
            remaining,
            [(200, 59), (404, 58), (503, 57), (200, 56), (404, 55)],
            "{framework:?}"
        );
    }
}

/// A limiter mounted twice on one route (its layer inside a surface with
/// it, or a surface nested in another) charges a request once.
#[tokio::test]
async fn a_limiter_mounted_twice_charges_a_request_once() {
    for framework in FRAMEWORKS {
        for twice in [Mount::LayerInSurface, Mount::SurfaceInSurface] {
            let clock = TestClock::at_secs(1_700_000_000);
            let base = mount(framework, twice(Box::new(limiter(&clock, &[])))).await;
            let client = client_from("127.0.0.1");
            let mut remaining = Vec::new();
            for _ in 0..3 {
                let response = get(&client, format!("{base}/ok"), Some("free_k1")).await;
                remaining.push(number(&response, "x-ratelimit-remaining"));
                assert_eq!(
                    response
                        .headers()
                        .get_all("x-ratelimit-remaining")
                        .iter()
                        .count(),
                    1,
                    "{framework:?}"
                );
            }
            assert_eq!(remaining, [59, 58, 57], "{framework:?}");
        }
    }
}

#[tokio::test]
async fn the_61st_request_of_a_free_key_is_refused_in_the_apis_envelope() {
    for framework in FRAMEWORKS {
        let clock = TestClock::at_secs(1_700_000_000);
        let base = start(framework, limiter(&clock, &[])).await;
        let client = client_from("127.0.0.1");
        for i in 0..60 {
            let response = get(&client, format!("{base}/ok"), Some("free_burst")).await;
            assert_eq!(response.status(), 200, "{framework:?} request {}", i + 1);
        }
        let refused = get(&client, format!("{base}/ok"), Some("free_burst")).await;
        assert_eq!(refused.status(), 429, "{framework:?}");
        let retry_after = number(&refused, "retry-after");
        let reset = number(&refused, "x-ratelimit-reset");
        assert_eq!(number(&refused, "x-ratelimit-remaining"), 0);
        // 60 a minute, all spent at one instant: the next is a second away.
        assert_eq!(retry_after, 1, "{framework:?}");
        assert!(
            1_700_000_000 + retry_after >= reset,
            "Retry-After {retry_after} comes before the reset {reset}"
        );
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "RATE_LIMIT_EXCEEDED", "{body}");
        assert_eq!(body["error"], format!("Slow down: {retry_after} s"));
        assert_eq!(body["details"]["limit"], "60/minute");

        // Keys are independent, and a second later one request is back.
        let other = get(&client, format!("{base}/ok"), Some("free_other")).await;
        assert_eq!(other.status(), 200);
        clock.advance(Duration::from_secs(1));
        let back = get(&client, format!("{base}/ok"), Some("free_burst")).await;
        assert_eq!(back.status(), 200, "{framework:?}");
    }
}

#[tokio::test]
async fn the_limiter_alone_sets_the_headers_and_refuses_in_the_types_style() {
    for framework in FRAMEWORKS {
        let clock = TestClock::at_secs(1_700_000_000);
        let base = mount(framework, Mount::Alone(Box::new(limiter(&clock, &[])))).await;
        let client = client_from("127.0.0.1");
        for (i, path) in ["/ok", "/missing", "/down"]
            .iter()
            .cycle()
            .take(60)
            .enumerate()
        {
            let response = get(&client, format!("{base}{path}"), Some("free_alone")).await;
            assert_eq!(
                number(&response, "x-ratelimit-remaining"),
                59 - i as u64,
                "{framework:?} {path}"
            );
            assert_eq!(header(&response, "ratelimit-policy"), r#""free";q=60;w=60"#);
        }
        let refused = get(&client, format!("{base}/ok"), Some("free_alone")).await;
        assert_eq!(refused.status(), 429, "{framework:?}");
        let retry_after = number(&refused, "retry-after");
        let body: Value = refused.json().await.unwrap();
        assert_eq!(body["code"], "RATE_LIMIT_EXCEEDED", "{framework:?} {body}");
        assert_eq!(body["error"], format!("Slow down: {retry_after} s"));
        assert_eq!(body["details"]["limit"], "60/minute");
        assert!(
            body["requestId"]
                .as_str()
                .is_some_and(|id| id.starts_with("req_")),
            "{body}"
        );
        let other = get(&client, format!("{base}/ok"), Some("free_other")).await;
        assert_eq!(other.status(), 200, "{framework:?}");
    }
}

#[tokio::test]
async fn the_pro_plan_admits_300_a_minute() {
    for framework in FRAMEWORKS {
        let clock = TestClock::at_secs(1_700_000_000);
        let base = start(framework, limiter(&clock, &[])).await;
        let client = client_from("127.0.0.1");
        for i in 0..300 {
            let response = get(&client, format!("{base}/ok"), Some("pro_big")).await;
            assert_eq!(response.status(), 200, "{framework:?} request {}", i + 1);
        }
        let refused = get(&client, format!("{base}/ok"), Some("pro_big")).await;
        assert_eq!(refused.status(), 429);
        assert_eq!(header(&refused, "x-ratelimit-limit"), "300");
    }
}

#[tokio::test]
async fn repeated_refusals_block_the_caller_until_the_block_expires() {
    for framework in FRAMEWORKS {
        let clock = TestClock::at_secs(1_700_000_000);
        let base = start(framework, limiter(&clock, &[])).await;
        let client = client_from("127.0.0.1");
        for _ in 0..60 {
            get(&client, format!("{base}/ok"), Some("free_abuser")).await;
        }
        // Two refusals, then the third blocks.
        for _ in 0..2 {
            let refused = get(&client, format!("{base}/ok"), Some("free_abuser")).await;
            let body: Value = refused.json().await.unwrap();
            assert_eq!(body["code"], "RATE_LIMIT_EXCEEDED");
        }
        let blocked = get(&client, format!("{base}/ok"), Some("free_abuser")).await;
        assert_eq!(blocked.status(), 429);
        assert_eq!(number(&blocked, "retry-after"), 60, "{framework:?}");
        let body: Value = blocked.json().await.unwrap();
        assert_eq!(body["code"], "ABNORMAL_USAGE_DETECTED", "{body}");
        assert_eq!(body["details"]["retryAfter"], 60);
        // The minute refills, but the block holds...
        clock.advance(Duration::from_secs(59));
        let still = get(&client, format!("{base}/ok"), Some("free_abuser")).await;
        assert_eq!(still.status(), 429);
        let body: Value = still.json().await.unwrap();
        assert_eq!(body["code"], "ABNORMAL_USAGE_DETECTED");
        // ...until it ends.
        clock.advance(Duration::from_secs(2));
        let free = get(&client, format!("{base}/ok"), Some("free_abuser")).await;
        assert_eq!(free.status(), 200, "{framework:?}");
    }
}

#[tokio::test]
async fn unauthenticated_traffic_is_limited_per_address() {
    for framework in FRAMEWORKS {
        let clock = TestClock::at_secs(1_700_000_000);
        let base = start(framework, limiter(&clock, &[])).await;
        let one = client_from("127.0.0.1");
        let two = client_from("127.0.0.2");
        for _ in 0..5 {
            let response = get(&one, format!("{base}/ok"), Some("guessed-key")).await;
            assert_eq!(response.status(), 200);
            assert_eq!(header(&response, "x-ratelimit-limit"), "5");
        }
        let refused = get(&one, format!("{base}/ok"), None).await;
        assert_eq!(
            refused.status(),
            429,
            "{framework:?}: keys guessed from one address"
        );
        // Another address has its own budget.
        let other = get(&two, format!("{base}/ok"), None).await;
        assert_eq!(other.status(), 200, "{framework:?}");
        // A spoofed X-Forwarded-For from an untrusted peer changes nothing.
        let spoofed = one
            .get(format!("{base}/ok"))
            .header("x-forwarded-for", "203.0.113.99")
            .send()
            .await
            .unwrap();
        assert_eq!(
            spoofed.status(),
            429,
            "{framework:?}: spoofing does not help"
        );
    }
}

#[tokio::test]
async fn behind_a_trusted_proxy_the_forwarded_address_counts() {
    for framework in FRAMEWORKS {
        let clock = TestClock::at_secs(1_700_000_000);
        let base = start(framework, limiter(&clock, &["127.0.0.0/8"])).await;
        let proxy = client_from("127.0.0.1");
        let via = |client_ip: &'static str| {
            let proxy = proxy.clone();
            let url = format!("{base}/ok");
            async move {
                proxy
                    .get(url)
                    .header("x-forwarded-for", client_ip)
                    .send()
                    .await
                    .unwrap()
                    .status()
            }
        };
        for _ in 0..5 {
            assert_eq!(via("198.51.100.1").await, 200);
        }
        assert_eq!(via("198.51.100.1").await, 429, "{framework:?}");
        assert_eq!(
            via("198.51.100.2").await,
            200,
            "{framework:?}: another client"
        );
    }
}

#[tokio::test]
async fn shadow_mode_decides_but_never_refuses() {
    for framework in FRAMEWORKS {
        let clock = TestClock::at_secs(1_700_000_000);
        let limiter = limiter(&clock, &[]).shadow(true);
        let base = start(framework, limiter).await;
        let client = client_from("127.0.0.1");
        for _ in 0..70 {
            let response = get(&client, format!("{base}/ok"), Some("free_shadow")).await;
            assert_eq!(response.status(), 200, "{framework:?}");
        }
        let last = get(&client, format!("{base}/ok"), Some("free_shadow")).await;
        assert_eq!(number(&last, "x-ratelimit-remaining"), 0);
    }
}

/// In shadow mode even a failed store on a route that fails closed does not
/// refuse: shadow mode never changes an answer.
#[tokio::test]
async fn shadow_mode_never_refuses_even_when_the_store_fails_closed() {
    use rebuff::ratelimit::{Ask, Deciding, RateLimitStore, RequestView};

    struct Down;

    impl RateLimitStore for Down {
        fn decide(&self, _: &Ask<'_>) -> Deciding {
            Box::pin(async { Err(rebuff::StoreError::new("unreachable")) })
        }
    }

    let headers = http::HeaderMap::new();
    let request = RequestView::new("POST", "/pay", &headers, "192.0.2.1".parse().ok());
    for shadow in [false, true] {
        let limiter = RateLimiter::new()
            .anonymous(Plan::new("anonymous").window(Window::per_minute(5)))
            .fail_closed(|_| true)
            .shadow(shadow)
            .store(Down);
        let verdict = limiter.decide_request(&request).await;
        assert_eq!(verdict.is_refused(), !shadow, "shadow: {shadow}");
    }
}

#[tokio::test]
async fn each_header_family_can_be_switched_off() {
    let clock = TestClock::at_secs(1_700_000_000);
    let base = start(Framework::Axum, limiter(&clock, &[]).ietf_headers(false)).await;
    let response = get(
        &client_from("127.0.0.1"),
        format!("{base}/ok"),
        Some("free_a"),
    )
    .await;
    assert!(response.headers().contains_key("x-ratelimit-limit"));
    assert!(!response.headers().contains_key("ratelimit"));
    let base = start(Framework::Actix, limiter(&clock, &[]).legacy_headers(false)).await;
    let response = get(
        &client_from("127.0.0.1"),
        format!("{base}/ok"),
        Some("free_b"),
    )
    .await;
    assert!(!response.headers().contains_key("x-ratelimit-limit"));
    assert!(response.headers().contains_key("ratelimit"));
}

/// A flood of distinct callers cannot grow the in-process store past its
/// capacity: a million callers, one request each, through a store for
/// 10,000.
#[test]
fn a_million_distinct_callers_stay_under_the_cap() {
    use rebuff::ratelimit::{Ask, CallerId, Key, RateLimitStore};
    let clock = TestClock::at_secs(1_700_000_000);
    let store = MemoryStore::with_capacity(10_000).clock(clock.clone());
    let windows = [Window::per_minute(60)];
    let mut most = 0;
    let mut key = String::new();
    for i in 0..1_000_000u32 {
        key.clear();
        key.push_str("caller-");
        key.push_str(&i.to_string());
        let ask = Ask {
            key: Key {
                plan: "free",
                caller: CallerId::Key(&key),
            },
            windows: &windows,
            escalation: None,
        };
        let decision = store.decide_now(&ask).unwrap().unwrap();
        assert_eq!(decision.windows()[0].remaining, 59);
        if i % 1_000 == 0 {
            most = most.max(store.len());
            clock.advance(Duration::from_millis(100));
        }
    }
    most = most.max(store.len());
    assert!(
        most <= store.capacity(),
        "{most} callers kept, capacity {}",
        store.capacity()
    );
    assert!(store.capacity() <= 10_000 + 64 * 4, "{}", store.capacity());
    assert!(store.len() > 1_000, "the store still keeps recent callers");
}

/// On actix-web, the limiter alone gives its headers to the answer of an
/// inner middleware that failed with an error, too.
#[tokio::test]
async fn an_inner_middlewares_error_carries_the_headers() {
    use actix_web::{App, HttpResponse, test, web};

    let clock = TestClock::at_secs(1_700_000_000);
    let app = test::init_service(
        App::new()
            .route("/ok", web::get().to(HttpResponse::Ok))
            .wrap_fn(|req, srv| {
                let call = actix_web::dev::Service::call(srv, req);
                async move {
                    drop(call);
                    Err::<actix_web::dev::ServiceResponse, _>(actix_web::error::ErrorForbidden(
                        "no",
                    ))
                }
            })
            .wrap(rebuff::server::actix::RateLimit::<ApiErr>::new(limiter(
                &clock,
                &[],
            ))),
    )
    .await;
    let request = test::TestRequest::get()
        .uri("/ok")
        .insert_header(("x-api-key", "free_failing"))
        .to_request();
    let response = match test::try_call_service(&app, request).await {
        Ok(response) => response.into_parts().1.map_into_boxed_body(),
        Err(err) => err.error_response(),
    };
    assert_eq!(response.status(), 403);
    assert_eq!(response.headers().get("x-ratelimit-limit").unwrap(), "60");
    assert_eq!(
        response.headers().get("x-ratelimit-remaining").unwrap(),
        "59"
    );
}

/// A store of the user's own that says more than the plan has (more
/// windows than there are, a refusing window out of range) still gets an
/// answer with the headers, not a panic on every request.
#[tokio::test]
async fn a_store_saying_more_than_the_plan_has_is_read_safely() {
    use rebuff::ratelimit::{
        Ask, Deciding, Decision, MAX_WINDOWS, Outcome, RateLimitStore, WindowState,
    };
    use tower::ServiceExt;

    struct Confused(Outcome);

    impl RateLimitStore for Confused {
        fn decide_now(&self, _: &Ask<'_>) -> Option<Result<Decision, rebuff::StoreError>> {
            let window = WindowState {
                quota: 60,
                remaining: 3,
                reset_after: u64::MAX,
            };
            Some(Ok(Decision {
                outcome: self.0,
                windows: [window; MAX_WINDOWS],
                len: MAX_WINDOWS + 5,
                now: u64::MAX - 1,
                degraded: false,
            }))
        }

        fn decide(&self, ask: &Ask<'_>) -> Deciding {
            let decided = self.decide_now(ask).unwrap();
            Box::pin(async move { decided })
        }
    }

    for (outcome, status) in [
        (Outcome::Admitted, 200),
        (
            Outcome::Limited {
                window: 7,
                retry_after: u64::MAX,
            },
            429,
        ),
    ] {
        let limiter = RateLimiter::new()
            .anonymous(Plan::new("anonymous").window(Window::per_minute(60)))
            .store(Confused(outcome));
        let app = axum::Router::new()
            .route("/ok", axum::routing::get(|| async { "ok" }))
            .layer(rebuff::server::axum::RateLimitLayer::<ApiErr>::new(limiter));
        let request = axum::extract::Request::get("/ok")
            .extension(axum::extract::ConnectInfo(SocketAddr::from((
                [192, 0, 2, 1],
                40_000,
            ))))
            .body(axum::body::Body::empty())
            .unwrap();
        let response = app.oneshot(request).await.unwrap();
        assert_eq!(response.status(), status, "{outcome:?}");
        assert_eq!(response.headers()["x-ratelimit-limit"], "60", "{outcome:?}");
        assert!(response.headers().contains_key("ratelimit"), "{outcome:?}");
    }
}

/// The standalone layer composed directly inside the surface (both tower
/// layers around the whole router, where the surface's `call` calls the
/// limiter's at once): its refusal is rendered in the request's context,
/// with the request's id and its negotiated format.
#[tokio::test]
async fn a_limiter_layer_just_inside_the_surface_refuses_in_the_requests_context() {
    use tower::{Layer as _, ServiceExt as _};
    let limiter = RateLimiter::new()
        .anonymous(Plan::new("anonymous").window(Window::per_hour(1)))
        .store(MemoryStore::new());
    let router = axum::Router::new().route("/ok", axum::routing::get(|| async { "ok" }));
    let limited = rebuff::server::axum::RateLimitLayer::<ApiErr>::new(limiter).layer(router);
    let app = Surface::<ApiErr>::new().layer(limited);
    let request = |id: &str| {
        axum::extract::Request::get("/ok")
            .header("x-request-id", id)
            .header("accept", "application/problem+json")
            .extension(axum::extract::ConnectInfo(SocketAddr::from((
                [192, 0, 2, 7],
                40_000,
            ))))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let admitted = app.clone().oneshot(request("req_first")).await.unwrap();
    assert_eq!(admitted.status(), 200);
    let refused = app.oneshot(request("req_second")).await.unwrap();
    assert_eq!(refused.status(), 429);
    assert_eq!(refused.headers()["x-request-id"], "req_second");
    assert_eq!(
        refused.headers()["content-type"],
        "application/problem+json"
    );
    let body = axum::body::to_bytes(refused.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["request_id"], "req_second", "{body}");
    assert_eq!(body["instance"], "/ok", "{body}");
}

/// A service with one reservation to give (a concurrency limit of one):
/// held from `poll_ready` until its `call`, or until the holder is dropped.
struct Gate {
    mine: bool,
    held: std::sync::Arc<std::sync::Mutex<(bool, Option<std::task::Waker>)>>,
}

impl Gate {
    fn give_back(&mut self) {
        if std::mem::take(&mut self.mine) {
            let mut held = self.held.lock().unwrap();
            held.0 = false;
            if let Some(waker) = held.1.take() {
                waker.wake();
            }
        }
    }
}

impl Clone for Gate {
    fn clone(&self) -> Self {
        Gate {
            mine: false,
            held: self.held.clone(),
        }
    }
}

impl Drop for Gate {
    fn drop(&mut self) {
        self.give_back();
    }
}

impl tower::Service<axum::extract::Request> for Gate {
    type Response = axum::response::Response;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        if self.mine {
            return std::task::Poll::Ready(Ok(()));
        }
        let mut held = self.held.lock().unwrap();
        if held.0 {
            held.1 = Some(cx.waker().clone());
            return std::task::Poll::Pending;
        }
        held.0 = true;
        self.mine = true;
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: axum::extract::Request) -> Self::Future {
        self.give_back();
        std::future::ready(Ok(axum::response::Response::new(axum::body::Body::empty())))
    }
}

/// A store that always answers later, as a remote one does.
struct Later;

impl rebuff::ratelimit::RateLimitStore for Later {
    fn decide(&self, ask: &rebuff::ratelimit::Ask<'_>) -> rebuff::ratelimit::Deciding {
        let decided = MemoryStore::new().decide_now(ask).unwrap();
        Box::pin(async move { decided })
    }
}

/// Waiting for a remote store's decision, the layer and the surface serve
/// the request with the service that was made ready for it, not a clone
/// that would wait for the reservation the original still holds.
#[tokio::test]
async fn a_remote_decision_is_served_by_the_service_made_ready() {
    use tower::{Layer as _, Service as _, ServiceExt as _};
    let limiter = || {
        RateLimiter::new()
            .anonymous(Plan::new("anonymous").window(Window::per_minute(60)))
            .store(Later)
    };
    let gate = || Gate {
        mine: false,
        held: Default::default(),
    };
    let request = || {
        axum::extract::Request::get("/ok")
            .extension(axum::extract::ConnectInfo(SocketAddr::from((
                [192, 0, 2, 8],
                40_000,
            ))))
            .body(axum::body::Body::empty())
            .unwrap()
    };
    let mut layered = rebuff::server::axum::RateLimitLayer::<ApiErr>::new(limiter()).layer(gate());
    let call = layered.ready().await.unwrap().call(request());
    let response = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("served, not waiting for itself")
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-ratelimit-limit"));

    let mut surfaced = Surface::<ApiErr>::new().rate_limit(limiter()).layer(gate());
    let call = surfaced.ready().await.unwrap().call(request());
    let response = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("served, not waiting for itself")
        .unwrap();
    assert_eq!(response.status(), 200);
    assert!(response.headers().contains_key("x-ratelimit-limit"));
    drop((layered, surfaced));
}
