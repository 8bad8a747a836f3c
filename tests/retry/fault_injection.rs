//! Fault injection over loopback: a server that, on a seeded schedule,
//! answers 429 with Retry-After, 500, 502, 503, 504, stalls past the
//! client's timeout, resets connections mid-body and accepts then drops
//! work, with an outage window; 1,000 logical POSTs from concurrent retrying
//! clients (breaker, budget, idempotency keys). Every call ends in success or
//! a clear error, every side effect happens exactly once, the breaker opens
//! in the outage and closes after it, and the load stays within the budget.

use std::collections::HashMap;
use std::io::Write as _;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use axum::Router;
use axum::body::Body;
use axum::extract::{Request, State};
use axum::middleware::{self, Next};
use axum::response::{IntoResponse, Response};
use axum::routing::post;
use bytes::Bytes;
use http::{HeaderMap, StatusCode};
use rebuff::breaker::State as BreakerState;
use rebuff::client::reqwest::SendRetrying;
use rebuff::client::{ClientError, RemoteError};
use rebuff::server::idempotency::{IdempotencyLayer, MemoryStore};
use rebuff::{Breaker, Budget, Jitter, Policy};

const CALLS: usize = 1000;
const CONCURRENCY: usize = 16;
const SEED: u64 = 0x5eed_f00d;
const CLIENT_TIMEOUT: Duration = Duration::from_millis(250);
const OUTAGE_FROM_REQUEST: u64 = 300;
const OUTAGE: Duration = Duration::from_millis(300);
const BUDGET_RATIO: f64 = 0.5;
const BUDGET_FLOOR_PER_SECOND: f64 = 10.0;

static BREAKER: Breaker = Breaker::new()
    .failures(5)
    .cooldown(Duration::from_millis(100))
    .probes(2);
static BUDGET: Budget = Budget::new().ratio_percent(50).floor_per_second(10);
const POLICY: Policy = Policy::exponential()
    .initial_delay(Duration::from_millis(5))
    .max_delay(Duration::from_millis(50))
    .max_retries(8)
    .jitter(Jitter::Full);

#[derive(Default)]
struct Server {
    requests: AtomicU64,
    outage_started: OnceLock<Instant>,
    /// idempotency key -> (call id, times the work ran)
    effects: Mutex<HashMap<String, (String, u32)>>,
    faults: Mutex<HashMap<&'static str, u32>>,
}

impl Server {
    fn count(&self, fault: &'static str) {
        *self.faults.lock().unwrap().entry(fault).or_default() += 1;
    }
}

async fn work(State(server): State<Arc<Server>>, headers: HeaderMap) -> Response {
    let key = headers
        .get("idempotency-key")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let call = headers
        .get("x-call-id")
        .and_then(|v| v.to_str().ok())
        .unwrap_or_default()
        .to_owned();
    let mut effects = server.effects.lock().unwrap();
    let entry = effects.entry(key).or_insert((call.clone(), 0));
    entry.1 += 1;
    (
        StatusCode::OK,
        [("content-type", "application/json")],
        format!(r#"{{"done":"{call}"}}"#),
    )
        .into_response()
}

/// A 200 whose body breaks off: the connection resets mid-body.
fn reset_mid_body(prefix: &'static [u8]) -> Response {
    let chunks: Vec<Result<Bytes, std::io::Error>> = vec![
        Ok(Bytes::from_static(prefix)),
        Err(std::io::Error::other("reset")),
    ];
    Response::builder()
        .status(StatusCode::OK)
        .header("content-type", "application/json")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap()
}

fn error(status: StatusCode) -> Response {
    (
        status,
        [("content-type", "application/json")],
        r#"{"error":{"code":"fault","message":"injected"}}"#,
    )
        .into_response()
}

async fn faults(State(server): State<Arc<Server>>, request: Request, next: Next) -> Response {
    let n = server.requests.fetch_add(1, Ordering::SeqCst);
    if n == OUTAGE_FROM_REQUEST {
        let _ = server.outage_started.set(Instant::now());
    }
    if server
        .outage_started
        .get()
        .is_some_and(|at| at.elapsed() < OUTAGE)
    {
        server.count("outage 503");
        return error(StatusCode::SERVICE_UNAVAILABLE);
    }
    match fastrand::Rng::with_seed(SEED ^ n).u32(0..100) {
        0..4 => {
            server.count("429");
            let mut response = error(StatusCode::TOO_MANY_REQUESTS);
            response
                .headers_mut()
                .insert("retry-after", "1".parse().unwrap());
            response
        }
        4..8 => {
            server.count("500");
            error(StatusCode::INTERNAL_SERVER_ERROR)
        }
        8..11 => {
            server.count("502");
            error(StatusCode::BAD_GATEWAY)
        }
        11..14 => {
            server.count("503");
            error(StatusCode::SERVICE_UNAVAILABLE)
        }
        14..17 => {
            server.count("504");
            error(StatusCode::GATEWAY_TIMEOUT)
        }
        17..20 => {
            // Past the client's timeout; the work still happens.
            server.count("stall");
            tokio::time::sleep(CLIENT_TIMEOUT + Duration::from_millis(150)).await;
            next.run(request).await
        }
        20..23 => {
            // The work happens, the response breaks off.
            server.count("reset mid-body");
            let _ = next.run(request).await;
            reset_mid_body(b"{\"do")
        }
        23..26 => {
            // Accepted, then dropped before any work.
            server.count("dropped");
            reset_mid_body(b"")
        }
        _ => next.run(request).await,
    }
}

fn app(server: Arc<Server>) -> Router {
    Router::new()
        .route("/work", post(work))
        .with_state(server.clone())
        .layer(IdempotencyLayer::new(MemoryStore::new(
            Duration::from_secs(600),
        )))
        .layer(middleware::from_fn_with_state(server, faults))
}

/// Every change of the breaker's state, sampled every millisecond until
/// `done`.
async fn watch_breaker(done: Arc<AtomicBool>) -> Vec<(Instant, BreakerState)> {
    let mut states: Vec<(Instant, BreakerState)> = Vec::new();
    while !done.load(Ordering::SeqCst) {
        let state = BREAKER.state();
        if states.last().is_none_or(|(_, last)| *last != state) {
            states.push((Instant::now(), state));
        }
        tokio::time::sleep(Duration::from_millis(1)).await;
    }
    states
}

/// Whether a final error says clearly what happened.
fn clear(err: &ClientError<RemoteError>) -> bool {
    let text = err.to_string();
    !text.is_empty()
        && match err {
            ClientError::Api { remote, .. }
            | ClientError::RateLimited(remote)
            | ClientError::Unrecognized(remote) => remote.status().as_u16() >= 400,
            ClientError::CircuitOpen(_)
            | ClientError::Timeout { .. }
            | ClientError::Network { .. } => true,
            _ => false,
        }
}

// One thread: the server, the clients and test mode (which is per thread)
// all live on it, so the rest of this test binary keeps real sleeps.
#[tokio::test]
async fn a_thousand_posts_through_faults() {
    // Backoff sleeps are recorded, not slept: the test runs in seconds while
    // the server's stalls, the client's timeouts and the breaker's cooldown
    // stay real.
    let _test_mode = rebuff::retry::testing::enable();
    let server = Arc::new(Server::default());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let url = format!("http://{}/work", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app(server.clone())).into_future());

    let client = reqwest::Client::builder()
        .timeout(CLIENT_TIMEOUT)
        .build()
        .unwrap();
    let next_call = Arc::new(AtomicUsize::new(0));
    let results = Arc::new(Mutex::new(Vec::with_capacity(CALLS)));
    let started = Instant::now();
    // The breaker's states as the clients' traffic drives it, sampled until
    // the last call ends: nothing but that traffic touches the breaker.
    let traffic_done = Arc::new(AtomicBool::new(false));
    let monitor = tokio::spawn(watch_breaker(traffic_done.clone()));
    let workers: Vec<_> = (0..CONCURRENCY)
        .map(|_| {
            let (client, url, next_call, results) = (
                client.clone(),
                url.clone(),
                next_call.clone(),
                results.clone(),
            );
            tokio::spawn(async move {
                loop {
                    let call = next_call.fetch_add(1, Ordering::SeqCst);
                    if call >= CALLS {
                        return;
                    }
                    let result = SendRetrying::new(&POLICY)
                        .breaker(&BREAKER)
                        .budget(&BUDGET)
                        .send::<serde_json::Value, RemoteError>(|| {
                            client
                                .post(&url)
                                .bearer_auth("fault-client")
                                .header("x-call-id", call.to_string())
                        })
                        .await;
                    if matches!(result, Err(ClientError::CircuitOpen(_))) {
                        // A caller told the service is down does not hammer it.
                        tokio::time::sleep(Duration::from_millis(20)).await;
                    }
                    results.lock().unwrap().push((call, result));
                }
            })
        })
        .collect();
    for worker in workers {
        worker.await.unwrap();
    }
    let elapsed = started.elapsed();
    traffic_done.store(true, Ordering::SeqCst);
    let states = monitor.await.unwrap();

    let results = std::mem::take(&mut *results.lock().unwrap());
    assert_eq!(results.len(), CALLS);
    let effects = server.effects.lock().unwrap().clone();
    let mut effects_per_call: HashMap<String, u32> = HashMap::new();
    for (call, count) in effects.values() {
        *effects_per_call.entry(call.clone()).or_default() += count;
    }
    let mut succeeded = 0;
    let mut failed = 0;
    let mut lost = 0;
    for (call, result) in &results {
        match result {
            Ok(body) => {
                succeeded += 1;
                assert_eq!(body["done"], call.to_string());
                if effects_per_call
                    .get(&call.to_string())
                    .copied()
                    .unwrap_or(0)
                    == 0
                {
                    lost += 1;
                }
            }
            Err(err) => {
                failed += 1;
                assert!(clear(err), "call {call}: unclear error {err:?}");
            }
        }
    }
    let duplicated = effects_per_call
        .values()
        .filter(|count| **count > 1)
        .count();
    let requests = server.requests.load(Ordering::SeqCst);
    let ratio = requests as f64 / CALLS as f64;
    let bound = 1.0
        + BUDGET_RATIO
        + (BUDGET_FLOOR_PER_SECOND * (elapsed.as_secs_f64() + 1.0)) / CALLS as f64;
    let opened = BREAKER.times_opened();

    // The outage opened the breaker, and the clients' own probes closed it
    // again while their calls went on.
    let outage = server
        .outage_started
        .get()
        .copied()
        .expect("the outage happened");
    // Open, or already half-open when sampled: only an open breaker gets
    // there.
    let opened_at = states
        .iter()
        .find(|(at, state)| *at >= outage && *state != BreakerState::Closed)
        .map(|(at, _)| *at);
    let closes = opened_at.is_some_and(|opened_at| {
        states
            .iter()
            .any(|(at, state)| *at > opened_at && *state == BreakerState::Closed)
    });

    let summary = format!(
        "fault-injection: calls={CALLS} succeeded={succeeded} failed={failed} lost={lost} duplicated={duplicated} breaker_opened={opened} server_load_ratio={ratio:.2}"
    );
    // Captured, so shown with a failure.
    println!(
        "{summary}\nfaults injected: {:?}",
        server.faults.lock().unwrap()
    );
    assert_eq!(lost, 0);
    assert_eq!(duplicated, 0);
    assert!(opened >= 1, "the breaker opened in the outage");
    assert!(opened_at.is_some(), "seen open in the outage: {states:?}");
    assert!(
        closes,
        "and closed by the clients' traffic after it: {states:?}"
    );
    assert!(
        ratio <= bound,
        "load {ratio:.2} within the budget's bound {bound:.2}"
    );
    assert!(
        succeeded >= CALLS / 2,
        "most calls get through: {succeeded}"
    );
    // Written past the test harness's capture, so every run's log (CI's
    // included) ends with the figures.
    writeln!(std::io::stdout(), "{summary}").unwrap();
}
