//! Server behaviour beyond the example APIs: 5xx logging with the source chain
//! while the client sees nothing of it, panics, the context without the
//! layer, tower-http's request ids, extractor rejections.

use std::sync::{Arc, Mutex};

use axum::Router;
use axum::body::Body;
use axum::routing::get;
use http::Request;
use rebuff::server::Surface;
use rebuff::server::axum::Query;
use rebuff::{ApiError, Context};
use serde_json::Value;
use tower::ServiceExt;

/// A cause whose text must never reach a client.
#[derive(Debug, thiserror::Error)]
#[error("connect to postgres://admin:hunter2@10.0.0.7/leads failed")]
struct DbCause;

#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Success)]
enum AppError {
    #[error("database unavailable")]
    #[api(status = 503)]
    Database(
        #[source]
        #[api(example = DbCause)]
        DbCause,
    ),
    #[error("bad input")]
    #[api(status = 400, message = "Bad input")]
    BadInput,
}

/// Collects formatted tracing events.
#[derive(Clone, Default)]
struct Events(Arc<Mutex<Vec<String>>>);

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for Events {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        struct Fields(String);
        impl tracing::field::Visit for Fields {
            fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
                self.0.push_str(&format!("{}={:?} ", field.name(), value));
            }
        }
        let mut fields = Fields(format!("{} ", event.metadata().level()));
        event.record(&mut fields);
        self.0.lock().unwrap().push(fields.0);
    }
}

fn app() -> Router {
    Router::new()
        .route(
            "/db",
            get(|| async { Err::<(), _>(AppError::Database(DbCause)) }),
        )
        .route("/bad", get(|| async { Err::<(), _>(AppError::BadInput) }))
        .route(
            "/panic",
            get(|| async {
                if std::hint::black_box(true) {
                    panic!("secret panic text");
                }
                "unreachable"
            }),
        )
        .route(
            "/page",
            get(
                |Query(query): Query<std::collections::HashMap<String, u32>>| async move {
                    format!("{}", query.len())
                },
            ),
        )
        .route(
            "/ctx",
            get(|ctx: Context| async move { ctx.get_request_id().unwrap_or_default().to_owned() }),
        )
        .layer(Surface::<AppError>::new())
}

async fn call(app: Router, uri: &str) -> (http::StatusCode, http::HeaderMap, String) {
    let response = app
        .oneshot(
            Request::get(uri)
                .header("x-request-id", "req_test1")
                .body(Body::empty())
                .unwrap(),
        )
        .await
        .unwrap();
    let (parts, body) = response.into_parts();
    let bytes = axum::body::to_bytes(body, 1 << 20).await.unwrap();
    (
        parts.status,
        parts.headers,
        String::from_utf8(bytes.to_vec()).unwrap(),
    )
}

#[tokio::test]
async fn a_5xx_is_logged_once_with_its_cause_and_the_client_sees_none_of_it() {
    let events = Events::default();
    let subscriber = tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        events.clone(),
    );
    let _guard = crate::log_lines::listen_here(subscriber);

    let (status, headers, body) = call(app(), "/db").await;
    assert_eq!(status, 503);
    assert_eq!(body, r#"{"success":false,"error":{"code":"database","message":"Service Unavailable"},"request_id":"req_test1","timestamp":"#.to_owned() + &body[body.find(r#""timestamp":"#).unwrap() + 12..]);
    for text in std::iter::once(body.as_str()).chain(headers.values().map(|v| v.to_str().unwrap()))
    {
        assert!(
            !text.contains("hunter2") && !text.contains("10.0.0.7") && !text.contains("postgres"),
            "{text}"
        );
    }
    let logged = events.0.lock().unwrap().clone();
    let errors: Vec<&String> = logged.iter().filter(|e| e.starts_with("ERROR")).collect();
    assert_eq!(errors.len(), 1, "{logged:?}");
    assert!(
        errors[0].contains("hunter2") && errors[0].contains("database unavailable"),
        "the full chain: {}",
        errors[0]
    );
    assert!(
        errors[0].contains("req_test1") && errors[0].contains("status=503"),
        "{}",
        errors[0]
    );

    events.0.lock().unwrap().clear();
    let (status, _, _) = call(app(), "/bad").await;
    assert_eq!(status, 400);
    let logged = events.0.lock().unwrap().clone();
    assert!(logged.iter().all(|e| !e.starts_with("ERROR")), "{logged:?}");
    assert!(
        logged
            .iter()
            .any(|e| e.starts_with("INFO") && e.contains("code=\"bad_input\"")),
        "{logged:?}"
    );
}

#[tokio::test]
async fn a_panic_is_a_500_in_the_envelope_with_the_request_id() {
    let (status, headers, body) = call(app(), "/panic").await;
    assert_eq!(status, 500);
    assert_eq!(headers["x-request-id"], "req_test1");
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"]["code"], "internal_error");
    assert_eq!(json["error"]["message"], "Internal Server Error");
    assert_eq!(json["request_id"], "req_test1");
    assert!(!body.contains("secret panic text"));
}

#[tokio::test]
async fn extractor_rejections_and_the_context_extractor() {
    let (status, _, body) = call(app(), "/page?n=notanumber").await;
    assert_eq!(status, 400);
    let json: Value = serde_json::from_str(&body).unwrap();
    assert_eq!(json["error"]["code"], "invalid_query");
    let (status, _, body) = call(app(), "/ctx").await;
    assert_eq!(status, 200);
    assert_eq!(body, "req_test1");
}

#[tokio::test]
async fn without_the_layer_an_error_still_gets_an_id_and_a_time() {
    let app = Router::new().route("/bad", get(|| async { Err::<(), _>(AppError::BadInput) }));
    let response = app
        .oneshot(Request::get("/bad").body(Body::empty()).unwrap())
        .await
        .unwrap();
    let id = response.headers()["x-request-id"]
        .to_str()
        .unwrap()
        .to_owned();
    assert!(id.starts_with("req_"));
    let body = axum::body::to_bytes(response.into_body(), 1 << 16)
        .await
        .unwrap();
    let json: Value = serde_json::from_slice(&body).unwrap();
    assert_eq!(json["request_id"], id);
    assert!(json["timestamp"].as_str().is_some());
}

#[tokio::test]
async fn tower_http_request_ids_are_used() {
    use tower_http::request_id::{MakeRequestId, RequestId, SetRequestIdLayer};
    #[derive(Clone)]
    struct Fixed;
    impl MakeRequestId for Fixed {
        fn make_request_id<B>(&mut self, _: &Request<B>) -> Option<RequestId> {
            Some(RequestId::new(http::HeaderValue::from_static(
                "from-tower-http",
            )))
        }
    }
    let app = Router::new()
        .route("/bad", get(|| async { Err::<(), _>(AppError::BadInput) }))
        .layer(Surface::<AppError>::new())
        .layer(SetRequestIdLayer::x_request_id(Fixed));
    let response = app
        .oneshot(Request::get("/bad").body(Body::empty()).unwrap())
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "from-tower-http");
}

#[tokio::test]
async fn any_api_error_through_the_wrapper() {
    use rebuff::server::axum::Api;
    #[derive(Debug, thiserror::Error)]
    #[error("quota")]
    struct Quota;
    impl ApiError for Quota {
        type Envelope = rebuff::envelope::Plain;
        fn status(&self) -> http::StatusCode {
            http::StatusCode::PAYMENT_REQUIRED
        }
        fn code(&self) -> &str {
            "quota_exceeded"
        }
        fn fmt_message(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
            f.write_str("Insufficient credits")
        }
    }
    let app = Router::new()
        .route("/q", get(|| async { Err::<(), _>(Api(Quota)) }))
        .layer(Surface::<Quota>::new());
    let (status, _, body) = call(app, "/q").await;
    assert_eq!(status, 402);
    assert_eq!(body, r#"{"error":"Insufficient credits"}"#);
}

/// Under actix-web too: the middleware turns a handler's panic into the
/// 500 envelope with the request id, and the app goes on serving.
#[test]
fn an_actix_handler_panic_is_a_500_in_the_envelope() {
    use actix_web::{App, HttpResponse, test, web};
    actix_web::rt::System::new().block_on(async {
        let app = test::init_service(
            App::new()
                .wrap(Surface::<rebuff::Rejection>::new())
                .route(
                    "/panic",
                    web::get().to(|| async {
                        if std::hint::black_box(true) {
                            panic!("secret panic text");
                        }
                        HttpResponse::Ok().finish()
                    }),
                )
                .route("/ok", web::get().to(|| async { "fine" })),
        )
        .await;
        let request = test::TestRequest::get()
            .uri("/panic")
            .insert_header(("x-request-id", "req_actix1"))
            .to_request();
        // The middleware hands the panic on as an error carrying its
        // response, which is what the server then sends.
        let Err(err) = test::try_call_service(&app, request).await else {
            panic!("a panic is handed on as an error");
        };
        let response = err.error_response();
        assert_eq!(response.status(), 500);
        assert_eq!(
            response.headers().get("x-request-id").unwrap(),
            "req_actix1"
        );
        let body = actix_web::body::to_bytes(response.into_body())
            .await
            .unwrap();
        let text = String::from_utf8_lossy(&body);
        let json: Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(json["error"]["code"], "internal_error", "{text}");
        assert_eq!(json["error"]["request_id"], "req_actix1", "{text}");
        assert!(!text.contains("secret panic text"));

        let request = test::TestRequest::get().uri("/ok").to_request();
        let response = test::call_service(&app, request).await;
        assert_eq!(response.status(), 200);
        assert_eq!(&test::read_body(response).await[..], b"fine");
    });
}

/// A line first reached on a thread listening to nothing (another test's)
/// is still heard where a test listens: `log_lines::listen_here` keeps
/// `tracing` from deciding for the whole process on that thread's say.
#[test]
fn a_line_first_reached_on_another_thread_is_still_heard_here() {
    fn say() {
        tracing::info!("said twice");
    }
    let events = Events::default();
    let _guard = crate::log_lines::listen_here(tracing_subscriber::layer::SubscriberExt::with(
        tracing_subscriber::registry(),
        events.clone(),
    ));
    std::thread::spawn(say).join().unwrap();
    say();
    let logged = events.0.lock().unwrap().clone();
    assert_eq!(logged.len(), 1, "{logged:?}");
    assert!(logged[0].contains("said twice"), "{logged:?}");
}
