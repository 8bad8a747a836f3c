//! Four instances, sixteen concurrent clients each, one key: the fleet
//! admits exactly the quota with leases off, and never more than the
//! quota (nor fewer than the documented bound) with leases on.

use std::net::SocketAddr;
use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::routing::get;
use rebuff::ApiError;
use rebuff::ratelimit::{Caller, Plan, RateLimiter, RedisStore, Window};
use rebuff::server::Surface;

use crate::redis_server::RedisServer;

#[derive(Debug, thiserror::Error, ApiError)]
enum Never {
    #[error("never")]
    #[api(status = 418, message = "Never")]
    Never,
}

const INSTANCES: usize = 4;
const CLIENTS: usize = 16;
const QUOTA: u32 = 100;
/// Requests per client: 3x the quota in all.
const EACH: usize = 5;

async fn instance(url: &str, lease: u32) -> String {
    // An hour's window: nothing comes back during the test.
    let store = RedisStore::open(url)
        .unwrap()
        .timeout(Duration::from_secs(2))
        .leases(lease, Duration::from_secs(30));
    let limiter = RateLimiter::new()
        .plan(Plan::new("free").window(Window::per_hour(QUOTA)))
        .resolve(|request| Some(Caller::new(request.header("x-api-key")?, "free")))
        .store(store);
    let app = axum::Router::new()
        .route("/", get(|| async { "ok" }))
        .route("/never", get(|| async { Err::<(), _>(Never::Never) }))
        .layer(Surface::<Never>::new().rate_limit(limiter))
        .into_make_service_with_connect_info::<SocketAddr>();
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, app).into_future());
    format!("http://{addr}/")
}

/// Requests admitted by a fleet of four on `key`.
async fn admitted(url: &str, lease: u32, key: &'static str) -> u32 {
    let mut servers = Vec::new();
    for _ in 0..INSTANCES {
        servers.push(instance(url, lease).await);
    }
    let client = reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap();
    let admitted = Arc::new(AtomicU32::new(0));
    let mut clients = Vec::new();
    for server in &servers {
        for _ in 0..CLIENTS {
            let (client, server, admitted) = (client.clone(), server.clone(), admitted.clone());
            clients.push(tokio::spawn(async move {
                for _ in 0..EACH {
                    let response = client
                        .get(&server)
                        .header("x-api-key", key)
                        .send()
                        .await
                        .unwrap();
                    assert!(!response.headers().contains_key("x-ratelimit-scope"));
                    match response.status().as_u16() {
                        200 => {
                            admitted.fetch_add(1, Ordering::SeqCst);
                        }
                        429 => {}
                        other => panic!("{other}"),
                    }
                }
            }));
        }
    }
    for client in clients {
        client.await.unwrap();
    }
    admitted.load(Ordering::SeqCst)
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn without_leases_the_fleet_admits_exactly_the_quota() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    assert_eq!(admitted(&redis.url(), 1, "k-exact").await, QUOTA);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn with_leases_the_fleet_stays_within_the_bound() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let lease = 8;
    let got = admitted(&redis.url(), lease, "k-leased").await;
    // Never more than the quota; at most `lease - 1` fewer per instance
    // (a lease unused when the traffic stopped).
    let floor = QUOTA - INSTANCES as u32 * (lease - 1);
    assert!(
        (floor..=QUOTA).contains(&got),
        "{got} admitted, bound {floor}..={QUOTA}"
    );
    // And Redis saw fewer of the requests (leases while under half the
    // quota, refusals kept locally until their reset; sixteen clients at
    // once still each ask before the first refusal comes back): without
    // leases it sees every one.
    let requests = INSTANCES * CLIENTS * EACH;
    let calls = redis.calls("evalsha");
    assert!(
        calls * 3 <= requests as u64 * 2,
        "{calls} round trips for {requests} requests"
    );
}
