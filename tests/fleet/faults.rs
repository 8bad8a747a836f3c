//! Redis going away in the middle of traffic, on axum and actix-web: every
//! request still answered within the timeout and never with a 5xx (but on
//! the route that fails closed), each instance limiting alone meanwhile;
//! Redis back, the instances share again; a Redis that stalls is down.

use std::net::SocketAddr;
use std::time::{Duration, Instant};

use rebuff::ApiError;
use rebuff::ratelimit::{Caller, Plan, RateLimiter, RedisStore, Window};
use rebuff::server::Surface;
use serde_json::Value;

use crate::redis_server::RedisServer;

#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE")]
enum PayError {
    #[error("declined")]
    #[api(status = 402, message = "Card declined")]
    Declined,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Framework {
    Axum,
    Actix,
}

/// Far beyond the 300 ms timeout: the bound only catches a request that
/// waits on the dead server for ever.
const ANSWERED_WITHIN: Duration = Duration::from_secs(10);

fn limiter(url: &str) -> RateLimiter {
    let store = RedisStore::open(url)
        .unwrap()
        .instances(2)
        .timeout(Duration::from_millis(300));
    RateLimiter::new()
        .plan(Plan::new("free").window(Window::per_minute(1000)))
        .resolve(|request| Some(Caller::new(request.header("x-api-key")?, "free")))
        .fail_closed(|request| request.path() == "/pay")
        .store(store)
}

async fn serve(framework: Framework, url: &str) -> String {
    let surface = Surface::<PayError>::new().rate_limit(limiter(url));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    match framework {
        Framework::Axum => {
            use axum::routing::get;
            let app = axum::Router::new()
                .route("/ok", get(|| async { "ok" }))
                .route("/pay", get(|| async { Err::<(), _>(PayError::Declined) }))
                .layer(surface)
                .into_make_service_with_connect_info::<SocketAddr>();
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            tokio::spawn(axum::serve(listener, app).into_future());
        }
        Framework::Actix => {
            use actix_web::web;
            let server = actix_web::HttpServer::new(move || {
                actix_web::App::new()
                    .route("/ok", web::get().to(|| async { "ok" }))
                    .route(
                        "/pay",
                        web::get().to(|| async { Err::<String, _>(PayError::Declined) }),
                    )
                    .wrap(surface.clone())
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .unwrap()
            .run();
            tokio::spawn(server);
        }
    }
    format!("http://{addr}")
}

struct Answer {
    status: u16,
    alone: bool,
    remaining: Option<u32>,
    body: Value,
}

async fn get(client: &reqwest::Client, url: String) -> Answer {
    let sent = client.get(&url).header("x-api-key", "k1").send();
    let response = tokio::time::timeout(ANSWERED_WITHIN, sent)
        .await
        .unwrap_or_else(|_| panic!("{url} never answered"))
        .unwrap();
    let alone = response
        .headers()
        .get("x-ratelimit-scope")
        .is_some_and(|scope| scope == "instance");
    let remaining = response
        .headers()
        .get("x-ratelimit-remaining")
        .and_then(|v| v.to_str().ok()?.parse().ok());
    let status = response.status().as_u16();
    let body = response.json().await.unwrap_or(Value::Null);
    Answer {
        status,
        alone,
        remaining,
        body,
    }
}

/// Until both servers share again (the breaker's probe goes through).
async fn until_shared(client: &reqwest::Client, servers: &[String]) {
    let started = Instant::now();
    for server in servers {
        while get(client, format!("{server}/ok")).await.alone {
            assert!(
                started.elapsed() < Duration::from_secs(15),
                "{server} never shared again"
            );
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
    }
}

/// Both servers count one key's requests in Redis: each sees the other's.
async fn shared_counts(client: &reqwest::Client, servers: &[String]) {
    let a = get(client, format!("{}/ok", servers[0])).await;
    let b = get(client, format!("{}/ok", servers[1])).await;
    assert!(!a.alone && !b.alone);
    let (a, b) = (a.remaining.unwrap(), b.remaining.unwrap());
    assert!(b + 1 == a || b == a, "{a} then {b}: not one count");
}

#[tokio::test]
async fn redis_stopped_restarted_and_stalled_under_traffic() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let url = redis.url();
    let servers = [
        serve(Framework::Axum, &url).await,
        serve(Framework::Actix, &url).await,
    ];
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    shared_counts(&client, &servers).await;

    // Stopped: every request answered, alone, none with a 5xx but /pay's.
    redis.stop();
    for round in 0..15 {
        for server in &servers {
            let ok = get(&client, format!("{server}/ok")).await;
            assert_eq!(ok.status, 200, "{server} round {round}");
            assert!(ok.alone, "{server} round {round}");
            let pay = get(&client, format!("{server}/pay")).await;
            assert_eq!(pay.status, 503, "{server} round {round}");
            assert_eq!(pay.body["code"], "TEMPORARILY_UNAVAILABLE", "{}", pay.body);
        }
    }

    // Restarted (empty): the instances share again, without a restart.
    redis.restart();
    until_shared(&client, &servers).await;
    shared_counts(&client, &servers).await;
    for server in &servers {
        // The route that fails closed runs again: its own error, not a 503.
        assert_eq!(get(&client, format!("{server}/pay")).await.status, 402);
    }

    // Stalled: a Redis that does not answer is down.
    redis.stall();
    for server in &servers {
        for _ in 0..5 {
            let ok = get(&client, format!("{server}/ok")).await;
            assert_eq!((ok.status, ok.alone), (200, true), "{server}");
        }
    }
    redis.resume();
    until_shared(&client, &servers).await;
    shared_counts(&client, &servers).await;
}

/// A plan without windows admits everything without asking Redis: its
/// callers are served even with Redis unreachable, on a route that fails
/// closed.
#[tokio::test]
async fn an_unlimited_plan_never_waits_on_redis() {
    use rebuff::ratelimit::RequestView;

    // A port nothing listens on.
    let port = std::net::TcpListener::bind("127.0.0.1:0")
        .unwrap()
        .local_addr()
        .unwrap()
        .port();
    let store = RedisStore::open(&format!("redis://127.0.0.1:{port}"))
        .unwrap()
        .timeout(Duration::from_millis(300));
    let limiter = RateLimiter::new()
        .plan(Plan::new("internal"))
        .resolve(|request| Some(Caller::new(request.header("x-api-key")?, "internal")))
        .fail_closed(|_| true)
        .store(store);
    let mut headers = http::HeaderMap::new();
    headers.insert("x-api-key", http::HeaderValue::from_static("service"));
    let request = RequestView::new("POST", "/pay", &headers, None);
    for _ in 0..3 {
        let mut verdict = limiter.decide_request(&request).await;
        assert!(!verdict.is_refused());
        assert!(verdict.take_refusal().is_none());
        let mut written = http::HeaderMap::new();
        verdict.write_headers(&limiter, &mut written);
        assert!(written.is_empty(), "no window, no header: {written:?}");
    }
}

/// A Redis that refuses every script (scripting renamed away, as some
/// hosts do) is down for every caller, not one request's trouble: the
/// breaker opens, and the instance stops asking it on every request.
#[tokio::test]
async fn a_redis_refusing_every_script_is_down() {
    use rebuff::ratelimit::RequestView;

    let Some(redis) = RedisServer::start_with(&[
        "--rename-command",
        "EVALSHA",
        "",
        "--rename-command",
        "EVAL",
        "",
    ]) else {
        return;
    };
    let store = RedisStore::open(&redis.url())
        .unwrap()
        .timeout(Duration::from_millis(300));
    let limiter = RateLimiter::new()
        .plan(Plan::new("free").window(Window::per_minute(1000)))
        .resolve(|request| Some(Caller::new(request.header("x-api-key")?, "free")))
        .store(store);
    let mut headers = http::HeaderMap::new();
    headers.insert("x-api-key", http::HeaderValue::from_static("k1"));
    let request = RequestView::new("GET", "/ok", &headers, None);
    const REQUESTS: u64 = 20;
    for _ in 0..REQUESTS {
        let verdict = limiter.decide_request(&request).await;
        assert!(!verdict.is_refused());
        let mut written = http::HeaderMap::new();
        verdict.write_headers(&limiter, &mut written);
        assert_eq!(written["x-ratelimit-scope"], "instance");
    }
    let stats = redis.command(&["INFO", "errorstats"]).unwrap_or_default();
    if !stats.contains("rrorstats") {
        // Redis before 6.2 counts no errors: the headers above are all.
        eprintln!("skipped the count: this redis-server has no INFO errorstats");
        return;
    }
    let refused: u64 = stats
        .lines()
        .find_map(|line| line.strip_prefix("errorstat_ERR:count="))
        .and_then(|count| count.trim().parse().ok())
        .unwrap_or(0);
    assert!(refused >= 1, "Redis was asked");
    assert!(
        refused < REQUESTS / 2,
        "the breaker opened: {refused} of {REQUESTS} requests went to Redis"
    );
}
