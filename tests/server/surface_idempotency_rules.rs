//! Which keyed requests the surface's idempotency keys honour, with their
//! defaults, over loopback on both frameworks: a key on a GET is ignored
//! (its first answer would be stale), callers are kept apart by their
//! credentials (and one without is not honoured), every keyed body the surface's limit
//! admits is honoured, and one too large to fingerprint is refused rather
//! than served twice; a request refused before its handler ran keeps no
//! answer, so that corrected it is served with the same key.

use std::time::Duration;

use rebuff::server::Surface;
use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};

use crate::surface::client;
use crate::surface_idempotency::{Effects, FRAMEWORKS, Framework, OrderError};

/// The default keys: the default scope, the default most fingerprinted.
fn keys() -> IdempotencyKeys {
    IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(60)))
}

/// A server of `framework` behind `surface`: `POST /orders` counts and
/// answers `order #<n> (<body length>)`, `POST /items` reads a JSON item
/// (the framework's extractor on actix-web, rebuff's on axum) and answers
/// `item #<n>`, `GET /count` answers the count; an unknown route is
/// answered by rebuff's fallback, a wrong method by the router.
/// axum is served with the peer's address known, as actix-web always
/// knows it: the keys do not scope by it all the same.
async fn start(framework: Framework, surface: Surface<OrderError>) -> (String, Effects) {
    let effects = Effects::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    match framework {
        Framework::Axum => {
            use axum::routing::{get, post};
            let (orders, items, count) = (effects.clone(), effects.clone(), effects.clone());
            let app = axum::Router::new()
                .route(
                    "/orders",
                    post(move |body: axum::body::Bytes| {
                        let n = orders.next();
                        async move {
                            let answer = format!("order #{n} ({})", body.len());
                            (axum::http::StatusCode::CREATED, answer)
                        }
                    }),
                )
                .route(
                    "/items",
                    post(move |_: rebuff::server::axum::Json<Item>| {
                        let n = items.next();
                        async move { (axum::http::StatusCode::CREATED, format!("item #{n}")) }
                    }),
                )
                .route(
                    "/count",
                    get(move || {
                        let n = count.count();
                        async move { n.to_string() }
                    }),
                )
                .fallback(rebuff::server::axum::not_found)
                .layer(surface);
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = app.into_make_service_with_connect_info::<std::net::SocketAddr>();
            tokio::spawn(axum::serve(listener, app).into_future());
        }
        Framework::Actix => {
            use actix_web::{App, HttpResponse, web};
            let served = effects.clone();
            let server = actix_web::HttpServer::new(move || {
                let (orders, items, count) = (served.clone(), served.clone(), served.clone());
                App::new()
                    .route(
                        "/orders",
                        web::post().to(move |body: web::Bytes| {
                            let n = orders.next();
                            async move {
                                HttpResponse::Created().body(format!("order #{n} ({})", body.len()))
                            }
                        }),
                    )
                    .service(web::resource("/items").route(web::post().to(
                        move |_: web::Json<Item>| {
                            let n = items.next();
                            async move { HttpResponse::Created().body(format!("item #{n}")) }
                        },
                    )))
                    .route(
                        "/count",
                        web::get().to(move || {
                            let n = count.count();
                            async move { n.to_string() }
                        }),
                    )
                    .default_service(web::to(rebuff::server::actix::not_found))
                    .wrap(surface.clone())
            })
            .workers(1)
            .disable_signals()
            .listen(listener)
            .expect("listen")
            .run();
            tokio::spawn(server);
        }
    }
    (base, effects)
}

/// The body `POST /items` reads.
#[derive(serde::Deserialize)]
struct Item {
    #[allow(dead_code)] // read by serde only
    name: String,
}

/// What a request got: status, replayed or not, body.
async fn send(request: reqwest::RequestBuilder) -> (u16, bool, String) {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let replayed = response.headers().contains_key("idempotent-replayed");
    (status, replayed, response.text().await.unwrap())
}

/// A keyed `POST /orders` of `body`, with `caller` as its `X-API-Key`
/// (none: no credentials at all).
async fn order(base: &str, caller: Option<&str>, key: &str, body: Vec<u8>) -> (u16, bool, String) {
    let mut request = client()
        .post(format!("{base}/orders"))
        .header("idempotency-key", key)
        .body(body);
    if let Some(caller) = caller {
        request = request.header("x-api-key", caller);
    }
    send(request).await
}

#[tokio::test]
async fn a_key_on_a_get_is_ignored_and_its_answer_never_stale() {
    for framework in FRAMEWORKS {
        let (base, _) = start(framework, Surface::new().idempotency(keys())).await;
        let count = || {
            client()
                .get(format!("{base}/count"))
                .header("x-api-key", "alice")
                .header("idempotency-key", "g1")
        };
        assert_eq!(
            send(count()).await,
            (200, false, "0".into()),
            "{framework:?}"
        );
        order(&base, Some("alice"), "o1", b"{}".to_vec()).await;
        assert_eq!(
            send(count()).await,
            (200, false, "1".into()),
            "{framework:?}"
        );
        // Not even an unusable key is looked at on a GET.
        let unusable = client()
            .get(format!("{base}/count"))
            .header("idempotency-key", "");
        assert_eq!(send(unusable).await.0, 200, "{framework:?}");
    }
}

#[tokio::test]
async fn callers_are_kept_apart_by_their_credentials() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let first = order(&base, Some("alice"), "k", b"{}".to_vec()).await;
        assert_eq!(first, (201, false, "order #1 (2)".into()), "{framework:?}");
        // Another caller's key of the same text is its own.
        let other = order(&base, Some("bob"), "k", b"{}".to_vec()).await;
        assert_eq!(other, (201, false, "order #2 (2)".into()), "{framework:?}");
        let retry = order(&base, Some("alice"), "k", b"{}".to_vec()).await;
        assert_eq!(retry, (201, true, "order #1 (2)".into()), "{framework:?}");
        // Without credentials the key is ignored (its address is no
        // identity): served each time, and never another caller's answer.
        for n in [3, 4] {
            let anonymous = order(&base, None, "k", b"{}".to_vec()).await;
            let served = format!("order #{n} (2)");
            assert_eq!(anonymous, (201, false, served), "{framework:?}");
        }
        assert_eq!(effects.count(), 4, "{framework:?}");
    }
}

#[tokio::test]
async fn every_keyed_body_the_surfaces_limit_admits_is_honoured() {
    let body = vec![b'x'; 3 << 20];
    for framework in FRAMEWORKS {
        let surface = Surface::new().body_limit(4 << 20).idempotency(keys());
        let (base, effects) = start(framework, surface).await;
        for replayed in [false, true] {
            let answer = order(&base, Some("alice"), "big", body.clone()).await;
            let expected = format!("order #1 ({})", 3 << 20);
            assert_eq!(answer, (201, replayed, expected), "{framework:?}");
        }
        assert_eq!(effects.count(), 1, "{framework:?}: served once");
    }
}

#[tokio::test]
async fn a_keyed_body_larger_than_the_keys_take_is_refused_not_served() {
    let body = vec![b'x'; 2 << 20];
    for framework in FRAMEWORKS {
        let keys = keys().max_request_body(1 << 20);
        let surface = Surface::new().body_limit(4 << 20).idempotency(keys);
        let (base, effects) = start(framework, surface).await;
        let (status, replayed, text) = order(&base, Some("alice"), "big", body.clone()).await;
        assert_eq!((status, replayed), (413, false), "{framework:?}: {text}");
        let json: serde_json::Value = serde_json::from_str(&text).unwrap();
        assert_eq!(json["code"], "PAYLOAD_TOO_LARGE", "{framework:?}: {json}");
        assert_eq!(effects.count(), 0, "{framework:?}: never served");
        // Without a key, the surface's limit alone applies.
        let unkeyed = client()
            .post(format!("{base}/orders"))
            .header("x-api-key", "alice")
            .body(body.clone());
        assert_eq!(send(unkeyed).await.0, 201, "{framework:?}");
    }
}

/// A request refused before its handler ran (a body its extractor cannot
/// read, an unknown route, a wrong method) did no work: its answer is not
/// kept, so the client can correct the request and send it again with the
/// same key, and have it served rather than refused as the key reused.
#[tokio::test]
async fn a_request_refused_before_its_handler_keeps_no_answer() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let keyed = |method: reqwest::Method, path: &str, body: &'static str| {
            client()
                .request(method, format!("{base}{path}"))
                .header("x-api-key", "alice")
                .header("idempotency-key", "item-1")
                .header("content-type", "application/json")
                .body(body)
        };
        for _ in 0..2 {
            let (status, replayed, text) =
                send(keyed(reqwest::Method::POST, "/items", "{oops")).await;
            assert_eq!((status, replayed), (400, false), "{framework:?}: {text}");
            assert!(text.contains("INVALID_JSON"), "{framework:?}: {text}");
        }
        let fixed = r#"{"name":"pen"}"#;
        for replayed in [false, true] {
            let answer = send(keyed(reqwest::Method::POST, "/items", fixed)).await;
            assert_eq!(answer, (201, replayed, "item #1".into()), "{framework:?}");
        }
        // An unknown route (rebuff's fallback) and a wrong method (the
        // router's bare 405, restyled), each sent twice: never replayed.
        for (method, path) in [
            (reqwest::Method::POST, "/nowhere"),
            (reqwest::Method::PATCH, "/items"),
        ] {
            for _ in 0..2 {
                let (status, replayed, text) = send(keyed(method.clone(), path, fixed)).await;
                let expected = if path == "/nowhere" { 404 } else { 405 };
                assert_eq!(
                    (status, replayed),
                    (expected, false),
                    "{framework:?} {method} {path}: {text}"
                );
            }
        }
        assert_eq!(effects.count(), 1, "{framework:?}");
    }
}
