//! Breaker and budget under `#[retry]`, the host-wide pause, and the
//! breaker's state machine under contention.

use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicU32, AtomicU64, Ordering};
use std::time::Duration;

use rebuff::breaker::State;
use rebuff::retry::testing;
use rebuff::{ApiError, Breaker, Budget, CircuitOpen, retry};

#[derive(Debug, thiserror::Error, ApiError)]
enum UpstreamError {
    #[error("unavailable")]
    #[api(status = 503)]
    Unavailable,
    #[error("rate limited")]
    #[api(status = 429)]
    RateLimited {
        #[api(retry_after)]
        retry_after: u64,
    },
    #[error(transparent)]
    #[api(status = 503, code = "circuit_open")]
    CircuitOpen(#[from] CircuitOpen),
}

static OUTAGE_BREAKER: Breaker = Breaker::new()
    .failures(3)
    .cooldown(Duration::from_secs(3600));

#[retry(max_retries = 1, initial_delay = "10ms", jitter = "none", breaker = OUTAGE_BREAKER)]
fn call_during_outage(calls: &AtomicU32) -> Result<(), UpstreamError> {
    calls.fetch_add(1, Ordering::SeqCst);
    Err(UpstreamError::Unavailable)
}

#[test]
fn an_open_breaker_fails_calls_at_once() {
    let _test_mode = testing::enable();
    let calls = AtomicU32::new(0);
    // 2 attempts, then 1 more (the third failure opens the breaker).
    assert!(matches!(
        call_during_outage(&calls),
        Err(UpstreamError::Unavailable)
    ));
    assert!(call_during_outage(&calls).is_err());
    assert_eq!(OUTAGE_BREAKER.state(), State::Open);
    let before = calls.load(Ordering::SeqCst);
    assert_eq!(before, 3);
    for _ in 0..10 {
        assert!(matches!(
            call_during_outage(&calls),
            Err(UpstreamError::CircuitOpen(_))
        ));
    }
    assert_eq!(
        calls.load(Ordering::SeqCst),
        before,
        "refused calls never reach the service"
    );
}

static TRIPS_AT_ONCE: Breaker = Breaker::new()
    .failures(1)
    .cooldown(Duration::from_secs(3600));

#[retry(max_retries = 3, initial_delay = "1s", jitter = "none", breaker = TRIPS_AT_ONCE)]
fn call_that_trips(calls: &AtomicU32) -> Result<(), UpstreamError> {
    calls.fetch_add(1, Ordering::SeqCst);
    Err(UpstreamError::Unavailable)
}

#[test]
fn a_failure_that_opens_the_breaker_is_returned_without_a_sleep() {
    let test_mode = testing::enable();
    let calls = AtomicU32::new(0);
    // The breaker opens on this failure for an hour: a retry after the
    // second's sleep would only be refused, so the 503 itself returns now.
    assert!(matches!(
        call_that_trips(&calls),
        Err(UpstreamError::Unavailable)
    ));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    assert_eq!(test_mode.sleeps(), [] as [Duration; 0]);
    assert_eq!(TRIPS_AT_ONCE.state(), State::Open);
}

static SMALL_BUDGET: Budget = Budget::new().ratio_percent(10).floor_per_second(0);

#[retry(max_retries = 5, initial_delay = "1ms", jitter = "none", budget = SMALL_BUDGET)]
fn call_with_budget(calls: &AtomicU32) -> Result<(), UpstreamError> {
    calls.fetch_add(1, Ordering::SeqCst);
    Err(UpstreamError::Unavailable)
}

#[test]
fn a_budget_bounds_retries_across_calls() {
    let _test_mode = testing::enable();
    let calls = AtomicU32::new(0);
    for _ in 0..100 {
        let _ = call_with_budget(&calls);
    }
    // 100 first attempts; without a budget up to 500 retries, with a 10%
    // budget about 10.
    let total = calls.load(Ordering::SeqCst);
    assert!(
        (100..=111).contains(&total),
        "{total} requests for 100 calls"
    );
}

static HOST: Breaker = Breaker::new();

#[retry(max_retries = 3, initial_delay = "1ms", jitter = "none", breaker = HOST)]
fn call_host(first_is_limited: &AtomicBool) -> Result<u32, UpstreamError> {
    if first_is_limited.swap(false, Ordering::SeqCst) {
        return Err(UpstreamError::RateLimited { retry_after: 2 });
    }
    Ok(7)
}

#[test]
fn one_429_pauses_every_caller_of_the_host() {
    let test_mode = testing::enable();
    let limited = AtomicBool::new(true);
    // The first call meets the 429 and waits its 2 s (recorded, not slept).
    assert_eq!(call_host(&limited).unwrap(), 7);
    assert_eq!(test_mode.sleeps(), [Duration::from_secs(2)]);
    assert!(HOST.is_paused());
    // Another call, which has not met the limit itself, waits before its
    // first attempt instead of spending it.
    test_mode.reset();
    assert_eq!(call_host(&limited).unwrap(), 7);
    let sleeps = test_mode.sleeps();
    assert_eq!(sleeps.len(), 1, "{sleeps:?}");
    assert!(
        sleeps[0] > Duration::from_millis(1500) && sleeps[0] <= Duration::from_secs(2),
        "{sleeps:?}"
    );
}

/// Its cooldown within what a policy waits a pause out for.
static PAUSED_AND_OPEN: Breaker = Breaker::new().failures(1).cooldown(Duration::from_secs(20));

/// A 429, then the 503 that opens the breaker; then, for a second caller,
/// nothing: it never gets to call.
#[retry(max_retries = 3, initial_delay = "1ms", jitter = "none", breaker = PAUSED_AND_OPEN)]
fn call_paused_then_down(calls: &AtomicU32) -> Result<u32, UpstreamError> {
    match calls.fetch_add(1, Ordering::SeqCst) {
        0 => Err(UpstreamError::RateLimited { retry_after: 10 }),
        _ => Err(UpstreamError::Unavailable),
    }
}

fn count_give_ups(_: &rebuff::retry::GiveUp<'_, UpstreamError>) {
    GIVE_UPS.fetch_add(1, Ordering::SeqCst);
}

static GIVE_UPS: AtomicU32 = AtomicU32::new(0);

/// A caller refused by the host's pause waits it out once; found the
/// breaker open then, it fails at once (it used to wait out the cooldown,
/// and in test mode, whose sleeps do not move the real clock, to wait
/// again and again).
#[test]
fn a_breaker_open_behind_a_pause_fails_at_once() {
    let test_mode = testing::enable();
    let calls = AtomicU32::new(0);
    assert!(matches!(
        call_paused_then_down(&calls),
        Err(UpstreamError::Unavailable)
    ));
    assert!(PAUSED_AND_OPEN.is_paused());
    assert_eq!(PAUSED_AND_OPEN.state(), State::Open);
    test_mode.reset();
    let result = call_paused_then_down(&calls);
    assert!(
        matches!(result, Err(UpstreamError::CircuitOpen(_))),
        "{result:?}"
    );
    assert_eq!(
        calls.load(Ordering::SeqCst),
        2,
        "the second call never called"
    );
    let sleeps = test_mode.sleeps();
    assert!(sleeps.len() <= 1, "the pause waited out once: {sleeps:?}");
}

static PAUSED_MIDWAY: Breaker = Breaker::new();

/// A retry the breaker refuses (the host paused, by another caller, for
/// longer than this policy waits) ends the run as any give-up does: logged,
/// and `on_give_up` called.
#[test]
fn a_retry_refused_by_the_breaker_is_a_give_up() {
    let _test_mode = testing::enable();
    let policy = rebuff::Policy::exponential().jitter(rebuff::Jitter::None);
    let result = rebuff::retry::Retry::new(&policy)
        .breaker(&PAUSED_MIDWAY)
        .on_give_up(count_give_ups)
        .run_blocking(|| {
            PAUSED_MIDWAY.pause_for(Duration::from_secs(3600));
            Err::<(), _>(UpstreamError::Unavailable)
        });
    assert!(
        matches!(result, Err(UpstreamError::CircuitOpen(_))),
        "{result:?}"
    );
    assert_eq!(GIVE_UPS.load(Ordering::SeqCst), 1);
}

static HOST_WITH_WHEN: Breaker = Breaker::new();

/// Retries everything at the backoff's pace, the server's hint ignored.
fn at_backoff_pace(_: &UpstreamError) -> rebuff::Advice {
    rebuff::Advice::Retry
}

#[retry(max_retries = 3, initial_delay = "1ms", jitter = "none", breaker = HOST_WITH_WHEN, when = at_backoff_pace)]
fn call_host_at_backoff_pace(first_is_limited: &AtomicBool) -> Result<u32, UpstreamError> {
    if first_is_limited.swap(false, Ordering::SeqCst) {
        return Err(UpstreamError::RateLimited { retry_after: 2 });
    }
    Ok(7)
}

#[test]
fn a_when_that_ignores_the_hint_still_waits_out_the_hosts_pause() {
    let test_mode = testing::enable();
    let limited = AtomicBool::new(true);
    assert_eq!(call_host_at_backoff_pace(&limited).unwrap(), 7);
    assert!(HOST_WITH_WHEN.is_paused());
    // Its own sleep is the backoff's 1 ms; the retry then waits for the
    // pause every caller of the host waits for.
    let sleeps = test_mode.sleeps();
    let total: Duration = sleeps.iter().sum();
    assert!(
        total > Duration::from_millis(1500) && total <= Duration::from_secs(3),
        "{sleeps:?}"
    );
}

#[test]
fn the_state_machine_holds_under_contention() {
    const THREADS: usize = 4;
    const OPERATIONS: usize = 500_000;
    let breaker = Arc::new(
        Breaker::new()
            .failures(3)
            .cooldown(Duration::from_millis(1))
            .probes(2)
            // A probe preempted past a 1 ms cooldown is not given up on:
            // what is counted is the probes held at once.
            .probe_timeout(Duration::from_secs(600)),
    );
    let in_flight_probes = Arc::new(AtomicU32::new(0));
    let most_probes = Arc::new(AtomicU32::new(0));
    let refused = Arc::new(AtomicU64::new(0));
    let probes = Arc::new(AtomicU64::new(0));
    let threads: Vec<_> = (0..THREADS)
        .map(|t| {
            let (breaker, in_flight, most, refused, probes) = (
                breaker.clone(),
                in_flight_probes.clone(),
                most_probes.clone(),
                refused.clone(),
                probes.clone(),
            );
            std::thread::spawn(move || {
                let mut rng = fastrand::Rng::with_seed(t as u64);
                for _ in 0..OPERATIONS {
                    let Ok(permit) = breaker.allow() else {
                        refused.fetch_add(1, Ordering::Relaxed);
                        continue;
                    };
                    // Counted after the permit is granted and uncounted
                    // before it is handed back, so the count never exceeds
                    // the probes really held: any reading over the limit is
                    // the breaker's fault.
                    if permit.is_probe() {
                        let now = in_flight.fetch_add(1, Ordering::SeqCst) + 1;
                        most.fetch_max(now, Ordering::SeqCst);
                        probes.fetch_add(1, Ordering::Relaxed);
                        // Hold the probe a moment, so other threads try
                        // for one while it is out.
                        std::thread::yield_now();
                    }
                    let fail = rng.u8(..) < 96;
                    if permit.is_probe() {
                        in_flight.fetch_sub(1, Ordering::SeqCst);
                    }
                    if fail {
                        breaker.record_failure(permit);
                    } else {
                        breaker.record_success(permit);
                    }
                }
            })
        })
        .collect();
    for thread in threads {
        thread.join().unwrap();
    }
    assert!(
        breaker.times_opened() > 10,
        "it opened under the failures: {}",
        breaker.times_opened()
    );
    assert!(refused.load(Ordering::Relaxed) > 0);
    assert!(probes.load(Ordering::Relaxed) > 0, "half-open was reached");
    assert!(
        most_probes.load(Ordering::SeqCst) <= 2,
        "at most the 2 configured probes at once, saw {}",
        most_probes.load(Ordering::SeqCst)
    );
    // Once the failures stop, it closes again and stays closed.
    std::thread::sleep(Duration::from_millis(5));
    for _ in 0..10 {
        if let Ok(permit) = breaker.allow() {
            breaker.record_success(permit);
        } else {
            std::thread::sleep(Duration::from_millis(2));
        }
    }
    assert_eq!(breaker.state(), State::Closed);
}

static HANGING: Breaker = Breaker::new()
    .failures(1)
    .cooldown(Duration::from_millis(20))
    .probes(1);

#[retry(max_retries = 0, breaker = HANGING)]
async fn hang() -> Result<(), UpstreamError> {
    std::future::pending().await
}

#[tokio::test]
async fn a_cancelled_probe_gives_its_slot_back() {
    let permit = HANGING.allow().unwrap();
    HANGING.record_failure(permit);
    assert_eq!(HANGING.state(), State::Open);
    tokio::time::sleep(Duration::from_millis(30)).await;

    // The only probe hangs, and its caller gives up on it.
    let timed_out = tokio::time::timeout(Duration::from_millis(10), hang()).await;
    assert!(timed_out.is_err());
    assert_eq!(HANGING.state(), State::HalfOpen);

    // Its slot was handed back: the next caller probes, and closes it.
    let permit = HANGING
        .allow()
        .expect("the cancelled probe's slot was given back");
    assert!(permit.is_probe());
    HANGING.record_success(permit);
    assert_eq!(HANGING.state(), State::Closed);
}

#[test]
fn rate_limits_say_the_service_is_up_and_do_not_open_the_breaker() {
    let breaker = Breaker::new().failures(2);
    for _ in 0..10 {
        let permit = breaker.allow().unwrap();
        let limited: Result<(), _> = Err(UpstreamError::RateLimited { retry_after: 1 });
        breaker.record(permit, &limited);
    }
    assert_eq!(breaker.state(), State::Closed);
    for _ in 0..2 {
        let permit = breaker.allow().unwrap();
        breaker.record(permit, &Err::<(), _>(UpstreamError::Unavailable));
    }
    assert_eq!(breaker.state(), State::Open);
}

// The same breaker and budget through the `Retry` builder, the path
// `Retry::run` and `run_blocking` take.

static BUILT_BREAKER: Breaker = Breaker::new()
    .failures(2)
    .cooldown(Duration::from_secs(3600));
static BUILT_BUDGET: Budget = Budget::new().ratio_percent(10).floor_per_second(0);

#[test]
fn the_builder_gates_on_its_breaker_and_draws_on_its_budget() {
    let _test_mode = testing::enable();
    let policy = rebuff::Policy::constant(Duration::from_millis(1)).max_retries(5);
    let calls = AtomicU32::new(0);
    let fail = || {
        calls.fetch_add(1, Ordering::SeqCst);
        Err::<(), _>(UpstreamError::Unavailable)
    };
    // The budget has no tokens to spare for a first call's retries (10% of
    // one attempt), so the call returns after its first attempt...
    let result = retry::Retry::new(&policy)
        .breaker(&BUILT_BREAKER)
        .budget(&BUILT_BUDGET)
        .run_blocking(fail);
    assert!(matches!(result, Err(UpstreamError::Unavailable)));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // ...and a second failure opens the breaker, which then refuses calls
    // without running them.
    let _ = retry::Retry::new(&policy)
        .breaker(&BUILT_BREAKER)
        .budget(&BUILT_BUDGET)
        .run_blocking(fail);
    assert_eq!(BUILT_BREAKER.state(), State::Open);
    let before = calls.load(Ordering::SeqCst);
    let refused = retry::Retry::new(&policy)
        .breaker(&BUILT_BREAKER)
        .run_blocking(fail);
    assert!(matches!(refused, Err(UpstreamError::CircuitOpen(_))));
    assert_eq!(calls.load(Ordering::SeqCst), before);
}

// Opened by the call's own failure and one other caller's.
static REFUND_BREAKER: Breaker = Breaker::new()
    .failures(2)
    .cooldown(Duration::from_secs(3600));
static REFUND_BUDGET: Budget = Budget::new()
    .ratio_percent(100)
    .floor_per_second(0)
    .max_saved(1);

/// Another caller opens the breaker while a call sleeps before its retry:
/// the retry is refused, and the budget gets back what it paid for it.
#[test]
fn a_retry_refused_after_its_sleep_costs_the_budget_nothing() {
    let _test_mode = testing::enable();
    fn others_trip_the_breaker(_: &rebuff::retry::RetryEvent<'_, UpstreamError>) {
        REFUND_BREAKER.record_failure(REFUND_BREAKER.allow().unwrap());
    }
    let policy = rebuff::Policy::constant(Duration::from_millis(1)).max_retries(3);
    let calls = AtomicU32::new(0);
    let result = retry::Retry::new(&policy)
        .breaker(&REFUND_BREAKER)
        .budget(&REFUND_BUDGET)
        .on_retry(others_trip_the_breaker)
        .run_blocking(|| {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(UpstreamError::Unavailable)
        });
    assert!(matches!(result, Err(UpstreamError::CircuitOpen(_))));
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The first attempt saved one retry; the refused retry gave it back.
    assert!(REFUND_BUDGET.try_withdraw());
    assert!(!REFUND_BUDGET.try_withdraw());
}

static DROPPED_BUDGET: Budget = Budget::new()
    .ratio_percent(100)
    .floor_per_second(0)
    .max_saved(1);

/// A call dropped while it sleeps before its retry (a caller's timeout)
/// never makes that retry: the budget gets back what it paid for it.
#[tokio::test]
async fn a_retry_dropped_in_its_sleep_costs_the_budget_nothing() {
    let policy = rebuff::Policy::constant(Duration::from_secs(3600)).max_retries(3);
    let calls = AtomicU32::new(0);
    let run = retry::Retry::new(&policy)
        .budget(&DROPPED_BUDGET)
        .run(async || {
            calls.fetch_add(1, Ordering::SeqCst);
            Err::<(), _>(UpstreamError::Unavailable)
        });
    assert!(
        tokio::time::timeout(Duration::from_millis(20), run)
            .await
            .is_err(),
        "the call sleeps an hour before its retry"
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
    // The first attempt saved one retry; the dropped call gave it back.
    assert!(DROPPED_BUDGET.try_withdraw());
    assert!(!DROPPED_BUDGET.try_withdraw());
}

static BUILT_HANGING: Breaker = Breaker::new()
    .failures(1)
    .cooldown(Duration::from_millis(20))
    .probes(1);

#[tokio::test]
async fn a_cancelled_builder_run_gives_its_probe_slot_back() {
    let permit = BUILT_HANGING.allow().unwrap();
    BUILT_HANGING.record_failure(permit);
    tokio::time::sleep(Duration::from_millis(30)).await;

    let policy = rebuff::Policy::DEFAULT.max_retries(0);
    let run = retry::Retry::new(&policy)
        .breaker(&BUILT_HANGING)
        .run(async || std::future::pending::<Result<(), UpstreamError>>().await);
    assert!(
        tokio::time::timeout(Duration::from_millis(10), run)
            .await
            .is_err()
    );
    assert_eq!(BUILT_HANGING.state(), State::HalfOpen);
    let permit = BUILT_HANGING
        .allow()
        .expect("the cancelled run's probe slot was given back");
    BUILT_HANGING.record_success(permit);
    assert_eq!(BUILT_HANGING.state(), State::Closed);
}

static SPAWNED_BREAKER: Breaker = Breaker::new();
static SPAWNED_BUDGET: Budget = Budget::new();

#[retry(max_retries = 2, initial_delay = "1ms", jitter = "none", breaker = SPAWNED_BREAKER, budget = SPAWNED_BUDGET)]
async fn flaky_once(calls: Arc<AtomicU32>) -> Result<u32, UpstreamError> {
    if calls.fetch_add(1, Ordering::SeqCst) == 0 {
        return Err(UpstreamError::Unavailable);
    }
    Ok(7)
}

#[tokio::test]
async fn an_async_retry_with_breaker_and_budget_can_be_spawned() {
    let calls = Arc::new(AtomicU32::new(0));
    let task = tokio::spawn(flaky_once(calls.clone()));
    assert_eq!(task.await.unwrap().unwrap(), 7);
    assert_eq!(calls.load(Ordering::SeqCst), 2);
    assert_eq!(SPAWNED_BREAKER.state(), State::Closed);
}

/// A seeded run repeats its delays, not its idempotency key: two calls are
/// two requests to the server.
#[test]
fn seeded_runs_draw_their_own_idempotency_keys() {
    let policy = rebuff::Policy::DEFAULT;
    let key = || {
        rebuff::retry::Retry::new(&policy)
            .seed(7)
            .run_blocking_with_attempt(|attempt| Ok::<_, UpstreamError>(attempt.idempotency_key()))
            .unwrap()
    };
    assert_ne!(key(), key());
}

/// A call that never reached the service (its request could not be
/// built) says nothing of it: a half-open breaker's probe is not closed by
/// it, and the next call may probe.
#[test]
fn a_request_never_sent_neither_closes_nor_opens_the_breaker() {
    use rebuff::client::{ClientError, RemoteError};

    let breaker = Breaker::new()
        .failures(1)
        .cooldown(Duration::from_millis(30));
    breaker.record_failure(breaker.allow().unwrap());
    assert_eq!(breaker.state(), State::Open);
    std::thread::sleep(Duration::from_millis(40));
    let probe = breaker.allow().unwrap();
    let unsent: Result<(), ClientError<RemoteError>> =
        Err(ClientError::Request("relative URL without a base".into()));
    breaker.record(probe, &unsent);
    assert_eq!(breaker.state(), State::HalfOpen, "not closed by it");
    let next = breaker.allow().expect("the probe's slot is free again");
    breaker.record_success(next);
    assert_eq!(breaker.state(), State::Closed);
}
