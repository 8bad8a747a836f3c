//! The server surface's own answers in the document: what one setup call
//! can answer any route with, taken from how it is configured.

use std::time::Duration;

use rebuff::RejectionKind;
use rebuff::openapi::Responses;
use rebuff::ratelimit::{Plan, RateLimiter, Window};
use rebuff::server::Surface;
use rebuff::server::idempotency::{IdempotencyKeys, MemoryStore};

#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[api(envelope = rebuff::envelope::Flat, code_case = "SCREAMING_SNAKE_CASE")]
enum OrderError {
    /// No order has this id.
    #[error("no such order")]
    #[api(status = 404, message = "No such order")]
    NoSuchOrder,
}

/// Each status's example codes, and whether it has problem details.
fn documented(surface: &Surface<OrderError>) -> Vec<(String, Vec<String>, bool)> {
    let built =
        serde_json::to_value(Responses::<OrderError>::none().surface(surface).build()).unwrap();
    built
        .as_object()
        .unwrap()
        .iter()
        .map(|(status, response)| {
            let codes = response["content"]["application/json"]["examples"]
                .as_object()
                .map(|examples| examples.keys().cloned().collect())
                .unwrap_or_default();
            let problem = response["content"]
                .get("application/problem+json")
                .is_some();
            (status.clone(), codes, problem)
        })
        .collect()
}

fn headers(surface: &Surface<OrderError>, status: &str) -> Vec<String> {
    let built =
        serde_json::to_value(Responses::<OrderError>::none().surface(surface).build()).unwrap();
    built[status]["headers"]
        .as_object()
        .map(|headers| headers.keys().map(|k| k.to_ascii_lowercase()).collect())
        .unwrap_or_default()
}

#[test]
fn a_default_surface_documents_its_500_and_413() {
    let surface = Surface::<OrderError>::new();
    assert_eq!(
        surface.rejections(),
        [RejectionKind::Internal, RejectionKind::PayloadTooLarge]
    );
    let seen = documented(&surface);
    let statuses: Vec<&str> = seen.iter().map(|(s, _, _)| s.as_str()).collect();
    assert_eq!(statuses, ["413", "500"]);
    assert_eq!(seen[0].1, ["PAYLOAD_TOO_LARGE"], "in the type's code case");
    assert!(seen.iter().all(|(_, _, problem)| *problem), "negotiated");
    assert!(!headers(&surface, "500").contains(&"ratelimit".to_owned()));

    // Without a body limit, no 413; without negotiation, no problem details.
    let bare = Surface::<OrderError>::new()
        .no_body_limit()
        .negotiate(false);
    let seen = documented(&bare);
    assert_eq!(seen.len(), 1);
    assert_eq!(seen[0].0, "500");
    assert!(
        !seen[0].2,
        "no problem details when the surface never sends them"
    );
}

#[test]
fn a_surface_with_a_limiter_and_keys_documents_their_answers() {
    let limiter = RateLimiter::new()
        .plan(Plan::new("free").window(Window::per_minute(60)))
        .escalate(5, Duration::from_secs(60), Duration::from_secs(600))
        .fail_closed(|request| request.path().starts_with("/v1/payments"));
    let keys = IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(60)));
    let surface = Surface::<OrderError>::new()
        .rate_limit(limiter)
        .idempotency(keys);
    let seen = documented(&surface);
    let by_status = |status: &str| {
        seen.iter()
            .find(|(s, _, _)| s == status)
            .map(|(_, codes, _)| codes.clone())
            .unwrap_or_else(|| panic!("no {status} in {seen:?}"))
    };
    assert_eq!(
        seen.iter().map(|(s, _, _)| s.as_str()).collect::<Vec<_>>(),
        ["400", "409", "413", "422", "429", "500", "503"]
    );
    assert_eq!(
        by_status("429"),
        ["ABNORMAL_USAGE_DETECTED", "RATE_LIMIT_EXCEEDED"]
    );
    assert_eq!(by_status("409"), ["REQUEST_IN_PROGRESS"]);
    // An unusable key, and a keyed body that could not be read.
    assert_eq!(by_status("400"), ["BAD_REQUEST", "INVALID_HEADER"]);
    // A GET route: keys do not apply, so none of their answers; the
    // limiter's and the body limit's remain.
    let get = Responses::<OrderError>::none()
        .surface_on(&surface, &rebuff::http::Method::GET)
        .build();
    assert_eq!(
        get.keys().map(String::as_str).collect::<Vec<_>>(),
        ["413", "429", "500", "503"]
    );
    assert_eq!(by_status("422"), ["IDEMPOTENCY_KEY_REUSED"]);
    assert_eq!(by_status("503"), ["TEMPORARILY_UNAVAILABLE"]);
    // Every response carries the limiter's headers.
    for status in ["400", "500"] {
        let names = headers(&surface, status);
        for name in ["x-ratelimit-limit", "ratelimit-policy", "ratelimit"] {
            assert!(
                names.iter().any(|n| n == name),
                "{status}: {name} in {names:?}"
            );
        }
    }

    // In shadow mode the limiter refuses nothing: no 429, headers still.
    let shadow = Surface::<OrderError>::new().rate_limit(RateLimiter::new().shadow(true));
    let statuses: Vec<String> = documented(&shadow).into_iter().map(|(s, _, _)| s).collect();
    assert_eq!(statuses, ["413", "500"]);
    assert!(
        headers(&shadow, "500")
            .iter()
            .any(|n| n == "x-ratelimit-limit")
    );
}

/// The document follows the limiter as configured: no 503 without
/// requests that fail closed, only the header families it sends, and a
/// `problem(false)` set before is kept.
#[test]
fn the_document_follows_the_limiters_settings() {
    let surface = Surface::<OrderError>::new().rate_limit(RateLimiter::new().legacy_headers(false));
    let statuses: Vec<String> = documented(&surface)
        .into_iter()
        .map(|(s, _, _)| s)
        .collect();
    assert_eq!(statuses, ["413", "429", "500"]);
    for status in ["429", "500"] {
        let names = headers(&surface, status);
        assert!(
            names.iter().any(|n| n == "ratelimit-policy"),
            "{status}: {names:?}"
        );
        assert!(
            !names.iter().any(|n| n.starts_with("x-ratelimit")),
            "{status}: {names:?}"
        );
    }

    let built = serde_json::to_value(
        Responses::<OrderError>::none()
            .problem(false)
            .surface(&surface)
            .build(),
    )
    .unwrap();
    assert!(
        built["500"]["content"]
            .get("application/problem+json")
            .is_none(),
        "{built}"
    );
}

/// Added to a document's operations, the surface's errors fill the
/// statuses an operation leaves out, its own responses are kept, and with
/// the rate limiter on every response its own responses (a success
/// included) are documented with the limiter's headers.
#[test]
fn every_operation_gets_the_surfaces_errors_and_headers() {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::{
        InfoBuilder, OpenApi, OpenApiBuilder, PathsBuilder, ResponseBuilder, ResponsesBuilder,
    };
    let api = || -> OpenApi {
        let operation = OperationBuilder::new()
            .responses(
                ResponsesBuilder::new()
                    .response("200", ResponseBuilder::new().description("The order."))
                    .response("404", ResponseBuilder::new().description("Ours.")),
            )
            .build();
        OpenApiBuilder::new()
            .info(InfoBuilder::new().title("Orders").version("1").build())
            .paths(
                PathsBuilder::new().path("/orders/{id}", PathItem::new(HttpMethod::Get, operation)),
            )
            .build()
    };
    let responses = |api: &OpenApi| {
        let doc = serde_json::to_value(api).unwrap();
        doc["paths"]["/orders/{id}"]["get"]["responses"].clone()
    };

    let surface = Surface::<OrderError>::new().rate_limit(RateLimiter::new());
    let mut limited = api();
    Responses::<OrderError>::none()
        .surface(&surface)
        .add_to_every_operation(&mut limited);
    let limited = responses(&limited);
    assert_eq!(limited["404"]["description"], "Ours.", "its own kept");
    assert!(limited["429"].is_object(), "{limited:#}");
    for status in ["200", "404", "429"] {
        for name in ["X-RateLimit-Limit", "X-RateLimit-Remaining", "RateLimit"] {
            assert!(
                limited[status]["headers"][name].is_object(),
                "{status} {name}: {limited:#}"
            );
        }
    }

    // Without a limiter, a success has no limiter's headers to document:
    // only the request id the surface sends on every response.
    let mut plain = api();
    Responses::<OrderError>::none()
        .surface(&Surface::new())
        .add_to_every_operation(&mut plain);
    let plain = responses(&plain);
    let names: Vec<&String> = plain["200"]["headers"]
        .as_object()
        .unwrap()
        .keys()
        .collect();
    assert_eq!(names, ["X-Request-Id"], "{plain:#}");
    assert!(plain["500"].is_object(), "{plain:#}");
}

/// The idempotency keys' answers are documented only where keys apply:
/// on the POST and PATCH operations of a document, not on its GET, PUT or
/// DELETE ones; the rate limiter's 429 on all of them.
#[test]
fn every_operation_gets_the_keys_answers_only_where_keys_apply() {
    use utoipa::openapi::path::{HttpMethod, OperationBuilder, PathItem};
    use utoipa::openapi::{InfoBuilder, OpenApiBuilder, PathsBuilder};

    let keys = IdempotencyKeys::new(MemoryStore::new(Duration::from_secs(60)));
    let surface = Surface::<OrderError>::new()
        .rate_limit(RateLimiter::new())
        .idempotency(keys);
    let methods = [
        HttpMethod::Get,
        HttpMethod::Put,
        HttpMethod::Delete,
        HttpMethod::Post,
        HttpMethod::Patch,
    ];
    let mut api = OpenApiBuilder::new()
        .info(InfoBuilder::new().title("Orders").version("1").build())
        .paths(PathsBuilder::new().path(
            "/orders",
            PathItem::from_http_methods(methods, OperationBuilder::new().build()),
        ))
        .build();
    Responses::<OrderError>::none()
        .surface(&surface)
        .add_to_every_operation(&mut api);
    let doc = serde_json::to_value(&api).unwrap();
    let statuses = |method: &str| {
        let responses = doc["paths"]["/orders"][method]["responses"]
            .as_object()
            .unwrap_or_else(|| panic!("{method}: {doc:#}"));
        responses.keys().cloned().collect::<Vec<_>>()
    };
    for method in ["get", "put", "delete"] {
        assert_eq!(statuses(method), ["413", "429", "500"], "{method}");
    }
    // No 503: the in-process store cannot fail.
    for method in ["post", "patch"] {
        assert_eq!(
            statuses(method),
            ["400", "409", "413", "422", "429", "500"],
            "{method}"
        );
    }
    // Asked without a method, the surface's errors are all of them; keys
    // in a store that can fail (Redis, never reached here) add its 503.
    let every = Responses::<OrderError>::none().surface(&surface).build();
    assert_eq!(
        every.keys().collect::<Vec<_>>(),
        ["400", "409", "413", "422", "429", "500"]
    );
    let runtime = tokio::runtime::Builder::new_current_thread()
        .build()
        .unwrap();
    let _inside = runtime.enter();
    let redis = rebuff::server::idempotency::RedisStore::open(
        "redis://127.0.0.1:1",
        Duration::from_secs(60),
    )
    .unwrap();
    let shared = Surface::<OrderError>::new().idempotency(IdempotencyKeys::new(redis));
    let every = Responses::<OrderError>::none().surface(&shared).build();
    assert_eq!(
        every.keys().collect::<Vec<_>>(),
        ["400", "409", "413", "422", "500", "503"]
    );
    // A rejection added after the surface's comes after them, and one the
    // keys answer, named, goes on every operation.
    let named = Responses::<OrderError>::none()
        .surface(&surface)
        .rejections(&[RejectionKind::InvalidJson, RejectionKind::RequestInProgress]);
    let codes: Vec<String> = named
        .errors()
        .iter()
        .map(|doc| doc.code().to_owned())
        .collect();
    assert_eq!(
        codes.last().map(String::as_str),
        Some("INVALID_JSON"),
        "{codes:?}"
    );
    let get_responses = |responses: &Responses<OrderError>| {
        let mut api = OpenApiBuilder::new()
            .paths(PathsBuilder::new().path(
                "/orders",
                PathItem::new(HttpMethod::Get, OperationBuilder::new().build()),
            ))
            .build();
        responses.add_to_every_operation(&mut api);
        serde_json::to_value(&api).unwrap()["paths"]["/orders"]["get"]["responses"].clone()
    };
    let get = get_responses(&named);
    assert!(get["409"].is_object(), "{get:#}");
    assert!(get["422"].is_null(), "{get:#}");
    // The same surface twice is the same surface.
    let twice = Responses::<OrderError>::none()
        .surface(&surface)
        .surface(&surface);
    let get = get_responses(&twice);
    assert!(get["409"].is_null() && get["429"].is_object(), "{get:#}");
}
