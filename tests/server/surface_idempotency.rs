//! Idempotency keys from the one setup call (`Surface::idempotency`), over
//! loopback on both frameworks: a keyed request served once and replayed
//! with the retry's request id, a key reused with another body refused in
//! the type's style, keys scoped by caller and by whole path, a panicking
//! request (or scope) answered and its key given back, and the surface's
//! keys with a hand-composed layer on the same store. With the rate
//! limiter: `surface_limits`.

use std::sync::Arc;
use std::sync::atomic::{AtomicU32, Ordering};
use std::time::Duration;

use rebuff::server::Surface;
use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};

use crate::surface::client;

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE")]
pub(crate) enum OrderError {
    #[error("taken")]
    #[api(status = 409, message = "This order was placed already")]
    Taken,
}

#[derive(Debug, Clone, Copy)]
pub(crate) enum Framework {
    Axum,
    Actix,
}

pub(crate) const FRAMEWORKS: [Framework; 2] = [Framework::Axum, Framework::Actix];

/// Keys scoped by the caller's `x-api-key` (a scope that panics for the
/// caller `panic`).
pub(crate) fn keys() -> IdempotencyKeys {
    IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(60))).scope(|request| {
        let caller = request.header_bytes("x-api-key").unwrap_or_default();
        assert!(caller != b"panic", "a scope that fails");
        caller.to_vec()
    })
}

/// The handlers' work: each call counted, the count in the answer.
#[derive(Clone, Default)]
pub(crate) struct Effects(Arc<AtomicU32>);

impl Effects {
    pub(crate) fn next(&self) -> u32 {
        self.0.fetch_add(1, Ordering::SeqCst) + 1
    }

    pub(crate) fn count(&self) -> u32 {
        self.0.load(Ordering::SeqCst)
    }
}

/// `POST /v1/orders` and `/v2/orders` answer `order #<n>`, `/v1/taken` a
/// 409 in the envelope, `/v1/flaky` panics when it is the server's first
/// call. Nested (scoped on actix), so that a key scoped by the path a nest
/// strips would be shared by `/v1/orders` and `/v2/orders`. With `inner`,
/// the hand-composed idempotency layer over that store sits inside the
/// surface too.
pub(crate) mod axum_server {
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::post;
    use rebuff::server::idempotency::IdempotencyLayer;

    use super::{Effects, OrderError};

    fn routes(effects: &Effects) -> Router {
        let (orders, taken, flaky) = (effects.clone(), effects.clone(), effects.clone());
        Router::new()
            .route(
                "/orders",
                post(move |_: String| {
                    let n = orders.next();
                    async move { (StatusCode::CREATED, format!("order #{n}")) }
                }),
            )
            .route(
                "/taken",
                post(move |_: String| {
                    taken.next();
                    async { Err::<(), _>(OrderError::Taken) }
                }),
            )
            .route(
                "/flaky",
                post(move |_: String| {
                    let n = flaky.next();
                    async move {
                        assert!(n > 1, "the first call fails");
                        (StatusCode::CREATED, format!("flaky #{n}"))
                    }
                }),
            )
    }

    pub(crate) fn router(
        effects: &Effects,
        surface: rebuff::server::Surface<OrderError>,
        layered: super::Layered,
    ) -> Router {
        let mut app = Router::new()
            .nest("/v1", routes(effects))
            .nest("/v2", routes(effects));
        if let Some(store) = super::on(super::Side::Inside, &layered) {
            app = app.layer(IdempotencyLayer::new(store));
        }
        app = app.layer(surface);
        if let Some(store) = super::on(super::Side::Outside, &layered) {
            app = app.layer(IdempotencyLayer::new(store));
        }
        app
    }
}

mod actix_server {
    use std::sync::Arc;

    use std::time::Duration;

    use actix_web::middleware::Condition;
    use actix_web::{App, HttpResponse, web};
    use rebuff::server::idempotency::MemoryStore;

    use super::{Effects, OrderError};

    fn routes(effects: &Effects) -> actix_web::Scope {
        let (orders, taken, flaky) = (effects.clone(), effects.clone(), effects.clone());
        web::scope("")
            .route(
                "/orders",
                web::post().to(move |_: web::Bytes| {
                    let n = orders.next();
                    async move { HttpResponse::Created().body(format!("order #{n}")) }
                }),
            )
            .route(
                "/taken",
                web::post().to(move |_: web::Bytes| {
                    taken.next();
                    async { Err::<String, _>(OrderError::Taken) }
                }),
            )
            .route(
                "/flaky",
                web::post().to(move |_: web::Bytes| {
                    let n = flaky.next();
                    async move {
                        assert!(n > 1, "the first call fails");
                        HttpResponse::Created().body(format!("flaky #{n}"))
                    }
                }),
            )
    }

    pub(super) fn serve(
        listener: std::net::TcpListener,
        effects: Effects,
        surface: rebuff::server::Surface<OrderError>,
        layered: super::Layered,
    ) -> actix_web::dev::Server {
        /// The middleware over `store`, or none.
        fn keys(
            store: Option<Arc<MemoryStore>>,
        ) -> Condition<rebuff::server::actix::Idempotency<Arc<MemoryStore>>> {
            let on = store.is_some();
            let store = store.unwrap_or_else(|| Arc::new(MemoryStore::new(Duration::from_secs(1))));
            Condition::new(on, rebuff::server::actix::Idempotency::new(store))
        }
        actix_web::HttpServer::new(move || {
            // `wrap` puts each middleware outside those before it.
            App::new()
                .service(web::scope("/v1").service(routes(&effects)))
                .service(web::scope("/v2").service(routes(&effects)))
                .wrap(keys(super::on(super::Side::Inside, &layered)))
                .wrap(surface.clone())
                .wrap(keys(super::on(super::Side::Outside, &layered)))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run()
    }
}

/// Where a hand-composed idempotency layer sits around the surface.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Side {
    Inside,
    Outside,
}

/// A hand-composed idempotency layer over a store, on one side of the
/// surface, or none.
pub(crate) type Layered = Option<(Side, Arc<MemoryStore>)>;

/// The store of the layer on `side`, if there is one there.
fn on(side: Side, layered: &Layered) -> Option<Arc<MemoryStore>> {
    layered
        .as_ref()
        .filter(|(at, _)| *at == side)
        .map(|(_, store)| store.clone())
}

/// A server of `framework` behind `surface`, and its handlers' count.
pub(crate) async fn start(framework: Framework, surface: Surface<OrderError>) -> (String, Effects) {
    start_with(framework, surface, None).await
}

/// The same, with a hand-composed idempotency layer beside the surface.
async fn start_with(
    framework: Framework,
    surface: Surface<OrderError>,
    layered: Layered,
) -> (String, Effects) {
    let effects = Effects::default();
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    match framework {
        Framework::Axum => {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum_server::router(&effects, surface, layered);
            tokio::spawn(axum::serve(listener, app).into_future());
        }
        Framework::Actix => {
            tokio::spawn(actix_server::serve(
                listener,
                effects.clone(),
                surface,
                layered,
            ));
        }
    }
    (base, effects)
}

/// What a `POST` got: status, replayed or not, the request id it sent and
/// the one it got back, body.
pub(crate) struct Answer {
    pub(crate) status: u16,
    pub(crate) replayed: bool,
    pub(crate) sent_id: String,
    pub(crate) request_id: String,
    pub(crate) body: String,
}

pub(crate) async fn post(url: &str, caller: &str, key: Option<&str>, body: &'static str) -> Answer {
    let sent_id = format!("req_sent{}", fastrand::u64(..));
    let mut request = client()
        .post(url)
        .header("x-api-key", caller)
        .header("x-request-id", &sent_id)
        .body(body);
    if let Some(key) = key {
        request = request.header("idempotency-key", key);
    }
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let header = |name: &str| {
        response
            .headers()
            .get(name)
            .map(|v| v.to_str().unwrap().to_owned())
    };
    let replayed = header("idempotent-replayed").as_deref() == Some("true");
    let request_id = header("x-request-id").unwrap_or_default();
    let body = response.text().await.unwrap();
    Answer {
        status,
        replayed,
        sent_id,
        request_id,
        body,
    }
}

#[tokio::test]
async fn a_keyed_request_is_served_once_and_its_retry_replayed() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let url = format!("{base}/v1/orders");
        let first = post(&url, "alice", Some("order-1"), "{}").await;
        assert_eq!(first.status, 201, "{framework:?}: {}", first.body);
        assert_eq!(first.body, "order #1", "{framework:?}");
        assert!(!first.replayed, "{framework:?}");
        assert_eq!(first.request_id, first.sent_id, "{framework:?}");

        let retry = post(&url, "alice", Some("order-1"), "{}").await;
        assert_eq!(retry.status, 201, "{framework:?}");
        assert_eq!(retry.body, "order #1", "{framework:?}: the first answer");
        assert!(retry.replayed, "{framework:?}: marked as replayed");
        assert_eq!(retry.request_id, retry.sent_id, "{framework:?}: its own id");
        assert_eq!(effects.count(), 1, "{framework:?}: the work done once");

        // Without a key, every request is served.
        for n in [2, 3] {
            let plain = post(&url, "alice", None, "{}").await;
            assert_eq!(plain.body, format!("order #{n}"), "{framework:?}");
            assert!(!plain.replayed, "{framework:?}");
        }
        assert_eq!(effects.count(), 3, "{framework:?}");
    }
}

/// An error in the envelope is kept and replayed too: the first body byte
/// for byte (its `requestId` the first request's), with the retry's own
/// request id in the header (the stored header is not sent again).
#[tokio::test]
async fn a_replayed_error_carries_the_retrys_request_id() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let url = format!("{base}/v1/taken");
        let first = post(&url, "alice", Some("t"), "{}").await;
        assert_eq!(first.status, 409, "{framework:?}: {}", first.body);
        let body: serde_json::Value = serde_json::from_str(&first.body).unwrap();
        assert_eq!(body["code"], "TAKEN", "{framework:?}: {body}");
        assert_eq!(body["requestId"], first.sent_id.as_str(), "{framework:?}");
        let retry = post(&url, "alice", Some("t"), "{}").await;
        assert_eq!(retry.status, 409, "{framework:?}");
        assert!(retry.replayed, "{framework:?}");
        assert_eq!(retry.body, first.body, "{framework:?}: the first answer");
        assert_eq!(retry.request_id, retry.sent_id, "{framework:?}");
        assert_eq!(effects.count(), 1, "{framework:?}");
    }
}

#[tokio::test]
async fn a_key_reused_with_another_body_is_refused_in_the_types_style() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let url = format!("{base}/v1/orders");
        let first = post(&url, "alice", Some("k"), r#"{"amount":1}"#).await;
        assert_eq!(first.status, 201, "{framework:?}");
        let reused = post(&url, "alice", Some("k"), r#"{"amount":2}"#).await;
        assert_eq!(reused.status, 422, "{framework:?}: {}", reused.body);
        let body: serde_json::Value = serde_json::from_str(&reused.body).unwrap();
        assert_eq!(
            body["code"], "IDEMPOTENCY_KEY_REUSED",
            "{framework:?}: {body}"
        );
        assert_eq!(
            body["requestId"],
            reused.sent_id.as_str(),
            "{framework:?}: {body}"
        );
        assert_eq!(reused.request_id, reused.sent_id, "{framework:?}");
        assert_eq!(effects.count(), 1, "{framework:?}");
    }
}

#[tokio::test]
async fn keys_are_scoped_by_caller_and_by_whole_path() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let v1 = format!("{base}/v1/orders");
        let v2 = format!("{base}/v2/orders");
        let alice = post(&v1, "alice", Some("same"), "{}").await;
        let bob = post(&v1, "bob", Some("same"), "{}").await;
        assert_eq!(alice.body, "order #1", "{framework:?}");
        assert_eq!(bob.body, "order #2", "{framework:?}: another caller's key");
        assert!(!bob.replayed, "{framework:?}");
        // Both nests' routes see `/orders` inside them; keys are scoped by
        // the whole path.
        let other_path = post(&v2, "alice", Some("same"), "{}").await;
        assert_eq!(
            other_path.body, "order #3",
            "{framework:?}: another path's key"
        );
        assert!(!other_path.replayed, "{framework:?}");
        let again = post(&v1, "alice", Some("same"), "{}").await;
        assert_eq!(again.body, "order #1", "{framework:?}");
        assert!(again.replayed, "{framework:?}");
        assert_eq!(effects.count(), 3, "{framework:?}");
    }
}

#[tokio::test]
async fn a_keyed_request_that_panics_gives_its_key_back() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let url = format!("{base}/v1/flaky");
        let failed = post(&url, "alice", Some("flaky-1"), "{}").await;
        assert_eq!(failed.status, 500, "{framework:?}");
        let body: serde_json::Value = serde_json::from_str(&failed.body).unwrap();
        assert_eq!(body["code"], "INTERNAL_ERROR", "{framework:?}: {body}");
        // The key was given back: the retry does the work, and is kept.
        let retry = post(&url, "alice", Some("flaky-1"), "{}").await;
        assert_eq!(retry.status, 201, "{framework:?}: {}", retry.body);
        assert_eq!(retry.body, "flaky #2", "{framework:?}");
        let replay = post(&url, "alice", Some("flaky-1"), "{}").await;
        assert_eq!(replay.body, "flaky #2", "{framework:?}");
        assert!(replay.replayed, "{framework:?}");
        assert_eq!(effects.count(), 2, "{framework:?}");
    }
}

/// The scope is the application's code: its panic is answered as a
/// handler's is, a 500 in the envelope, and the server goes on.
#[tokio::test]
async fn a_scope_that_panics_is_answered_with_a_500() {
    for framework in FRAMEWORKS {
        let (base, effects) = start(framework, Surface::new().idempotency(keys())).await;
        let url = format!("{base}/v1/orders");
        let failed = post(&url, "panic", Some("p"), "{}").await;
        assert_eq!(failed.status, 500, "{framework:?}: {}", failed.body);
        let body: serde_json::Value = serde_json::from_str(&failed.body).unwrap();
        assert_eq!(body["code"], "INTERNAL_ERROR", "{framework:?}: {body}");
        assert_eq!(failed.request_id, failed.sent_id, "{framework:?}");
        assert!(!failed.body.contains("a scope that fails"), "{framework:?}");
        let next = post(&url, "alice", Some("p"), "{}").await;
        assert_eq!(next.status, 201, "{framework:?}: the server goes on");
        assert_eq!(effects.count(), 1, "{framework:?}: the handler never ran");
    }
}

/// The surface's keys and a hand-composed layer on the same store, inside
/// the surface or outside it: the key is claimed once, not claimed again
/// further in, where it would be found in flight and the request would
/// wait for itself.
#[tokio::test]
async fn a_surface_with_keys_and_a_hand_composed_layer_claim_each_key_once() {
    for (framework, side) in FRAMEWORKS
        .into_iter()
        .flat_map(|framework| [(framework, Side::Inside), (framework, Side::Outside)])
    {
        let store = Arc::new(MemoryStore::new(Duration::from_secs(60)));
        // Both scoped by `Authorization` (none here): the same scoped key.
        let surface = Surface::new().idempotency(IdempotencyKeys::new(store.clone()));
        let (base, effects) = start_with(framework, surface, Some((side, store))).await;
        let url = format!("{base}/v1/orders");
        // Claimed twice, the request would wait for itself, then be
        // refused with a 409.
        let first = post(&url, "alice", Some("once"), "{}").await;
        assert_eq!(first.status, 201, "{framework:?} {side:?}: {}", first.body);
        let retry = post(&url, "alice", Some("once"), "{}").await;
        assert!(retry.replayed, "{framework:?} {side:?}");
        assert_eq!(retry.body, "order #1", "{framework:?} {side:?}");
        assert_eq!(effects.count(), 1, "{framework:?} {side:?}");
    }
}

/// A key the server cannot honour (empty, past 255 characters, or sent
/// twice) is a 400
/// in the type's style, and the handler never runs: served without it, the
/// request would run again on every retry. The same from the surface's
/// keys and from a hand-composed layer inside it; a layer outside the
/// surface refuses it too, in rebuff's default style (as the rest of its
/// answers are, outside the surface's context).
#[tokio::test]
async fn an_unusable_key_is_refused_not_ignored() {
    let long = "k".repeat(256);
    for framework in FRAMEWORKS {
        let store = Arc::new(MemoryStore::new(Duration::from_secs(60)));
        let setups: [(Surface<OrderError>, Layered); 3] = [
            (Surface::new().idempotency(keys()), None),
            (Surface::new(), Some((Side::Inside, store.clone()))),
            (Surface::new(), Some((Side::Outside, store))),
        ];
        for (surface, layered) in setups {
            let on = format!(
                "{framework:?} {:?}",
                layered.as_ref().map(|(side, _)| *side)
            );
            let (base, effects) = start_with(framework, surface, layered).await;
            let url = format!("{base}/v1/orders");
            for key in ["", long.as_str()] {
                let refused = post(&url, "alice", Some(key), "{}").await;
                assert_eq!(refused.status, 400, "{on}: {}", refused.body);
                if on.ends_with("Some(Outside)") {
                    continue;
                }
                let body: serde_json::Value = serde_json::from_str(&refused.body).unwrap();
                assert_eq!(body["code"], "INVALID_HEADER", "{on}: {body}");
                assert_eq!(body["requestId"], refused.sent_id.as_str(), "{on}: {body}");
            }
            // Bytes past ASCII (which a header may carry) are no key either.
            let refused = client()
                .post(&url)
                .header(
                    "idempotency-key",
                    reqwest::header::HeaderValue::from_bytes("café".as_bytes()).unwrap(),
                )
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 400, "{on}");
            // Two keys: which one the client meant is not known.
            let refused = client()
                .post(&url)
                .header("x-api-key", "alice")
                .header("idempotency-key", "k1")
                .header("idempotency-key", "k2")
                .body("{}")
                .send()
                .await
                .unwrap();
            assert_eq!(refused.status(), 400, "{on}");
            if !on.ends_with("Some(Outside)") {
                let body: serde_json::Value = refused.json().await.unwrap();
                assert_eq!(body["code"], "INVALID_HEADER", "{on}: {body}");
            }
            assert_eq!(effects.count(), 0, "{on}");
            let longest = "k".repeat(255);
            let served = post(&url, "alice", Some(&longest), "{}").await;
            assert_eq!(served.status, 201, "{on}: {}", served.body);
        }
    }
}

/// A keyed body of unknown length (chunked) is honoured under the
/// surface's default limit, whose size the keys fingerprint by default.
#[tokio::test]
async fn a_keyed_chunked_body_is_honoured_under_the_default_limit() {
    use actix_web::test;
    use axum::body::Body;
    use tower::ServiceExt;

    let effects = Effects::default();
    let app = axum_server::router(&effects, Surface::new().idempotency(keys()), None);
    for _ in 0..2 {
        let chunks: Vec<Result<Vec<u8>, std::io::Error>> = vec![Ok(b"{}".to_vec())];
        let request = http::Request::post("/v1/orders")
            .header("x-api-key", "alice")
            .header("idempotency-key", "chunked")
            .body(Body::from_stream(futures_util::stream::iter(chunks)))
            .unwrap();
        let response = app.clone().oneshot(request).await.unwrap();
        assert_eq!(response.status(), 201);
    }
    assert_eq!(effects.count(), 1, "axum");

    let effects = Effects::default();
    let routes = effects.clone();
    let app = test::init_service(
        actix_web::App::new()
            .service(actix_web::web::scope("/v1").route(
                "/orders",
                actix_web::web::post().to(move |_: actix_web::web::Bytes| {
                    let n = routes.next();
                    async move { actix_web::HttpResponse::Created().body(format!("order #{n}")) }
                }),
            ))
            .wrap(Surface::<OrderError>::new().idempotency(keys())),
    )
    .await;
    for _ in 0..2 {
        let request = test::TestRequest::post()
            .uri("/v1/orders")
            .insert_header(("x-api-key", "alice"))
            .insert_header(("idempotency-key", "chunked"))
            .insert_header(("transfer-encoding", "chunked"))
            .set_payload("{}")
            .to_request();
        assert_eq!(test::call_service(&app, request).await.status(), 201);
    }
    assert_eq!(effects.count(), 1, "actix");
}
