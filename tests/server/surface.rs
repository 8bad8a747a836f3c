//! The one setup call, `Surface::<E>`, on axum and actix-web over loopback,
//! for two error types of opposite styles: every rejection the server makes
//! itself leaves in the type's envelope, code case and key case, with the
//! request id in the body and the header; RFC 9457 (with the type's
//! `type_base`) when the client prefers it. (A handler's log lines:
//! `surface_logs.rs`.)

use std::io::Write as _;
use std::time::Duration;

use rebuff::ApiError;
use rebuff::server::Surface;
use serde::Deserialize;
use serde_json::Value;

/// Flat envelope, `SCREAMING_SNAKE_CASE` codes, `camelCase` keys, a
/// problem-type base.
#[derive(Debug, thiserror::Error, ApiError)]
#[api(
    envelope = rebuff::envelope::Flat,
    code_case = "SCREAMING_SNAKE_CASE",
    rename_all = "camelCase",
    type_base = "https://api.example.com/errors/"
)]
pub enum FlatError {
    #[error("item {item_id} is gone")]
    #[api(status = 410, message = "Item gone")]
    ItemGone { item_id: u32 },
}

/// Nested envelope, `snake_case` codes and keys.
#[derive(Debug, thiserror::Error, ApiError)]
pub enum NestedError {
    #[error("item {item_id} is gone")]
    #[api(status = 410, message = "Item gone")]
    ItemGone { item_id: u32 },
}

/// What the tests need of an error type.
pub(crate) trait TestError:
    ApiError + axum::response::IntoResponse + actix_web::ResponseError + Send + 'static
{
    fn gone(item_id: u32) -> Self;
    /// Its name in the expectations.
    const STYLE_NAME: &'static str;
}

impl TestError for FlatError {
    fn gone(item_id: u32) -> Self {
        FlatError::ItemGone { item_id }
    }
    const STYLE_NAME: &'static str = "flat";
}

impl TestError for NestedError {
    fn gone(item_id: u32) -> Self {
        NestedError::ItemGone { item_id }
    }
    const STYLE_NAME: &'static str = "nested";
}

#[derive(Debug, Deserialize, serde::Serialize)]
pub(crate) struct Item {
    pub(crate) name: String,
    pub(crate) count: u32,
}

#[derive(Debug, Deserialize)]
struct Search {
    page: u32,
}

pub(crate) const LIMIT: u64 = 1024 * 1024;

#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Framework {
    Axum,
    /// axum, the surface wrapped around the finished router rather than
    /// put on its routes with `Router::layer`.
    AxumWrapped,
    Actix,
}

const FRAMEWORKS: [Framework; 3] = [Framework::Axum, Framework::AxumWrapped, Framework::Actix];

pub(crate) mod axum_server {
    use axum::Router;
    use axum::http::StatusCode;
    use axum::routing::{get, post};
    use rebuff::server::Surface;
    use rebuff::server::axum::{Json, Path, Query};

    use super::{Item, LIMIT, Search, TestError};

    pub(crate) fn router<E: TestError>() -> Router {
        routes::<E>().layer(Surface::<E>::new().body_limit(LIMIT))
    }

    /// The surface around the finished router.
    pub(crate) fn wrapped<E: TestError>() -> rebuff::server::axum::SurfaceService<Router, E> {
        tower::Layer::layer(&Surface::<E>::new().body_limit(LIMIT), routes::<E>())
    }

    fn routes<E: TestError>() -> Router {
        Router::new()
            .route(
                "/items",
                post(|Json(item): Json<Item>| async move { (StatusCode::CREATED, Json(item)) }),
            )
            .route(
                "/items/{id}",
                get(|Path(id): Path<u32>| async move {
                    if id == 0 {
                        Err(E::gone(id))
                    } else {
                        Ok(format!("item {id}"))
                    }
                }),
            )
            .route(
                "/search",
                get(|Query(search): Query<Search>| async move { format!("page {}", search.page) }),
            )
            .route("/panic", get(|| async { super::panic_in_handler() }))
            .route("/log", get(|| async { super::log_in_handler() }))
            .route("/abandoned", get(crate::surface_logs::abandoned))
            .route(
                "/context",
                get(|ctx: Option<rebuff::Context>| async move {
                    ctx.and_then(|ctx| ctx.get_request_id().map(str::to_owned))
                        .unwrap_or_else(|| "none".to_owned())
                }),
            )
            .route(
                "/signed-out",
                get(|| async {
                    (
                        StatusCode::NOT_FOUND,
                        axum::response::AppendHeaders(super::SIGNED_OUT_HEADERS),
                    )
                }),
            )
    }
}

mod actix_server {
    use actix_web::{HttpResponse, web};
    use rebuff::server::Surface;

    use super::{Item, LIMIT, Search, TestError};

    async fn create(item: web::Json<Item>) -> HttpResponse {
        HttpResponse::Created().json(item.into_inner())
    }

    async fn get_item<E: TestError>(id: web::Path<u32>) -> Result<String, E> {
        let id = id.into_inner();
        if id == 0 {
            Err(E::gone(id))
        } else {
            Ok(format!("item {id}"))
        }
    }

    async fn search(query: web::Query<Search>) -> String {
        format!("page {}", query.page)
    }

    pub(super) fn serve<E: TestError>(listener: std::net::TcpListener) -> actix_web::dev::Server {
        actix_web::HttpServer::new(|| {
            actix_web::App::new()
                .service(web::resource("/items").route(web::post().to(create)))
                .service(web::resource("/items/{id}").route(web::get().to(get_item::<E>)))
                .route("/search", web::get().to(search))
                .route(
                    "/panic",
                    web::get().to(|| async { super::panic_in_handler() }),
                )
                .route("/log", web::get().to(|| async { super::log_in_handler() }))
                .route("/abandoned", web::get().to(crate::surface_logs::abandoned))
                .route(
                    "/signed-out",
                    web::get().to(|| async {
                        let mut response = HttpResponse::NotFound();
                        for header in super::SIGNED_OUT_HEADERS {
                            response.append_header(header);
                        }
                        response.finish()
                    }),
                )
                .wrap(Surface::<E>::new().body_limit(LIMIT))
        })
        .workers(1)
        .disable_signals()
        .listen(listener)
        .expect("listen")
        .run()
    }
}

/// The headers of a bodyless 404 a handler answers with: a repeated
/// `Set-Cookie` and a header of the application's.
const SIGNED_OUT_HEADERS: [(&str, &str); 3] = [
    ("set-cookie", "session=; Max-Age=0"),
    ("set-cookie", "theme=; Max-Age=0"),
    ("x-signed-out", "yes"),
];

fn panic_in_handler() -> &'static str {
    if std::hint::black_box(true) {
        panic!("secret panic text");
    }
    "unreachable"
}

fn log_in_handler() -> &'static str {
    tracing::info!(target: "handler", "inside the handler");
    "logged"
}

pub(crate) async fn start<E: TestError>(framework: Framework) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    match framework {
        Framework::Axum => {
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            tokio::spawn(axum::serve(listener, axum_server::router::<E>()).into_future());
        }
        Framework::AxumWrapped => {
            use axum::ServiceExt as _;
            listener.set_nonblocking(true).unwrap();
            let listener = tokio::net::TcpListener::from_std(listener).unwrap();
            let app = axum_server::wrapped::<E>().into_make_service();
            tokio::spawn(axum::serve(listener, app).into_future());
        }
        Framework::Actix => {
            tokio::spawn(actix_server::serve::<E>(listener));
        }
    }
    format!("http://{addr}")
}

pub(crate) fn client() -> reqwest::Client {
    reqwest::Client::builder()
        .timeout(Duration::from_secs(10))
        .build()
        .unwrap()
}

/// A snake_case name as the style spells it: a code (`code`) or a key.
fn spelled<E: TestError>(snake: &str, code: bool) -> String {
    match (E::STYLE_NAME, code) {
        ("flat", true) => snake.to_uppercase(),
        ("flat", false) => {
            let mut out = String::new();
            let mut upper = false;
            for c in snake.chars() {
                if c == '_' {
                    upper = true;
                } else if upper {
                    out.extend(c.to_uppercase());
                    upper = false;
                } else {
                    out.push(c);
                }
            }
            out
        }
        _ => snake.to_owned(),
    }
}

/// An error as the test reads it, whatever the envelope.
#[derive(Debug)]
pub(crate) struct Seen {
    pub(crate) status: u16,
    pub(crate) headers: reqwest::header::HeaderMap,
    pub(crate) code: String,
    pub(crate) message: String,
    pub(crate) details: Value,
}

/// Reads an error response, checking the envelope's shape and that the
/// request id of the body is the header's.
fn read<E: TestError>(status: u16, headers: reqwest::header::HeaderMap, body: &str) -> Seen {
    let shown = body
        .char_indices()
        .nth(300)
        .map_or(body, |(at, _)| &body[..at]);
    assert!(status >= 400, "an error, not {status}: {shown}");
    let json: Value = serde_json::from_str(body).unwrap_or_else(|_| panic!("JSON: {shown}"));
    let id = headers["x-request-id"].to_str().unwrap().to_owned();
    assert!(id.starts_with("req_"), "{id}");
    let (code, message, details, body_id) = match E::STYLE_NAME {
        "flat" => {
            assert_eq!(json["success"], false, "{shown}");
            (
                &json["code"],
                &json["error"],
                &json["details"],
                &json["requestId"],
            )
        }
        _ => {
            let error = &json["error"];
            (
                &error["code"],
                &error["message"],
                &error["details"],
                &error["request_id"],
            )
        }
    };
    assert_eq!(body_id, &Value::from(id), "request id in the body: {shown}");
    assert_eq!(headers["content-type"], "application/json", "{shown}");
    Seen {
        status,
        headers,
        code: code.as_str().unwrap_or_default().to_owned(),
        message: message.as_str().unwrap_or_default().to_owned(),
        details: details.clone(),
    }
}

pub(crate) async fn send<E: TestError>(request: reqwest::RequestBuilder) -> Seen {
    let response = request.send().await.unwrap();
    let status = response.status().as_u16();
    let headers = response.headers().clone();
    let body = response.text().await.unwrap();
    read::<E>(status, headers, &body)
}

/// A request over a raw socket (for bodies reqwest would not send as
/// given); the response's status, headers and body.
pub(crate) async fn raw<E: TestError>(base: &str, head: String, body: Vec<u8>) -> Seen {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let mut stream = tokio::net::TcpStream::connect(base.trim_start_matches("http://"))
        .await
        .unwrap();
    stream.write_all(head.as_bytes()).await.unwrap();
    // The server may answer (and close) before the body is through.
    let _ = stream.write_all(&body).await;
    let mut out = Vec::new();
    let _ = tokio::time::timeout(Duration::from_secs(10), stream.read_to_end(&mut out)).await;
    let text = String::from_utf8_lossy(&out).into_owned();
    let (head, body) = text
        .split_once("\r\n\r\n")
        .unwrap_or_else(|| panic!("{text}"));
    let status: u16 = head[9..12].parse().unwrap();
    let mut headers = reqwest::header::HeaderMap::new();
    for line in head.lines().skip(1) {
        if let Some((name, value)) = line.split_once(':') {
            headers.append(
                reqwest::header::HeaderName::from_bytes(name.trim().as_bytes()).unwrap(),
                value.trim().parse().unwrap(),
            );
        }
    }
    // A chunked answer: its one chunk.
    let body = if headers
        .get("transfer-encoding")
        .is_some_and(|v| v == "chunked")
    {
        let (_, rest) = body.split_once("\r\n").unwrap();
        rest.rsplit_once("\r\n0\r\n")
            .map_or(rest, |(chunk, _)| chunk)
            .to_owned()
    } else {
        body.to_owned()
    };
    read::<E>(status, headers, &body)
}

/// Every rejection of one server, in the style of `E`.
async fn every_rejection<E: TestError>(framework: Framework) {
    let base = start::<E>(framework).await;
    let at = |path: &str| format!("{base}{path}");
    let case = |snake: &str| spelled::<E>(snake, true);
    let key = |snake: &str| spelled::<E>(snake, false);
    let context = format!("{framework:?}, {}", E::STYLE_NAME);

    // The API's own error, for comparison.
    let seen = send::<E>(client().get(at("/items/0"))).await;
    assert_eq!(
        (seen.status, seen.code.as_str()),
        (410, case("item_gone").as_str()),
        "{context}"
    );
    assert_eq!(seen.details[key("item_id")], 0, "{context}");

    // Unknown route.
    let seen = send::<E>(client().get(at("/nope"))).await;
    assert_eq!(
        (seen.status, seen.code.as_str()),
        (404, case("not_found").as_str()),
        "{context}"
    );
    assert_eq!(seen.message, "Resource not found");
    assert_eq!(seen.details[key("path")], "/nope", "{context}");

    // Wrong method, with `Allow`.
    let seen = send::<E>(client().delete(at("/items"))).await;
    assert_eq!(
        (seen.status, seen.code.as_str()),
        (405, case("method_not_allowed").as_str()),
        "{context}"
    );
    assert_eq!(seen.headers["allow"], "POST", "{context}");
    assert_eq!(seen.details[key("method")], "DELETE", "{context}");

    // Malformed JSON, and JSON of the wrong types.
    for body in ["{bad", r#"{"name": 5, "count": "many"}"#] {
        let seen = send::<E>(
            client()
                .post(at("/items"))
                .header("content-type", "application/json")
                .body(body),
        )
        .await;
        assert_eq!(
            (seen.status, seen.code.as_str()),
            (400, case("invalid_json").as_str()),
            "{context}: {body}"
        );
        assert!(
            seen.details[key("reason")]
                .as_str()
                .is_some_and(|r| !r.is_empty()),
            "{context}"
        );
    }

    // Wrong content type.
    let seen = send::<E>(
        client()
            .post(at("/items"))
            .header("content-type", "text/plain")
            .body(r#"{"name":"a","count":1}"#),
    )
    .await;
    assert_eq!(
        (seen.status, seen.code.as_str()),
        (415, case("unsupported_media_type").as_str()),
        "{context}"
    );
    assert_eq!(
        seen.details[key("expected")],
        "application/json",
        "{context}"
    );

    // 2.5 MiB against the 1 MiB limit: declared with Content-Length
    // (refused before it is read), and chunked (cut off as it is read).
    let big = 5 * LIMIT / 2;
    let json_of = |len: u64| {
        let mut body = br#"{"name":""#.to_vec();
        body.resize(usize::try_from(len).unwrap() - 12, b'a');
        body.extend_from_slice(br#"","count":1}"#);
        body
    };
    let head = format!(
        "POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nContent-Length: {big}\r\nConnection: close\r\n\r\n"
    );
    let seen = raw::<E>(&base, head, json_of(big)).await;
    assert_eq!(
        (seen.status, seen.code.as_str()),
        (413, case("payload_too_large").as_str()),
        "{context}, Content-Length"
    );
    assert_eq!(seen.details[key("max_size")], LIMIT, "{context}");
    assert_eq!(seen.details[key("file_size")], big, "{context}");
    let mut chunked = Vec::new();
    for piece in json_of(big).chunks(64 * 1024) {
        write!(chunked, "{:x}\r\n", piece.len()).unwrap();
        chunked.extend_from_slice(piece);
        chunked.extend_from_slice(b"\r\n");
    }
    chunked.extend_from_slice(b"0\r\n\r\n");
    let head = "POST /items HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n".to_owned();
    let seen = raw::<E>(&base, head, chunked).await;
    assert_eq!(
        (seen.status, seen.code.as_str()),
        (413, case("payload_too_large").as_str()),
        "{context}, chunked"
    );
    assert_eq!(seen.details[key("max_size")], LIMIT, "{context}");
    assert!(
        seen.details.get(key("file_size")).is_none(),
        "no null member: {:?}",
        seen.details
    );

    // A body under the limit still goes through.
    let response = client()
        .post(at("/items"))
        .json(&Item {
            name: "a".into(),
            count: 1,
        })
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 201, "{context}");

    // A panic: a 500 that says nothing of it.
    let response = client().get(at("/panic")).send().await.unwrap();
    let (status, headers) = (response.status().as_u16(), response.headers().clone());
    let body = response.text().await.unwrap();
    assert!(!body.contains("secret panic text"), "{body}");
    let seen = read::<E>(status, headers, &body);
    assert_eq!(
        (seen.status, seen.code.as_str()),
        (500, case("internal_error").as_str()),
        "{context}"
    );
    assert_eq!(seen.message, "Internal Server Error");

    // Bad path and query parameters.
    let seen = send::<E>(client().get(at("/items/notanumber"))).await;
    assert_eq!(
        (seen.status, seen.code.as_str()),
        (400, case("invalid_path").as_str()),
        "{context}"
    );
    let seen = send::<E>(client().get(at("/search?page=first"))).await;
    assert_eq!(
        (seen.status, seen.code.as_str()),
        (400, case("invalid_query").as_str()),
        "{context}"
    );
    assert!(seen.details[key("reason")].as_str().is_some(), "{context}");

    // The server is still serving.
    let response = client().get(at("/items/7")).send().await.unwrap();
    assert_eq!(response.text().await.unwrap(), "item 7");
}

#[tokio::test]
async fn every_rejection_in_the_flat_screaming_camel_style() {
    for framework in FRAMEWORKS {
        every_rejection::<FlatError>(framework).await;
    }
}

#[tokio::test]
async fn every_rejection_in_the_nested_snake_style() {
    for framework in FRAMEWORKS {
        every_rejection::<NestedError>(framework).await;
    }
}

#[tokio::test]
async fn problem_details_with_the_types_base_when_asked() {
    for framework in FRAMEWORKS {
        let base = start::<FlatError>(framework).await;
        for (path, status, code) in [("/nope", 404, "NOT_FOUND"), ("/items/0", 410, "ITEM_GONE")] {
            let response = client()
                .get(format!("{base}{path}"))
                .header("accept", "application/problem+json")
                .header("x-request-id", "req_problem1")
                .send()
                .await
                .unwrap();
            assert_eq!(response.status(), status, "{framework:?}");
            assert_eq!(
                response.headers()["content-type"],
                "application/problem+json"
            );
            assert_eq!(response.headers()["x-request-id"], "req_problem1");
            let body: Value = response.json().await.unwrap();
            assert_eq!(
                body["type"],
                format!("https://api.example.com/errors/{code}"),
                "{framework:?}"
            );
            assert_eq!(body["status"], status);
            assert_eq!(body["code"], code);
            assert_eq!(body["instance"], path);
            assert_eq!(body["request_id"], "req_problem1");
        }
    }
}

/// `Accept` headers and whether each gets problem details (RFC 9110,
/// section 12.5.1: q-values, wildcards, parameters, case; garbage ignored).
const NEGOTIATION: &[(&str, bool)] = &[
    ("application/problem+json", true),
    ("APPLICATION/Problem+JSON", true),
    ("application/problem+json;q=0", false),
    ("application/problem+json; q=0.000", false),
    ("application/json, application/problem+json;q=0.5", false),
    ("application/json;q=0.5, application/problem+json", true),
    (
        "application/problem+json;q=0.9, application/json;q=0.8",
        true,
    ),
    ("application/json", false),
    ("*/*", false),
    ("application/*", false),
    ("application/problem+json, */*;q=0.1", true),
    ("*/*;q=0.1, application/problem+json", true),
    ("application/*;q=0.2, application/problem+json;q=0.3", true),
    ("application/problem+json; charset=utf-8", true),
    ("application/problem+json;version=2", false),
    ("application/problem+json;q=1.5", false),
    ("application/problem+json;q=0.1234", false),
    ("text/html", false),
    (";;;,,,", false),
    ("garbage", false),
    ("application/json;q=0, application/problem+json;q=0.1", true),
    ("text/html, application/problem+json;q=0.9, */*;q=0.8", true),
];

#[tokio::test]
async fn negotiation_follows_rfc_9110_on_both_frameworks() {
    for framework in FRAMEWORKS {
        let base = start::<NestedError>(framework).await;
        for (accept, problem) in NEGOTIATION {
            let response = client()
                .get(format!("{base}/nope"))
                .header("accept", *accept)
                .send()
                .await
                .unwrap();
            let expected = if *problem {
                "application/problem+json"
            } else {
                "application/json"
            };
            assert_eq!(
                response.headers()["content-type"],
                expected,
                "{framework:?}, Accept: {accept}"
            );
        }
    }
}

#[tokio::test]
async fn a_restyled_answer_keeps_every_value_of_the_handlers_headers() {
    for framework in FRAMEWORKS {
        let base = start::<FlatError>(framework).await;
        let response = client()
            .get(format!("{base}/signed-out"))
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 404, "{framework:?}");
        let headers = response.headers().clone();
        assert_eq!(
            headers["content-type"], "application/json",
            "{framework:?}: the bodyless 404 is answered in the envelope"
        );
        let cookies: Vec<_> = headers
            .get_all("set-cookie")
            .iter()
            .map(|v| v.to_str().unwrap())
            .collect();
        assert_eq!(
            cookies,
            ["session=; Max-Age=0", "theme=; Max-Age=0"],
            "{framework:?}"
        );
        assert_eq!(headers["x-signed-out"], "yes", "{framework:?}");
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["code"], "NOT_FOUND", "{framework:?}: {body}");
    }
}

/// A handler's `Option<Context>` on axum is the one the surface runs the
/// request in: its id is the one echoed.
#[tokio::test]
async fn an_axum_handler_reads_the_surfaces_context() {
    let base = start::<FlatError>(Framework::Axum).await;
    let response = client()
        .get(format!("{base}/context"))
        .header("x-request-id", "req_from_client_1")
        .send()
        .await
        .unwrap();
    assert_eq!(response.headers()["x-request-id"], "req_from_client_1");
    assert_eq!(response.text().await.unwrap(), "req_from_client_1");
}

#[test]
fn a_surface_is_configured_once_and_copied() {
    let surface = Surface::<FlatError>::new().body_limit(10).negotiate(false);
    let copy = surface.clone();
    assert_eq!(copy.get_body_limit(), Some(10));
    assert_eq!(surface.no_body_limit().get_body_limit(), None);
    assert_eq!(
        Surface::<FlatError>::default().get_body_limit(),
        Some(rebuff::server::DEFAULT_BODY_LIMIT)
    );
}
