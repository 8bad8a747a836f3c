//! Idempotent retries: the server layer replays a key's stored response,
//! and the reqwest helper retries POST only with a key (or when the request
//! never left), so a lost response does not repeat the work.

#[allow(dead_code)]
#[path = "../support/scripted.rs"]
mod scripted;

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::Router;
use axum::body::Body;
use axum::routing::post;
use http::{Request, StatusCode};
use rebuff::client::ClientError;
use rebuff::client::reqwest::SendRetrying;
use rebuff::retry::testing;
use rebuff::server::idempotency::{IdempotencyLayer, MemoryStore};
use rebuff::{Jitter, Policy};
use scripted::Reply;
use tower::ServiceExt;

/// The credentials the tests' requests carry: a key is scoped to its
/// caller, and one without any has its key ignored.
const CALLER: &str = "Bearer orders-client";

pub(crate) fn orders(effects: Arc<AtomicU32>, fail_first: bool) -> Router {
    Router::new()
        .route(
            "/orders",
            post(move || {
                let effects = effects.clone();
                async move {
                    let n = effects.fetch_add(1, Ordering::SeqCst) + 1;
                    tokio::time::sleep(Duration::from_millis(50)).await;
                    if fail_first && n == 1 {
                        return Err((StatusCode::INTERNAL_SERVER_ERROR, "boom".to_owned()));
                    }
                    Ok(format!("order #{n}"))
                }
            }),
        )
        .layer(IdempotencyLayer::new(MemoryStore::new(
            Duration::from_secs(60),
        )))
}

async fn send(app: &Router, key: Option<&str>) -> (StatusCode, Option<String>, String) {
    let mut request = Request::post("/orders").header("authorization", CALLER);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    outcome(app, request.body(Body::empty()).unwrap()).await
}

/// What `app` answers `request`: status, `Idempotent-Replayed`, body.
pub(crate) async fn outcome(
    app: &Router,
    request: Request<Body>,
) -> (StatusCode, Option<String>, String) {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let replayed = response
        .headers()
        .get("idempotent-replayed")
        .map(|v| v.to_str().unwrap().to_owned());
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    (status, replayed, String::from_utf8(body.to_vec()).unwrap())
}

#[tokio::test]
async fn a_key_is_served_once_and_replayed() {
    let effects = Arc::new(AtomicU32::new(0));
    let app = orders(effects.clone(), false);
    assert_eq!(
        send(&app, Some("k1")).await,
        (StatusCode::OK, None, "order #1".into())
    );
    assert_eq!(
        send(&app, Some("k1")).await,
        (StatusCode::OK, Some("true".into()), "order #1".into())
    );
    assert_eq!(effects.load(Ordering::SeqCst), 1);
    assert_eq!(send(&app, Some("k2")).await.2, "order #2");
    assert_eq!(send(&app, None).await.2, "order #3");
    assert_eq!(send(&app, None).await.2, "order #4");
}

#[tokio::test]
async fn concurrent_duplicates_wait_for_the_first() {
    let effects = Arc::new(AtomicU32::new(0));
    let app = orders(effects.clone(), false);
    let (a, b) = tokio::join!(send(&app, Some("same")), send(&app, Some("same")));
    assert_eq!(a.2, "order #1");
    assert_eq!(b.2, "order #1");
    assert_eq!(effects.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn a_server_error_is_not_remembered() {
    let effects = Arc::new(AtomicU32::new(0));
    let app = orders(effects.clone(), true);
    assert_eq!(
        send(&app, Some("k")).await.0,
        StatusCode::INTERNAL_SERVER_ERROR
    );
    assert_eq!(
        send(&app, Some("k")).await,
        (StatusCode::OK, None, "order #2".into())
    );
    assert_eq!(send(&app, Some("k")).await.1.as_deref(), Some("true"));
}

fn quick() -> Policy {
    Policy::constant(Duration::from_millis(1))
        .jitter(Jitter::None)
        .max_retries(3)
}

#[tokio::test]
async fn post_is_retried_with_one_key_for_every_attempt() {
    let _test_mode = testing::enable();
    let (base, log) = scripted::start(vec![
        Reply::json(503, "{}"),
        Reply::json(503, "{}"),
        Reply::json(200, r#"{"id":1}"#),
    ])
    .await;
    let client = reqwest::Client::new();
    let created: serde_json::Value = SendRetrying::new(&quick())
        .send::<_, rebuff::client::RemoteError>(|| client.post(format!("{base}/orders")))
        .await
        .unwrap();
    assert_eq!(created["id"], 1);
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 3);
    let key = log[0].header("idempotency-key").unwrap().to_owned();
    assert_eq!(key.len(), 36);
    assert!(
        log.iter()
            .all(|seen| seen.header("idempotency-key") == Some(key.as_str()))
    );
}

/// A `build` that draws a key of its own on every call still sends the
/// first one on every attempt: a fresh key would let the server do the
/// work again.
#[tokio::test]
async fn a_key_drawn_afresh_by_build_is_the_first_one_on_every_attempt() {
    let _test_mode = testing::enable();
    let (base, log) = scripted::start(vec![
        Reply::json(503, "{}"),
        Reply::json(200, r#"{"id":1}"#),
    ])
    .await;
    let client = reqwest::Client::new();
    let drawn = std::sync::atomic::AtomicU32::new(0);
    let created: serde_json::Value = SendRetrying::new(&quick())
        .send::<_, rebuff::client::RemoteError>(|| {
            let n = drawn.fetch_add(1, Ordering::SeqCst);
            client
                .post(format!("{base}/orders"))
                .header("idempotency-key", format!("mine-{n}"))
        })
        .await
        .unwrap();
    assert_eq!(created["id"], 1);
    assert_eq!(drawn.load(Ordering::SeqCst), 2, "built for each attempt");
    let log = log.lock().unwrap();
    assert_eq!(log.len(), 2);
    for seen in log.iter() {
        assert_eq!(seen.header("idempotency-key"), Some("mine-0"));
    }
}

#[tokio::test]
async fn post_without_a_key_is_not_repeated_once_sent_but_get_is() {
    let _test_mode = testing::enable();
    let (base, log) = scripted::start(vec![Reply::json(503, "{}"), Reply::json(200, "{}")]).await;
    let client = reqwest::Client::new();
    let result = SendRetrying::new(&quick())
        .auto_key(false)
        .send::<serde_json::Value, rebuff::client::RemoteError>(|| {
            client.post(format!("{base}/orders"))
        })
        .await;
    let err = result.unwrap_err();
    assert_eq!(
        err.status(),
        Some(StatusCode::SERVICE_UNAVAILABLE),
        "{err:?}"
    );
    assert_eq!(
        log.lock().unwrap().len(),
        1,
        "the POST reached the server: not repeated"
    );
    let ok = SendRetrying::new(&quick())
        .auto_key(false)
        .send::<serde_json::Value, rebuff::client::RemoteError>(|| {
            client.get(format!("{base}/orders"))
        })
        .await;
    assert!(ok.is_ok());
    assert!(
        log.lock().unwrap()[1].header("idempotency-key").is_none(),
        "GET needs no key"
    );
    // Refused connections never reached a server: even a key-less POST is retried.
    let refused = SendRetrying::new(&quick())
        .auto_key(false)
        .send::<serde_json::Value, rebuff::client::RemoteError>(|| {
            client.post("http://127.0.0.1:9/orders")
        })
        .await;
    assert!(matches!(refused, Err(ClientError::Network { .. })));
}

#[tokio::test]
async fn a_lost_response_does_not_repeat_the_work() {
    let _test_mode = testing::enable();
    let effects = Arc::new(AtomicU32::new(0));
    let served = Arc::new(AtomicU32::new(0));
    // The work is done, then the first response is lost on the way out (a
    // proxy answers 502 instead): the retry carries the same key and gets
    // the stored response.
    let lose_first = {
        let served = served.clone();
        axum::middleware::from_fn(
            move |request: axum::extract::Request, next: axum::middleware::Next| {
                let served = served.clone();
                async move {
                    let response = next.run(request).await;
                    if served.fetch_add(1, Ordering::SeqCst) == 0 {
                        return axum::response::IntoResponse::into_response(
                            StatusCode::BAD_GATEWAY,
                        );
                    }
                    response
                }
            },
        )
    };
    let app = orders(effects.clone(), false).layer(lose_first);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(async move { axum::serve(listener, app).await });
    let client = reqwest::Client::new();
    let result = SendRetrying::new(&quick())
        .send::<serde_json::Value, rebuff::client::RemoteError>(|| {
            client
                .post(format!("{base}/orders"))
                .header("authorization", CALLER)
        })
        .await;
    // The body is plain text, not JSON: a decode error, but the point is the count.
    assert!(
        matches!(result, Err(ClientError::Decode { .. })),
        "{result:?}"
    );
    assert_eq!(served.load(Ordering::SeqCst), 2, "one retry");
    assert_eq!(effects.load(Ordering::SeqCst), 1, "the work ran once");
}

/// A handler answering `first` to its first call and 200 afterwards.
fn answering_first(effects: Arc<AtomicU32>, first: StatusCode) -> Router {
    Router::new()
        .route(
            "/orders",
            post(move || {
                let effects = effects.clone();
                async move {
                    let n = effects.fetch_add(1, Ordering::SeqCst) + 1;
                    if n == 1 {
                        return (first, "try again".to_owned());
                    }
                    (StatusCode::OK, format!("order #{n}"))
                }
            }),
        )
        .layer(IdempotencyLayer::new(MemoryStore::new(
            Duration::from_secs(60),
        )))
}

#[tokio::test]
async fn an_answer_asking_for_a_retry_is_not_remembered() {
    for first in [StatusCode::TOO_MANY_REQUESTS, StatusCode::REQUEST_TIMEOUT] {
        let effects = Arc::new(AtomicU32::new(0));
        let app = answering_first(effects.clone(), first);
        assert_eq!(send(&app, Some("k")).await.0, first);
        // The retry with the same key does the work rather than replaying
        // the 429 until the key expires.
        assert_eq!(
            send(&app, Some("k")).await,
            (StatusCode::OK, None, "order #2".into())
        );
        assert_eq!(effects.load(Ordering::SeqCst), 2);
    }
}

#[tokio::test]
async fn a_request_dropped_midway_gives_its_key_back() {
    use std::task::Poll;
    use tower::{Layer as _, Service as _};
    let effects = Arc::new(AtomicU32::new(0));
    let counted = effects.clone();
    let mut service = IdempotencyLayer::new(MemoryStore::new(Duration::from_secs(60))).layer(
        tower::service_fn(move |_request: Request<Body>| {
            let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
            async move {
                if n == 1 {
                    // The first request hangs until it is given up on.
                    tokio::time::sleep(Duration::from_secs(3600)).await;
                }
                Ok::<_, std::convert::Infallible>(http::Response::new(Body::from(format!(
                    "order #{n}"
                ))))
            }
        }),
    );
    let request = || {
        Request::post("/orders")
            .header("authorization", CALLER)
            .header("idempotency-key", "dropped")
            .body(Body::empty())
            .unwrap()
    };
    // A timeout or load-shedding layer drops a future before polling it:
    // nothing was claimed, nothing ran.
    drop(service.ready().await.unwrap().call(request()));
    assert_eq!(effects.load(Ordering::SeqCst), 0);
    // Or after its work started: the key was claimed, then given back.
    let mut first = service.ready().await.unwrap().call(request());
    let polled = std::future::poll_fn(|cx| Poll::Ready(first.as_mut().poll(cx).is_pending())).await;
    assert!(polled, "the first request is still being served");
    assert_eq!(effects.load(Ordering::SeqCst), 1);
    drop(first);
    // The key is free again: no "request in progress" for the retry.
    let response = service
        .ready()
        .await
        .unwrap()
        .call(request())
        .await
        .unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let body = axum::body::to_bytes(response.into_body(), 1024)
        .await
        .unwrap();
    assert_eq!(&body[..], b"order #2");
}

#[tokio::test]
async fn a_streamed_body_passes_through_whole_and_unremembered() {
    let effects = Arc::new(AtomicU32::new(0));
    let counted = effects.clone();
    let app = Router::new()
        .route(
            "/orders",
            post(move || {
                let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                async move {
                    let chunks: Vec<Result<String, std::io::Error>> =
                        vec![Ok("order ".to_owned()), Ok(format!("#{n}"))];
                    Body::from_stream(futures_util::stream::iter(chunks))
                }
            }),
        )
        .layer(IdempotencyLayer::new(MemoryStore::new(
            Duration::from_secs(60),
        )));
    // Of unknown length, so it is not buffered: it arrives whole, and a
    // retry does the work again instead of getting an empty body.
    assert_eq!(
        send(&app, Some("s")).await,
        (StatusCode::OK, None, "order #1".into())
    );
    assert_eq!(send(&app, Some("s")).await.2, "order #2");
}

/// Two endpoints behind one layer, counting the work done.
fn two_endpoints(effects: Arc<AtomicU32>) -> Router {
    let handler = move || {
        let effects = effects.clone();
        async move { format!("done #{}", effects.fetch_add(1, Ordering::SeqCst) + 1) }
    };
    Router::new()
        .route("/orders", post(handler.clone()))
        .route("/payments", post(handler))
        .layer(IdempotencyLayer::new(MemoryStore::new(
            Duration::from_secs(60),
        )))
}

async fn send_to(
    app: &Router,
    uri: &str,
    auth: &str,
    key: &str,
    body: &'static str,
) -> (StatusCode, Option<String>, String) {
    let request = Request::post(uri)
        .header("idempotency-key", key)
        .header("authorization", auth)
        .body(Body::from(body))
        .unwrap();
    outcome(app, request).await
}

#[tokio::test]
async fn a_key_sent_again_with_another_request_is_refused() {
    let effects = Arc::new(AtomicU32::new(0));
    let app = two_endpoints(effects.clone());
    let first = send_to(&app, "/orders", "Bearer a", "k", r#"{"qty":1}"#).await;
    assert_eq!(first, (StatusCode::OK, None, "done #1".into()));

    // Another body, or another query: not the request the key stands for.
    for (uri, body) in [
        ("/orders", r#"{"qty":2}"#),
        ("/orders?dry_run=1", r#"{"qty":1}"#),
    ] {
        let (status, replayed, text) = send_to(&app, uri, "Bearer a", "k", body).await;
        assert_eq!(status, StatusCode::UNPROCESSABLE_ENTITY, "{uri} {body}");
        assert_eq!(replayed, None);
        assert!(text.contains("idempotency_key_reused"), "{text}");
    }
    // The same request still replays.
    assert_eq!(
        send_to(&app, "/orders", "Bearer a", "k", r#"{"qty":1}"#).await,
        (StatusCode::OK, Some("true".into()), "done #1".into())
    );
    assert_eq!(effects.load(Ordering::SeqCst), 1);
}

#[tokio::test]
async fn keys_are_scoped_to_the_caller_and_the_endpoint() {
    let effects = Arc::new(AtomicU32::new(0));
    let app = two_endpoints(effects.clone());
    let body = r#"{"qty":1}"#;
    assert_eq!(
        send_to(&app, "/orders", "Bearer alice", "k", body).await.2,
        "done #1"
    );
    // Another caller's request with the same key is its own, not a replay
    // of Alice's answer.
    assert_eq!(
        send_to(&app, "/orders", "Bearer bob", "k", body).await,
        (StatusCode::OK, None, "done #2".into())
    );
    // And so is the same key on another endpoint.
    assert_eq!(
        send_to(&app, "/payments", "Bearer alice", "k", body).await,
        (StatusCode::OK, None, "done #3".into())
    );
    assert_eq!(
        send_to(&app, "/orders", "Bearer alice", "k", body).await,
        (StatusCode::OK, Some("true".into()), "done #1".into())
    );
    assert_eq!(effects.load(Ordering::SeqCst), 3);
}

/// A keyed body larger than the layer fingerprints is refused with a 413
/// before it is served: served without its key, it would run again on
/// every retry its client thinks safe. One without a key is served.
#[tokio::test]
async fn a_keyed_body_too_large_to_fingerprint_is_refused_not_served() {
    let effects = Arc::new(AtomicU32::new(0));
    let counted = effects.clone();
    let app = Router::new()
        .route(
            "/orders",
            post(move |body: String| {
                let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                async move { format!("order #{n} of {} bytes", body.len()) }
            }),
        )
        .layer(
            IdempotencyLayer::new(MemoryStore::new(Duration::from_secs(60))).max_request_body(8),
        );
    let large = "0123456789abcdef";
    let (status, replayed, text) = send_to(&app, "/orders", CALLER, "big", large).await;
    assert_eq!((status, replayed), (StatusCode::PAYLOAD_TOO_LARGE, None));
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["error"]["details"]["max_size"], 8, "{text}");
    // Of unknown length (chunked), refused once it has run past the size.
    let chunks: Vec<Result<&'static str, std::io::Error>> = vec![Ok("01234"), Ok("56789abcdef")];
    let chunked = Request::post("/orders")
        .header("authorization", CALLER)
        .header("idempotency-key", "big-chunked")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let (status, _, text) = outcome(&app, chunked).await;
    assert_eq!(status, StatusCode::PAYLOAD_TOO_LARGE, "{text}");
    let json: serde_json::Value = serde_json::from_str(&text).unwrap();
    assert_eq!(json["error"]["details"]["max_size"], 8, "{text}");
    assert_eq!(effects.load(Ordering::SeqCst), 0);
    // Without a key it is served as any request is.
    let unkeyed = Request::post("/orders").body(Body::from(large)).unwrap();
    assert_eq!(outcome(&app, unkeyed).await.2, "order #1 of 16 bytes");
    // A small one is fingerprinted, passed on whole and remembered.
    assert_eq!(
        send_to(&app, "/orders", CALLER, "small", "tiny").await.2,
        "order #2 of 4 bytes"
    );
    assert_eq!(
        send_to(&app, "/orders", CALLER, "small", "tiny").await,
        (
            StatusCode::OK,
            Some("true".into()),
            "order #2 of 4 bytes".into()
        )
    );
}

/// The actix-web middleware over the same store keeps the same rules.
#[tokio::test]
async fn actix_web_serves_a_key_once_replays_it_and_refuses_it_with_another_body() {
    use actix_web::{App, HttpResponse, test, web};
    let effects = Arc::new(AtomicU32::new(0));
    let counter = effects.clone();
    let app = test::init_service(
        App::new()
            .route(
                "/orders",
                web::post().to(move |body: web::Bytes| {
                    let effects = counter.clone();
                    async move {
                        let n = effects.fetch_add(1, Ordering::SeqCst) + 1;
                        if body.as_ref() == b"fail" {
                            return HttpResponse::InternalServerError().body("boom");
                        }
                        if body.as_ref() == b"taken" {
                            // An error of the application's own, not rebuff's.
                            return HttpResponse::from_error(actix_web::error::ErrorConflict(
                                format!("order #{n} is taken"),
                            ));
                        }
                        HttpResponse::Created().body(format!("order #{n}"))
                    }
                }),
            )
            .wrap(rebuff::server::actix::Idempotency::new(MemoryStore::new(
                Duration::from_secs(60),
            ))),
    )
    .await;
    let send = |key: &'static str, body: &'static str| {
        test::TestRequest::post()
            .uri("/orders")
            .insert_header(("authorization", CALLER))
            .insert_header(("idempotency-key", key))
            .set_payload(body)
            .to_request()
    };
    let first = test::call_service(&app, send("k1", "a")).await;
    assert_eq!(first.status(), 201);
    assert!(!first.headers().contains_key("idempotent-replayed"));
    assert_eq!(test::read_body(first).await, "order #1");

    let again = test::call_service(&app, send("k1", "a")).await;
    assert_eq!(again.status(), 201);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(test::read_body(again).await, "order #1");

    let other = test::call_service(&app, send("k1", "b")).await;
    assert_eq!(other.status(), 422);
    let body: serde_json::Value = serde_json::from_slice(&test::read_body(other).await).unwrap();
    assert_eq!(body["error"]["code"], "idempotency_key_reused", "{body}");

    // A 5xx is not kept: the retry does the work.
    assert_eq!(
        test::call_service(&app, send("k2", "fail")).await.status(),
        500
    );
    assert_eq!(
        test::call_service(&app, send("k2", "fail")).await.status(),
        500
    );
    assert_eq!(effects.load(Ordering::SeqCst), 3);

    // Without the surface, the application's own error answer is kept and
    // replayed like any other.
    let taken = test::call_service(&app, send("k3", "taken")).await;
    assert_eq!(taken.status(), 409);
    let again = test::call_service(&app, send("k3", "taken")).await;
    assert_eq!(again.status(), 409);
    assert_eq!(again.headers().get("idempotent-replayed").unwrap(), "true");
    assert_eq!(test::read_body(again).await, "order #4 is taken");
    assert_eq!(effects.load(Ordering::SeqCst), 4);
}

/// A 2 MiB answer, over the stores' default of 1 MiB kept per response.
const LARGE: usize = 2 << 20;

/// What a large order's work answers: its number, then filler to `LARGE`.
fn large_order(n: u32) -> String {
    let mut body = format!("order #{n} ");
    body.extend(std::iter::repeat_n('x', LARGE - body.len()));
    body
}

/// The `n`th answer to a large order: replayed (the first order's) when the
/// store keeps it, else the work of its own.
fn large_answer(kept: bool, n: u32, replayed: bool, body: &[u8]) {
    assert_eq!(replayed, kept && n == 2, "kept: {kept}, request {n}");
    assert_eq!(body.len(), LARGE);
    let expected = if kept { 1 } else { n };
    assert!(
        body.starts_with(format!("order #{expected} ").as_bytes()),
        "kept: {kept}, request {n}"
    );
}

/// A store that keeps larger responses than the default keeps them, on
/// both frameworks; the default store serves them unkept.
#[tokio::test]
async fn a_store_keeps_responses_up_to_its_own_limit() {
    use actix_web::{App, test, web};
    for (store, kept) in [
        (MemoryStore::new(Duration::from_secs(60)), false),
        (
            MemoryStore::new(Duration::from_secs(60)).max_response_bytes(4 << 20),
            true,
        ),
    ] {
        let store = Arc::new(store);
        // axum
        let effects = Arc::new(AtomicU32::new(0));
        let counted = effects.clone();
        let app = Router::new()
            .route(
                "/orders",
                post(move || {
                    let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                    async move { large_order(n) }
                }),
            )
            .layer(IdempotencyLayer::new(store.clone()));
        for n in 1..=2 {
            let request = Request::post("/orders")
                .header("authorization", CALLER)
                .header("idempotency-key", "big")
                .body(Body::empty())
                .unwrap();
            let response = app.clone().oneshot(request).await.unwrap();
            let replayed = response.headers().contains_key("idempotent-replayed");
            let body = axum::body::to_bytes(response.into_body(), 2 * LARGE)
                .await
                .unwrap();
            large_answer(kept, n, replayed, &body);
        }
        assert_eq!(effects.load(Ordering::SeqCst), if kept { 1 } else { 2 });

        // actix-web, a key of its own in the same store
        let effects = Arc::new(AtomicU32::new(0));
        let counted = effects.clone();
        let app = test::init_service(
            App::new()
                .route(
                    "/orders",
                    web::post().to(move || {
                        let n = counted.fetch_add(1, Ordering::SeqCst) + 1;
                        async move { large_order(n) }
                    }),
                )
                .wrap(rebuff::server::actix::Idempotency::new(store.clone())),
        )
        .await;
        for n in 1..=2 {
            let request = test::TestRequest::post()
                .uri("/orders")
                .insert_header(("authorization", CALLER))
                .insert_header(("idempotency-key", "big-actix"))
                .to_request();
            let response = test::call_service(&app, request).await;
            let replayed = response.headers().contains_key("idempotent-replayed");
            large_answer(kept, n, replayed, &test::read_body(response).await);
        }
        assert_eq!(effects.load(Ordering::SeqCst), if kept { 1 } else { 2 });
    }
}

/// A response body that sends a part of what it announced, then fails (an
/// upstream that reset mid-way).
struct Broken {
    sent: bool,
}

impl http_body::Body for Broken {
    type Data = bytes::Bytes;
    type Error = std::io::Error;

    fn poll_frame(
        mut self: std::pin::Pin<&mut Self>,
        _: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Option<Result<http_body::Frame<bytes::Bytes>, std::io::Error>>> {
        if std::mem::replace(&mut self.sent, true) {
            return std::task::Poll::Ready(Some(Err(std::io::Error::other("upstream reset"))));
        }
        let part = bytes::Bytes::from_static(br#"{"id":"#);
        std::task::Poll::Ready(Some(Ok(http_body::Frame::data(part))))
    }

    fn size_hint(&self) -> http_body::SizeHint {
        http_body::SizeHint::with_exact(100)
    }
}

/// A keyed response whose body fails while it is read to be kept is a 500,
/// not its status with an empty body (which would tell the client the
/// request worked), and its key is given back: the retry runs again.
#[tokio::test]
async fn a_body_that_fails_while_it_is_kept_is_a_500_and_frees_its_key() {
    let effects = Arc::new(AtomicU32::new(0));
    let counter = effects.clone();
    let app = Router::new()
        .route(
            "/orders",
            post(move || {
                counter.fetch_add(1, Ordering::SeqCst);
                async { (StatusCode::CREATED, Body::new(Broken { sent: false })) }
            }),
        )
        .layer(IdempotencyLayer::new(MemoryStore::new(
            Duration::from_secs(60),
        )));
    for attempt in 1..=2 {
        let (status, replayed, body) = send(&app, Some("broken")).await;
        assert_eq!(status, StatusCode::INTERNAL_SERVER_ERROR, "{body}");
        assert_eq!(replayed, None);
        assert_eq!(effects.load(Ordering::SeqCst), attempt);
    }

    use actix_web::{App, HttpResponse, test, web};
    let effects = Arc::new(AtomicU32::new(0));
    let counter = effects.clone();
    let app = test::init_service(
        App::new()
            .route(
                "/orders",
                web::post().to(move || {
                    counter.fetch_add(1, Ordering::SeqCst);
                    let parts: [Result<bytes::Bytes, std::io::Error>; 2] = [
                        Ok(bytes::Bytes::from_static(br#"{"id":"#)),
                        Err(std::io::Error::other("upstream reset")),
                    ];
                    let body =
                        actix_web::body::SizedStream::new(100, futures_util::stream::iter(parts));
                    async move { HttpResponse::Created().body(body) }
                }),
            )
            .wrap(rebuff::server::actix::Idempotency::new(MemoryStore::new(
                Duration::from_secs(60),
            ))),
    )
    .await;
    for attempt in 1..=2 {
        let request = test::TestRequest::post()
            .uri("/orders")
            .insert_header(("authorization", CALLER))
            .insert_header(("idempotency-key", "broken"))
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 500);
        assert_eq!(effects.load(Ordering::SeqCst), attempt);
    }
}
