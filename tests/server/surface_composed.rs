//! The surface composed with other layers: a layer inside it that
//! replaces the body, an actix-web middleware inside it that fails with an
//! error, the idempotency middleware inside it, an app's own extractor
//! configuration beside it, and a handler's own headers under its request
//! id echo.

use std::time::Duration;

use rebuff::server::Surface;
use serde_json::Value;

use crate::surface::{FlatError, Item, LIMIT, client};

/// A layer inside the surface may hand the handler another body than the
/// one sent (a decompressed one): the surface's limit still holds for what
/// the extractor reads.
#[tokio::test]
async fn the_limit_holds_for_a_body_a_layer_inside_replaced() {
    use axum::body::Body;
    use axum::routing::post;
    use rebuff::server::axum::Json;

    /// Turns the small body sent into 1.5 MiB of JSON of unknown length.
    async fn inflate(request: axum::extract::Request) -> axum::extract::Request {
        let (parts, _) = request.into_parts();
        let filler = "x".repeat(LIMIT as usize / 2);
        let chunks: Vec<Result<String, std::io::Error>> = vec![
            Ok(r#"{"name":""#.to_owned()),
            Ok(filler.clone()),
            Ok(filler.clone()),
            Ok(filler),
            Ok(r#"","count":1}"#.to_owned()),
        ];
        axum::extract::Request::from_parts(
            parts,
            Body::from_stream(futures_util::stream::iter(chunks)),
        )
    }

    let app = axum::Router::new()
        .route(
            "/items",
            post(|Json(item): Json<Item>| async move { item.name.len().to_string() }),
        )
        .layer(axum::middleware::map_request(inflate))
        .layer(Surface::<FlatError>::new().body_limit(LIMIT));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, app).into_future());
    let response = client()
        .post(format!("http://{addr}/items"))
        .json(&serde_json::json!({"name": "small", "count": 1}))
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 413);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["code"], "PAYLOAD_TOO_LARGE", "{body}");
}

/// On actix-web, an error an inner middleware returns (instead of a
/// response) is answered in the envelope with the request id, and one
/// rebuff rendered keeps its own code.
#[tokio::test]
async fn an_inner_middlewares_error_is_answered_in_the_envelope() {
    use actix_web::{App, HttpResponse, test, web};

    let app = test::init_service(
        App::new()
            .route("/items", web::get().to(HttpResponse::Ok))
            .route(
                "/forbidden",
                web::get().to(|| async {
                    Err::<HttpResponse, _>(actix_web::error::ErrorForbidden("not yours"))
                }),
            )
            .wrap_fn(|req, srv| {
                let gone = req.path() == "/gone";
                let moved = req.path() == "/old";
                let private = req.path() == "/private";
                let refuse = req.headers().contains_key("x-refuse");
                let call = actix_web::dev::Service::call(srv, req);
                async move {
                    if gone {
                        return Err(FlatError::ItemGone { item_id: 7 }.into());
                    }
                    if refuse {
                        // An auth middleware's refusal, with its challenge.
                        let challenge = HttpResponse::BadRequest()
                            .insert_header(("www-authenticate", "Bearer"))
                            .finish();
                        return Err(actix_web::error::InternalError::from_response(
                            "no", challenge,
                        )
                        .into());
                    }
                    if private {
                        let challenge = HttpResponse::Unauthorized()
                            .insert_header(("www-authenticate", "Bearer"))
                            .body("sign in");
                        return Err(actix_web::error::InternalError::from_response(
                            "no", challenge,
                        )
                        .into());
                    }
                    if moved {
                        let redirect = HttpResponse::Found()
                            .insert_header(("location", "/items"))
                            .finish();
                        return Err(actix_web::error::InternalError::from_response(
                            "moved", redirect,
                        )
                        .into());
                    }
                    call.await
                }
            })
            .wrap(Surface::<FlatError>::new()),
    )
    .await;
    let request = test::TestRequest::get()
        .uri("/items")
        .insert_header(("x-refuse", "1"))
        .to_request();
    let response = match test::try_call_service(&app, request).await {
        Ok(response) => response.into_parts().1.map_into_boxed_body(),
        Err(err) => err.error_response(),
    };
    assert_eq!(response.status(), 400);
    assert_eq!(
        response.headers().get("content-type").unwrap(),
        "application/json"
    );
    assert!(response.headers().contains_key("x-request-id"));
    assert_eq!(
        response.headers().get("www-authenticate").unwrap(),
        "Bearer"
    );
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "BAD_REQUEST", "{body}");
    assert!(body["requestId"].is_string(), "{body}");

    // A status no rejection stands for keeps it, and its headers, as the
    // middleware sent it: a 401 stays a 401.
    let request = test::TestRequest::get().uri("/private").to_request();
    let response = match test::try_call_service(&app, request).await {
        Ok(response) => response.into_parts().1.map_into_boxed_body(),
        Err(err) => err.error_response(),
    };
    assert_eq!(response.status(), 401);
    assert_eq!(
        response.headers().get("www-authenticate").unwrap(),
        "Bearer"
    );
    assert!(response.headers().contains_key("x-request-id"));

    // So does a handler's error of another type with such a status.
    let request = test::TestRequest::get().uri("/forbidden").to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 403);
    assert!(response.headers().contains_key("x-request-id"));

    // A redirect sent as an error is no error: it goes out as it is.
    let request = test::TestRequest::get().uri("/old").to_request();
    let response = match test::try_call_service(&app, request).await {
        Ok(response) => response.into_parts().1.map_into_boxed_body(),
        Err(err) => err.error_response(),
    };
    assert_eq!(response.status(), 302);
    assert_eq!(response.headers().get("location").unwrap(), "/items");

    let request = test::TestRequest::get().uri("/gone").to_request();
    let response = match test::try_call_service(&app, request).await {
        Ok(response) => response.into_parts().1.map_into_boxed_body(),
        Err(err) => err.error_response(),
    };
    assert_eq!(response.status(), 410);
    let body = actix_web::body::to_bytes(response.into_body())
        .await
        .unwrap();
    let body: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(body["code"], "ITEM_GONE", "{body}");
}

/// On actix-web, idempotency keys behind the surface (the middleware
/// inside it, or the surface's own keys) do not keep the framework's own
/// answers (a body that is not JSON): a retry with the key is answered in
/// the envelope too, not replayed as actix's text.
#[tokio::test]
async fn a_retried_rejection_behind_idempotency_is_still_in_the_envelope() {
    use actix_web::middleware::Condition;
    use actix_web::{App, HttpResponse, test, web};
    use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};

    for own_keys in [false, true] {
        let store = || MemoryStore::new(Duration::from_secs(60));
        let surface = match own_keys {
            true => Surface::<FlatError>::new().idempotency(IdempotencyKeys::new(store())),
            false => Surface::<FlatError>::new(),
        };
        let app = test::init_service(
            App::new()
                .route(
                    "/items",
                    web::post().to(|item: web::Json<Item>| async move {
                        HttpResponse::Created().json(item.into_inner())
                    }),
                )
                .wrap(Condition::new(
                    !own_keys,
                    rebuff::server::actix::Idempotency::new(store()),
                ))
                .wrap(surface),
        )
        .await;
        for attempt in 1..=2 {
            let request = test::TestRequest::post()
                .uri("/items")
                .insert_header(("idempotency-key", "k1"))
                .insert_header(("content-type", "application/json"))
                .set_payload("{not json")
                .to_request();
            let response = test::call_service(&app, request).await;
            let seen = format!("own keys: {own_keys}, attempt {attempt}");
            assert_eq!(response.status(), 400, "{seen}");
            assert_eq!(
                response.headers().get("content-type").unwrap(),
                "application/json",
                "{seen}"
            );
            assert!(
                !response.headers().contains_key("idempotent-replayed"),
                "{seen}"
            );
            let body: Value = serde_json::from_slice(&test::read_body(response).await).unwrap();
            assert_eq!(body["code"], "INVALID_JSON", "{seen}: {body}");
        }
    }
}

/// On actix-web, an extractor configuration the app sets for itself (a
/// smaller JSON limit) stays the app's: the surface adds only those the app
/// lacks.
#[tokio::test]
async fn an_apps_own_extractor_config_is_kept() {
    use actix_web::{App, HttpResponse, test, web};

    let app = test::init_service(
        App::new()
            .app_data(web::JsonConfig::default().limit(16))
            .route(
                "/items",
                web::post().to(|item: web::Json<Item>| async move {
                    HttpResponse::Created().json(item.into_inner())
                }),
            )
            .route(
                "/search",
                web::get().to(
                    |query: web::Query<std::collections::HashMap<String, u32>>| async move {
                        HttpResponse::Ok().json(query.into_inner())
                    },
                ),
            )
            .wrap(Surface::<FlatError>::new()),
    )
    .await;
    let request = test::TestRequest::post()
        .uri("/items")
        .set_json(serde_json::json!({"name": "a name longer than sixteen bytes", "count": 1}))
        .to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 413);
    let body: Value = serde_json::from_slice(&test::read_body(response).await).unwrap();
    assert_eq!(body["code"], "PAYLOAD_TOO_LARGE", "{body}");

    // What the app left unset is the surface's: a bad query in the envelope.
    let request = test::TestRequest::get().uri("/search?page=x").to_request();
    let response = test::call_service(&app, request).await;
    assert_eq!(response.status(), 400);
    let body: Value = serde_json::from_slice(&test::read_body(response).await).unwrap();
    assert_eq!(body["code"], "INVALID_QUERY", "{body}");
}

/// The in-process store, answering a poll later, as a remote one does.
pub(crate) struct Later(pub(crate) rebuff::ratelimit::MemoryStore);

impl rebuff::ratelimit::RateLimitStore for Later {
    fn decide(&self, ask: &rebuff::ratelimit::Ask<'_>) -> rebuff::ratelimit::Deciding {
        let decided = self.0.decide_now(ask).expect("decided in process");
        Box::pin(async move {
            tokio::task::yield_now().await;
            decided
        })
    }
}

/// A remote store's decision comes in, then the service inside the surface
/// is not ready at once (a concurrency limit, a buffer): the surface waits
/// for it with the decision kept, and never asks the store's finished
/// future again.
#[tokio::test]
async fn a_remote_decision_waits_for_a_service_not_ready_at_once() {
    use core::task::{Context, Poll};

    use axum::body::Body;
    use rebuff::ratelimit::{MemoryStore, Plan, RateLimiter};
    use tower::ServiceExt;

    /// A service each clone of which is not ready on its first poll.
    struct NotReadyAtOnce<S> {
        inner: S,
        polled: bool,
    }

    impl<S: Clone> Clone for NotReadyAtOnce<S> {
        fn clone(&self) -> Self {
            NotReadyAtOnce {
                inner: self.inner.clone(),
                polled: false,
            }
        }
    }

    impl<S: tower::Service<axum::extract::Request>> tower::Service<axum::extract::Request>
        for NotReadyAtOnce<S>
    {
        type Response = S::Response;
        type Error = S::Error;
        type Future = S::Future;

        fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), S::Error>> {
            if !self.polled {
                self.polled = true;
                cx.waker().wake_by_ref();
                return Poll::Pending;
            }
            self.inner.poll_ready(cx)
        }

        fn call(&mut self, request: axum::extract::Request) -> S::Future {
            self.polled = false;
            self.inner.call(request)
        }
    }

    let limiter = RateLimiter::new()
        .anonymous(Plan::new("anonymous").window(rebuff::ratelimit::Window::per_minute(1)))
        .store(Later(MemoryStore::new()));
    let router = axum::Router::new().route("/", axum::routing::get(|| async { "served" }));
    let service = tower::Layer::layer(
        &Surface::<FlatError>::new().rate_limit(limiter),
        NotReadyAtOnce {
            inner: router,
            polled: false,
        },
    );
    let request = || {
        axum::extract::Request::get("/")
            .extension(axum::extract::ConnectInfo(std::net::SocketAddr::from((
                [192, 0, 2, 1],
                40_000,
            ))))
            .body(Body::empty())
            .unwrap()
    };
    let first = tokio::time::timeout(Duration::from_secs(5), service.clone().oneshot(request()))
        .await
        .expect("answered")
        .unwrap();
    assert_eq!(first.status(), 200);
    assert_eq!(first.headers()["x-ratelimit-remaining"], "0");
    let body = axum::body::to_bytes(first.into_body(), 1024).await.unwrap();
    assert_eq!(&body[..], b"served");
    // The decision kept is the one the store made: the next is refused.
    let second = service.oneshot(request()).await.unwrap();
    assert_eq!(second.status(), 429);
}

/// The request id is echoed on every response that has none, however many
/// headers it carries, and a handler's own id is never replaced.
#[tokio::test]
async fn the_request_id_is_echoed_unless_the_response_has_one() {
    use axum::http::{HeaderMap, HeaderName, HeaderValue};
    use axum::routing::get;

    /// `count` headers of the handler's own, and its own id when `id`.
    fn headers(count: usize, id: bool) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for i in 0..count {
            let name = HeaderName::try_from(format!("x-extra-{i}")).unwrap();
            headers.insert(name, HeaderValue::from_static("1"));
        }
        if id {
            headers.insert("x-request-id", HeaderValue::from_static("req_handlers_own"));
        }
        headers
    }

    let app = axum::Router::new()
        .route("/few", get(|| async { (headers(1, false), "ok") }))
        .route("/many", get(|| async { (headers(12, false), "ok") }))
        .route("/few-own", get(|| async { (headers(1, true), "ok") }))
        .route("/many-own", get(|| async { (headers(12, true), "ok") }))
        .layer(Surface::<FlatError>::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(axum::serve(listener, app).into_future());
    for (path, own) in [
        ("few", false),
        ("many", false),
        ("few-own", true),
        ("many-own", true),
    ] {
        let response = client()
            .get(format!("http://{addr}/{path}"))
            .header("x-request-id", "req_from_client_2")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200, "{path}");
        let ids: Vec<_> = response.headers().get_all("x-request-id").iter().collect();
        let expected = if own {
            "req_handlers_own"
        } else {
            "req_from_client_2"
        };
        assert_eq!(ids, [expected], "{path}");
    }
}
