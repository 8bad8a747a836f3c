//! The Redis store itself: the script's decisions against the in-process
//! algorithm's, what it writes, leases, and deciding alone.

use std::time::Duration;

use rebuff::ratelimit::{
    Ask, CallerId, CallerState, Decision, Escalation, Key, Outcome, RateLimitStore, RedisStore,
    Window, decide,
};

use crate::redis_server::RedisServer;

fn ask<'a>(caller: &'a str, windows: &'a [Window], escalation: Option<Escalation>) -> Ask<'a> {
    Ask {
        key: Key {
            plan: "free",
            caller: CallerId::Key(caller),
        },
        windows,
        escalation,
    }
}

async fn decide_in(store: &RedisStore, ask: &Ask<'_>) -> Decision {
    match store.decide_now(ask) {
        Some(decided) => decided.unwrap(),
        None => store.decide(ask).await.unwrap(),
    }
}

#[tokio::test]
async fn the_script_decides_exactly_as_the_in_process_algorithm() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url()).unwrap();
    let windows = [Window::per_second(5), Window::per_minute(12)];
    let escalation = Escalation {
        refusals: 3,
        within: 10_000_000,
        block: 400_000,
    };
    let mut state = CallerState::default();
    let mut outcomes = Vec::new();
    // Bursts, pauses shorter and longer than a request's worth of the
    // second window, refusals, a block and its end.
    for pause_ms in [
        0, 0, 0, 0, 0, 0, 0, 0, 0, 250, 0, 0, 450, 0, 0, 0, 0, 0, 0, 500, 0, 0, 0, 0, 0, 0, 0,
    ] {
        tokio::time::sleep(Duration::from_millis(pause_ms)).await;
        let ours = decide_in(&store, &ask("k1", &windows, Some(escalation))).await;
        // The same request, decided in process at the time Redis decided.
        let expected = decide(&mut state, &windows, Some(&escalation), ours.now);
        assert_eq!(ours, expected, "after {:?}", outcomes);
        outcomes.push(match ours.outcome {
            Outcome::Admitted => 'a',
            Outcome::Limited { .. } => 'l',
            Outcome::Blocked { .. } => 'b',
        });
    }
    let seen: String = outcomes.iter().collect();
    for kind in ['a', 'l', 'b'] {
        assert!(seen.contains(kind), "{seen}");
    }
}

#[tokio::test]
async fn a_refusal_writes_nothing_and_keys_name_no_caller() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url()).unwrap();
    let windows = [Window::per_minute(2)];
    for _ in 0..2 {
        assert_eq!(
            decide_in(&store, &ask("secret-key-1", &windows, None))
                .await
                .outcome,
            Outcome::Admitted
        );
    }
    // An admission writes the caller's state (one SET, with its expiry).
    assert_eq!(redis.calls("set"), 2);
    redis.reset_stats();
    for _ in 0..5 {
        let refused = decide_in(&store, &ask("secret-key-1", &windows, None)).await;
        assert!(matches!(refused.outcome, Outcome::Limited { .. }));
    }
    assert_eq!(redis.calls("evalsha"), 5);
    assert_eq!(redis.calls("set"), 0, "a refusal wrote");
    let keys = redis.command(&["KEYS", "*"]).unwrap();
    // One key (an array of one), hash-tagged, without the API key in it.
    assert_eq!(keys, "*1");
    let key_count = redis.command(&["DBSIZE"]).unwrap();
    assert_eq!(key_count, ":1");
    let scan = redis.command(&["RANDOMKEY"]).unwrap();
    assert!(
        scan.starts_with("rebuff:rl:{free:") && scan.ends_with('}'),
        "{scan}"
    );
    assert!(!scan.contains("secret"), "{scan}");
    // It expires when the window is full again.
    let ttl: i64 = redis
        .command(&["PTTL", &scan])
        .unwrap()
        .trim_start_matches(':')
        .parse()
        .unwrap();
    assert!((59_000..=61_000).contains(&ttl), "{ttl}");
}

#[tokio::test]
async fn leases_save_round_trips_and_charge_the_caller_up_front() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url())
        .unwrap()
        .leases(6, Duration::from_secs(5));
    let windows = [Window::per_minute(60)];
    // Warm: the script loaded once.
    decide_in(&store, &ask("warm", &windows, None)).await;
    redis.reset_stats();
    let mut remaining = Vec::new();
    for _ in 0..30 {
        let decision = decide_in(&store, &ask("k1", &windows, None)).await;
        assert_eq!(decision.outcome, Outcome::Admitted);
        remaining.push(decision.windows()[0].remaining);
    }
    // Down by one a request (a request a second comes back meanwhile).
    for pair in remaining.windows(2) {
        assert!(
            pair[1] + 1 == pair[0] || pair[1] == pair[0],
            "{remaining:?}"
        );
    }
    assert!(remaining[29] >= 29 && remaining[29] <= 31, "{remaining:?}");
    let calls = redis.calls("evalsha");
    assert!(calls * 5 <= 30, "{calls} round trips for 30 requests");
    // Leased requests were charged in Redis: another server sees them gone.
    let other = RedisStore::open(&redis.url()).unwrap();
    let seen = decide_in(&other, &ask("k1", &windows, None)).await;
    assert!(seen.windows()[0].remaining <= 29, "{:?}", seen.windows());
}

/// Settings that could not work are read as the nearest that can: a
/// timeout of zero (no answer is ready without a round trip) as the
/// shortest there is, and leases that end at once as no leases (each
/// would charge a caller for requests it never makes).
#[tokio::test]
async fn a_zero_timeout_and_leases_of_no_time_are_read_as_what_can_work() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let quick = RedisStore::open(&redis.url())
        .unwrap()
        .timeout(Duration::ZERO);
    assert!(format!("{quick:?}").contains("timeout: 1ms"), "{quick:?}");
    // A timeout no loaded machine outlasts: every decision shared.
    let store = RedisStore::open(&redis.url())
        .unwrap()
        .timeout(Duration::from_secs(5))
        .leases(6, Duration::ZERO);
    assert!(format!("{store:?}").contains("lease: None"), "{store:?}");
    let windows = [Window::per_minute(60)];
    for _ in 0..10 {
        assert!(!decide_in(&store, &ask("k1", &windows, None)).await.degraded);
    }
    let other = RedisStore::open(&redis.url())
        .unwrap()
        .timeout(Duration::from_secs(5));
    let seen = decide_in(&other, &ask("k1", &windows, None)).await;
    assert!(!seen.degraded);
    assert_eq!(
        seen.windows()[0].remaining,
        49,
        "each request charged once, none leased ahead"
    );
}

#[tokio::test]
async fn without_redis_an_instance_decides_alone_at_its_share() {
    let Some(mut redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url())
        .unwrap()
        .instances(3)
        .timeout(Duration::from_millis(100));
    let windows = [Window::per_minute(60)];
    assert!(!decide_in(&store, &ask("k1", &windows, None)).await.degraded);
    redis.stop();
    let mut admitted = 0;
    for _ in 0..40 {
        // Never waiting on the dead server (the bound only catches a call
        // that never comes back).
        let decision = tokio::time::timeout(
            Duration::from_secs(10),
            decide_in(&store, &ask("k2", &windows, None)),
        )
        .await
        .expect("decided within the store's timeout");
        assert!(decision.degraded);
        if decision.outcome == Outcome::Admitted {
            admitted += 1;
        }
    }
    assert_eq!(admitted, 20, "a third of 60");
    assert_ne!(store.state(), rebuff::breaker::State::Closed);
}

#[tokio::test]
async fn a_probe_dropped_midway_does_not_keep_the_store_alone() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let cooldown = Duration::from_millis(200);
    let store = RedisStore::open(&redis.url())
        .unwrap()
        .timeout(Duration::from_millis(100))
        .breaker(rebuff::Breaker::new().failures(1).cooldown(cooldown));
    let windows = [Window::per_minute(60)];
    assert!(!decide_in(&store, &ask("k", &windows, None)).await.degraded);
    redis.stall();
    assert!(decide_in(&store, &ask("k", &windows, None)).await.degraded);
    tokio::time::sleep(cooldown + Duration::from_millis(50)).await;
    // The half-open probe, given up by its request before Redis answers.
    let dropped = tokio::time::timeout(
        Duration::from_millis(10),
        decide_in(&store, &ask("k", &windows, None)),
    )
    .await;
    assert!(dropped.is_err(), "the probe was to be dropped in flight");
    redis.resume();
    // The next request probes again, and Redis's answer closes the breaker.
    let shared = decide_in(&store, &ask("k", &windows, None)).await;
    assert!(!shared.degraded, "still deciding alone");
    assert_eq!(store.state(), rebuff::breaker::State::Closed);
}

/// The ids of the clients connected to `redis`, but the one asking.
pub(crate) fn connections(redis: &RedisServer) -> Vec<String> {
    let list = redis.command(&["CLIENT", "LIST"]).unwrap_or_default();
    list.lines()
        .filter(|line| !line.contains("cmd=client|list"))
        .filter_map(|line| line.split_whitespace().next()?.strip_prefix("id="))
        .map(str::to_owned)
        .collect()
}

/// A failover that demotes the server a store is connected to, without
/// closing the connection, leaves it with a replica that refuses every
/// write (`READONLY`): the store decides alone meanwhile, and connects
/// afresh (to whatever the address serves now), instead of staying with
/// the replica until restart.
#[tokio::test]
async fn a_store_left_on_a_replica_connects_afresh() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url()).unwrap();
    let windows = [Window::per_minute(100)];
    assert!(!decide_in(&store, &ask("k", &windows, None)).await.degraded);
    let before = connections(&redis);
    assert!(!before.is_empty(), "the store's connection");

    // Demoted: a replica of a primary that is not there.
    let demoted = redis.command(&["REPLICAOF", "127.0.0.1", "1"]);
    assert_eq!(demoted.as_deref(), Some("+OK"));
    // Five calls at once on the demoted server's connection: one opens a
    // fresh one, and the others' refusals, stale, do not open the breaker.
    let asks: Vec<_> = (0..5)
        .map(|i| store.decide(&ask(["a", "b", "c", "d", "e"][i], &windows, None)))
        .collect();
    for decided in futures_util::future::join_all(asks).await {
        assert!(
            decided.unwrap().degraded,
            "decided here while Redis refuses writes"
        );
    }
    assert_eq!(store.state(), rebuff::breaker::State::Closed);

    // A primary again (as the address would be after the failover).
    let promoted = redis.command(&["REPLICAOF", "NO", "ONE"]);
    assert_eq!(promoted.as_deref(), Some("+OK"));
    assert!(!decide_in(&store, &ask("k", &windows, None)).await.degraded);
    let after = connections(&redis);
    assert!(!after.is_empty(), "the store's new connection");
    assert!(
        before.iter().all(|id| !after.contains(id)),
        "connected afresh: {before:?} then {after:?}"
    );
}

/// Moves every time a caller's state in Redis holds `step` microseconds
/// ahead: the state a Redis whose clock was that far ahead left, as the
/// store reads it once its clock is set back (or a replica behind takes
/// over).
const AHEAD: &str = r"
local s = redis.call('GET', KEYS[1])
local t1, t2, t3, t4, strikes, since, blocked = struct.unpack('<ddddddd', s)
local step = tonumber(ARGV[1])
local function ahead(t) if t > 0 then return t + step end return 0 end
redis.call('SET', KEYS[1], struct.pack('<ddddddd', ahead(t1), ahead(t2), ahead(t3),
  ahead(t4), strikes, ahead(since), ahead(blocked)), 'PX', 7200000)
return 1
";

/// Redis's clock set back an hour costs a blocked caller its block and a
/// spent window, not the hour.
#[tokio::test]
async fn redis_clock_set_back_holds_a_caller_no_longer_than_its_limits() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    let store = RedisStore::open(&redis.url()).unwrap();
    let windows = [Window::per_minute(60)];
    let escalation = Escalation {
        refusals: 1,
        within: 10_000_000,
        block: 300_000,
    };
    let mut last = None;
    for _ in 0..61 {
        last = Some(decide_in(&store, &ask("k1", &windows, Some(escalation))).await);
    }
    assert!(matches!(last.unwrap().outcome, Outcome::Blocked { .. }));
    let key = redis.command(&["RANDOMKEY"]).unwrap();
    let moved = redis.command(&["EVAL", AHEAD, "1", &key, "3600000000"]);
    assert_eq!(moved.as_deref(), Some(":1"));

    let blocked = decide_in(&store, &ask("k1", &windows, Some(escalation))).await;
    match blocked.outcome {
        // Its block: the refused request's wait (a second), longer than
        // the escalation's, as in process.
        Outcome::Blocked { retry_after } => assert_eq!(retry_after, 1_000_000),
        other => panic!("{other:?}"),
    }
    // The window spent to its tolerance, not to the hour.
    assert_eq!(blocked.windows()[0].reset_after, 60_000_000, "{blocked:?}");
    tokio::time::sleep(Duration::from_millis(1_100)).await;
    // The block is over, and a second of the spent minute has come back.
    let after = decide_in(&store, &ask("k1", &windows, None)).await;
    assert_eq!(after.outcome, Outcome::Admitted, "{after:?}");
}

/// A reconnection Redis refuses (its password changed under the store)
/// is not the answer to every call after: once Redis takes the store's
/// password again, the store connects afresh and shares the limits again,
/// without a restart.
#[tokio::test]
async fn a_refused_reconnection_is_tried_afresh() {
    let Some(redis) = RedisServer::start() else {
        return;
    };
    assert_eq!(
        redis
            .command(&["CONFIG", "SET", "requirepass", "pw"])
            .as_deref(),
        Some("+OK")
    );
    let url = redis.url().replace("redis://", "redis://:pw@");
    let store = RedisStore::open(&url)
        .unwrap()
        .timeout(Duration::from_millis(200))
        .breaker(
            rebuff::Breaker::new()
                .failures(1)
                .cooldown(Duration::from_millis(100)),
        );
    let windows = [Window::per_minute(600)];
    assert!(!decide_in(&store, &ask("k", &windows, None)).await.degraded);

    // The password changes, and the store's connection is closed.
    let replies = redis.session(&[
        &["AUTH", "pw"],
        &["CONFIG", "SET", "requirepass", "other"],
        &["CLIENT", "KILL", "TYPE", "normal", "SKIPME", "yes"],
    ]);
    assert_eq!(replies[..2], ["+OK", "+OK"], "{replies:?}");
    let mut alone = false;
    for _ in 0..30 {
        if decide_in(&store, &ask("k", &windows, None)).await.degraded {
            alone = true;
            break;
        }
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
    assert!(alone, "the store's reconnection was refused");
    tokio::time::sleep(Duration::from_millis(300)).await;
    assert!(decide_in(&store, &ask("k", &windows, None)).await.degraded);

    // The password is back: within a few probes the store shares again.
    let replies = redis.session(&[&["AUTH", "other"], &["CONFIG", "SET", "requirepass", "pw"]]);
    assert_eq!(replies, ["+OK", "+OK"]);
    let started = std::time::Instant::now();
    while decide_in(&store, &ask("k", &windows, None)).await.degraded {
        assert!(
            started.elapsed() < Duration::from_secs(5),
            "still deciding alone, Redis taking the password again"
        );
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
