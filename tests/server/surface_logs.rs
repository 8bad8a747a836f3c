//! A handler's log lines under the surface, on axum and actix-web over
//! loopback: each carries the request id, under tower-http's trace span
//! too, and so does what a handler logs when its client leaves before the
//! answer (its future dropped unfinished), and what the surface logs of a
//! request itself.

use std::sync::{Arc, Mutex, OnceLock};
use std::time::{Duration, Instant};

use crate::surface::{Framework, NestedError, axum_server, client, start};

/// What every `tracing` event of the process printed, with its spans.
pub(crate) fn captured() -> &'static Arc<Mutex<Vec<u8>>> {
    static LOG: OnceLock<crate::log_lines::Lines> = OnceLock::new();
    &LOG.get_or_init(|| {
        let lines = crate::log_lines::Lines::default();
        // The server threads of actix-web log here too.
        tracing::subscriber::set_global_default(lines.subscriber())
            .expect("the only global subscriber");
        lines
    })
    .0
}

#[tokio::test]
async fn a_handlers_log_lines_carry_the_request_id() {
    for (framework, id) in [
        (Framework::Axum, "req_logaxum01"),
        (Framework::Actix, "req_logactix1"),
    ] {
        let base = start::<NestedError>(framework).await;
        let response = client()
            .get(format!("{base}/log"))
            .header("x-request-id", id)
            .send()
            .await
            .unwrap();
        assert_eq!(response.text().await.unwrap(), "logged");
        let line = line_with(&["inside the handler", id]).await;
        assert!(line.contains("request{"), "{framework:?}: {line}");
    }
}

/// Under tower-http's `TraceLayer` (outside the surface), a handler's line
/// carries both spans: the trace layer's and the request id.
#[tokio::test]
async fn the_request_id_span_nests_in_tower_https_trace_span() {
    let trace = tower_http::trace::TraceLayer::new_for_http()
        .make_span_with(tower_http::trace::DefaultMakeSpan::new().level(tracing::Level::INFO));
    let app = axum_server::router::<NestedError>().layer(trace);
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, app).into_future());
    let id = "req_traced0001";
    let response = client()
        .get(format!("{base}/log"))
        .header("x-request-id", id)
        .send()
        .await
        .unwrap();
    assert_eq!(response.status(), 200);
    let line = line_with(&["inside the handler", id]).await;
    assert!(line.contains("uri=/log"), "the trace layer's span: {line}");
}

/// Logs as it is dropped, with the request id it reads from the request's
/// context: a handler's clean-up.
struct LogsWhenDropped;

impl Drop for LogsWhenDropped {
    fn drop(&mut self) {
        let ctx = rebuff::server::context();
        let id = ctx.get_request_id().unwrap_or_default();
        tracing::info!(target: "handler", context_id = id, "the client left");
    }
}

/// Says it started, then never answers; logs when it is dropped.
pub(crate) async fn abandoned() -> &'static str {
    let _guard = LogsWhenDropped;
    tracing::info!(target: "handler", "the handler started");
    core::future::pending::<()>().await;
    "unreachable"
}

/// The first line of the log holding every one of `parts`, waited for.
async fn line_with(parts: &[&str]) -> String {
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = String::from_utf8_lossy(&captured().lock().unwrap()).into_owned();
        if let Some(line) = text
            .lines()
            .find(|line| parts.iter().all(|part| line.contains(part)))
        {
            return line.to_owned();
        }
        assert!(
            Instant::now() < deadline,
            "no line with {parts:?} in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}

/// A request whose client gives up once its handler runs: what the
/// handler logs as its future is dropped has the request's span, and the
/// handler reads the request's context then as it did while it ran. On
/// axum only: actix-web does not drop a handler's future when its client
/// leaves (it notices the closed connection only when it next reads or
/// writes); the scope the actix middleware runs in is checked on drop by
/// the runtime's own unit tests.
#[tokio::test]
async fn a_handlers_clean_up_after_its_client_left_has_the_requests_context() {
    let id = "req_leftaxum01";
    let base = start::<NestedError>(Framework::Axum).await;
    let request = client()
        .get(format!("{base}/abandoned"))
        .header("x-request-id", id)
        .send();
    let sent = tokio::spawn(request);
    line_with(&["the handler started", id]).await;
    // The client leaves: its connection closes, and the server drops the
    // request's future.
    sent.abort();
    let line = line_with(&["the client left", id]).await;
    assert!(line.contains("request{"), "{line}");
    assert!(
        line.contains(&format!("context_id=\"{id}\"")),
        "the handler's context: {line}"
    );
}

/// The surface's own events say which request they are about in their
/// fields and in the request's span, on every framework: a handler's 4xx
/// and the router's own 404 at `INFO`, a panic at `ERROR`, each with the
/// request id. In the span too, so that a tracing backend files each
/// under its request (the router's 404 and the panic are answered after
/// the router's future is done).
#[tokio::test]
async fn the_surfaces_own_events_carry_the_request_id() {
    captured();
    for (framework, tag) in [
        (Framework::Axum, "ax"),
        (Framework::AxumWrapped, "aw"),
        (Framework::Actix, "ac"),
    ] {
        let base = start::<NestedError>(framework).await;
        for (path, id, event) in [
            (
                "/items/0",
                format!("req_rejected{tag}1"),
                "request rejected",
            ),
            (
                "/no/such/route",
                format!("req_unrouted{tag}1"),
                "request rejected",
            ),
            ("/panic", format!("req_failed{tag}001"), "handler panicked"),
        ] {
            let response = client()
                .get(format!("{base}{path}"))
                .header("x-request-id", &id)
                .send()
                .await
                .unwrap();
            assert_eq!(response.headers()["x-request-id"], id.as_str());
            let line = line_with(&[event, &id]).await;
            let (spans, fields) = line.split_once(event).unwrap();
            assert!(
                fields.contains(&format!("request_id=\"{id}\"")),
                "{framework:?} {path}: the event's own field: {line}"
            );
            assert!(
                spans.contains("request{"),
                "{framework:?} {path}: in the request's span: {line}"
            );
        }
    }
}

/// A rejection is logged as its client sees it: its code in the type's
/// code case, or the status and code of the type's own variant that
/// answers it, so that the logs can be searched for what a client quotes.
#[tokio::test]
async fn a_rejection_is_logged_with_the_code_its_client_sees() {
    #[derive(Debug, thiserror::Error, rebuff::ApiError)]
    enum OwnError {
        #[error("no such route")]
        #[api(status = 410, code = "route_missing", message = "No such route", rejection = NotFound)]
        RouteMissing,
    }

    captured();
    let own = axum::Router::new()
        .route("/here", axum::routing::get(|| async { "here" }))
        .layer(rebuff::server::Surface::<OwnError>::new());
    let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
    let own_base = format!("http://{}", listener.local_addr().unwrap());
    tokio::spawn(axum::serve(listener, own).into_future());

    let mut cases = Vec::new();
    for (framework, tag) in [
        (Framework::Axum, "ax"),
        (Framework::AxumWrapped, "aw"),
        (Framework::Actix, "ac"),
    ] {
        let base = start::<crate::surface::FlatError>(framework).await;
        cases.push((format!("{framework:?}"), base, format!("req_codes{tag}01")));
    }
    cases.push(("own variant".into(), own_base, "req_codesown1".into()));
    for (name, base, id) in cases {
        let response = client()
            .get(format!("{base}/no/such/route"))
            .header("x-request-id", &id)
            .send()
            .await
            .unwrap();
        let status = response.status().as_u16();
        assert_eq!(status, if name == "own variant" { 410 } else { 404 });
        let body: serde_json::Value = response.json().await.unwrap();
        let code = body["code"]
            .as_str()
            .or_else(|| body["error"]["code"].as_str())
            .unwrap_or_else(|| panic!("{name}: no code in {body}"));
        assert!(
            ["NOT_FOUND", "route_missing"].contains(&code),
            "{name}: {body}"
        );
        let line = line_with(&["request rejected", &id]).await;
        assert!(
            line.contains(&format!("code=\"{code}\""))
                && line.contains(&format!("status={status}")),
            "{name}: the client saw {status} {code}: {line}"
        );
    }
}
