//! A `#[retry]`-wrapped reqwest client against a local server over loopback:
//! typed errors, request ids in `Display`, Retry-After honoured.

use std::time::Duration;

use crate::scripted::{self, Reply};
use rebuff::client::reqwest::RequestBuilderExt;
use rebuff::client::{ClientError, NetworkKind, RemoteError};
use rebuff::retry::testing;
use rebuff::{ApiError, Retryable, retry};

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Lead {
    id: String,
}

#[derive(Debug, PartialEq, thiserror::Error, ApiError)]
#[api(decode, envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
enum LeadError {
    #[error("lead {lead_id} not found")]
    #[api(status = 404, message = "Lead not found")]
    LeadNotFound { lead_id: String },
    #[error("unavailable")]
    #[api(status = 503, message = "Service unavailable")]
    Unavailable,
}

#[retry(max_retries = 4, initial_delay = "100ms", jitter = "none")]
async fn get_lead(
    client: &reqwest::Client,
    base: &str,
    id: &str,
) -> Result<Lead, ClientError<LeadError>> {
    client
        .get(format!("{base}/api/v1/leads/{id}"))
        .bearer_auth("demo-key")
        .send_api()
        .await
}

fn flat(status: u16, code: &str, message: &str, request_id: &str) -> Reply {
    Reply::json(
        status,
        &format!(
            r#"{{"success":false,"error":"{message}","code":"{code}","requestId":"{request_id}"}}"#
        ),
    )
    .header("x-request-id", request_id)
}

#[tokio::test]
async fn retries_503_then_429_then_succeeds() {
    let test_mode = testing::enable();
    let (base, log) = scripted::start(vec![
        flat(503, "UNAVAILABLE", "Service unavailable", "req_1"),
        Reply::json(429, r#"{"error":"Rate limit exceeded","retry_after":2}"#)
            .header("retry-after", "2"),
        Reply::json(200, r#"{"id":"lead_1"}"#),
    ])
    .await;
    let client = reqwest::Client::new();
    let lead = get_lead(&client, &base, "lead_1").await.unwrap();
    assert_eq!(
        lead,
        Lead {
            id: "lead_1".into()
        }
    );
    assert_eq!(test_mode.attempts(), 3);
    // The backoff's 100 ms, then the server's Retry-After of 2 s.
    assert_eq!(
        test_mode.sleeps(),
        [Duration::from_millis(100), Duration::from_secs(2)]
    );
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 3);
    assert!(
        log.iter()
            .all(|seen| seen.line == "GET /api/v1/leads/lead_1 HTTP/1.1")
    );
    assert_eq!(log[0].header("authorization"), Some("Bearer demo-key"));
}

#[tokio::test]
async fn a_404_is_typed_not_retried_and_shows_its_request_id() {
    let test_mode = testing::enable();
    let body = r#"{"success":false,"error":"Lead not found","code":"LEAD_NOT_FOUND","details":{"leadId":"lead_9"},"requestId":"req_77"}"#;
    let (base, log) = scripted::start(vec![Reply::json(404, body)]).await;
    let err = get_lead(&reqwest::Client::new(), &base, "lead_9")
        .await
        .unwrap_err();
    assert_eq!(
        err.api(),
        Some(&LeadError::LeadNotFound {
            lead_id: "lead_9".into()
        })
    );
    assert_eq!(err.request_id(), Some("req_77"));
    let text = err.to_string();
    assert!(
        text.contains("req_77") && text.contains("LEAD_NOT_FOUND"),
        "{text}"
    );
    assert_eq!(test_mode.attempts(), 1);
    assert_eq!(log.lock().unwrap().len(), 1);
}

#[tokio::test]
async fn a_proxy_page_and_an_unreachable_host() {
    let _test_mode = testing::enable();
    let page = "<html><head><title>502 Bad Gateway</title></head><body>nginx</body></html>";
    let (base, _) = scripted::start(vec![Reply {
        status: 502,
        headers: vec![("content-type", "text/html".into())],
        body: page.into(),
    }])
    .await;
    let err = get_lead(&reqwest::Client::new(), &base, "x")
        .await
        .unwrap_err();
    let ClientError::Unrecognized(remote) = &err else {
        panic!("{err:?}")
    };
    assert_eq!(remote.message(), "502 Bad Gateway");
    assert!(err.retry_advice().is_retry());

    // Nothing listens on port 9 of loopback: connection refused, retried.
    let err = get_lead(&reqwest::Client::new(), "http://127.0.0.1:9", "x")
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Network {
                kind: NetworkKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn error_bodies_are_read_up_to_the_cap() {
    let huge = format!(
        r#"{{"success":false,"error":"Lead not found","code":"LEAD_NOT_FOUND","pad":"{}"}}"#,
        "x".repeat(1 << 20)
    );
    let (base, _) = scripted::start(vec![Reply::json(404, &huge)]).await;
    let response = reqwest::get(format!("{base}/api/v1/leads/1"))
        .await
        .unwrap();
    use rebuff::client::reqwest::ResponseExt;
    let err = response.check::<LeadError>(64 * 1024).await.unwrap_err();
    let remote = err.remote().unwrap();
    assert_eq!(remote.status(), 404);
    // The cut body is read as far as its last whole member.
    assert_eq!(remote.format(), rebuff::client::Format::Flat);
    assert_eq!(remote.code(), Some("LEAD_NOT_FOUND"));
    assert_eq!(remote.message(), "Lead not found");
    assert!(remote.body_truncated());
    assert!(remote.body().len() <= 4096);
}

/// reqwest calls both a decode error: a body cut off on the way is a
/// transport failure and is retried; a body that does not decompress would
/// come back the same and is not.
#[tokio::test]
async fn a_cut_off_body_is_retried_and_a_corrupt_one_is_not() {
    let test_mode = testing::enable();
    let client = reqwest::Client::new();
    let (base, log) = scripted::start(vec![
        // The connection closes 90 bytes short of the announced length.
        Reply::json(200, r#"{"id":"le"#).header("content-length", "100"),
        Reply::json(200, r#"{"id":"lead_1"}"#),
    ])
    .await;
    let lead = get_lead(&client, &base, "lead_1").await.unwrap();
    assert_eq!(lead.id, "lead_1");
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_eq!(test_mode.attempts(), 2);

    let (corrupt, log) = scripted::start(vec![
        Reply::json(201, "not gzip at all").header("content-encoding", "gzip"),
    ])
    .await;
    let err = get_lead(&client, &corrupt, "lead_1").await.unwrap_err();
    // With the response's own status.
    assert!(
        matches!(err, ClientError::Decode { status, .. } if status == 201),
        "{err:?}"
    );
    assert_eq!(err.retry_advice(), rebuff::Advice::Stop);
    assert_eq!(log.lock().unwrap().len(), 1, "not retried");

    // reqwest's own error gives the same advice, and a body that is not
    // the JSON asked for is not retried either.
    let (cut, _) = scripted::start(vec![
        Reply::json(200, r#"{"id":"le"#).header("content-length", "100"),
    ])
    .await;
    let cut_off = reqwest::get(&cut).await.unwrap().bytes().await.unwrap_err();
    assert!(cut_off.is_decode());
    assert_eq!(cut_off.retry_advice(), rebuff::Advice::Retry);
    let garbled = reqwest::get(&corrupt)
        .await
        .unwrap()
        .bytes()
        .await
        .unwrap_err();
    assert_eq!(garbled.retry_advice(), rebuff::Advice::Stop);
    let (not_json, _) = scripted::start(vec![Reply::json(200, "<html>")]).await;
    let wrong = reqwest::get(&not_json)
        .await
        .unwrap()
        .json::<Lead>()
        .await
        .unwrap_err();
    assert!(wrong.is_decode());
    assert_eq!(wrong.retry_advice(), rebuff::Advice::Stop);
}

/// A success without a body decodes as `()` or `None`; an error without one
/// still says its status, headers and request id.
#[tokio::test]
async fn empty_bodies() {
    let (base, _) = scripted::start(vec![
        Reply::json(204, ""),
        Reply::json(205, ""),
        Reply::json(200, ""),
        Reply::json(202, "  "),
        Reply::json(200, r#"{"id":"lead_1"}"#),
        Reply::json(503, "")
            .header("x-request-id", "req_empty")
            .header("retry-after", "7"),
    ])
    .await;
    let client = reqwest::Client::new();
    let url = format!("{base}/x");
    let () = client
        .delete(&url)
        .send_api::<(), RemoteError>()
        .await
        .unwrap();
    let () = client
        .post(&url)
        .send_api::<(), RemoteError>()
        .await
        .unwrap();
    let none: Option<Lead> = client.get(&url).send_api::<_, RemoteError>().await.unwrap();
    assert_eq!(none, None);
    let () = client
        .get(&url)
        .send_api::<(), RemoteError>()
        .await
        .unwrap();
    let some: Option<Lead> = client.get(&url).send_api::<_, RemoteError>().await.unwrap();
    assert_eq!(
        some,
        Some(Lead {
            id: "lead_1".into()
        })
    );
    let err = client
        .get(&url)
        .send_api::<(), RemoteError>()
        .await
        .unwrap_err();
    let remote = err.remote().expect("an error response");
    assert_eq!(remote.status(), 503);
    assert_eq!(remote.format(), rebuff::client::Format::Empty);
    assert_eq!(remote.request_id(), Some("req_empty"));
    assert_eq!(remote.retry_after(), Some(Duration::from_secs(7)));
    assert_eq!(remote.message(), "Service Unavailable");
}

/// A success body past `MAX_SUCCESS_BODY` is not read whole: announced by
/// its length it is refused unread, streamed without one it is cut off at
/// the bound; either way a decode error, not retried.
#[tokio::test]
async fn a_success_body_past_the_bound_is_a_decode_error_not_a_memory_grab() {
    use axum::body::Body;
    use rebuff::client::reqwest::MAX_SUCCESS_BODY;

    const CHUNK: usize = 1 << 20;
    let app = axum::Router::new().route(
        "/streamed",
        axum::routing::get(|| async {
            // Valid JSON, a list of zeros just past the bound: only the
            // bound refuses it.
            let zeros = (0..MAX_SUCCESS_BODY / CHUNK + 1)
                .map(|_| bytes::Bytes::from("0,".repeat(CHUNK / 2)));
            let chunks = std::iter::once(bytes::Bytes::from_static(b"["))
                .chain(zeros)
                .chain(std::iter::once(bytes::Bytes::from_static(b"0]")))
                .map(Ok::<_, std::io::Error>);
            Body::from_stream(futures_util::stream::iter(chunks))
        }),
    );
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, app).into_future());
    // Announces more than the bound (and sends less): refused unread.
    let (announced, _) = scripted::start(vec![
        Reply::json(200, "{}").header("content-length", &(MAX_SUCCESS_BODY + 1).to_string()),
    ])
    .await;
    let client = reqwest::Client::new();
    for url in [announced, format!("http://{addr}/streamed")] {
        let result: Result<serde_json::Value, ClientError> = client.get(&url).send_api().await;
        // (Not `unwrap_err`, which would print the 64 MiB it decoded.)
        let Err(err) = result else {
            panic!("{url}: a body past the bound was decoded");
        };
        assert!(
            matches!(&err, ClientError::Decode { status, .. } if *status == 200),
            "{url}: {err:?}"
        );
        assert_eq!(err.retry_advice(), rebuff::Advice::Stop, "{url}");
    }
}

/// `error_for_status()`'s error, turned into a `ClientError` with `?`, is
/// an error response: retried by its status, so a 404 is not retried.
#[tokio::test]
async fn a_status_error_from_error_for_status_retries_by_its_status() {
    #[retry(max_retries = 3, initial_delay = "10ms", jitter = "none")]
    async fn fetch(client: &reqwest::Client, url: &str) -> Result<String, ClientError> {
        Ok(client
            .get(url)
            .send()
            .await?
            .error_for_status()?
            .text()
            .await?)
    }

    let test_mode = testing::enable();
    let (base, log) = scripted::start(vec![Reply::json(404, "{}")]).await;
    let err = fetch(&reqwest::Client::new(), &format!("{base}/missing"))
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(reqwest::StatusCode::NOT_FOUND));
    assert_eq!(err.retry_advice(), rebuff::Advice::Stop);
    assert_eq!(test_mode.attempts(), 1);
    assert_eq!(log.lock().unwrap().len(), 1);

    let test_mode = testing::enable();
    let (base, log) = scripted::start(vec![Reply::json(503, "{}"), Reply::json(200, "ok")]).await;
    let text = fetch(&reqwest::Client::new(), &format!("{base}/busy"))
        .await
        .unwrap();
    assert_eq!(text, "ok");
    assert_eq!(test_mode.attempts(), 2);
    assert_eq!(log.lock().unwrap().len(), 2);
}

/// An error body trickled without end does not hold the call: what
/// arrived within the error-body time is the error's body.
#[tokio::test(start_paused = true)]
async fn an_endless_error_body_is_read_for_a_bounded_time() {
    use rebuff::client::reqwest::ResponseExt;
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 1024];
        let _ = socket.read(&mut request).await;
        socket
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n9\r\nno such l\r\n")
            .await
            .unwrap();
        // The rest never comes; the connection stays open.
        std::future::pending::<()>().await;
    });
    let response = reqwest::get(format!("http://{addr}/leads/1"))
        .await
        .unwrap();
    let checked = tokio::time::timeout(
        rebuff::client::ERROR_BODY_TIME * 6,
        response.check::<RemoteError>(rebuff::client::reqwest::DEFAULT_ERROR_BODY_LIMIT),
    )
    .await
    .expect("the error body is given up on");
    let err = checked.unwrap_err();
    assert_eq!(err.status(), Some(reqwest::StatusCode::NOT_FOUND));
    assert_eq!(err.remote().unwrap().body(), "no such l");
}

/// A loopback address whose accept queue is full: a new connection is
/// never answered, so a client's connect timeout fires (nothing is sent).
async fn unanswered() -> (String, Vec<std::net::TcpStream>) {
    let socket = tokio::net::TcpSocket::new_v4().unwrap();
    socket.bind("127.0.0.1:0".parse().unwrap()).unwrap();
    let listener = socket.listen(0).unwrap();
    let addr = listener.local_addr().unwrap();
    // Connections the listener never accepts, until one is not answered.
    let mut held = Vec::new();
    let mut full = false;
    for _ in 0..16 {
        match std::net::TcpStream::connect_timeout(&addr, Duration::from_millis(100)) {
            Ok(stream) => held.push(stream),
            Err(_) => {
                full = true;
                break;
            }
        }
    }
    assert!(full, "the accept queue never filled");
    std::mem::forget(listener);
    (format!("http://{addr}"), held)
}

/// A connect timeout is a request that never reached the server: a POST
/// without an `Idempotency-Key` is retried after it, as after a refused
/// connection, and the error says it could not connect.
#[tokio::test]
async fn a_connect_timeout_is_a_request_never_sent() {
    use rebuff::client::reqwest::SendRetrying;
    use rebuff::{Jitter, Policy};

    const ONE_RETRY: Policy = Policy::constant(Duration::from_millis(10))
        .max_retries(1)
        .jitter(Jitter::None);
    let (base, _held) = unanswered().await;
    // The whole timeout bounds the test, were a connection answered.
    let client = reqwest::Client::builder()
        .connect_timeout(Duration::from_millis(200))
        .timeout(Duration::from_secs(5))
        .build()
        .unwrap();
    let test_mode = testing::enable();
    let err = SendRetrying::new(&ONE_RETRY)
        .auto_key(false)
        .send::<serde_json::Value, RemoteError>(|| client.post(format!("{base}/orders")).body("{}"))
        .await
        .unwrap_err();
    assert!(
        matches!(
            err,
            ClientError::Network {
                kind: NetworkKind::Connect,
                ..
            }
        ),
        "{err:?}"
    );
    assert_eq!(test_mode.attempts(), 2, "retried: it was never sent");
}

/// `check` reads an error body up to its limit and no further, however
/// much more the server has to send.
#[tokio::test]
async fn check_reads_an_error_body_only_up_to_its_limit() {
    use rebuff::client::reqwest::ResponseExt;
    let limit = 16 * 1024;
    let (body, read) = crate::counted::body();
    let response = http::Response::builder()
        .status(404)
        .body(reqwest::Body::wrap(body))
        .unwrap();
    let err = reqwest::Response::from(response)
        .check::<RemoteError>(limit)
        .await
        .unwrap_err();
    assert_eq!(err.status(), Some(reqwest::StatusCode::NOT_FOUND));
    let read = read.load(std::sync::atomic::Ordering::SeqCst);
    assert!(read >= limit, "{read}");
    assert!(read < limit + crate::counted::FRAME, "{read}");
}
