//! The example lead API twice, once on axum and once on actix-web, both on
//! one Redis: one free key's limits, and idempotency keys, shared.

#[allow(dead_code)]
#[allow(clippy::duplicate_mod)]
#[path = "../../examples/leads_api/app.rs"]
mod app;

use reqwest::StatusCode;
use serde_json::{Value, json};

use crate::redis_server::RedisServer;

async fn serve(framework: app::Framework, config: app::Config) -> String {
    let listener = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    let addr = listener.local_addr().unwrap();
    tokio::spawn(app::serve(framework, listener, app::State::new(config)));
    format!("http://{addr}")
}

#[tokio::test]
async fn two_servers_on_one_redis_share_a_keys_limit_and_its_idempotency_keys() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let config = app::Config::demo(60)
        .key("pro-key", "pro")
        .redis(&redis.url());
    let servers = [
        serve(app::Framework::Axum, config.clone()).await,
        serve(app::Framework::Actix, config).await,
    ];
    let client = reqwest::Client::new();

    // A fast burst of 90 from one free key, alternating between them.
    let mut admitted = Vec::new();
    for i in 0..90 {
        let response = client
            .get(format!("{}/api/v1/leads/lead_x", servers[i % 2]))
            .bearer_auth("demo-key")
            .send()
            .await
            .unwrap();
        assert!(
            !response.headers().contains_key("x-ratelimit-scope"),
            "decided alone"
        );
        let remaining: u32 = response.headers()["x-ratelimit-remaining"]
            .to_str()
            .unwrap()
            .parse()
            .unwrap();
        match response.status() {
            StatusCode::NOT_FOUND => admitted.push(remaining),
            StatusCode::TOO_MANY_REQUESTS => assert_eq!(remaining, 0),
            other => panic!("{other} from {}", servers[i % 2]),
        }
    }
    // 60, and one more for each second the burst took.
    assert!(
        (60..=62).contains(&admitted.len()),
        "{} admitted",
        admitted.len()
    );
    // Remaining counts down by one whichever server answers (a request
    // coming back meanwhile holds it once).
    for pair in admitted.windows(2) {
        assert!(pair[1] + 1 == pair[0] || pair[1] == pair[0], "{admitted:?}");
    }
    assert_eq!(admitted[0], 59);

    // An idempotency key sent to one server, then the other.
    let post = |server: &str, body: Value| {
        client
            .post(format!("{server}/api/v1/leads"))
            .bearer_auth("pro-key")
            .header("idempotency-key", "lead-ada-1")
            .json(&body)
            .send()
    };
    let ada = json!({"name": "Ada", "email": "ada@example.com"});
    let first = post(&servers[0], ada.clone()).await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    let first: Value = first.json().await.unwrap();
    let replay = post(&servers[1], ada).await.unwrap();
    assert_eq!(replay.status(), StatusCode::CREATED);
    assert_eq!(replay.headers()["idempotent-replayed"], "true");
    let replay: Value = replay.json().await.unwrap();
    assert_eq!(replay, first, "the first server's answer, lead id and all");

    let other = post(
        &servers[1],
        json!({"name": "Bob", "email": "bob@example.com"}),
    )
    .await
    .unwrap();
    assert_eq!(other.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let other: Value = other.json().await.unwrap();
    assert_eq!(other["code"], "IDEMPOTENCY_KEY_REUSED", "{other}");
}
