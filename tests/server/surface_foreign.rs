//! Answers rebuff did not render, behind the surface: a framework's or a
//! middleware's plain-text 5xx and 413 in the envelope (a 503 still a
//! 503), logged once; a compression layer's encoding not kept on the
//! envelope; a response body that fails to serialize answered as a 500
//! that says nothing of it; a panic in a middleware's own code caught; and
//! a chunked body's `Content-Length` not believed; on actix-web, a
//! multipart upload the limit cut off a 413, however its stream reports it.

use std::collections::HashMap;
use std::io::Write as _;

use rebuff::server::Surface;
use serde_json::Value;

use crate::surface::{FlatError, LIMIT, client, raw, send};
use crate::surface_logs::captured;

/// A map whose keys are not strings: JSON cannot hold it.
fn unserializable() -> HashMap<(u8, u8), u8> {
    HashMap::from([((1, 2), 3)])
}

/// The one line logged for the request `id`.
fn logged_once(id: &str) -> String {
    let text = String::from_utf8_lossy(&captured().lock().unwrap()).into_owned();
    let lines: Vec<&str> = text.lines().filter(|line| line.contains(id)).collect();
    assert_eq!(lines.len(), 1, "logged once: {lines:#?}");
    lines[0].to_owned()
}

/// A chunked body of `len` bytes, sent in 64 KiB chunks.
fn chunked(len: usize) -> Vec<u8> {
    let mut out = Vec::new();
    for piece in vec![b'a'; len].chunks(64 * 1024) {
        write!(out, "{:x}\r\n", piece.len()).unwrap();
        out.extend_from_slice(piece);
        out.extend_from_slice(b"\r\n");
    }
    out.extend_from_slice(b"0\r\n\r\n");
    out
}

#[tokio::test]
async fn axum_answers_rebuff_did_not_render_are_in_the_envelope() {
    // Listening before the first request: its lines are read below.
    let _ = captured();
    use axum::http::StatusCode;
    use axum::routing::{get, post};

    #[derive(Clone)]
    struct Pool;

    let app = axum::Router::new()
        .route(
            "/extension",
            get(|axum::Extension(_): axum::Extension<Pool>| async { "never" }),
        )
        .route(
            "/busy",
            get(|| async { (StatusCode::SERVICE_UNAVAILABLE, [("retry-after", "7")]) }),
        )
        .route(
            "/bytes",
            post(|body: axum::body::Bytes| async move { body.len().to_string() }),
        )
        .route(
            "/unserializable",
            get(|| async { rebuff::server::axum::Json(unserializable()) }),
        )
        .route(
            "/teapot",
            get(|| async { (StatusCode::IM_A_TEAPOT, "short and stout") }),
        )
        .route(
            "/gateway",
            get(|| async { (StatusCode::BAD_GATEWAY, "upstream 10.0.0.7 refused") }),
        )
        .route(
            "/unimplemented",
            get(|| async { (StatusCode::NOT_IMPLEMENTED, "not yet") }),
        )
        .layer(Surface::<FlatError>::new().body_limit(LIMIT));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());

    // axum's own text for a missing extension names the type: a 500 that
    // says nothing, and one log line that says what it replaced.
    let id = "req_foreign500ax";
    let seen = send::<FlatError>(
        client()
            .get(format!("{base}/extension"))
            .header("x-request-id", id),
    )
    .await;
    assert_eq!((seen.status, seen.code.as_str()), (500, "INTERNAL_ERROR"));
    assert!(!seen.message.contains("Extension"), "{}", seen.message);
    let line = logged_once(id);
    assert!(line.contains("ERROR"), "{line}");
    assert!(line.contains("text/plain"), "{line}");

    // Another 5xx is the 500 that says nothing.
    let seen = send::<FlatError>(client().get(format!("{base}/gateway"))).await;
    assert_eq!((seen.status, seen.code.as_str()), (500, "INTERNAL_ERROR"));
    assert!(!seen.message.contains("10.0.0.7"), "{}", seen.message);

    // A 501, which a client does not retry, is not made a 500 it would.
    let response = client()
        .get(format!("{base}/unimplemented"))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 501);
    assert_eq!(response.text().await.unwrap(), "not yet");

    // A bare 503 stays a 503, its wait read.
    let seen = send::<FlatError>(client().get(format!("{base}/busy"))).await;
    assert_eq!(
        (seen.status, seen.code.as_str()),
        (503, "TEMPORARILY_UNAVAILABLE")
    );
    assert_eq!(seen.details["retryAfter"], 7);
    assert_eq!(seen.headers["retry-after"], "7");

    // A body of unknown length over the limit, read by axum's own
    // extractor: axum's plain 413, restyled.
    let head = "POST /bytes HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n"
        .to_owned();
    let big = usize::try_from(5 * LIMIT / 2).unwrap();
    let seen = raw::<FlatError>(&base, head, chunked(big)).await;
    assert_eq!(
        (seen.status, seen.code.as_str()),
        (413, "PAYLOAD_TOO_LARGE")
    );
    assert_eq!(seen.details["maxSize"], LIMIT);

    // A body that cannot be serialized is the server's fault.
    let seen = send::<FlatError>(client().get(format!("{base}/unserializable"))).await;
    assert_eq!((seen.status, seen.code.as_str()), (500, "INTERNAL_ERROR"));
    assert!(!seen.message.contains("key must be"), "{}", seen.message);

    // The application's own text answer of another status is its own.
    let response = client().get(format!("{base}/teapot")).send().await.unwrap();
    assert_eq!(response.status(), 418);
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(response.text().await.unwrap(), "short and stout");
}

/// Outside a surface, rebuff's `Json` still sends nothing of a failed
/// serialization.
#[tokio::test]
async fn axum_json_that_fails_to_serialize_is_a_500_in_the_envelope() {
    use axum::response::IntoResponse;

    let response = rebuff::server::axum::Json(unserializable()).into_response();
    assert_eq!(response.status(), 500);
    assert_eq!(response.headers()["content-type"], "application/json");
    let body = axum::body::to_bytes(response.into_body(), 4096)
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["error"]["code"], "internal_error", "{body}");
    assert!(!body.to_string().contains("key must be"), "{body}");
}

/// The status, headers and body (JSON, or its text) of an actix-web
/// answer, whether it went out as a response or as an error carrying one.
async fn actix_answer<B: actix_web::body::MessageBody + 'static>(
    answer: Result<actix_web::dev::ServiceResponse<B>, actix_web::Error>,
) -> (u16, HashMap<String, String>, Value) {
    let response = match answer {
        Ok(response) => response.into_parts().1.map_into_boxed_body(),
        Err(err) => err.error_response(),
    };
    let status = response.status().as_u16();
    let headers = response
        .headers()
        .iter()
        .map(|(name, value)| {
            (
                name.as_str().to_owned(),
                value.to_str().unwrap_or_default().to_owned(),
            )
        })
        .collect();
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap_or_default();
    let body = serde_json::from_slice(&body)
        .unwrap_or_else(|_| Value::String(String::from_utf8_lossy(&body).into_owned()));
    (status, headers, body)
}

#[tokio::test]
async fn actix_answers_rebuff_did_not_render_are_in_the_envelope() {
    // Listening before the first request: its lines are read below.
    let _ = captured();
    use actix_web::{App, HttpResponse, test, web};

    #[derive(serde::Deserialize)]
    struct Item {
        #[allow(dead_code)] // read by serde only
        name: String,
    }

    let app = test::init_service(
        App::new()
            .route(
                "/items",
                web::post().to(|_: web::Json<Item>| async { HttpResponse::Created().finish() }),
            )
            .route(
                "/unserializable",
                web::get().to(|| async { web::Json(unserializable()) }),
            )
            .route(
                "/busy",
                web::get().to(|| async {
                    Err::<HttpResponse, _>(actix_web::error::ErrorServiceUnavailable(
                        "db pool empty",
                    ))
                }),
            )
            .route(
                "/gateway",
                web::get().to(|| async {
                    Err::<HttpResponse, _>(actix_web::error::ErrorBadGateway("upstream 10.0.0.7"))
                }),
            )
            .route(
                "/unimplemented",
                web::get().to(|| async {
                    Err::<HttpResponse, _>(actix_web::error::ErrorNotImplemented("not yet"))
                }),
            )
            .route(
                "/unimplemented-response",
                web::get().to(|| async { HttpResponse::NotImplemented().body("not yet") }),
            )
            .route(
                "/maintenance",
                web::get().to(|| async {
                    HttpResponse::ServiceUnavailable()
                        .insert_header(("retry-after", "30"))
                        .body("down for maintenance")
                }),
            )
            .route(
                "/upload",
                web::post().to(|body: web::Bytes| async move { body.len().to_string() }),
            )
            .wrap_fn(|req, srv| {
                // A tenant header required by code that panics without it,
                // outside the future it returns.
                if req.path() == "/tenant" {
                    let _ = req.headers().get("x-tenant").expect("a tenant");
                }
                let compress = req.path() == "/items";
                let fail = req.path() == "/mwfail";
                let call = actix_web::dev::Service::call(srv, req);
                async move {
                    if fail {
                        // A middleware failing with an error of its own.
                        return Err(actix_web::error::ErrorInternalServerError(
                            "session store unreachable",
                        ));
                    }
                    let mut response = call.await?;
                    if compress {
                        // A compression middleware's mark on the answer.
                        response.headers_mut().insert(
                            actix_web::http::header::CONTENT_ENCODING,
                            actix_web::http::header::HeaderValue::from_static("gzip"),
                        );
                    }
                    Ok(response)
                }
            })
            .wrap(Surface::<FlatError>::new().body_limit(LIMIT)),
    )
    .await;

    // An extractor's error restyled: the envelope is not gzip.
    let request = test::TestRequest::post()
        .uri("/items")
        .insert_header(("content-type", "application/json"))
        .set_payload("{not json")
        .to_request();
    let (status, headers, body) = actix_answer(test::try_call_service(&app, request).await).await;
    assert_eq!((status, &body["code"]), (400, &Value::from("INVALID_JSON")));
    assert!(!headers.contains_key("content-encoding"), "{headers:?}");

    // A body that cannot be serialized is the server's fault.
    let request = test::TestRequest::get().uri("/unserializable").to_request();
    let (status, _, body) = actix_answer(test::try_call_service(&app, request).await).await;
    assert_eq!(
        (status, &body["code"]),
        (500, &Value::from("INTERNAL_ERROR"))
    );
    assert!(!body.to_string().contains("key must be"), "{body}");

    // A foreign 503 stays a 503, logged once with its cause.
    let id = "req_foreign503ac";
    let request = test::TestRequest::get()
        .uri("/busy")
        .insert_header(("x-request-id", id))
        .to_request();
    let (status, headers, body) = actix_answer(test::try_call_service(&app, request).await).await;
    assert_eq!(
        (status, &body["code"]),
        (503, &Value::from("TEMPORARILY_UNAVAILABLE"))
    );
    assert_eq!(headers["x-request-id"], id);
    assert!(!body.to_string().contains("pool"), "{body}");
    let line = logged_once(id);
    assert!(line.contains("db pool empty"), "{line}");

    let request = test::TestRequest::get().uri("/gateway").to_request();
    let (status, _, body) = actix_answer(test::try_call_service(&app, request).await).await;
    assert_eq!(
        (status, &body["code"]),
        (500, &Value::from("INTERNAL_ERROR"))
    );
    assert!(!body.to_string().contains("10.0.0.7"), "{body}");

    // A 501, which a client does not retry, is not made a 500 it would:
    // as an error and as a response alike, as on axum.
    for uri in ["/unimplemented", "/unimplemented-response"] {
        let request = test::TestRequest::get().uri(uri).to_request();
        let (status, headers, body) =
            actix_answer(test::try_call_service(&app, request).await).await;
        assert_eq!((status, body), (501, Value::from("not yet")), "{uri}");
        assert!(headers.contains_key("x-request-id"), "{uri}: {headers:?}");
    }

    // A middleware's 5xx error is logged once, with its cause.
    let id = "req_foreignmwfail";
    let request = test::TestRequest::get()
        .uri("/mwfail")
        .insert_header(("x-request-id", id))
        .to_request();
    let (status, _, body) = actix_answer(test::try_call_service(&app, request).await).await;
    assert_eq!(
        (status, &body["code"]),
        (500, &Value::from("INTERNAL_ERROR"))
    );
    let line = logged_once(id);
    assert!(line.contains("session store unreachable"), "{line}");

    // A handler's own plain-text 503: its text is not sent, its wait is.
    let request = test::TestRequest::get().uri("/maintenance").to_request();
    let (status, headers, body) = actix_answer(test::try_call_service(&app, request).await).await;
    assert_eq!(
        (status, &body["code"]),
        (503, &Value::from("TEMPORARILY_UNAVAILABLE"))
    );
    assert_eq!(body["details"]["retryAfter"], 30);
    assert_eq!(headers["retry-after"], "30");

    // A panic in a middleware's own code, before any future: a 500.
    let request = test::TestRequest::get().uri("/tenant").to_request();
    let (status, headers, body) = actix_answer(test::try_call_service(&app, request).await).await;
    assert_eq!(
        (status, &body["code"]),
        (500, &Value::from("INTERNAL_ERROR"))
    );
    assert!(headers.contains_key("x-request-id"));

    // `Transfer-Encoding` wins over a `Content-Length` sent with it: a
    // small chunked body is read, not refused for the length it claims.
    let request = test::TestRequest::post()
        .uri("/upload")
        .set_payload("hello")
        .insert_header(("transfer-encoding", "chunked"))
        .insert_header(("content-length", "999999999"))
        .to_request();
    let (status, _, body) = actix_answer(test::try_call_service(&app, request).await).await;
    assert_eq!((status, body), (200, Value::from(5)));
}

/// A custom envelope in plain text: the API's own 5xx is its own, not a
/// framework's, and goes out as the API rendered it.
#[tokio::test]
async fn axum_keeps_a_plain_text_envelopes_own_5xx() {
    use axum::routing::get;

    struct Text;

    impl rebuff::envelope::Envelope for Text {
        const CONTENT_TYPE: &'static str = "text/plain; charset=utf-8";

        fn serialize<E: rebuff::ApiError, S: serde::Serializer>(
            err: &E,
            _: &rebuff::Context,
            serializer: S,
        ) -> Result<S::Ok, S::Error> {
            serializer.serialize_str(err.code())
        }
    }

    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    #[api(envelope = Text)]
    enum TextError {
        #[error("upstream down")]
        #[api(status = 502)]
        UpstreamDown,
    }

    let app = axum::Router::new()
        .route("/", get(|| async { Err::<(), _>(TextError::UpstreamDown) }))
        .layer(Surface::<TextError>::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    let response = client().get(&base).send().await.unwrap();
    assert_eq!(response.status(), 502);
    assert_eq!(response.text().await.unwrap(), r#""upstream_down""#);
}

/// actix-web: a chunked multipart upload past the surface's limit is a
/// 413 even when the multipart stream reports the cut as an error of its
/// own (a 400 "Payload error").
#[tokio::test]
async fn actix_a_multipart_upload_past_the_limit_is_a_413() {
    use actix_multipart::Multipart;
    use actix_web::{App, HttpResponse, test, web};
    use futures_util::StreamExt as _;

    async fn upload(mut form: Multipart) -> Result<HttpResponse, actix_web::Error> {
        let mut read = 0;
        while let Some(field) = form.next().await {
            let mut field = field?;
            while let Some(chunk) = field.next().await {
                read += chunk?.len();
            }
        }
        Ok(HttpResponse::Ok().body(read.to_string()))
    }

    let app = test::init_service(
        App::new()
            .route("/upload", web::post().to(upload))
            .wrap(Surface::<FlatError>::new().body_limit(LIMIT)),
    )
    .await;
    let form = |len: usize| {
        let mut body = b"--XyZ\r\nContent-Disposition: form-data; name=\"file\"; \
            filename=\"a.bin\"\r\nContent-Type: application/octet-stream\r\n\r\n"
            .to_vec();
        body.resize(body.len() + len, b'a');
        body.extend_from_slice(b"\r\n--XyZ--\r\n");
        body
    };
    let post = |body: Vec<u8>| {
        test::TestRequest::post()
            .uri("/upload")
            .insert_header(("content-type", "multipart/form-data; boundary=XyZ"))
            .insert_header(("transfer-encoding", "chunked"))
            .set_payload(body)
            .to_request()
    };

    let request = post(form(5 * usize::try_from(LIMIT).unwrap() / 2));
    let (status, _, body) = actix_answer(test::try_call_service(&app, request).await).await;
    assert_eq!(
        (status, &body["code"]),
        (413, &Value::from("PAYLOAD_TOO_LARGE")),
        "{body}"
    );
    assert_eq!(body["details"]["maxSize"], LIMIT, "{body}");

    // Under the limit, the upload is read.
    let request = post(form(1000));
    let (status, _, body) = actix_answer(test::try_call_service(&app, request).await).await;
    assert_eq!((status, body), (200, Value::from(1000)));
}
