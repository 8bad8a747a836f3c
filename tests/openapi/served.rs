//! A document made as the docs show (each route's own errors, then the
//! surface's added to every operation) against what the server sends: each
//! answer's body fits the schema documented for its status, its headers
//! are documented, and nothing is documented that the surface, as
//! configured, never sends.

use std::time::Duration;

use axum::body::Body;
use axum::routing::{get, post};
use http_body_util::BodyExt;
use rebuff::RejectionKind::{InvalidJson, PayloadTooLarge, RateLimited};
use rebuff::http::{Request, StatusCode};
use rebuff::openapi::Responses;
use rebuff::ratelimit::{Plan, RateLimiter, Window};
use rebuff::server::Surface;
use rebuff::server::axum::Json;
use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};
use serde_json::Value;
use tower::ServiceExt;
use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
use utoipa::openapi::{InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, ResponseBuilder};

use crate::check::{document, validate};

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(
    envelope = rebuff::envelope::Flat,
    code_case = "SCREAMING_SNAKE_CASE",
    rename_all = "camelCase"
)]
enum ItemError {
    /// No item has this id.
    #[error("no such item")]
    #[api(status = 404, message = "No such item")]
    NoSuchItem {
        #[api(example = "item_1")]
        item_id: String,
    },
    /// An item of this name exists.
    #[error("duplicate item")]
    #[api(status = 409, message = "The item exists")]
    Duplicate,
    /// The store failed.
    #[error("storage failed")]
    #[api(status = 500, message = "Storage failed")]
    Storage(#[from] std::io::Error),
}

const BODY_LIMIT: u64 = 1024;
const QUOTA: u32 = 12;

fn surface() -> Surface<ItemError> {
    let limiter = RateLimiter::new()
        .anonymous(Plan::new("anonymous").window(Window::per_minute(QUOTA)))
        .legacy_headers(false);
    Surface::new()
        .body_limit(BODY_LIMIT)
        .negotiate(false)
        .rate_limit(limiter)
        .idempotency(IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(
            60,
        ))))
}

async fn create(headers: rebuff::http::HeaderMap) -> Result<(StatusCode, Json<Value>), ItemError> {
    if headers.contains_key("x-panic") {
        panic!("the handler broke");
    }
    if headers.contains_key("x-fail") {
        return Err(std::io::Error::other("disk full").into());
    }
    if headers.contains_key("x-duplicate") {
        return Err(ItemError::Duplicate);
    }
    Ok((
        StatusCode::CREATED,
        Json(serde_json::json!({"id": format!("item_{}", fastrand::u32(..))})),
    ))
}

async fn read(
    rebuff::server::axum::Path(id): rebuff::server::axum::Path<String>,
) -> Result<Json<Value>, ItemError> {
    Err(ItemError::NoSuchItem { item_id: id })
}

/// Each route's errors as `openapi_responses!` would list them, with
/// rate-limit headers and problem details as a route alone assumes; then
/// the surface's, added to every operation.
fn api(surface: &Surface<ItemError>) -> OpenApi {
    let mut create = OperationBuilder::new()
        .response("201", ResponseBuilder::new().description("Created."))
        .build();
    Responses::<ItemError>::new()
        .variants(&["Duplicate", "Storage"])
        .rejections(&[InvalidJson, PayloadTooLarge, RateLimited])
        .rate_limit_headers(true)
        .add_to(&mut create);
    let mut read = OperationBuilder::new()
        .response("200", ResponseBuilder::new().description("The item."))
        .build();
    Responses::<ItemError>::new()
        .variants(&["NoSuchItem"])
        .add_to(&mut read);
    let mut api = OpenApiBuilder::new()
        .info(InfoBuilder::new().title("Items").version("1").build())
        .paths(
            PathsBuilder::new()
                .path("/items", PathItem::new(HttpMethod::Post, create))
                .path("/items/{id}", PathItem::new(HttpMethod::Get, read)),
        )
        .build();
    Responses::<ItemError>::none()
        .surface(surface)
        .add_to_every_operation(&mut api);
    api
}

struct Sent {
    status: StatusCode,
    headers: rebuff::http::HeaderMap,
    body: Value,
}

async fn send(app: &axum::Router, request: Request<Body>) -> Sent {
    let response = app.clone().oneshot(request).await.unwrap();
    let status = response.status();
    let headers = response.headers().clone();
    let bytes = response.into_body().collect().await.unwrap().to_bytes();
    let body = serde_json::from_slice(&bytes).unwrap_or(Value::Null);
    Sent {
        status,
        headers,
        body,
    }
}

/// `sent` against the document's `operation`: its status documented, its
/// body valid against the schema of its content type there, each of its
/// own headers (beyond HTTP's) documented. Returns the documented response.
#[track_caller]
fn fits(operation: &Value, sent: &Sent, what: &str) -> Value {
    let status = sent.status.as_str();
    let documented = &operation["responses"][status];
    assert!(documented.is_object(), "{what}: {status} undocumented");
    let content_type = sent.headers["content-type"].to_str().unwrap();
    // A success's body is the route's to document.
    if !sent.status.is_success() {
        let media = &documented["content"][content_type];
        assert!(
            media.is_object(),
            "{what}: {status} {content_type} undocumented"
        );
        validate(&media["schema"], &sent.body, &format!("{what}: {status}"));
    }
    for name in sent.headers.keys() {
        if matches!(name.as_str(), "content-type" | "content-length" | "vary") {
            continue;
        }
        let headers = documented["headers"]
            .as_object()
            .cloned()
            .unwrap_or_default();
        assert!(
            headers
                .keys()
                .any(|doc| doc.eq_ignore_ascii_case(name.as_str())),
            "{what}: {status} sends {name}, undocumented in {:?}",
            headers.keys().collect::<Vec<_>>()
        );
    }
    documented.clone()
}

fn posted(headers: &[(&str, &str)], body: &str) -> Request<Body> {
    let mut request = Request::post("/items").header("content-type", "application/json");
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request.body(Body::from(body.to_owned())).unwrap()
}

#[tokio::test]
async fn the_document_shows_what_the_surface_sends() {
    let surface = surface();
    let doc = document(&api(&surface));
    let app = axum::Router::new()
        .route("/items", post(create))
        .route("/items/{id}", get(read))
        .layer(surface);
    let create_op = &doc["paths"]["/items"]["post"];
    let read_op = &doc["paths"]["/items/{id}"]["get"];

    // The route's 500 and the surface's panic, one response: both codes.
    let storage = send(&app, posted(&[("x-fail", "1")], "{}")).await;
    assert_eq!(storage.body["code"], "STORAGE");
    fits(create_op, &storage, "a storage failure");
    let panic = send(&app, posted(&[("x-panic", "1")], "{}")).await;
    assert_eq!(panic.body["code"], "INTERNAL_ERROR");
    let documented = fits(create_op, &panic, "a panic");
    let examples = documented["content"]["application/json"]["examples"]
        .as_object()
        .unwrap();
    assert!(
        examples.contains_key("STORAGE") && examples.contains_key("INTERNAL_ERROR"),
        "{:?}",
        examples.keys().collect::<Vec<_>>()
    );
    let table = documented["description"].as_str().unwrap();
    assert!(
        table.contains("`STORAGE`") && table.contains("`INTERNAL_ERROR`"),
        "{table}"
    );

    // The route's 409 and the keys' 409.
    let duplicate = send(&app, posted(&[("x-duplicate", "1")], "{}")).await;
    fits(create_op, &duplicate, "a duplicate");

    // The keys' 400, its example the one the surface sends.
    let bad_key = send(&app, posted(&[("idempotency-key", "")], "{}")).await;
    assert_eq!(bad_key.body["code"], "INVALID_HEADER");
    let documented = fits(create_op, &bad_key, "an empty key");
    let example = &documented["content"]["application/json"]["examples"]["INVALID_HEADER"]["value"];
    assert_eq!(example["details"], bad_key.body["details"]);
    assert_eq!(example["message"], bad_key.body["message"]);

    // The 413, its example with the surface's limit.
    let large = "x".repeat(2 * BODY_LIMIT as usize);
    let too_large = send(&app, posted(&[], &large)).await;
    assert_eq!(too_large.status, 413);
    let documented = fits(create_op, &too_large, "a large body");
    let example =
        &documented["content"]["application/json"]["examples"]["PAYLOAD_TOO_LARGE"]["value"];
    assert_eq!(example["details"]["maxSize"], BODY_LIMIT);
    assert_eq!(too_large.body["details"]["maxSize"], BODY_LIMIT);

    // No problem details: the surface does not negotiate them.
    let asked = send(
        &app,
        posted(
            &[("accept", "application/problem+json"), ("x-duplicate", "1")],
            "{}",
        ),
    )
    .await;
    assert_eq!(asked.headers["content-type"], "application/json");
    for op in [create_op, read_op] {
        for (status, response) in op["responses"].as_object().unwrap() {
            assert!(
                response["content"]
                    .get("application/problem+json")
                    .is_none(),
                "{status}: problem details documented, never sent"
            );
        }
    }

    // The keys: a parameter of the POST, a success's replay header.
    let key = [
        ("idempotency-key", "order-1"),
        ("authorization", "Bearer k1"),
    ];
    let first = send(&app, posted(&key, "{}")).await;
    let replay = send(&app, posted(&key, "{}")).await;
    assert_eq!(replay.headers["idempotent-replayed"], "true");
    assert_eq!(replay.body, first.body);
    fits(create_op, &replay, "a replay");
    // A kept error is replayed too, and documented so; a 5xx is not kept.
    let duplicate = [
        ("idempotency-key", "order-2"),
        ("authorization", "Bearer k1"),
        ("x-duplicate", "1"),
    ];
    send(&app, posted(&duplicate, "{}")).await;
    let replayed_error = send(&app, posted(&duplicate, "{}")).await;
    assert_eq!(replayed_error.status, 409);
    assert_eq!(replayed_error.headers["idempotent-replayed"], "true");
    fits(create_op, &replayed_error, "a replayed error");
    assert!(
        create_op["responses"]["500"]["headers"]
            .get("Idempotent-Replayed")
            .is_none()
    );
    let parameters = |op: &Value| -> Vec<String> {
        op["parameters"]
            .as_array()
            .map(|all| {
                all.iter()
                    .map(|p| p["name"].as_str().unwrap().to_owned())
                    .collect()
            })
            .unwrap_or_default()
    };
    assert_eq!(parameters(create_op), ["Idempotency-Key"]);
    assert!(!parameters(read_op).contains(&"Idempotency-Key".to_owned()));

    // A GET: its own 404, with the limiter's headers and the request id.
    let missing = send(
        &app,
        Request::get("/items/item_9").body(Body::empty()).unwrap(),
    )
    .await;
    assert_eq!(missing.status, 404);
    fits(read_op, &missing, "an unknown item");

    // Until the limit: the 429, documented without the `X-RateLimit-*`
    // headers this limiter does not send.
    let mut refused = None;
    for _ in 0..=QUOTA {
        let sent = send(&app, posted(&[], "{}")).await;
        if sent.status == StatusCode::TOO_MANY_REQUESTS {
            refused = Some(sent);
            break;
        }
        fits(create_op, &sent, "a success");
    }
    let refused = refused.expect("a 429 within the quota");
    let documented = fits(create_op, &refused, "a refusal");
    assert!(
        documented["headers"].get("X-RateLimit-Limit").is_none(),
        "{documented:#}"
    );
    for op in [create_op, read_op] {
        for (status, response) in op["responses"].as_object().unwrap() {
            let headers = response["headers"].as_object().unwrap();
            assert!(headers.contains_key("X-Request-Id"), "{status}");
            assert!(!headers.contains_key("X-RateLimit-Remaining"), "{status}");
        }
    }
}

/// A status the operation documents by reference is left as it is.
#[test]
fn a_referenced_response_is_left_alone() {
    let mut operation = OperationBuilder::new()
        .response("500", utoipa::openapi::Ref::from_response_name("Failure"))
        .build();
    Responses::<ItemError>::none()
        .surface(&Surface::new())
        .add_to(&mut operation);
    let doc = serde_json::to_value(&operation).unwrap();
    assert_eq!(
        doc["responses"]["500"]["$ref"],
        "#/components/responses/Failure"
    );
    assert!(doc["responses"]["413"].is_object());
}

#[test]
#[should_panic(expected = "`Storag` is no variant of")]
fn a_variant_named_wrong_is_a_panic() {
    let _ = Responses::<ItemError>::new().variants(&["Duplicate", "Storag"]);
}
