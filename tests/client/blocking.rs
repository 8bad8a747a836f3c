//! reqwest's blocking client through `rebuff::client::reqwest::blocking`
//! over loopback: a success decoded, an error response decoded into the
//! API's own type, a large error body read only up to the limit, an
//! endless one only for the error-body time, and a blocking `#[retry]`
//! function waiting out a 503's `Retry-After`.

// `ClientError` is what every client call returns, blocking ones too.
#![allow(clippy::result_large_err)]

use std::time::Duration;

use rebuff::client::ClientError;
use rebuff::client::reqwest::blocking::{RequestBuilderExt as _, ResponseExt as _};
use rebuff::retry::testing;

use crate::scripted::{self, Reply};

#[derive(Debug, PartialEq, thiserror::Error, rebuff::ApiError)]
#[api(decode)]
enum LeadError {
    #[error("lead {lead_id} not found")]
    #[api(status = 404, message = "Lead not found")]
    LeadNotFound { lead_id: String },
}

#[derive(Debug, PartialEq, serde::Deserialize)]
struct Lead {
    id: String,
}

/// `f` on a thread that may block, as a blocking client needs.
async fn blocking<T: Send + 'static>(f: impl FnOnce() -> T + Send + 'static) -> T {
    tokio::task::spawn_blocking(f).await.unwrap()
}

#[tokio::test]
async fn a_success_and_an_error_decode_as_with_the_async_client() {
    let error = r#"{"error":{"code":"lead_not_found","message":"Lead not found","details":{"lead_id":"lead_9"}}}"#;
    let (base, _) = scripted::start(vec![
        Reply::json(200, r#"{"id":"lead_1"}"#),
        Reply::json(404, error).header("x-request-id", "req_blocking01"),
        Reply::json(204, ""),
    ])
    .await;
    blocking(move || {
        let client = reqwest::blocking::Client::new();
        let lead: Result<Lead, ClientError<LeadError>> = client.get(&base).send_api();
        assert_eq!(
            lead.unwrap(),
            Lead {
                id: "lead_1".into()
            }
        );

        let missing = client.get(&base).send_api::<Lead, LeadError>();
        match missing {
            Err(ClientError::Api { error: err, remote }) => {
                assert_eq!(
                    err,
                    LeadError::LeadNotFound {
                        lead_id: "lead_9".into()
                    }
                );
                assert_eq!(remote.request_id(), Some("req_blocking01"));
            }
            other => panic!("{other:?}"),
        }

        let empty: Option<Lead> = client
            .get(&base)
            .send()
            .unwrap()
            .api::<_, LeadError>()
            .unwrap();
        assert_eq!(empty, None);
    })
    .await;
}

#[tokio::test]
async fn an_error_body_is_read_only_up_to_the_limit() {
    let huge = format!(r#"{{"message":"{}"}}"#, "x".repeat(1 << 20));
    let (base, _) = scripted::start(vec![Reply::json(500, &huge)]).await;
    blocking(move || {
        let response = reqwest::blocking::get(&base).unwrap();
        let err = response
            .check::<rebuff::client::RemoteError>(100)
            .unwrap_err();
        let remote = err.remote().expect("the response, parsed");
        assert_eq!(remote.status(), 500);
        // Cut off at 100 bytes, the JSON is no document: its text is kept,
        // not the megabyte.
        assert!(remote.message().len() <= 100, "{}", remote.message());
    })
    .await;
}

/// An error body trickled without end does not hold a blocking call,
/// although reqwest's blocking timeout bounds each read, not the body:
/// what arrived within the error-body time is the error's body.
#[tokio::test]
async fn an_endless_error_body_does_not_hold_a_blocking_call() {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};

    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    let server = tokio::spawn(async move {
        let (mut socket, _) = listener.accept().await.unwrap();
        let mut request = [0u8; 1024];
        let _ = socket.read(&mut request).await;
        socket
            .write_all(b"HTTP/1.1 404 Not Found\r\nContent-Type: text/plain\r\nTransfer-Encoding: chunked\r\n\r\n")
            .await
            .unwrap();
        // A byte every 200 ms, each well within the client's timeout.
        loop {
            if socket.write_all(b"1\r\nx\r\n").await.is_err() {
                return;
            }
            tokio::time::sleep(Duration::from_millis(200)).await;
        }
    });
    let call = blocking(move || {
        let client = reqwest::blocking::Client::builder()
            .timeout(Duration::from_secs(3))
            .build()
            .unwrap();
        client
            .get(format!("http://{addr}/leads/1"))
            .send_api::<serde_json::Value, rebuff::client::RemoteError>()
    });
    let err = tokio::time::timeout(rebuff::client::ERROR_BODY_TIME * 6, call)
        .await
        .expect("the error body is given up on")
        .unwrap_err();
    server.abort();
    let remote = err.remote().expect("the response, parsed");
    assert_eq!(remote.status(), 404);
    assert!(remote.body().starts_with(b"xx"), "{:?}", remote.body());
}

#[rebuff::retry(max_retries = 2, initial_delay = "10ms", max_delay = "5s")]
fn lead(client: &reqwest::blocking::Client, url: &str) -> Result<Lead, ClientError<LeadError>> {
    client.get(url).send_api()
}

#[tokio::test]
async fn a_blocking_retry_waits_out_retry_after() {
    let (base, log) = scripted::start(vec![
        Reply::json(503, r#"{"error":"busy"}"#).header("retry-after", "3"),
        Reply::json(200, r#"{"id":"lead_2"}"#),
    ])
    .await;
    let (lead, sleeps) = blocking(move || {
        let test_mode = testing::enable();
        let client = reqwest::blocking::Client::new();
        (lead(&client, &base), test_mode.sleeps())
    })
    .await;
    assert_eq!(
        lead.unwrap(),
        Lead {
            id: "lead_2".into()
        }
    );
    assert_eq!(log.lock().unwrap().len(), 2);
    assert_eq!(
        sleeps,
        [Duration::from_secs(3)],
        "the server's wait, not 10 ms"
    );
}
