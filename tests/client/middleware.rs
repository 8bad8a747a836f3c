//! `RetryMiddleware` in a reqwest-middleware client, against loopback
//! servers: 503 retried, 404 not, 429 waiting its `Retry-After` (within the
//! policy's bound), a POST retried only with an `Idempotency-Key`, and the
//! attempt timeout and deadline cutting a silent server off.

use std::time::Duration;

use rebuff::client::middleware::{RetryMiddleware, from_middleware};
use rebuff::client::reqwest::RequestBuilderExt;
use rebuff::client::{ClientError, RemoteError};
use rebuff::retry::testing;
use rebuff::{ApiError, Jitter, Policy};
use reqwest_middleware::{ClientBuilder, ClientWithMiddleware};

use crate::scripted::{self, Reply};
use crate::silent::Silent;

const QUICK: Policy = Policy::constant(Duration::from_millis(100))
    .max_retries(3)
    .jitter(Jitter::None)
    .max_retry_after(Duration::from_secs(5));

fn client(retries: RetryMiddleware) -> ClientWithMiddleware {
    ClientBuilder::new(reqwest::Client::new())
        .with(retries)
        .build()
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
    let client = client(RetryMiddleware::new(QUICK));
    let lead: serde_json::Value = client
        .get(format!("{base}/leads/1"))
        .send_api::<_, RemoteError>()
        .await
        .unwrap();
    assert_eq!(lead["id"], "lead_1");
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
    let err = client
        .get(format!("{base}/leads/9"))
        .send_api::<serde_json::Value, LeadError>()
        .await
        .unwrap_err();
    assert_eq!(err.api(), Some(&LeadError::LeadNotFound));
    assert_eq!(err.request_id(), Some("req_404"));
    assert_eq!(log.lock().unwrap().len(), 1, "a 404 is not retried");

    // The last error response is handed on whole: a plain `send` sees it.
    let (base, log) = scripted::start(vec![Reply::json(503, r#"{"error":"down"}"#)]).await;
    let response = client.get(format!("{base}/x")).send().await.unwrap();
    assert_eq!(response.status(), 503);
    assert_eq!(response.text().await.unwrap(), r#"{"error":"down"}"#);
    assert_eq!(
        log.lock().unwrap().len(),
        4,
        "the first attempt and three retries"
    );
}

#[tokio::test]
async fn a_429_waits_its_retry_after_within_the_bound() {
    let test_mode = testing::enable();
    let (base, _) = scripted::start(vec![
        Reply::json(429, r#"{"error":"slow down"}"#).header("retry-after", "2"),
        Reply::json(429, r#"{"error":"slow down"}"#).header("retry-after", "86400"),
        Reply::json(200, "null"),
    ])
    .await;
    let client = client(RetryMiddleware::new(QUICK));
    let () = client
        .get(format!("{base}/x"))
        .send_api::<(), RemoteError>()
        .await
        .unwrap();
    // The server's 2 s, then its day capped at the policy's 5 s.
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

    // Without a key (and none added), a POST that reached the server is
    // not repeated.
    let (base, log) = scripted::start(failing()).await;
    let bare = client(RetryMiddleware::new(QUICK).auto_key(false));
    let err = bare
        .post(format!("{base}/leads"))
        .body("{}")
        .send_api::<serde_json::Value, RemoteError>()
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(rebuff::StatusCode::SERVICE_UNAVAILABLE));
    assert_eq!(log.lock().unwrap().len(), 1);

    // With one, it is, carrying the same key each time.
    let (base, log) = scripted::start(failing()).await;
    let keyed = client(RetryMiddleware::new(QUICK));
    let created: serde_json::Value = keyed
        .post(format!("{base}/leads"))
        .body("{}")
        .send_api::<_, RemoteError>()
        .await
        .unwrap();
    assert_eq!(created["id"], "lead_2");
    {
        let log = log.lock().unwrap();
        assert_eq!(log.len(), 2);
        let key = log[0].header("idempotency-key").expect("a key was added");
        assert_eq!(log[1].header("idempotency-key"), Some(key));
    }

    // A key of the caller's own counts as well.
    let (base, log) = scripted::start(failing()).await;
    let _: serde_json::Value = bare
        .post(format!("{base}/leads"))
        .header("Idempotency-Key", "mine-1")
        .body("{}")
        .send_api::<_, RemoteError>()
        .await
        .unwrap();
    assert_eq!(
        log.lock().unwrap()[1].header("idempotency-key"),
        Some("mine-1")
    );
}

#[tokio::test]
async fn attempt_timeout_and_deadline_cut_a_silent_server_off() {
    let timed = Policy::constant(Duration::from_millis(10))
        .max_retries(2)
        .attempt_timeout(Duration::from_millis(150))
        .jitter(Jitter::None);
    let server = Silent::start();
    // The bound only catches a call that never comes back.
    let call = client(RetryMiddleware::new(timed))
        .get(server.url("/x"))
        .send_api::<serde_json::Value, RemoteError>();
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
    let call = client(RetryMiddleware::new(deadline))
        .get(server.url("/x"))
        .send();
    let err = tokio::time::timeout(Duration::from_secs(10), call)
        .await
        .expect("the call came back")
        .unwrap_err();
    // The policy's timeout comes back as the typed error it stands for.
    let err: ClientError = from_middleware(err);
    assert!(err.is_timeout(), "{err:?}");
}

/// Another middleware's failure is not retried by `#[retry]` around the
/// client, as the retry middleware itself does not retry it.
#[test]
fn another_middlewares_failure_is_not_retried() {
    use rebuff::{Advice, Retryable};

    let failed = reqwest_middleware::Error::middleware(std::io::Error::other("no token"));
    let err: ClientError = from_middleware(failed);
    assert_eq!(err.retry_advice(), Advice::Stop, "{err:?}");
    assert!(err.to_string().contains("no token"), "{err}");
}

/// A middleware passing reqwest's own failure on (a refused connection) is
/// the network's failure, retried as reqwest's is; an error answer the
/// retry middleware hands on announces the length of what was read.
#[tokio::test]
async fn reqwest_failures_through_other_middlewares_and_cut_error_bodies() {
    use rebuff::Retryable;

    let refused = reqwest::Client::new()
        .get("http://127.0.0.1:1/")
        .send()
        .await
        .unwrap_err();
    let err: ClientError = from_middleware(reqwest_middleware::Error::middleware(refused));
    assert!(matches!(err, ClientError::Network { .. }), "{err:?}");
    assert!(err.retry_advice().is_retry());

    let big = format!(r#"{{"error":"{}"}}"#, "x".repeat(200 * 1024));
    let (base, _log) = scripted::start(vec![Reply::json(404, &big)]).await;
    let response = client(RetryMiddleware::new(QUICK))
        .get(format!("{base}/big"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let announced: usize = response.headers()["content-length"]
        .to_str()
        .unwrap()
        .parse()
        .unwrap();
    let body = response.bytes().await.unwrap();
    assert_eq!(announced, body.len());
    assert!(body.len() < big.len(), "cut at the cap");
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
    let client = client(RetryMiddleware::new(QUICK).breakers(&HOSTS));
    let failed = client
        .get(format!("{down}/leads/1"))
        .send_api::<serde_json::Value, RemoteError>()
        .await;
    assert!(failed.is_err());
    assert_eq!(down_log.lock().unwrap().len(), 2, "open after two failures");
    let lead: serde_json::Value = client
        .get(format!("{up}/leads/1"))
        .send_api::<_, RemoteError>()
        .await
        .expect("another host, another breaker");
    assert_eq!(lead["id"], "lead_1");
    let refused = client
        .get(format!("{down}/leads/1"))
        .send_api::<serde_json::Value, RemoteError>()
        .await
        .unwrap_err();
    assert!(
        matches!(refused, ClientError::CircuitOpen(_)),
        "{refused:?}"
    );
    assert_eq!(down_log.lock().unwrap().len(), 2, "refused without asking");
}

/// A middleware after the retry middleware that fails every request.
struct NoToken;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for NoToken {
    async fn handle(
        &self,
        _: reqwest::Request,
        _: &mut http::Extensions,
        _: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        Err(reqwest_middleware::Error::middleware(
            std::io::Error::other("no token"),
        ))
    }
}

static PROBED: rebuff::Breaker = rebuff::Breaker::new()
    .failures(1)
    .cooldown(Duration::from_millis(30));

/// A request a later middleware refused never reached the service: a
/// half-open breaker's probe is not closed by it.
#[tokio::test]
async fn a_request_a_later_middleware_refused_leaves_the_breaker_half_open() {
    use rebuff::breaker::State;

    PROBED.record_failure(PROBED.allow().unwrap());
    assert_eq!(PROBED.state(), State::Open);
    tokio::time::sleep(Duration::from_millis(40)).await;
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(QUICK).breaker(&PROBED))
        .with(NoToken)
        .build();
    let err = client.get("http://127.0.0.1:9/").send().await.unwrap_err();
    assert!(err.to_string().contains("no token"), "{err}");
    assert_eq!(
        PROBED.state(),
        State::HalfOpen,
        "the probe was not answered"
    );
}

/// The calls [`PassesOn`] had.
static PASSED_ON: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A middleware after the retry middleware that passes reqwest's own
/// failure (a refused connection) on as its error, counting its calls.
struct PassesOn;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for PassesOn {
    async fn handle(
        &self,
        _: reqwest::Request,
        _: &mut http::Extensions,
        _: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        PASSED_ON.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        let refused = reqwest::Client::new()
            .get("http://127.0.0.1:9/")
            .send()
            .await
            .unwrap_err();
        Err(reqwest_middleware::Error::middleware(refused))
    }
}

/// reqwest's failure passed on by a later middleware is retried as
/// reqwest's own is, by the retry middleware as by `from_middleware`.
#[tokio::test]
async fn reqwest_failures_a_later_middleware_passes_on_are_retried() {
    let test_mode = testing::enable();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(QUICK))
        .with(PassesOn)
        .build();
    let err = client.get("http://127.0.0.1:9/").send().await.unwrap_err();
    assert!(
        matches!(
            from_middleware::<RemoteError>(err),
            ClientError::Network { .. }
        ),
        "read as the network's failure"
    );
    assert_eq!(
        PASSED_ON.load(std::sync::atomic::Ordering::SeqCst),
        4,
        "retried"
    );
    assert_eq!(test_mode.sleeps().len(), 3);
}

/// The calls [`TimesOut`] had.
static TIMED_OUT: std::sync::atomic::AtomicU32 = std::sync::atomic::AtomicU32::new(0);

/// A middleware after the retry middleware that fails as a later
/// `RetryMiddleware` whose attempt timed out does: a `ClientError` of its
/// own, counting its calls.
struct TimesOut;

#[async_trait::async_trait]
impl reqwest_middleware::Middleware for TimesOut {
    async fn handle(
        &self,
        _: reqwest::Request,
        _: &mut http::Extensions,
        _: reqwest_middleware::Next<'_>,
    ) -> reqwest_middleware::Result<reqwest::Response> {
        TIMED_OUT.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
        Err(reqwest_middleware::Error::middleware(ClientError::<
            RemoteError,
        >::Timeout {
            after: None,
        }))
    }
}

/// A `ClientError` a later middleware fails with is decided on as what it
/// is (a timeout retries), and handed on as it was.
#[tokio::test]
async fn a_client_error_a_later_middleware_returns_is_decided_on_as_itself() {
    let test_mode = testing::enable();
    let client = ClientBuilder::new(reqwest::Client::new())
        .with(RetryMiddleware::new(QUICK))
        .with(TimesOut)
        .build();
    let err = client.get("http://127.0.0.1:9/").send().await.unwrap_err();
    assert!(
        matches!(
            from_middleware::<RemoteError>(err),
            ClientError::Timeout { after: None }
        ),
        "handed on as it was"
    );
    assert_eq!(
        TIMED_OUT.load(std::sync::atomic::Ordering::SeqCst),
        4,
        "retried"
    );
    assert_eq!(test_mode.sleeps().len(), 3);
}
