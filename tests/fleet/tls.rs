//! The Redis stores over TLS: a fleet's limits and idempotency keys shared
//! through a server that speaks only TLS to them, its certificate checked.

use std::time::Duration;

use rebuff::ratelimit::{Ask, CallerId, Key, Outcome, RateLimitStore, RedisStore, Window};

use crate::redis_server::{RedisServer, tls_file};

/// The test certificate authority, which signed the test server's
/// certificate.
fn test_ca() -> Vec<u8> {
    std::fs::read(tls_file("ca.pem")).unwrap()
}

/// A client over TLS to `redis`, its certificate checked against `root`
/// (as an application does for a server of a private authority).
fn tls_client(redis: &RedisServer, root: Vec<u8>) -> redis::Client {
    redis::Client::build_with_tls(
        redis.tls_url(),
        redis::TlsCertificates {
            client_tls: None,
            root_cert: Some(root),
        },
    )
    .unwrap()
}

/// A connection manager of [`tls_client`].
async fn connect(
    redis: &RedisServer,
    root: Vec<u8>,
) -> redis::RedisResult<redis::aio::ConnectionManager> {
    redis::aio::ConnectionManager::new(tls_client(redis, root)).await
}

fn ask<'a>(caller: &'a str, windows: &'a [Window]) -> Ask<'a> {
    Ask {
        key: Key {
            plan: "free",
            caller: CallerId::Key(caller),
        },
        windows,
        escalation: None,
    }
}

async fn outcome(store: &RedisStore, ask: &Ask<'_>) -> (Outcome, bool) {
    let decision = match store.decide_now(ask) {
        Some(decided) => decided.unwrap(),
        None => store.decide(ask).await.unwrap(),
    };
    (decision.outcome, decision.degraded)
}

/// A caller's limit of two a minute, decided in Redis for both stores:
/// what `first` admitted counts for `second`, and the third request is
/// refused.
async fn share_a_limit(first: &RedisStore, second: &RedisStore, caller: &str) {
    let windows = [Window::per_minute(2)];
    let caller = ask(caller, &windows);
    assert_eq!(outcome(first, &caller).await, (Outcome::Admitted, false));
    assert_eq!(outcome(second, &caller).await, (Outcome::Admitted, false));
    let (third, degraded) = outcome(first, &caller).await;
    assert!(matches!(third, Outcome::Limited { .. }), "{third:?}");
    assert!(!degraded, "decided in Redis");
}

/// What the stores wrote over TLS is in Redis: its plain port sees it.
fn assert_holds_state(redis: &RedisServer) {
    let keys = redis.command(&["DBSIZE"]);
    assert!(
        keys.as_deref().is_some_and(|keys| keys != ":0"),
        "the caller's state is in Redis: {keys:?}"
    );
}

/// Two instances on one TLS connection's server share a caller's limit:
/// what one admitted counts for the other.
#[tokio::test]
async fn two_instances_share_a_limit_through_a_server_speaking_tls() {
    let Some(redis) = RedisServer::start_tls() else {
        return;
    };
    let connection = connect(&redis, test_ca()).await.expect("a TLS connection");
    let first = RedisStore::with_connection(connection.clone()).timeout(Duration::from_secs(2));
    let second = RedisStore::with_connection(connection).timeout(Duration::from_secs(2));
    share_a_limit(&first, &second, "tls-caller").await;
    assert_holds_state(&redis);
}

/// A server that allows TLS 1.2 only (as some managed ones still do) is
/// reached too.
#[tokio::test]
async fn a_server_allowing_only_tls_1_2_is_reached() {
    let Some(redis) = RedisServer::start_tls_with(&["--tls-protocols", "TLSv1.2"]) else {
        return;
    };
    let connection = connect(&redis, test_ca())
        .await
        .expect("a TLS 1.2 connection");
    let store = RedisStore::with_connection(connection).timeout(Duration::from_secs(2));
    let windows = [Window::per_minute(2)];
    assert_eq!(
        outcome(&store, &ask("tls12-caller", &windows)).await,
        (Outcome::Admitted, false)
    );
}

/// A server whose certificate no trusted authority signed is not talked
/// to: neither by a connection checking another authority, nor by a store
/// opened from a `rediss://` URL (which trusts the system's roots), which
/// decides alone instead.
#[tokio::test]
async fn a_certificate_no_trusted_authority_signed_is_refused() {
    let Some(redis) = RedisServer::start_tls() else {
        return;
    };
    let server_cert = std::fs::read(tls_file("server.pem")).unwrap();
    // The server's own certificate is no authority: nothing it signs is
    // trusted, not even itself.
    let client = tls_client(&redis, server_cert);
    let refused = client.get_multiplexed_async_connection().await.err();
    let refused = refused.expect("no connection to a server of an untrusted certificate");
    assert!(
        format!("{refused:?}")
            .to_lowercase()
            .contains("certificate"),
        "{refused:?}"
    );

    let store = RedisStore::open(&redis.tls_url())
        .expect("a rediss:// URL is a store's")
        .timeout(Duration::from_secs(2));
    let windows = [Window::per_minute(2)];
    let caller = ask("untrusted", &windows);
    let (first, degraded) = outcome(&store, &caller).await;
    assert_eq!(first, Outcome::Admitted);
    assert!(degraded, "decided alone, Redis not trusted");
    assert_eq!(redis.command(&["DBSIZE"]).as_deref(), Some(":0"));
}

/// Set in the process [`a_store_opened_from_a_rediss_url_is_checked_and_shares_its_limits`]
/// runs itself in: the URL of its server.
const CHILD_URL: &str = "REBUFF_TEST_TLS_URL";

/// A store opened from a `rediss://` URL checks the server against the
/// roots the system's are read from, which `SSL_CERT_FILE` replaces: with
/// the test authority there, it talks to the server, and shares a limit
/// through it. In a process of its own (this test binary again, this test
/// alone), since the variable is the whole process's.
#[tokio::test]
async fn a_store_opened_from_a_rediss_url_is_checked_and_shares_its_limits() {
    if let Some(url) = std::env::var_os(CHILD_URL) {
        let url = url.into_string().unwrap();
        let first = RedisStore::open(&url)
            .unwrap()
            .timeout(Duration::from_secs(2));
        let second = RedisStore::open(&url)
            .unwrap()
            .timeout(Duration::from_secs(2));
        share_a_limit(&first, &second, "opened-by-url").await;
        return;
    }
    let Some(redis) = RedisServer::start_tls() else {
        return;
    };
    let child = std::process::Command::new(std::env::current_exe().unwrap())
        .args([
            "--exact",
            "tls::a_store_opened_from_a_rediss_url_is_checked_and_shares_its_limits",
            "--nocapture",
        ])
        .env(CHILD_URL, redis.tls_url())
        .env("SSL_CERT_FILE", tls_file("ca.pem"))
        .env_remove("SSL_CERT_DIR")
        .output()
        .expect("the test binary runs again");
    let said = String::from_utf8_lossy(&child.stdout);
    assert!(
        child.status.success() && said.contains("1 passed"),
        "{said}\n{}",
        String::from_utf8_lossy(&child.stderr)
    );
    assert_holds_state(&redis);
}
