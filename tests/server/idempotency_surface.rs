//! Idempotency keys behind the server surface: a keyed body cut off at the
//! surface's limit, the layer's refusals in the surface's style, and keyed
//! bodies of unknown length honoured within the surface's limit, on both
//! frameworks.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use axum::body::Body;
use http::{Request, StatusCode};
use rebuff::server::idempotency::MemoryStore;
use tower::ServiceExt;

use crate::idempotency::{orders, outcome};

/// Behind the surface, a keyed chunked body past its limit is a 413 in the
/// envelope, as it is without a key: the body is read whole to fingerprint
/// it, and the surface cuts it off as it is read. The idempotency layer's
/// refusals are in the surface's style too.
#[tokio::test]
async fn a_keyed_chunked_body_past_the_surfaces_limit_is_a_413() {
    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    #[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE")]
    enum OrderError {
        #[error("no such order")]
        #[api(status = 404)]
        NoSuchOrder,
    }

    let effects = Arc::new(AtomicU32::new(0));
    let app = orders(effects.clone(), false)
        .layer(rebuff::server::Surface::<OrderError>::new().body_limit(1 << 10));
    let chunks: Vec<Result<Vec<u8>, std::io::Error>> =
        vec![Ok(vec![b'x'; 1000]), Ok(vec![b'x'; 1000])];
    let request = Request::post("/orders")
        .header("authorization", "Bearer orders-client")
        .header("idempotency-key", "big")
        .body(Body::from_stream(futures_util::stream::iter(chunks)))
        .unwrap();
    let response = app.clone().oneshot(request).await.unwrap();
    assert_eq!(response.status(), StatusCode::PAYLOAD_TOO_LARGE);
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let body: serde_json::Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "PAYLOAD_TOO_LARGE", "{body}");
    assert_eq!(effects.load(Ordering::SeqCst), 0, "the handler never ran");

    // One key, two bodies: the second is refused in the surface's style.
    for (body, status) in [
        ("one", StatusCode::OK),
        ("two", StatusCode::UNPROCESSABLE_ENTITY),
    ] {
        let request = Request::post("/orders")
            .header("authorization", "Bearer orders-client")
            .header("idempotency-key", "reused")
            .body(Body::from(body))
            .unwrap();
        let (seen, _, text) = outcome(&app, request).await;
        assert_eq!(seen, status, "{text}");
        if status != StatusCode::OK {
            let text: serde_json::Value = serde_json::from_str(&text).unwrap();
            assert_eq!(text["code"], "IDEMPOTENCY_KEY_REUSED", "{text}");
        }
    }
    let _ = OrderError::NoSuchOrder;
}

/// A keyed body of unknown length (chunked) is honoured inside the
/// surface, whose limit bounds it, and without one, read up to the most
/// the keys fingerprint: the same rule on both frameworks.
#[tokio::test]
async fn a_keyed_chunked_body_is_honoured_inside_the_surface_on_both_frameworks() {
    use actix_web::{App, HttpResponse, test, web};

    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    enum OrderError {
        #[error("no such order")]
        #[api(status = 404)]
        NoSuchOrder,
    }

    for surfaced in [true, false] {
        // axum
        let effects = Arc::new(AtomicU32::new(0));
        let mut app = orders(effects.clone(), false);
        if surfaced {
            app = app.layer(rebuff::server::Surface::<OrderError>::new().body_limit(1 << 10));
        }
        for _ in 0..2 {
            let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(b"one".to_vec())];
            let request = Request::post("/orders")
                .header("authorization", "Bearer orders-client")
                .header("idempotency-key", "chunked")
                .body(Body::from_stream(futures_util::stream::iter(chunks)))
                .unwrap();
            let (status, _, _) = outcome(&app, request).await;
            assert_eq!(status, StatusCode::OK);
        }
        let served = effects.load(Ordering::SeqCst);
        assert_eq!(served, 1, "axum, surface: {surfaced}");

        // actix-web
        let effects = Arc::new(AtomicU32::new(0));
        let counter = effects.clone();
        let surface = rebuff::server::Surface::<OrderError>::new().body_limit(1 << 10);
        let app = test::init_service(
            App::new()
                .route(
                    "/orders",
                    web::post().to(move |_: web::Bytes| {
                        let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                        async move { HttpResponse::Created().body(format!("order #{n}")) }
                    }),
                )
                .wrap(rebuff::server::actix::Idempotency::new(MemoryStore::new(
                    Duration::from_secs(60),
                )))
                .wrap(actix_web::middleware::Condition::new(surfaced, surface)),
        )
        .await;
        for _ in 0..2 {
            let request = test::TestRequest::post()
                .uri("/orders")
                .insert_header(("authorization", "Bearer orders-client"))
                .insert_header(("idempotency-key", "chunked"))
                .insert_header(("transfer-encoding", "chunked"))
                .set_payload("one")
                .to_request();
            assert_eq!(test::call_service(&app, request).await.status(), 201);
        }
        let served = effects.load(Ordering::SeqCst);
        assert_eq!(served, 1, "actix, surface: {surfaced}");
    }
    let _ = OrderError::NoSuchOrder;
}

/// A replayed answer carries the request id of the request it answers,
/// not the first one's (an error's response has its id in a header the
/// store kept), on both frameworks.
#[tokio::test]
async fn a_replay_carries_the_retrys_request_id_on_both_frameworks() {
    use actix_web::{App, test, web};
    use rebuff::server::idempotency::IdempotencyLayer;

    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    enum OrderError {
        #[error("taken")]
        #[api(status = 409, message = "Already taken")]
        Taken,
    }

    // axum
    let app = axum::Router::new()
        .route(
            "/orders",
            axum::routing::post(|| async { Err::<(), _>(OrderError::Taken) }),
        )
        .layer(IdempotencyLayer::new(MemoryStore::new(
            Duration::from_secs(60),
        )))
        .layer(rebuff::server::Surface::<OrderError>::new());
    for (id, replayed) in [("req_first", false), ("req_retry", true)] {
        let request = Request::post("/orders")
            .header("authorization", "Bearer orders-client")
            .header("idempotency-key", "k")
            .header("x-request-id", id)
            .body(Body::from("{}"))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), StatusCode::CONFLICT);
        assert_eq!(response.headers()["x-request-id"], id, "axum");
        assert_eq!(
            response.headers().contains_key("idempotent-replayed"),
            replayed,
            "axum"
        );
    }

    // actix-web
    let app = test::init_service(
        App::new()
            .route(
                "/orders",
                web::post().to(|| async { Err::<String, _>(OrderError::Taken) }),
            )
            .wrap(rebuff::server::actix::Idempotency::new(MemoryStore::new(
                Duration::from_secs(60),
            )))
            .wrap(rebuff::server::Surface::<OrderError>::new()),
    )
    .await;
    for (id, replayed) in [("req_first", false), ("req_retry", true)] {
        let request = test::TestRequest::post()
            .uri("/orders")
            .insert_header(("authorization", "Bearer orders-client"))
            .insert_header(("idempotency-key", "k"))
            .insert_header(("x-request-id", id))
            .set_payload("{}")
            .to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 409);
        assert_eq!(response.headers().get("x-request-id").unwrap(), id, "actix");
        assert_eq!(
            response.headers().contains_key("idempotent-replayed"),
            replayed,
            "actix"
        );
    }
}

/// Two nested routers behind one store: a key belongs to the whole path,
/// not to the part of it left once `Router::nest` stripped its prefix.
#[tokio::test]
async fn nested_routers_do_not_share_their_keys() {
    use rebuff::server::idempotency::IdempotencyLayer;

    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    enum ShopError {
        #[error("gone")]
        #[api(status = 410)]
        Gone,
    }

    let layer = IdempotencyLayer::new(MemoryStore::new(Duration::from_secs(60)));
    let nested = |name: &'static str| {
        axum::Router::new()
            .route("/", axum::routing::post(move || async move { name }))
            .layer(layer.clone())
    };
    let app = axum::Router::new()
        .nest("/v1/orders", nested("order"))
        .nest("/v1/refunds", nested("refund"))
        .layer(rebuff::server::Surface::<ShopError>::new());
    for (path, answer) in [
        ("/v1/orders", "order"),
        ("/v1/refunds", "refund"),
        ("/v1/orders", "order"),
    ] {
        let request = Request::post(path)
            .header("idempotency-key", "same")
            .body(Body::from("{}"))
            .unwrap();
        let (status, _, text) = outcome(&app, request).await;
        assert_eq!(status, StatusCode::OK, "{path}");
        assert_eq!(text, answer, "{path}");
    }
    let _ = ShopError::Gone;
}
