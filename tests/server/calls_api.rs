//! The call-analysis API of `examples/calls_api` over loopback, in axum and
//! actix-web: a multipart upload as a Python client's `requests.post(...,
//! files=...)` sends it, and every error the API documents, byte for byte
//! but for the request id.

#[allow(dead_code)]
// Both example apps include the same key store.
#[allow(clippy::duplicate_mod)]
#[path = "../../examples/calls_api/app.rs"]
mod app;

use reqwest::multipart::{Form, Part};
use serde_json::{Value, json};

#[path = "../support/calls_server.rs"]
mod server;

use server::Framework;

async fn start(framework: Framework, per_minute: u32, max_upload_mb: u64) -> String {
    server::start(framework, app::Config::demo(per_minute), max_upload_mb)
}

const FRAMEWORKS: [Framework; 2] = [Framework::Axum, Framework::Actix];

/// What the seed's `requests.post(..., files=..., data=...)` sends.
fn upload(file_name: &str, bytes: usize, agent: Option<&str>, contact: Option<&str>) -> Form {
    let mut form = Form::new().part(
        "audio_file",
        Part::bytes(vec![7u8; bytes]).file_name(file_name.to_owned()),
    );
    if let Some(agent) = agent {
        form = form.text("agent_id", agent.to_owned());
    }
    if let Some(contact) = contact {
        form = form.text("contact_id", contact.to_owned());
    }
    form
}

async fn post(base: &str, key: Option<&str>, form: Form) -> reqwest::Response {
    let mut request = reqwest::Client::new()
        .post(format!("{base}/api/v1/calls/analyze"))
        .multipart(form);
    if let Some(key) = key {
        request = request.header("X-API-Key", key);
    }
    request.send().await.unwrap()
}

/// The nested body with its request id checked against the header and
/// taken out.
async fn nested(response: reqwest::Response) -> (u16, reqwest::header::HeaderMap, Value) {
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let mut body: Value = response.json().await.unwrap();
    assert_eq!(
        body["error"]["request_id"],
        headers["x-request-id"].to_str().unwrap(),
        "{body}"
    );
    body["error"].as_object_mut().unwrap().remove("request_id");
    (status, headers, body)
}

#[tokio::test]
async fn uploads_and_every_seed_error() {
    for framework in FRAMEWORKS {
        let base = start(framework, 1000, 100).await;

        let response = post(
            &base,
            Some("demo-key"),
            upload("call.wav", 4096, Some("AGENT_001"), Some("CONTACT_001")),
        )
        .await;
        assert_eq!(response.status(), 200, "{framework:?}");
        let analysis: Value = response.json().await.unwrap();
        assert!(analysis["analysis_id"].as_str().unwrap().starts_with("an_"));

        let (status, _, body) =
            nested(post(&base, None, upload("call.wav", 10, Some("a"), Some("c"))).await).await;
        assert_eq!(status, 401);
        assert_eq!(
            body,
            json!({"error": {"code": "unauthorized", "message": "Invalid or missing API key"}})
        );

        let (status, _, body) = nested(
            post(
                &base,
                Some("demo-key"),
                upload("call.pdf", 10, Some("a"), Some("c")),
            )
            .await,
        )
        .await;
        assert_eq!(status, 400, "{framework:?}");
        assert_eq!(
            body,
            json!({"error": {"code": "invalid_file_format", "message": "Audio file must be in WAV, MP3, M4A, FLAC, or OGG format",
                             "details": {"provided_format": "pdf"}}})
        );

        let (status, _, body) =
            nested(post(&base, Some("demo-key"), upload("call.wav", 10, None, None)).await).await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"error": {"code": "validation_error", "message": "Missing required fields",
                             "details": {"missing_fields": ["agent_id", "contact_id"]}}})
        );
    }
}

#[tokio::test]
async fn files_over_the_cap_are_413_with_sizes() {
    for framework in FRAMEWORKS {
        let base = start(framework, 1000, 100).await;
        // A 150 MB upload is refused from its declared length, before any of
        // it is read (the client sends the head and waits for the answer).
        let head = format!(
            "POST /api/v1/calls/analyze HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-key\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            150 * app::MB + 300
        );
        let response = crate::head_only::send_head(&base, &head).await;
        assert!(
            response.starts_with("HTTP/1.1 413"),
            "{framework:?}: {response}"
        );
        let mut body: Value =
            serde_json::from_str(&response[response.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        body["error"].as_object_mut().unwrap().remove("request_id");
        assert_eq!(
            body,
            json!({"error": {"code": "file_too_large", "message": "Audio file exceeds maximum size of 100 MB",
                             "details": {"file_size_mb": 150, "max_size_mb": 100}}})
        );
    }
}

#[test]
fn a_streamed_file_is_counted_against_the_cap() {
    let state = app::State::with_limit(app::Config::demo(1), 1);
    let mut form = app::Form::default();
    assert!(state.count(&mut form, 512 * 1024).is_ok());
    assert!(state.count(&mut form, 512 * 1024).is_ok());
    let err = state.count(&mut form, 1).unwrap_err();
    assert!(
        matches!(
            err,
            app::CallError::FileTooLarge {
                file_size_mb: 2,
                max_size_mb: 1
            }
        ),
        "{err:?}"
    );
}

#[tokio::test]
async fn rate_limits_answer_429_with_the_seed_body_and_headers() {
    for framework in FRAMEWORKS {
        let base = start(framework, 1, 100).await;
        let ok = post(
            &base,
            Some("demo-key"),
            upload("call.mp3", 10, Some("a"), Some("c")),
        )
        .await;
        assert_eq!(ok.status(), 200);
        let (status, headers, body) = nested(
            post(
                &base,
                Some("demo-key"),
                upload("call.mp3", 10, Some("a"), Some("c")),
            )
            .await,
        )
        .await;
        assert_eq!(status, 429, "{framework:?}");
        let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        // A minute, counted from the current second to the whole second of
        // the reset: 60, or 61 when the minute ends within a second.
        assert!((1..=61).contains(&retry_after), "{retry_after}");
        assert_eq!(
            body,
            json!({"error": {"code": "rate_limit_exceeded",
                             "message": format!("Rate limit exceeded. Please try again in {retry_after} seconds."),
                             "details": {"retry_after": retry_after, "limit": "1/minute"}}})
        );
        assert_eq!(headers["x-ratelimit-limit"], "1");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        let reset: u64 = headers["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        let now = std::time::SystemTime::now()
            .duration_since(std::time::UNIX_EPOCH)
            .unwrap()
            .as_secs();
        assert!(now + retry_after >= reset, "Retry-After before the reset");
    }
}

/// One caller's `Idempotency-Key` never answers another's request: keys
/// are scoped to the caller's `X-API-Key`.
#[tokio::test]
async fn idempotency_keys_are_each_callers_own() {
    // One body, byte for byte (reqwest would draw a new boundary per form).
    let mut body = Vec::new();
    for (name, value) in [("agent_id", "agent_1"), ("contact_id", "contact_1")] {
        body.extend_from_slice(
            format!(
                "--b0undary\r\nContent-Disposition: form-data; name=\"{name}\"\r\n\r\n{value}\r\n"
            )
            .as_bytes(),
        );
    }
    body.extend_from_slice(b"--b0undary\r\nContent-Disposition: form-data; name=\"audio_file\"; filename=\"call.mp3\"\r\nContent-Type: audio/mpeg\r\n\r\nID3audio\r\n--b0undary--\r\n");
    for framework in FRAMEWORKS {
        let config = app::Config::demo(60).key("other-key", "free");
        let base = server::start(framework, config, 100);
        let send = |key: &'static str| {
            reqwest::Client::new()
                .post(format!("{base}/api/v1/calls/analyze"))
                .header("x-api-key", key)
                .header("idempotency-key", "upload-1")
                .header("content-type", "multipart/form-data; boundary=b0undary")
                .body(body.clone())
                .send()
        };
        for (key, replayed) in [
            ("demo-key", false),
            ("other-key", false),
            ("demo-key", true),
        ] {
            let response = send(key).await.unwrap();
            assert!(
                response.status().is_success(),
                "{framework:?} {key}: {}",
                response.status()
            );
            assert_eq!(
                response.headers().contains_key("idempotent-replayed"),
                replayed,
                "{framework:?} {key}"
            );
        }
    }
}
