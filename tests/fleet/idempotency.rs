//! The Redis idempotency store answers as the in-process one does.

use std::time::Duration;

use bytes::Bytes;
use http::{HeaderMap, HeaderValue, StatusCode};
use rebuff::server::idempotency::{
    Claim, Fingerprint, IdempotencyStore, MemoryStore, Owner, RedisStore, StoredResponse,
};

use crate::redis_server::RedisServer;

fn response(body: &'static str) -> StoredResponse {
    let mut headers = HeaderMap::new();
    headers.insert("content-type", HeaderValue::from_static("text/plain"));
    headers.append("x-order", HeaderValue::from_static("1"));
    StoredResponse {
        status: StatusCode::CREATED,
        headers,
        body: Bytes::from_static(body.as_bytes()),
    }
}

/// What a store answers along one key's life: a request (`first`), a
/// retry of it (the same fingerprint, its own owner) and another request
/// sent with the same key.
async fn life(store: &dyn IdempotencyStore) -> Vec<String> {
    let same = Fingerprint::of("", b"{\"name\":\"Ada\"}");
    let other = Fingerprint::of("", b"{\"name\":\"Bob\"}");
    let (first, retry, another) = (Owner::new(), Owner::new(), Owner::new());
    let mut seen = Vec::new();
    let mut note = |claim: Claim| {
        seen.push(match claim {
            Claim::New => "new".to_owned(),
            Claim::InFlight => "in flight".to_owned(),
            Claim::Mismatch => "mismatch".to_owned(),
            Claim::Done(stored) => format!(
                "done {} {:?} {}",
                stored.status,
                stored.headers.get_all("x-order").iter().collect::<Vec<_>>(),
                String::from_utf8_lossy(&stored.body)
            ),
        });
    };
    note(store.claim("k", same, first).await.unwrap());
    note(store.claim("k", same, retry).await.unwrap());
    note(store.claim("k", other, another).await.unwrap());
    // Another request's completion or release leaves the claim alone, and
    // so do a retry's.
    store
        .complete("k", other, another, response("not mine"))
        .await
        .unwrap();
    store.release("k", another).await.unwrap();
    store.release("k", retry).await.unwrap();
    store
        .complete("k", same, retry, response("the retry's"))
        .await
        .unwrap();
    note(store.claim("k", same, retry).await.unwrap());
    store
        .complete("k", same, first, response("order #1"))
        .await
        .unwrap();
    note(store.claim("k", same, retry).await.unwrap());
    note(store.claim("k", other, another).await.unwrap());
    // Done, it is not given back (nor overwritten).
    store.release("k", first).await.unwrap();
    store
        .complete("k", same, first, response("again"))
        .await
        .unwrap();
    note(store.claim("k", same, retry).await.unwrap());
    // Released in flight, the key is anyone's.
    note(store.claim("j", same, first).await.unwrap());
    store.release("j", first).await.unwrap();
    note(store.claim("j", other, another).await.unwrap());
    // Completed after its claim expired: kept for its own request.
    store
        .complete("lost", same, first, response("late"))
        .await
        .unwrap();
    note(store.claim("lost", same, retry).await.unwrap());
    note(store.claim("lost", other, another).await.unwrap());
    seen
}

#[tokio::test]
async fn a_key_lives_in_redis_as_in_memory() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let ttl = Duration::from_secs(60);
    let in_memory = life(&MemoryStore::new(ttl)).await;
    let in_redis = life(&RedisStore::open(&redis.url(), ttl).unwrap()).await;
    assert_eq!(in_redis, in_memory);
    assert_eq!(
        in_memory,
        [
            "new",
            "in flight",
            "mismatch",
            "in flight",
            "done 201 Created [\"1\"] order #1",
            "mismatch",
            "done 201 Created [\"1\"] order #1",
            "new",
            "new",
            "done 201 Created [\"1\"] late",
            "mismatch"
        ]
    );
}

#[tokio::test]
async fn a_key_left_in_flight_frees_itself_and_large_responses_are_not_kept() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url(), Duration::from_secs(60))
        .unwrap()
        .in_flight(Duration::from_millis(200))
        .max_response_bytes(64);
    let fingerprint = Fingerprint::of("", b"");
    let owner = Owner::new();
    assert_eq!(
        store.claim("k", fingerprint, owner).await.unwrap(),
        Claim::New
    );
    tokio::time::sleep(Duration::from_millis(300)).await;
    let retry = Owner::new();
    assert_eq!(
        store.claim("k", fingerprint, retry).await.unwrap(),
        Claim::New,
        "the server serving it died"
    );
    let large = StoredResponse {
        body: Bytes::from(vec![b'x'; 100]),
        ..response("")
    };
    store
        .complete("k", fingerprint, retry, large)
        .await
        .unwrap();
    assert_eq!(
        store.claim("k", fingerprint, Owner::new()).await.unwrap(),
        Claim::New,
        "not kept, given back"
    );
    // A small body under headers no server sends is not kept either.
    let owner = Owner::new();
    assert_eq!(
        store.claim("h", fingerprint, owner).await.unwrap(),
        Claim::New
    );
    let mut heavy = response("ok");
    let value = HeaderValue::from_str(&"v".repeat(8 << 10)).unwrap();
    for _ in 0..9 {
        heavy.headers.append("x-padding", value.clone());
    }
    store
        .complete("h", fingerprint, owner, heavy)
        .await
        .unwrap();
    assert_eq!(
        store.claim("h", fingerprint, Owner::new()).await.unwrap(),
        Claim::New,
        "its headers over the limit: not kept"
    );
}

#[tokio::test]
async fn an_unreachable_redis_is_an_error_within_the_timeout() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url(), Duration::from_secs(60))
        .unwrap()
        .timeout(Duration::from_millis(100));
    redis.stall();
    // The bound only catches a call that never comes back.
    let claim = store.claim("k", Fingerprint::of("", b""), Owner::new());
    assert!(
        tokio::time::timeout(Duration::from_secs(10), claim)
            .await
            .expect("back within the store's timeout")
            .is_err()
    );
    redis.resume();
    redis.stop();
    assert!(
        store
            .claim("k", Fingerprint::of("", b""), Owner::new())
            .await
            .is_err()
    );
}

/// Redis not answering opens the breaker in front of it: from then on the
/// store fails at once without asking Redis (here, although it answers
/// again, until the breaker's cooldown is over).
#[tokio::test]
async fn a_redis_that_keeps_failing_opens_the_breaker() {
    use rebuff::breaker::{Breaker, State};

    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url(), Duration::from_secs(60))
        .unwrap()
        .timeout(Duration::from_millis(100))
        .breaker(
            Breaker::new()
                .failures(2)
                .cooldown(Duration::from_secs(600)),
        );
    let fingerprint = Fingerprint::of("", b"");
    let served = Owner::new();
    assert_eq!(
        store.claim("warm", fingerprint, served).await.unwrap(),
        Claim::New
    );
    redis.stall();
    for _ in 0..2 {
        assert!(store.claim("k", fingerprint, Owner::new()).await.is_err());
    }
    assert_eq!(store.state(), State::Open);
    redis.resume();
    redis.reset_stats();
    let refused = store.claim("k2", fingerprint, Owner::new()).await;
    assert!(refused.unwrap_err().to_string().contains("breaker"));
    assert_eq!(redis.calls("evalsha"), 0, "Redis was asked");
    // Giving a key back is sent all the same: left undone, it would hold
    // the key in flight.
    store.release("warm", served).await.unwrap();
    let fresh = RedisStore::open(&redis.url(), Duration::from_secs(60)).unwrap();
    assert_eq!(
        fresh
            .claim("warm", fingerprint, Owner::new())
            .await
            .unwrap(),
        Claim::New,
        "the key was given back"
    );
}

/// A keyed request whose claim timed out (Redis stalled) gets a 503, and
/// its retry, once Redis answers, is served: the claim that landed late
/// was given back, not left in flight to answer 409.
#[tokio::test]
async fn a_claim_that_timed_out_is_given_back() {
    use axum::routing::post;

    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url(), Duration::from_secs(60))
        .unwrap()
        .timeout(Duration::from_millis(100));
    let orders = Orders::serve(
        axum::Router::new().route(
            "/orders",
            post(|| async { (StatusCode::CREATED, "order #1") }),
        ),
        store,
    )
    .await;
    let order = || orders.order();
    // Warm: the claim script loaded, the connection made.
    let first = order().await.unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    redis.command(&["FLUSHALL"]).unwrap();
    redis.stall();
    assert_eq!(
        order().await.unwrap().status(),
        StatusCode::SERVICE_UNAVAILABLE
    );
    redis.resume();
    tokio::time::sleep(Duration::from_millis(300)).await;
    // A claim left in flight would make it wait, then a 409.
    let retried = order().await.unwrap();
    assert_eq!(
        retried.status(),
        StatusCode::CREATED,
        "the retry was not served"
    );
}

/// A request slower than the store's claims last keeps its key: the
/// server serving it renews the claim, so a retry sent meanwhile waits
/// for the first answer and replays it instead of running the handler a
/// second time.
#[tokio::test]
async fn a_slow_request_keeps_its_key_in_flight() {
    use std::sync::Arc;
    use std::sync::atomic::{AtomicU32, Ordering};

    use axum::routing::post;

    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url(), Duration::from_secs(60))
        .unwrap()
        .in_flight(Duration::from_secs(1));
    let served = Arc::new(AtomicU32::new(0));
    let counter = served.clone();
    let orders = Orders::serve(
        axum::Router::new().route(
            "/orders",
            post(move || {
                let counter = counter.clone();
                async move {
                    let n = counter.fetch_add(1, Ordering::SeqCst) + 1;
                    // Two and a half claim periods.
                    tokio::time::sleep(Duration::from_millis(2500)).await;
                    (StatusCode::CREATED, format!("order #{n}"))
                }
            }),
        ),
        store,
    )
    .await;
    let orders = Arc::new(orders);
    let order = || {
        let orders = orders.clone();
        async move { orders.order().await }
    };
    let first = tokio::spawn(order());
    // Past the first claim period: without renewals the key is free.
    tokio::time::sleep(Duration::from_millis(1500)).await;
    let retry = order().await.unwrap();
    let first = first.await.unwrap().unwrap();
    assert_eq!(first.status(), StatusCode::CREATED);
    assert_eq!(retry.status(), StatusCode::CREATED);
    assert_eq!(
        retry
            .headers()
            .get("idempotent-replayed")
            .map(HeaderValue::as_bytes),
        Some(&b"true"[..]),
        "the retry was served, not replayed"
    );
    assert_eq!(retry.text().await.unwrap(), "order #1");
    assert_eq!(served.load(Ordering::SeqCst), 1, "served twice");
    // Once answered, the key is done: a third request replays it too.
    assert_eq!(order().await.unwrap().text().await.unwrap(), "order #1");
}

/// A renewal keeps only the request's own claim in flight: not a key
/// another request (or another try of it) holds, nor one done or given
/// back.
#[tokio::test]
async fn a_renewal_keeps_only_its_own_claim() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url(), Duration::from_secs(60))
        .unwrap()
        .in_flight(Duration::from_millis(300));
    assert_eq!(store.renew_every(), Some(Duration::from_millis(100)));
    let same = Fingerprint::of("", b"a");
    let other = Fingerprint::of("", b"b");
    let (holder, retry) = (Owner::new(), Owner::new());
    assert_eq!(store.claim("k", same, holder).await.unwrap(), Claim::New);
    assert_eq!(store.claim("o", same, holder).await.unwrap(), Claim::New);
    for _ in 0..4 {
        tokio::time::sleep(Duration::from_millis(100)).await;
        store.renew("k", holder).await.unwrap();
        // A retry of the request holding "o" renews nothing.
        store.renew("o", retry).await.unwrap();
    }
    // 400 ms after their claims: only the renewed one is still held.
    assert_eq!(
        store.claim("k", same, retry).await.unwrap(),
        Claim::InFlight
    );
    assert_eq!(store.claim("o", other, retry).await.unwrap(), Claim::New);
    // Released, a renewal does not bring it back.
    store.release("k", holder).await.unwrap();
    store.renew("k", holder).await.unwrap();
    assert_eq!(store.claim("k", other, retry).await.unwrap(), Claim::New);
    // Done, a renewal leaves the response as it is (kept for the ttl).
    store
        .complete("k", other, retry, response("kept"))
        .await
        .unwrap();
    store.renew("k", retry).await.unwrap();
    tokio::time::sleep(Duration::from_millis(400)).await;
    assert!(matches!(
        store.claim("k", other, holder).await.unwrap(),
        Claim::Done(stored) if stored.body == "kept"
    ));
}

/// `/orders` behind the idempotency layer of `store`, served on loopback,
/// and a client sending it the same keyed order.
struct Orders {
    client: reqwest::Client,
    url: String,
}

impl Orders {
    async fn serve(routes: axum::Router, store: RedisStore) -> Self {
        use rebuff::server::idempotency::IdempotencyLayer;

        let app = routes.layer(IdempotencyLayer::new(store));
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.unwrap();
        let url = format!("http://{}/orders", listener.local_addr().unwrap());
        tokio::spawn(axum::serve(listener, app).into_future());
        let client = reqwest::Client::builder()
            .timeout(Duration::from_secs(10))
            .build()
            .unwrap();
        Orders { client, url }
    }

    /// `POST /orders` with the key `order-1`.
    async fn order(&self) -> reqwest::Result<reqwest::Response> {
        self.client
            .post(&self.url)
            .bearer_auth("orders-client")
            .header("idempotency-key", "order-1")
            .body("{}")
            .send()
            .await
    }
}

/// A renewal racing its own request's completion is no lapse: nothing is
/// logged. A claim that did lapse (taken by another request) is said.
#[tokio::test]
async fn a_renewal_after_its_own_completion_warns_of_nothing() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let lines = crate::log_lines::Lines::default();
    // This test's thread only (a current-thread runtime polls it here).
    let _listening = crate::log_lines::listen_here(lines.subscriber());
    let store = RedisStore::open(&redis.url(), Duration::from_secs(60)).unwrap();
    let key = Fingerprint::of("", b"a");
    let (holder, other) = (Owner::new(), Owner::new());
    assert_eq!(store.claim("k", key, holder).await.unwrap(), Claim::New);
    store
        .complete("k", key, holder, response("done"))
        .await
        .unwrap();
    store.renew("k", holder).await.unwrap();
    let logged = || lines.text();
    assert!(!logged().contains("lapsed"), "{}", logged());

    // Taken by another request: that renewal says so.
    assert_eq!(store.claim("m", key, other).await.unwrap(), Claim::New);
    store.renew("m", holder).await.unwrap();
    assert!(logged().contains("lapsed"), "{}", logged());
}

/// The idempotency store, too, connects afresh when the server it is
/// connected to was turned into a replica: the claim Redis refused is an
/// error (a 503 to the client), the next one lands.
#[tokio::test]
async fn an_idempotency_store_left_on_a_replica_connects_afresh() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url(), Duration::from_secs(60)).unwrap();
    let key = Fingerprint::of("", b"a");
    assert_eq!(
        store.claim("k", key, Owner::new()).await.unwrap(),
        Claim::New
    );
    let before = crate::store::connections(&redis);
    assert!(!before.is_empty(), "the store's connection");

    let demoted = redis.command(&["REPLICAOF", "127.0.0.1", "1"]);
    assert_eq!(demoted.as_deref(), Some("+OK"));
    let refused = store.claim("j", key, Owner::new()).await;
    assert!(refused.is_err(), "{refused:?}");
    let promoted = redis.command(&["REPLICAOF", "NO", "ONE"]);
    assert_eq!(promoted.as_deref(), Some("+OK"));
    assert_eq!(
        store.claim("j", key, Owner::new()).await.unwrap(),
        Claim::New
    );
    let after = crate::store::connections(&redis);
    assert!(
        before.iter().all(|id| !after.contains(id)),
        "connected afresh: {before:?} then {after:?}"
    );
}
