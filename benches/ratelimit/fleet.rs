//! The `ratelimit_redis` group: rebuff's Redis store against one
//! hand-written EVALSHA per request, and the round trips each makes.

use std::sync::LazyLock;
use std::time::Duration;

use axum::Router;
use axum::extract::{Request, State};
use axum::middleware::{Next, from_fn_with_state};
use axum::response::{IntoResponse, Response};
use criterion::Criterion;
use http::{HeaderValue, StatusCode};
use rebuff::ratelimit::{Caller, Plan, RateLimiter, RedisStore, Window};
use rebuff::server::axum::RateLimitLayer;
use redis::aio::ConnectionManager;

use super::redis_server::RedisServer;
use super::{ApiErr, KEYS, Keys, get_leads, routes};

/// Far more than a run spends of it: every caller stays under half its
/// quota, every request is admitted.
const QUOTA: u32 = 1_000_000;
const LEASE: u32 = 10;

/// One window of GCRA on Redis's clock, as a user would write it by hand:
/// `KEYS[1]` the caller, `ARGV[1]` the emission interval and `ARGV[2]` the
/// burst, both in microseconds. Returns admitted (1 or 0), remaining, and
/// the seconds until the window is full again.
static HAND_SCRIPT: LazyLock<redis::Script> = LazyLock::new(|| {
    redis::Script::new(
        r"
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local interval = tonumber(ARGV[1])
local limit = tonumber(ARGV[2])
local tat = tonumber(redis.call('GET', KEYS[1]) or now)
if tat < now then tat = now end
local next_tat = tat + interval
if next_tat - limit * interval > now then
  return {0, 0, math.ceil((tat - now) / 1000000)}
end
redis.call('SET', KEYS[1], next_tat, 'PX', math.ceil((next_tat - now) / 1000))
local remaining = math.floor((now + limit * interval - next_tat) / interval)
return {1, remaining, math.ceil((next_tat - now) / 1000000)}
",
    )
});

/// The hand-written limiter: one EVALSHA (EVAL once, on NOSCRIPT), three
/// headers, a plain 429; Redis failing lets the request through.
async fn hand_limit(
    State(connection): State<ConnectionManager>,
    request: Request,
    next: Next,
) -> Response {
    let Some(key) = request.headers().get("x-api-key").cloned() else {
        return StatusCode::UNAUTHORIZED.into_response();
    };
    let interval = 3_600_000_000 / u64::from(QUOTA);
    let mut connection = connection;
    let answer: Result<(u8, u64, u64), _> = HAND_SCRIPT
        .key(format!("hand:{{{}}}", key.to_str().unwrap_or("")))
        .arg(interval)
        .arg(QUOTA)
        .invoke_async(&mut connection)
        .await;
    let Ok((admitted, remaining, reset)) = answer else {
        return next.run(request).await;
    };
    let mut response = if admitted == 1 {
        next.run(request).await
    } else {
        (StatusCode::TOO_MANY_REQUESTS, "Too many requests").into_response()
    };
    let headers = response.headers_mut();
    headers.insert("x-ratelimit-limit", HeaderValue::from(QUOTA));
    headers.insert("x-ratelimit-remaining", HeaderValue::from(remaining));
    headers.insert("x-ratelimit-reset", HeaderValue::from(reset));
    response
}

fn rebuff(url: &str, lease: Option<u32>) -> Router {
    let mut store = RedisStore::open(url).expect("a redis:// URL");
    if let Some(lease) = lease {
        store = store.leases(lease, Duration::from_secs(30));
    }
    let limiter = RateLimiter::new()
        .plan(Plan::new("free").window(Window::per_hour(QUOTA)))
        .resolve(|request| Some(Caller::new(request.header("x-api-key")?, "free")))
        .store(store);
    routes()
        .layer(RateLimitLayer::<ApiErr>::new(limiter))
        .with_state(())
}

/// What the clients sent Redis since its stats were reset: the scripts,
/// not the commands they ran inside.
fn round_trips(redis: &RedisServer) -> u64 {
    ["evalsha", "eval", "script|load"]
        .iter()
        .map(|command| redis.calls(command))
        .sum()
}

pub fn ratelimit_redis(c: &mut Criterion) {
    let Some(redis) = RedisServer::start() else {
        eprintln!("ratelimit_redis: skipped, no redis-server on PATH");
        return;
    };
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_all()
        .build()
        .unwrap();
    let keys = Keys::new();
    let run = |router: &Router| get_leads(&runtime, router, &keys);

    let url = redis.url();
    let hand = runtime.block_on(async {
        let client = redis::Client::open(url.as_str()).unwrap();
        let connection = ConnectionManager::new(client).await.unwrap();
        routes()
            .layer(from_fn_with_state(connection, hand_limit))
            .with_state(())
    });
    let sides = [
        ("hand_evalsha", hand, 1.0),
        (
            "rebuff_redis",
            runtime.block_on(async { rebuff(&url, None) }),
            1.0,
        ),
        (
            "rebuff_redis_leases",
            runtime.block_on(async { rebuff(&url, Some(LEASE)) }),
            0.2,
        ),
    ];
    // Each side warmed on every key (its script loaded, its leases taken),
    // then its round trips counted over ten rounds of the keys.
    const ROUNDS: usize = 10;
    for (name, router, most) in &sides {
        for _ in 0..KEYS * 2 {
            run(router);
        }
        redis.reset_stats();
        for _ in 0..KEYS * ROUNDS {
            let (status, remaining, _) = run(router);
            assert_eq!(status, StatusCode::OK, "{name}");
            assert!(remaining.is_some(), "{name}: no X-RateLimit-Remaining");
        }
        let trips = round_trips(&redis);
        let script_time = redis
            .command(&["INFO", "commandstats"])
            .unwrap_or_default()
            .lines()
            .find(|line| line.starts_with("cmdstat_evalsha:"))
            .map(str::to_owned)
            .unwrap_or_default();
        eprintln!("{name}: in Redis {script_time}");
        #[allow(clippy::cast_precision_loss)]
        let per_request = trips as f64 / (KEYS * ROUNDS) as f64;
        eprintln!(
            "{name}: {trips} round trips for {} requests, {per_request:.3} a request",
            KEYS * ROUNDS
        );
        assert!(
            per_request <= *most,
            "{name}: {per_request} round trips a request"
        );
        if *most == 1.0 {
            assert_eq!(trips, (KEYS * ROUNDS) as u64, "{name}: not one a request");
        }
    }

    let mut group = c.benchmark_group("ratelimit_redis");
    for (name, router, _) in &sides {
        group.bench_function(*name, |b| b.iter(|| run(router)));
    }
    group.finish();
}
