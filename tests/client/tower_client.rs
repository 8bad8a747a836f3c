//! `RetryLayer` around hyper-util's client (a tower `Service` over
//! `http::Request`), against loopback servers: 503 retried, 404 not, 429
//! waiting its `Retry-After` (within the policy's bound), a POST retried
//! only with an `Idempotency-Key`, and the attempt timeout and deadline
//! cutting a silent server off.

use std::time::Duration;

use bytes::Bytes;
use http_body_util::{BodyExt, Full};
use hyper_util::client::legacy::Client;
use hyper_util::client::legacy::connect::HttpConnector;
use hyper_util::rt::TokioExecutor;
use rebuff::client::tower::{RetryLayer, Retrying};
use rebuff::client::{ClientError, RemoteError};
use rebuff::http::{Method, Request, StatusCode};
use rebuff::retry::testing;
use rebuff::{ApiError, Jitter, Policy};
use tower::{Layer, ServiceExt};

use crate::scripted::{self, Reply};
use crate::silent::Silent;

const QUICK: Policy = Policy::constant(Duration::from_millis(100))
    .max_retries(3)
    .jitter(Jitter::None)
    .max_retry_after(Duration::from_secs(5));

type Http = Client<HttpConnector, Full<Bytes>>;

fn client(layer: RetryLayer) -> Retrying<Http> {
    layer.layer(Client::builder(TokioExecutor::new()).build_http())
}

fn request(method: Method, url: &str) -> Request<Full<Bytes>> {
    Request::builder()
        .method(method)
        .uri(url)
        .body(Full::new(Bytes::from_static(b"{}")))
        .unwrap()
}

/// Sends `request` and reads the answer's status and body.
async fn send(
    client: &Retrying<Http>,
    request: Request<Full<Bytes>>,
) -> Result<(StatusCode, Bytes), ClientError> {
    let response = client.clone().oneshot(request).await?;
    let status = response.status();
    Ok((
        status,
        response.into_body().collect().await.unwrap().to_bytes(),
    ))
}

#[derive(Debug, PartialEq, thiserror::Error, ApiError)]
#[api(decode)]
enum LeadError {
    #[error("lead not found")]
    #[api(status = 404)]
    LeadNotFound,
}

#[tokio::test]
async fn a_503_is_retried_and_a_404_is_not() {
    let test_mode = testing::enable();
    let (base, log) = scripted::start(vec![
        Reply::json(
            503,
            r#"{"error":{"code":"unavailable","message":"try later"}}"#,
        ),
        Reply::json(200, r#"{"id":"lead_1"}"#),
    ])
    .await;
    let client = client(RetryLayer::new(QUICK));
    let (status, body) = send(&client, request(Method::GET, &format!("{base}/leads/1")))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(body, r#"{"id":"lead_1"}"#);
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_eq!(test_mode.sleeps(), [Duration::from_millis(100)]);

    let (base, log) = scripted::start(vec![
        Reply::json(
            404,
            r#"{"error":{"code":"lead_not_found","message":"no such lead"}}"#,
        )
        .header("x-request-id", "req_404"),
    ])
    .await;
    let err = send(&client, request(Method::GET, &format!("{base}/leads/9")))
        .await
        .unwrap_err();
    assert_eq!(err.request_id(), Some("req_404"));
    assert_eq!(
        err.decode::<LeadError>().api(),
        Some(&LeadError::LeadNotFound)
    );
    assert_eq!(log.lock().unwrap().len(), 1, "a 404 is not retried");
}

#[tokio::test]
async fn a_429_waits_its_retry_after_within_the_bound() {
    let test_mode = testing::enable();
    let (base, _) = scripted::start(vec![
        Reply::json(429, r#"{"error":"slow down"}"#).header("retry-after", "2"),
        Reply::json(429, r#"{"error":"slow down"}"#).header("retry-after", "86400"),
        Reply::json(200, "{}"),
    ])
    .await;
    let client = client(RetryLayer::new(QUICK));
    let (status, _) = send(&client, request(Method::GET, &format!("{base}/x")))
        .await
        .unwrap();
    assert_eq!(status, 200);
    assert_eq!(
        test_mode.sleeps(),
        [Duration::from_secs(2), Duration::from_secs(5)]
    );
}

#[tokio::test]
async fn a_post_is_retried_only_with_an_idempotency_key() {
    let _test_mode = testing::enable();
    let failing = || {
        vec![
            Reply::json(503, r#"{"error":"down"}"#),
            Reply::json(201, r#"{"id":"lead_2"}"#),
        ]
    };

    let (base, log) = scripted::start(failing()).await;
    let bare = client(RetryLayer::new(QUICK).auto_key(false));
    let err = send(&bare, request(Method::POST, &format!("{base}/leads")))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(StatusCode::SERVICE_UNAVAILABLE));
    assert!(matches!(err.remote(), Some(remote) if remote.message() == "down"));
    assert_eq!(log.lock().unwrap().len(), 1);

    let (base, log) = scripted::start(failing()).await;
    let keyed = client(RetryLayer::new(QUICK));
    let (status, _) = send(&keyed, request(Method::POST, &format!("{base}/leads")))
        .await
        .unwrap();
    assert_eq!(status, 201);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2);
    let key = log[0].header("idempotency-key").expect("a key was added");
    assert_eq!(log[1].header("idempotency-key"), Some(key));
}

#[tokio::test]
async fn attempt_timeout_and_deadline_cut_a_silent_server_off() {
    let timed = Policy::constant(Duration::from_millis(10))
        .max_retries(2)
        .attempt_timeout(Duration::from_millis(150))
        .jitter(Jitter::None);
    let server = Silent::start();
    // The bound only catches a call that never comes back.
    let service = client(RetryLayer::new(timed));
    let call = send(&service, request(Method::GET, &server.url("/x")));
    let err = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the call came back")
        .unwrap_err();
    assert!(
        matches!(err, ClientError::Timeout { after: Some(_) }),
        "{err:?}"
    );
    assert_eq!(server.requests_settled(3), 3);

    let deadline = Policy::constant(Duration::from_millis(10))
        .max_retries(10)
        .deadline(Duration::from_millis(500))
        .jitter(Jitter::None);
    let server = Silent::start();
    // Without the deadline the first attempt would wait for ever.
    let service = client(RetryLayer::new(deadline));
    let call = send(&service, request(Method::GET, &server.url("/x")));
    let err = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the call came back")
        .unwrap_err();
    assert!(err.is_timeout(), "{err:?}");
}

#[tokio::test]
async fn an_unreachable_host_is_a_connect_failure() {
    let test_mode = testing::enable();
    let client = client(RetryLayer::new(QUICK).auto_key(false));
    // Nothing listens on port 9 of loopback: refused, so even a POST
    // without a key is tried again.
    let err = send(&client, request(Method::POST, "http://127.0.0.1:9/x"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Network {
                kind: rebuff::client::NetworkKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(test_mode.attempts(), 4);
    let _: Option<&RemoteError> = err.remote();
}

/// A request the inner service cannot build (an `http` error in its
/// failure's chain) fails again if sent again: not retried.
#[tokio::test]
async fn a_request_that_cannot_be_built_is_not_retried() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    let calls = Arc::new(AtomicU32::new(0));
    let counted = calls.clone();
    let inner = tower::service_fn(move |_: Request<Full<Bytes>>| {
        counted.fetch_add(1, Ordering::SeqCst);
        async {
            let invalid = Request::builder().uri("not a uri").body(()).unwrap_err();
            Err::<rebuff::http::Response<Full<Bytes>>, _>(invalid)
        }
    });
    let service = RetryLayer::new(QUICK).layer(inner);
    let err = service
        .oneshot(request(Method::GET, "http://127.0.0.1:1/x"))
        .await
        .unwrap_err();
    assert!(matches!(err, ClientError::Request(_)), "{err:?}");
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

/// A status past 599 is no success: an error, as the other entry points
/// read it.
#[tokio::test]
async fn a_status_past_599_is_an_error() {
    let (base, log) = scripted::start(vec![Reply::json(
        600,
        r#"{"error":{"code":"odd","message":"not a status"}}"#,
    )])
    .await;
    let client = client(RetryLayer::new(QUICK));
    let err = send(&client, request(Method::GET, &format!("{base}/leads/1")))
        .await
        .unwrap_err();
    assert_eq!(err.status().map(|s| s.as_u16()), Some(600), "{err:?}");
    assert_eq!(log.lock().unwrap().len(), 1, "not retried");
}

static HOSTS: rebuff::breaker::Breakers = rebuff::breaker::Breakers::new(
    rebuff::Breaker::new()
        .failures(2)
        .cooldown(Duration::from_secs(60)),
);

/// With a breaker per host, a host that keeps failing opens its own
/// circuit only: another host is still called, and the failing one is
/// refused without being asked.
#[tokio::test]
async fn each_host_goes_through_its_own_breaker() {
    let _test_mode = testing::enable();
    let (down, down_log) = scripted::start(vec![Reply::json(
        503,
        r#"{"error":{"code":"unavailable","message":"down"}}"#,
    )])
    .await;
    let (up, _) = scripted::start(vec![Reply::json(200, r#"{"id":"lead_1"}"#)]).await;
    let client = client(RetryLayer::new(QUICK).breakers(&HOSTS));
    assert!(
        send(&client, request(Method::GET, &format!("{down}/leads/1")))
            .await
            .is_err()
    );
    assert_eq!(down_log.lock().unwrap().len(), 2, "open after two failures");
    let (status, _) = send(&client, request(Method::GET, &format!("{up}/leads/1")))
        .await
        .expect("another host, another breaker");
    assert_eq!(status, 200);
    let refused = send(&client, request(Method::GET, &format!("{down}/leads/1")))
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ClientError::CircuitOpen(_)),
        "{refused:?}"
    );
    assert_eq!(down_log.lock().unwrap().len(), 2, "refused without asking");
}

/// An error body is read up to the layer's limit and no further, however
/// much more the service has to give.
#[tokio::test]
async fn an_error_body_is_read_only_up_to_the_limit() {
    let limit = 16 * 1024;
    let read = std::sync::Arc::new(std::sync::Mutex::new(None));
    let seen = read.clone();
    let service = tower::service_fn(move |_: Request<Full<Bytes>>| {
        let (body, count) = crate::counted::body();
        *seen.lock().unwrap() = Some(count);
        async move {
            Ok::<_, std::convert::Infallible>(
                rebuff::http::Response::builder()
                    .status(404)
                    .body(body)
                    .unwrap(),
            )
        }
    });
    let client = RetryLayer::new(QUICK)
        .error_body_limit(limit)
        .layer(service);
    let err = client
        .oneshot(request(Method::GET, "http://api.test/leads/1"))
        .await
        .err()
        .expect("a 404 is an error");
    assert_eq!(err.status(), Some(StatusCode::NOT_FOUND));
    let count = read.lock().unwrap().take().unwrap();
    let read = count.load(std::sync::atomic::Ordering::SeqCst);
    assert!(read >= limit, "{read}");
    assert!(read < limit + crate::counted::FRAME, "{read}");
}

/// A service that logs when it is made ready, called, and dropped while
/// still holding what it reserved for a call.
struct Tracked {
    id: u32,
    ready: bool,
    next: std::sync::Arc<std::sync::atomic::AtomicU32>,
    log: std::sync::Arc<std::sync::Mutex<Vec<String>>>,
}

impl Clone for Tracked {
    fn clone(&self) -> Self {
        Tracked {
            id: self.next.fetch_add(1, std::sync::atomic::Ordering::SeqCst),
            ready: false,
            next: self.next.clone(),
            log: self.log.clone(),
        }
    }
}

impl Drop for Tracked {
    fn drop(&mut self) {
        if self.ready {
            self.log
                .lock()
                .unwrap()
                .push(format!("released {}", self.id));
        }
    }
}

impl tower::Service<Request<Full<Bytes>>> for Tracked {
    type Response = rebuff::http::Response<Full<Bytes>>;
    type Error = std::convert::Infallible;
    type Future = std::future::Ready<Result<Self::Response, Self::Error>>;

    fn poll_ready(
        &mut self,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), Self::Error>> {
        self.ready = true;
        self.log.lock().unwrap().push(format!("ready {}", self.id));
        std::task::Poll::Ready(Ok(()))
    }

    fn call(&mut self, _: Request<Full<Bytes>>) -> Self::Future {
        self.ready = false;
        self.log.lock().unwrap().push(format!("call {}", self.id));
        std::future::ready(Ok(rebuff::http::Response::new(Full::new(Bytes::new()))))
    }
}

static PAUSED: rebuff::Breaker = rebuff::Breaker::new();

/// A call that must first wait out a pause (another caller's 429) gives
/// back the readiness it was called with before it waits: a buffer's slot
/// or a concurrency permit is not held through the pause.
#[tokio::test]
async fn a_call_waiting_out_a_pause_holds_no_reservation() {
    let _no_sleeping = testing::enable();
    let log = std::sync::Arc::new(std::sync::Mutex::new(Vec::new()));
    let service = Tracked {
        id: 0,
        ready: false,
        next: std::sync::Arc::new(std::sync::atomic::AtomicU32::new(1)),
        log: log.clone(),
    };
    PAUSED.pause_for(Duration::from_secs(2));
    let client = RetryLayer::new(QUICK).breaker(&PAUSED).layer(service);
    let response = client
        .oneshot(request(Method::GET, "http://api.test/leads"))
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let log = log.lock().unwrap().clone();
    let released = log.iter().position(|e| e == "released 0");
    let called = log.iter().position(|e| e.starts_with("call"));
    assert!(
        matches!((released, called), (Some(r), Some(c)) if r < c),
        "{log:?}"
    );
    assert_ne!(log[called.unwrap()], "call 0", "{log:?}");
}
