//! Requests through a full axum router (`tower::ServiceExt::oneshot`), side
//! by side:
//!
//! - `hand_written`: a bare router whose error is a hand-written
//!   `IntoResponse` building the same JSON (the flat envelope with a fresh
//!   request id and a millisecond timestamp) and the same headers;
//! - `rebuff_derived`: the same router with the derived `IntoResponse`;
//! - `rebuff_surface`: the derived error behind the one setup call,
//!   `Surface::<LeadError>` (request context and span, negotiation, body
//!   limit, panics, the router's own 404 and 405 in the envelope);
//! - `rebuff_surface_wrapped`: the same `Surface` wrapped around the whole
//!   router from outside, instead of through `Router::layer`;
//! - `passthrough_layer`: the derived error behind a tower layer that does
//!   nothing, for what `Router::layer` itself costs any layer.
//!
//! Each on the error path (`GET /api/v1/leads/{id}` answering 404) and on
//! the success path (`GET /api/v1/leads`, a small JSON list). Every router
//! is taken as `axum::serve` runs it, `with_state` done once (its handlers
//! and the layers over them made into services up front, rather than on
//! every request).
//!
//! Run: `cargo bench --bench server`

use std::hint::black_box;
use std::time::{Duration, SystemTime};

use axum::Router;
use axum::body::Body;
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use criterion::{Criterion, criterion_group, criterion_main};
use http::{HeaderValue, Request, StatusCode, header};
use rebuff::ApiError;
use rebuff::server::Surface;
use serde::Serialize;
use tower::ServiceExt;

#[derive(Debug, thiserror::Error, ApiError)]
#[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE", rename_all = "camelCase")]
enum LeadError {
    #[error("lead {lead_id} not found")]
    #[api(status = 404, message = "Lead not found")]
    LeadNotFound {
        lead_id: String,
        message: &'static str,
    },
}

/// The hand-written twin.
#[derive(Debug)]
struct HandLeadNotFound {
    lead_id: String,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HandBody<'a> {
    success: bool,
    error: &'a str,
    code: &'a str,
    details: HandDetails<'a>,
    timestamp: Ts,
    request_id: &'a str,
}

#[derive(Serialize)]
#[serde(rename_all = "camelCase")]
struct HandDetails<'a> {
    lead_id: &'a str,
    message: &'a str,
}

struct Ts(SystemTime);

impl Serialize for Ts {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(&humantime::format_rfc3339_millis(self.0))
    }
}

impl IntoResponse for HandLeadNotFound {
    fn into_response(self) -> Response {
        let request_id = rebuff::server::new_request_id();
        let body = HandBody {
            success: false,
            error: "Lead not found",
            code: "LEAD_NOT_FOUND",
            details: HandDetails {
                lead_id: &self.lead_id,
                message: "No lead found with this ID in your workspace",
            },
            timestamp: Ts(SystemTime::now()),
            request_id: &request_id,
        };
        let mut response = Response::new(Body::from(serde_json::to_vec(&body).unwrap()));
        *response.status_mut() = StatusCode::NOT_FOUND;
        response.headers_mut().insert(
            header::CONTENT_TYPE,
            HeaderValue::from_static("application/json"),
        );
        response
            .headers_mut()
            .insert("x-request-id", HeaderValue::from_str(&request_id).unwrap());
        response
    }
}

/// A small success answer, the same for every router.
async fn list() -> axum::Json<[&'static str; 2]> {
    axum::Json(["lead_1", "lead_2"])
}

fn derived_router() -> Router {
    Router::new().route("/api/v1/leads", get(list)).route(
        "/api/v1/leads/{id}",
        get(
            |axum::extract::Path(id): axum::extract::Path<String>| async move {
                Err::<(), _>(LeadError::LeadNotFound {
                    lead_id: id,
                    message: "No lead found with this ID in your workspace",
                })
            },
        ),
    )
}

fn hand_router() -> Router {
    Router::new().route("/api/v1/leads", get(list)).route(
        "/api/v1/leads/{id}",
        get(
            |axum::extract::Path(id): axum::extract::Path<String>| async move {
                Err::<(), _>(HandLeadNotFound { lead_id: id })
            },
        ),
    )
}

/// A layer that does nothing.
#[derive(Clone)]
struct Pass;

impl<S> tower::Layer<S> for Pass {
    type Service = PassService<S>;
    fn layer(&self, inner: S) -> PassService<S> {
        PassService(inner)
    }
}

#[derive(Clone)]
struct PassService<S>(S);

impl<S: tower::Service<Request<Body>>> tower::Service<Request<Body>> for PassService<S> {
    type Response = S::Response;
    type Error = S::Error;
    type Future = S::Future;
    fn poll_ready(
        &mut self,
        cx: &mut std::task::Context<'_>,
    ) -> std::task::Poll<Result<(), S::Error>> {
        self.0.poll_ready(cx)
    }
    fn call(&mut self, request: Request<Body>) -> S::Future {
        self.0.call(request)
    }
}

/// One request through a clone of `service`, its whole body read.
fn run<S>(runtime: &tokio::runtime::Runtime, service: &S, uri: &'static str) -> axum::body::Bytes
where
    S: tower::Service<Request<Body>, Response = Response, Error = std::convert::Infallible> + Clone,
{
    let service = service.clone();
    runtime.block_on(async move {
        let request = Request::get(uri).body(Body::empty()).unwrap();
        let response = service.oneshot(request).await.unwrap();
        let body = axum::body::to_bytes(response.into_body(), 4096)
            .await
            .unwrap();
        black_box(body)
    })
}

fn server(c: &mut Criterion) {
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let rt = &runtime;
    let missing = "/api/v1/leads/lead_nonexistent123";
    // Each router as `axum::serve` runs it: `with_state` turns its handlers
    // (and the layers over them) into services once, where a router called
    // as it is would do that again on every request.
    let derived = derived_router().with_state(());
    let hand = hand_router().with_state(());
    let surface = derived_router()
        .layer(Surface::<LeadError>::new())
        .with_state(());
    let wrapped = tower::Layer::layer(
        &Surface::<LeadError>::new(),
        derived_router().with_state(()),
    );
    let passthrough = derived_router().layer(Pass).with_state(());
    // Same shape on every side (the request id and time differ per call).
    let theirs: serde_json::Value = serde_json::from_slice(&run(rt, &hand, missing)).unwrap();
    let success = run(rt, &hand, "/api/v1/leads");
    for ours in [
        (
            run(rt, &derived, missing),
            run(rt, &derived, "/api/v1/leads"),
        ),
        (
            run(rt, &surface, missing),
            run(rt, &surface, "/api/v1/leads"),
        ),
        (
            run(rt, &wrapped, missing),
            run(rt, &wrapped, "/api/v1/leads"),
        ),
    ] {
        let error: serde_json::Value = serde_json::from_slice(&ours.0).unwrap();
        assert_eq!(
            error.as_object().unwrap().keys().collect::<Vec<_>>(),
            theirs.as_object().unwrap().keys().collect::<Vec<_>>()
        );
        assert_eq!(error["details"], theirs["details"]);
        assert_eq!(ours.1, success);
    }

    for (group, uri) in [
        ("axum_error_path", missing),
        ("axum_success_path", "/api/v1/leads"),
    ] {
        let mut group = c.benchmark_group(group);
        group.bench_function("hand_written", |b| b.iter(|| run(rt, &hand, uri)));
        group.bench_function("rebuff_derived", |b| b.iter(|| run(rt, &derived, uri)));
        group.bench_function("rebuff_surface", |b| b.iter(|| run(rt, &surface, uri)));
        group.bench_function("rebuff_surface_wrapped", |b| {
            b.iter(|| run(rt, &wrapped, uri))
        });
        group.bench_function("passthrough_layer", |b| {
            b.iter(|| run(rt, &passthrough, uri))
        });
        group.finish();
    }
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(2)).measurement_time(Duration::from_secs(8)).sample_size(200);
    targets = server
}
criterion_main!(benches);
