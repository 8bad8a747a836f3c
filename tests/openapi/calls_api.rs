//! The calls example (`examples/calls_api`: a multipart upload, the nested
//! envelope, an `answer_rejections` hook) serves `/openapi.json` over
//! loopback on both frameworks: the upload route with every status and code
//! it can answer with, each example fitting its schema, and the 413 it
//! documents the one it sends.

#[allow(dead_code)]
// Both example apps include the same key store.
#[allow(clippy::duplicate_mod)]
#[path = "../../examples/calls_api/app.rs"]
mod app;

use serde_json::Value;

use crate::check::{codes, expect};

#[path = "../support/calls_server.rs"]
mod server;

use server::Framework;

/// A calls server with uploads of at most `max_upload_mb`, and its address.
fn start(framework: Framework, max_upload_mb: u64) -> String {
    server::start(framework, app::Config::demo(60), max_upload_mb)
}

async fn document(framework: Framework) -> Value {
    let base = start(framework, 100);
    let response = reqwest::get(format!("{base}/openapi.json")).await.unwrap();
    assert_eq!(response.status(), 200, "{framework:?}");
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

fn documents_every_error(doc: &Value) {
    crate::check::openapi_3_1(doc);
    let analyze = &doc["paths"]["/api/v1/calls/analyze"]["post"];
    let expected = expect(&[
        (
            "400",
            &[
                "bad_request",
                "invalid_file_format",
                "invalid_header",
                "invalid_request",
                "validation_error",
            ],
        ),
        ("401", &["unauthorized"]),
        ("409", &["request_in_progress"]),
        // The body limit's rejection is the API's own `file_too_large`.
        ("413", &["file_too_large"]),
        ("422", &["idempotency_key_reused"]),
        ("429", &["rate_limit_exceeded"]),
        ("500", &["internal_error"]),
    ]);
    assert_eq!(codes(analyze, "/error/code"), expected);
    assert!(analyze["responses"]["200"].is_object());
    assert!(
        analyze["requestBody"]["content"]["multipart/form-data"].is_object(),
        "{}",
        analyze["requestBody"]
    );
    let whole_api = doc["components"]["responses"].as_object().unwrap();
    assert_eq!(
        whole_api.keys().collect::<Vec<_>>(),
        ["AnyRoute.404", "AnyRoute.405"]
    );
}

#[tokio::test]
async fn calls_example_serves_its_errors_at_openapi_json_on_both_frameworks() {
    let axum = document(Framework::Axum).await;
    documents_every_error(&axum);
    let actix = document(Framework::Actix).await;
    documents_every_error(&actix);
    let tags = |doc: &Value| {
        let mut doc = doc.clone();
        // utoipa's `OpenApi` derive writes empty `tags`; utoipa-axum none.
        if let Some(op) = doc["paths"]["/api/v1/calls/analyze"]["post"].as_object_mut() {
            op.remove("tags");
        }
        doc
    };
    assert_eq!(tags(&axum), tags(&actix), "actix and axum documents differ");
}

/// The documented 413 is what the server sends for an upload over the cap,
/// but for the request id and the sizes of this upload.
#[tokio::test]
async fn calls_example_documents_the_413_it_sends() {
    let doc = document(Framework::Axum).await;
    let documented = doc["paths"]["/api/v1/calls/analyze"]["post"]["responses"]["413"]["content"]
        ["application/json"]["examples"]["file_too_large"]["value"]
        .clone();
    for framework in [Framework::Axum, Framework::Actix] {
        // A 1 MB cap, a 3 MB declared body: refused from its declared
        // length, before any of it is read.
        let base = start(framework, 1);
        let head = format!(
            "POST /api/v1/calls/analyze HTTP/1.1\r\nHost: x\r\nX-API-Key: demo-key\r\nContent-Type: multipart/form-data; boundary=b\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            3 << 20
        );
        let response = crate::head_only::send_head(&base, &head).await;
        assert!(
            response.starts_with("HTTP/1.1 413"),
            "{framework:?}: {response}"
        );
        let sent: Value = serde_json::from_str(&response[response.find("\r\n\r\n").unwrap() + 4..])
            .unwrap_or_else(|_| panic!("{framework:?}: {response}"));
        let shape = |body: &Value| {
            let error = &body["error"];
            let mut keys: Vec<_> = error.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            let mut details: Vec<_> = error["details"]
                .as_object()
                .unwrap()
                .keys()
                .cloned()
                .collect();
            details.sort();
            (error["code"].clone(), keys, details)
        };
        assert_eq!(shape(&sent), shape(&documented), "{framework:?}: {sent}");
        assert_eq!(sent["error"]["details"]["max_size_mb"], 1, "{sent}");
    }
}
