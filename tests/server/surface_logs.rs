//! A handler's log lines under the surface, on axum and actix-web over
//! loopback: each carries the request id, under tower-http's trace span
//! too, and so does what a handler logs when its client leaves before the
//! answer (its future dropped unfinished).

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
    let log = captured();
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
        let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        let line = text
            .lines()
            .find(|line| line.contains("inside the handler") && line.contains(id))
            .unwrap_or_else(|| panic!("{framework:?}: no handler line with {id} in:\n{text}"));
        assert!(line.contains("request{"), "{line}");
    }
}

/// Under tower-http's `TraceLayer` (outside the surface), a handler's line
/// carries both spans: the trace layer's and the request id.
#[tokio::test]
async fn the_request_id_span_nests_in_tower_https_trace_span() {
    let log = captured();
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
    let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
    let line = text
        .lines()
        .find(|line| line.contains("inside the handler") && line.contains(id))
        .unwrap_or_else(|| panic!("no handler line with {id} in:\n{text}"));
    assert!(line.contains("uri=/log"), "the trace layer's span: {line}");
}

/// Logs as it is dropped: a handler's clean-up.
struct LogsWhenDropped;

impl Drop for LogsWhenDropped {
    fn drop(&mut self) {
        tracing::info!(target: "handler", "the client left");
    }
}

/// Never answers; logs when it is dropped.
pub(crate) async fn abandoned() -> &'static str {
    let _guard = LogsWhenDropped;
    core::future::pending::<()>().await;
    "unreachable"
}

/// A request whose client gives up: the line its handler logs as its
/// future is dropped carries the request id, as its other lines do. On
/// axum only: actix-web does not drop a handler's future when its client
/// leaves (it notices the closed connection only when it next reads or
/// writes), and the scope the actix middleware runs in is checked on drop
/// by the runtime's own unit tests.
#[tokio::test]
async fn a_handlers_clean_up_after_its_client_left_carries_the_request_id() {
    let log = captured();
    let impatient = reqwest::Client::builder()
        .timeout(Duration::from_millis(300))
        .build()
        .unwrap();
    let id = "req_leftaxum01";
    let base = start::<NestedError>(Framework::Axum).await;
    let sent = impatient
        .get(format!("{base}/abandoned"))
        .header("x-request-id", id)
        .send()
        .await;
    assert!(sent.is_err(), "never answered");
    // The server drops the request's future once it sees the connection
    // closed.
    let deadline = Instant::now() + Duration::from_secs(5);
    loop {
        let text = String::from_utf8_lossy(&log.lock().unwrap()).into_owned();
        let line = text
            .lines()
            .find(|line| line.contains("the client left") && line.contains(id));
        if let Some(line) = line {
            assert!(line.contains("request{"), "{line}");
            break;
        }
        assert!(
            Instant::now() < deadline,
            "no clean-up line with {id} in:\n{text}"
        );
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
}
