//! Seed 004's lead API (`examples/leads_api`) started on a loopback port and
//! driven by reqwest, in axum and in actix-web: status, headers and exact
//! bodies of every error the seed lists, the server's own rejections in the
//! same envelope, and hostile input.

#[allow(dead_code)]
// Both example apps include the same key store.
#[allow(clippy::duplicate_mod)]
#[path = "../../examples/leads_api/app.rs"]
mod app;

use reqwest::StatusCode;
use serde_json::{Value, json};

async fn start(framework: app::Framework, per_minute: u32) -> String {
    serve(framework, app::Config::demo(per_minute)).await
}

async fn serve(framework: app::Framework, config: app::Config) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app::serve(framework, listener, app::State::new(config)));
    format!("http://{addr}")
}

const FRAMEWORKS: [app::Framework; 2] = [app::Framework::Axum, app::Framework::Actix];

/// The body without its per-request members, after checking them: the
/// timestamp is RFC 3339 with milliseconds, the request id the header's.
async fn flat_body(response: reqwest::Response) -> (StatusCode, reqwest::header::HeaderMap, Value) {
    let status = response.status();
    let headers = response.headers().clone();
    assert_eq!(headers["content-type"], "application/json");
    let mut body: Value = response.json().await.unwrap();
    let id = headers["x-request-id"].to_str().unwrap().to_owned();
    assert_eq!(body["requestId"], id, "{body}");
    let timestamp = body["timestamp"].as_str().unwrap().to_owned();
    assert!(
        humantime::parse_rfc3339(&timestamp).is_ok() && timestamp.len() == 24,
        "{timestamp}"
    );
    let map = body.as_object_mut().unwrap();
    map.remove("requestId");
    map.remove("timestamp");
    (status, headers, body)
}

fn client() -> reqwest::Client {
    reqwest::Client::new()
}

async fn post_lead(base: &str, body: &Value) -> reqwest::Response {
    client()
        .post(format!("{base}/api/v1/leads"))
        .bearer_auth("demo-key")
        .json(body)
        .send()
        .await
        .unwrap()
}

#[tokio::test]
async fn seed_errors_byte_for_byte_in_both_frameworks() {
    for framework in FRAMEWORKS {
        let base = start(framework, 1000).await;

        // Success: seed 004's `{"success":true,"data":{...}}`.
        let response = post_lead(
            &base,
            &json!({"name": "John Doe", "email": "john.doe@example.com"}),
        )
        .await;
        assert_eq!(response.status(), StatusCode::CREATED, "{framework:?}");
        let created: Value = response.json().await.unwrap();
        assert_eq!(created["success"], true);
        let id = created["data"]["id"].as_str().unwrap().to_owned();
        assert_eq!(
            created["data"],
            json!({"id": id, "name": "John Doe", "email": "john.doe@example.com"})
        );

        // VALIDATION_ERROR, exactly as the seed prints it.
        let (status, _, body) =
            flat_body(post_lead(&base, &json!({"name": "Ada", "email": "invalid-email"})).await)
                .await;
        assert_eq!(status, 400);
        assert_eq!(
            body,
            json!({"success": false, "error": "Validation failed", "code": "VALIDATION_ERROR",
                   "details": {"field": "email", "value": "invalid-email", "message": "Must be a valid email address"}}),
            "{framework:?}"
        );
        let (status, _, body) =
            flat_body(post_lead(&base, &json!({"email": "a@b.co"})).await).await;
        assert_eq!(status, 400);
        assert_eq!(
            body["details"],
            json!({"field": "name", "value": "", "message": "Name is required"})
        );

        // LEAD_NOT_FOUND.
        let response = client()
            .get(format!("{base}/api/v1/leads/lead_nonexistent123"))
            .bearer_auth("demo-key")
            .send()
            .await
            .unwrap();
        let (status, _, body) = flat_body(response).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"success": false, "error": "Lead not found", "code": "LEAD_NOT_FOUND",
                   "details": {"leadId": "lead_nonexistent123", "message": "No lead found with this ID in your workspace"}})
        );

        // DUPLICATE_EMAIL names the existing lead.
        let (status, _, body) = flat_body(
            post_lead(
                &base,
                &json!({"name": "J", "email": "john.doe@example.com"}),
            )
            .await,
        )
        .await;
        assert_eq!(status, 409);
        assert_eq!(
            body,
            json!({"success": false, "error": "Email already exists", "code": "DUPLICATE_EMAIL",
                   "details": {"email": "john.doe@example.com", "existingLeadId": id,
                               "message": "A lead with this email already exists in your workspace"}})
        );

        // The stored lead is served.
        let response = client()
            .get(format!("{base}/api/v1/leads/{id}"))
            .bearer_auth("demo-key")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 200);

        // 401 for a missing or unknown key.
        for request in [
            client().get(format!("{base}/api/v1/leads/{id}")),
            client()
                .get(format!("{base}/api/v1/leads/{id}"))
                .bearer_auth("nope"),
        ] {
            let (status, _, body) = flat_body(request.send().await.unwrap()).await;
            assert_eq!(status, 401);
            assert_eq!(
                body,
                json!({"success": false, "error": "Invalid or missing API key", "code": "UNAUTHORIZED"})
            );
        }
    }
}

#[tokio::test]
async fn rate_limits_answer_429_with_retry_after_and_limits() {
    for framework in FRAMEWORKS {
        let base = start(framework, 2).await;
        let get = || {
            client()
                .get(format!("{base}/api/v1/leads/x"))
                .bearer_auth("demo-key")
                .send()
        };
        assert_eq!(get().await.unwrap().status(), 404);
        assert_eq!(get().await.unwrap().status(), 404);
        let (status, headers, body) = flat_body(get().await.unwrap()).await;
        assert_eq!(status, 429, "{framework:?}");
        assert_eq!(
            body,
            json!({"success": false, "error": "Rate limit exceeded", "code": "RATE_LIMIT_EXCEEDED"})
        );
        let retry_after: u64 = headers["retry-after"].to_str().unwrap().parse().unwrap();
        assert!((1..=60).contains(&retry_after), "{retry_after}");
        assert_eq!(headers["x-ratelimit-limit"], "2");
        assert_eq!(headers["x-ratelimit-remaining"], "0");
        let reset: u64 = headers["x-ratelimit-reset"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        assert!(reset > 1_700_000_000);
        // Another key has its own budget... but only demo-key exists: a bad
        // key is still 401, not 429.
        let other = client()
            .get(format!("{base}/api/v1/leads/x"))
            .bearer_auth("nope")
            .send()
            .await
            .unwrap();
        assert_eq!(other.status(), 401);
    }
}

#[tokio::test]
async fn the_servers_own_rejections_use_the_same_envelope() {
    for framework in FRAMEWORKS {
        let base = start(framework, 1000).await;
        let leads = format!("{base}/api/v1/leads");

        // Malformed JSON.
        let response = client()
            .post(&leads)
            .bearer_auth("demo-key")
            .header("content-type", "application/json")
            .body("{bad")
            .send()
            .await
            .unwrap();
        let (status, _, body) = flat_body(response).await;
        assert_eq!(status, 400, "{framework:?}");
        assert_eq!(body["code"], "INVALID_JSON");
        assert_eq!(body["error"], "Invalid JSON body");
        assert!(
            body["details"]["reason"]
                .as_str()
                .unwrap()
                .contains("line 1"),
            "{body}"
        );

        // Wrong content type.
        let response = client()
            .post(&leads)
            .bearer_auth("demo-key")
            .header("content-type", "text/plain")
            .body("name=x")
            .send()
            .await
            .unwrap();
        let (status, _, body) = flat_body(response).await;
        assert_eq!(status, 415, "{framework:?}");
        assert_eq!(body["code"], "UNSUPPORTED_MEDIA_TYPE");

        // Unknown route, wrong method.
        let (status, _, body) =
            flat_body(client().get(format!("{base}/nope")).send().await.unwrap()).await;
        assert_eq!(status, 404);
        assert_eq!(
            body,
            json!({"success": false, "error": "Resource not found", "code": "NOT_FOUND", "details": {"path": "/nope"}})
        );
        let (status, headers, body) =
            flat_body(client().delete(&leads).send().await.unwrap()).await;
        assert_eq!(status, 405);
        assert_eq!(body["code"], "METHOD_NOT_ALLOWED");
        assert_eq!(headers["allow"], "POST", "{framework:?}");

        // A body declared over the 1 MiB limit is refused before it is read
        // (the client here sends only the head and waits, as `Expect:
        // 100-continue` clients do).
        let head = format!(
            "POST /api/v1/leads HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer demo-key\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n",
            2 << 20
        );
        let response = raw(&base, head.as_bytes()).await;
        assert!(
            response.starts_with("HTTP/1.1 413"),
            "{framework:?}: {response}"
        );
        let body: Value =
            serde_json::from_str(&response[response.find("\r\n\r\n").unwrap() + 4..]).unwrap();
        assert_eq!(body["code"], "PAYLOAD_TOO_LARGE");
        assert_eq!(body["details"]["maxSize"], 1 << 20);
        assert_eq!(body["details"]["fileSize"], 2 << 20);

        // Problem details for clients that ask.
        let response = client()
            .get(format!("{base}/api/v1/leads/x"))
            .header("accept", "application/problem+json")
            .send()
            .await
            .unwrap();
        assert_eq!(response.status(), 401);
        assert_eq!(
            response.headers()["content-type"],
            "application/problem+json"
        );
        let body: Value = response.json().await.unwrap();
        assert_eq!(body["type"], "about:blank");
        assert_eq!(body["status"], 401);
        assert_eq!(body["code"], "UNAUTHORIZED");
        assert_eq!(body["instance"], "/api/v1/leads/x");
    }
}

/// Sends raw bytes as a request and returns the response head and body.
async fn raw(base: &str, request: &[u8]) -> String {
    use tokio::io::{AsyncReadExt, AsyncWriteExt};
    let addr = base.trim_start_matches("http://");
    let mut stream = tokio::net::TcpStream::connect(addr).await.unwrap();
    stream.write_all(request).await.unwrap();
    let mut out = Vec::new();
    let _ = tokio::time::timeout(
        std::time::Duration::from_secs(5),
        stream.read_to_end(&mut out),
    )
    .await;
    String::from_utf8_lossy(&out).into_owned()
}

#[tokio::test]
async fn hostile_request_ids_are_replaced_and_the_server_keeps_serving() {
    for framework in FRAMEWORKS {
        let base = start(framework, 1000).await;
        let url = format!("{base}/api/v1/leads/x");
        // A safe id is echoed in the header and the body.
        let response = client()
            .get(&url)
            .header("x-request-id", "client-id_42")
            .send()
            .await
            .unwrap();
        assert_eq!(response.headers()["x-request-id"], "client-id_42");
        assert_eq!(
            response.json::<Value>().await.unwrap()["requestId"],
            "client-id_42"
        );
        // 10 KB, spaces, and other unsafe ids get a fresh one.
        for hostile in [
            "x".repeat(10 * 1024),
            "has space".to_owned(),
            "tab\there".to_owned(),
        ] {
            let response = client()
                .get(&url)
                .header("x-request-id", hostile.as_str())
                .send()
                .await
                .unwrap();
            let id = response.headers()["x-request-id"]
                .to_str()
                .unwrap()
                .to_owned();
            assert!(
                id.starts_with("req_") && id.len() == 20,
                "{framework:?}: {id}"
            );
        }
        // Non-ASCII bytes and a bare CR, which reqwest refuses to send.
        let response = raw(&base, b"GET /api/v1/leads/x HTTP/1.1\r\nHost: x\r\nX-Request-Id: caf\xc3\xa9\r\nConnection: close\r\n\r\n").await;
        assert!(
            response.contains("x-request-id: req_"),
            "{framework:?}: {response}"
        );
        let response = raw(&base, b"GET /api/v1/leads/x HTTP/1.1\r\nHost: x\r\nX-Request-Id: a\rb\r\nConnection: close\r\n\r\n").await;
        assert!(!response.contains("a\rb"), "{framework:?}: {response}");
        // Still serving.
        assert_eq!(
            client()
                .get(&url)
                .bearer_auth("demo-key")
                .send()
                .await
                .unwrap()
                .status(),
            404
        );
    }
}

#[test]
fn keys_and_plans_come_from_the_environment_and_bad_settings_are_named() {
    let vars = |pairs: &'static [(&'static str, &'static str)]| {
        move |name: &str| {
            pairs
                .iter()
                .find(|(n, _)| *n == name)
                .map(|(_, v)| (*v).to_owned())
        }
    };
    let config = app::Config::from_vars(vars(&[
        ("REBUFF_API_KEYS", " k1, k2:pro ,k3:enterprise,,"),
        ("REBUFF_RATE_LIMIT", "30"),
        ("REBUFF_ENTERPRISE_RATE", "5000"),
    ]))
    .unwrap();
    let plan = |key: &str| config.keys.get(key).map(String::as_str);
    assert_eq!(
        [plan("demo-key"), plan("k1"), plan("k2"), plan("k3")],
        [Some("free"), Some("free"), Some("pro"), Some("enterprise")]
    );
    assert_eq!(
        (config.per_minute, config.enterprise_per_minute),
        (30, 5000)
    );

    let err = app::Config::from_vars(vars(&[("REBUFF_API_KEYS", "k1:gold")])).unwrap_err();
    assert!(
        err.contains("\"gold\"") && err.contains("free, pro, enterprise"),
        "{err}"
    );
    let err = app::Config::from_vars(vars(&[("REBUFF_API_KEYS", ":pro")])).unwrap_err();
    assert!(err.contains("no key"), "{err}");
    let err = app::Config::from_vars(vars(&[("REBUFF_RATE_LIMIT", "lots")])).unwrap_err();
    assert!(err.starts_with("REBUFF_RATE_LIMIT=\"lots\""), "{err}");
    let err = app::Config::from_vars(vars(&[("REBUFF_ENTERPRISE_RATE", "0")])).unwrap_err();
    assert!(err.starts_with("REBUFF_ENTERPRISE_RATE"), "{err}");

    // Redis over plain TCP or TLS; anything else is refused at start.
    let redis = |url: &str| {
        let url = url.to_owned();
        app::Config::from_vars(move |name| (name == "REBUFF_REDIS_URL").then(|| url.clone()))
    };
    for url in [
        "redis://127.0.0.1:6379",
        "rediss://user:secret@cache.internal:6380/1",
    ] {
        assert_eq!(redis(url).unwrap().redis_url.as_deref(), Some(url));
    }
    for url in ["http://127.0.0.1:6379", "rediss://", "redis://:6379"] {
        let err = redis(url).unwrap_err();
        assert!(err.contains("expected redis://host:port"), "{url}: {err}");
    }
}

#[tokio::test]
async fn each_key_is_limited_at_its_plans_rate() {
    for framework in FRAMEWORKS {
        let config = app::Config::demo(60)
            .key("pro-key", "pro")
            .key("big-key", "enterprise");
        let base = serve(framework, config).await;
        let client = reqwest::Client::new();
        for (key, limit) in [("demo-key", "60"), ("pro-key", "300"), ("big-key", "1000")] {
            let response = client
                .get(format!("{base}/api/v1/leads/lead_x"))
                .bearer_auth(key)
                .send()
                .await
                .unwrap();
            assert_eq!(
                response.status(),
                StatusCode::NOT_FOUND,
                "{framework:?} {key}"
            );
            assert_eq!(
                response.headers()["x-ratelimit-limit"],
                limit,
                "{framework:?} {key}"
            );
        }
    }
}
