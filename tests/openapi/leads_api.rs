//! The leads example (`examples/leads_api`: axum through utoipa-axum,
//! actix-web through `utoipa::OpenApi` over the same paths) serves
//! `/openapi.json` over loopback: each route with every status and code it
//! can answer with, each code with an example that fits its schema, and
//! the document valid OpenAPI 3.1.

#[allow(dead_code)]
#[path = "../../examples/leads_api/app.rs"]
mod app;

use serde_json::Value;

async fn document(framework: app::Framework) -> Value {
    let state = app::State::new(app::Config::demo(60));
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app::serve(framework, listener, state));
    let response = reqwest::get(format!("http://{addr}/openapi.json"))
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    assert_eq!(response.headers()["content-type"], "application/json");
    response.json().await.unwrap()
}

use crate::check::{codes, expect};

/// The flat envelope's code.
const CODE: &str = "/code";

#[tokio::test]
async fn leads_example_serves_its_errors_at_openapi_json() {
    let doc = document(app::Framework::Axum).await;
    documents_every_error(&doc);
}

#[tokio::test]
async fn on_actix_the_leads_example_serves_the_same_document() {
    let doc = document(app::Framework::Actix).await;
    documents_every_error(&doc);
    let axum = document(app::Framework::Axum).await;
    assert_eq!(
        difference(&doc, &axum, ""),
        None,
        "actix and axum documents differ"
    );
}

/// Where two documents first differ: a JSON pointer and both values (an
/// operation's empty `tags`, which utoipa's `OpenApi` derive writes and
/// utoipa-axum leaves out, the same as none).
fn difference(a: &Value, b: &Value, at: &str) -> Option<String> {
    let no_tags = |value: Option<&Value>| value.is_none_or(|tags| tags == &Value::Array(vec![]));
    match (a, b) {
        (Value::Object(x), Value::Object(y)) => {
            for key in x.keys().chain(y.keys()) {
                let here = format!("{at}/{key}");
                match (x.get(key), y.get(key)) {
                    (x, y) if key == "tags" && no_tags(x) && no_tags(y) => {}
                    (Some(x), Some(y)) => {
                        if let Some(found) = difference(x, y, &here) {
                            return Some(found);
                        }
                    }
                    (x, y) => return Some(format!("{here}: {x:?} / {y:?}")),
                }
            }
            None
        }
        (Value::Array(x), Value::Array(y)) if x.len() == y.len() => x
            .iter()
            .zip(y)
            .enumerate()
            .find_map(|(i, (x, y))| difference(x, y, &format!("{at}/{i}"))),
        _ if a == b => None,
        _ => Some(format!("{at}: {a} / {b}")),
    }
}

fn documents_every_error(doc: &Value) {
    crate::check::openapi_3_1(doc);
    let create = &doc["paths"]["/api/v1/leads"]["post"];
    assert_eq!(
        codes(create, CODE),
        expect(&[
            (
                "400",
                &[
                    "BAD_REQUEST",
                    "INVALID_HEADER",
                    "INVALID_JSON",
                    "VALIDATION_ERROR"
                ],
            ),
            ("401", &["UNAUTHORIZED"]),
            ("409", &["DUPLICATE_EMAIL", "REQUEST_IN_PROGRESS"]),
            ("413", &["PAYLOAD_TOO_LARGE"]),
            ("415", &["UNSUPPORTED_MEDIA_TYPE"]),
            ("422", &["IDEMPOTENCY_KEY_REUSED"]),
            ("429", &["RATE_LIMIT_EXCEEDED"]),
            ("500", &["INTERNAL_ERROR"]),
        ])
    );
    assert!(create["responses"]["201"].is_object());
    let get = &doc["paths"]["/api/v1/leads/{id}"]["get"];
    assert_eq!(
        codes(get, CODE),
        expect(&[
            ("400", &["INVALID_PATH"]),
            ("401", &["UNAUTHORIZED"]),
            ("404", &["LEAD_NOT_FOUND"]),
            ("413", &["PAYLOAD_TOO_LARGE"]),
            ("429", &["RATE_LIMIT_EXCEEDED"]),
            ("500", &["INTERNAL_ERROR"]),
        ])
    );
    let whole_api = doc["components"]["responses"].as_object().unwrap();
    assert_eq!(
        whole_api.keys().collect::<Vec<_>>(),
        ["AnyRoute.404", "AnyRoute.405"]
    );
}

/// The documented 404 is what the server sends for an unknown lead, but
/// for the per-request members (request id, time).
#[tokio::test]
async fn leads_example_documents_the_body_it_sends() {
    let doc = document(app::Framework::Axum).await;
    let documented = doc["paths"]["/api/v1/leads/{id}"]["get"]["responses"]["404"]["content"]
        ["application/json"]["examples"]["LEAD_NOT_FOUND"]["value"]
        .clone();
    let state = app::State::new(app::Config::demo(60));
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app::serve_axum(listener, state));
    let response = reqwest::Client::new()
        .get(format!("http://{addr}/api/v1/leads/lead_nonexistent123"))
        .bearer_auth("demo-key")
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 404);
    let mut sent: Value = response.json().await.unwrap();
    let mut documented = documented;
    for body in [&mut sent, &mut documented] {
        let map = body.as_object_mut().unwrap();
        assert!(map.remove("requestId").is_some() && map.remove("timestamp").is_some());
    }
    assert_eq!(sent, documented);
}
