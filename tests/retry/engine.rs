//! The retry engine on tokio's paused clock: exact delays per backoff and
//! jitter kind, server hints (bounded), deadlines, give-up reasons, hooks,
//! test mode.

use std::sync::Mutex;
use std::time::{Duration, UNIX_EPOCH};

use rebuff::retry::{self, Report, Retry, RetryEvent, StopReason, parse_retry_after};
use rebuff::{Advice, Jitter, Policy, Retryable, StatusCode};
use tokio::time::Instant;

/// An error whose advice and status the test chooses.
#[derive(Debug, Clone, PartialEq)]
struct Fail {
    advice: Advice,
    status: Option<u16>,
}

impl Fail {
    fn retry() -> Self {
        Fail {
            advice: Advice::Retry,
            status: Some(503),
        }
    }
}

impl std::fmt::Display for Fail {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "failed with {:?}", self.status)
    }
}

impl Retryable for Fail {
    fn retry_advice(&self) -> Advice {
        self.advice
    }
    fn retry_status(&self) -> Option<StatusCode> {
        self.status.and_then(|s| StatusCode::from_u16(s).ok())
    }
    fn request_id(&self) -> Option<&str> {
        Some("req_test")
    }
}

/// Runs `policy` against a call that fails `failures` times with `fail`
/// then succeeds, and returns the gaps between attempts on the paused
/// clock, plus the result.
async fn gaps(
    policy: &Policy,
    seed: u64,
    failures: usize,
    fail: Fail,
) -> (Vec<Duration>, Result<usize, Fail>) {
    let starts = Mutex::new(Vec::new());
    let result = Retry::new(policy)
        .seed(seed)
        .run(async || {
            let mut starts = starts.lock().unwrap();
            starts.push(Instant::now());
            if starts.len() <= failures {
                Err(fail.clone())
            } else {
                Ok(starts.len())
            }
        })
        .await;
    let starts = starts.into_inner().unwrap();
    (starts.windows(2).map(|w| w[1] - w[0]).collect(), result)
}

const HOUR: Duration = Duration::from_secs(3600);

fn secs(values: &[f64]) -> Vec<Duration> {
    values.iter().map(|s| Duration::from_secs_f64(*s)).collect()
}

#[tokio::test(start_paused = true)]
async fn exponential_without_jitter_doubles_to_the_cap() {
    let policy = Policy::exponential()
        .jitter(Jitter::None)
        .max_retries(6)
        .max_delay(Duration::from_secs(10));
    let (seen, result) = gaps(&policy, 0, 6, Fail::retry()).await;
    assert_eq!(result, Ok(7));
    assert_eq!(seen, secs(&[1.0, 2.0, 4.0, 8.0, 10.0, 10.0]));
}

#[tokio::test(start_paused = true)]
async fn constant_and_linear_backoff() {
    let constant = Policy::constant(Duration::from_millis(250)).max_retries(3);
    assert_eq!(
        gaps(&constant, 0, 3, Fail::retry()).await.0,
        secs(&[0.25, 0.25, 0.25])
    );
    let linear = Policy::linear(Duration::from_secs(1), Duration::from_millis(500))
        .jitter(Jitter::None)
        .max_retries(4);
    assert_eq!(
        gaps(&linear, 0, 4, Fail::retry()).await.0,
        secs(&[1.0, 1.5, 2.0, 2.5])
    );
}

#[tokio::test(start_paused = true)]
async fn seeded_jitter_is_exact_and_in_bounds() {
    let base = Policy::exponential()
        .max_retries(5)
        .max_delay(Duration::from_secs(30));
    let bases = [1.0, 2.0, 4.0, 8.0, 16.0];
    for jitter in [Jitter::Full, Jitter::Equal, Jitter::Decorrelated] {
        let policy = base.jitter(jitter);
        let (first, _) = gaps(&policy, 42, 5, Fail::retry()).await;
        let (again, _) = gaps(&policy, 42, 5, Fail::retry()).await;
        let (other, _) = gaps(&policy, 43, 5, Fail::retry()).await;
        assert_eq!(first, again, "{jitter:?}: same seed, same delays");
        assert_ne!(first, other, "{jitter:?}: another seed, other delays");
        let mut previous = Duration::from_secs(1);
        for (gap, base) in first.iter().zip(bases) {
            let base = Duration::from_secs_f64(base);
            match jitter {
                Jitter::Full => assert!(*gap <= base, "{gap:?} > {base:?}"),
                Jitter::Equal => assert!(*gap >= base / 2 && *gap <= base, "{gap:?} vs {base:?}"),
                Jitter::Decorrelated => {
                    assert!(
                        *gap >= Duration::from_secs(1)
                            && *gap <= (previous * 3).min(Duration::from_secs(30))
                    );
                    previous = *gap;
                }
                Jitter::None => unreachable!(),
            }
        }
    }
    // The exact delays for one seed, so a change in how jitter is drawn is
    // seen (fastrand's wyrand output for a seed is stable). The jitter's
    // generator starts from the seed alone, whether or not the run draws an
    // idempotency key, so these are the delays of every seeded run. The paused clock
    // rounds sleeps to tokio's millisecond timer; the report has the
    // engine's own values.
    let expected: [(Jitter, [u64; 3]); 3] = [
        (Jitter::Full, [773_381_803, 444_971_954, 2_873_161_637]),
        (Jitter::Equal, [886_690_902, 1_222_485_977, 3_436_580_819]),
        (
            Jitter::Decorrelated,
            [2_546_763_606, 2_477_371_590, 5_620_126_350],
        ),
    ];
    for (jitter, nanos) in expected {
        let policy = base.jitter(jitter).max_retries(3);
        let (_, report) = Retry::new(&policy)
            .seed(7)
            .run_report(async |_| Err::<(), _>(Fail::retry()))
            .await;
        let delays: Vec<Duration> = report.failures.iter().filter_map(|f| f.delay).collect();
        assert_eq!(delays, nanos.map(Duration::from_nanos), "{jitter:?}");
    }
}

#[tokio::test(start_paused = true)]
async fn retry_after_is_a_floor_above_backoff_and_max_delay() {
    let policy = Policy::exponential()
        .jitter(Jitter::None)
        .max_delay(Duration::from_secs(2));
    let hinted = Fail {
        advice: Advice::RetryAfter(Duration::from_secs(32)),
        status: Some(429),
    };
    let (seen, result) = gaps(&policy, 0, 2, hinted).await;
    assert!(result.is_ok());
    // max_delay (2 s) caps the backoff, not the server's 32 s.
    assert_eq!(seen, secs(&[32.0, 32.0]));

    // A shorter hint than the backoff does not shorten the backoff.
    let short = Fail {
        advice: Advice::RetryAfter(Duration::from_millis(10)),
        status: Some(429),
    };
    let (seen, _) = gaps(&Policy::exponential().jitter(Jitter::None), 0, 2, short).await;
    assert_eq!(seen, secs(&[1.0, 2.0]));

    // Ignoring hints.
    let ignoring = Policy::exponential()
        .jitter(Jitter::None)
        .retry_after(retry::RetryAfter::Ignore);
    let hinted = Fail {
        advice: Advice::RetryAfter(Duration::from_secs(32)),
        status: Some(429),
    };
    assert_eq!(gaps(&ignoring, 0, 1, hinted).await.0, secs(&[1.0]));
}

#[tokio::test(start_paused = true)]
async fn hostile_retry_after_values_are_clamped_never_a_panic() {
    let now = UNIX_EPOCH + Duration::from_secs(1_445_412_450);
    let policy = Policy::exponential()
        .jitter(Jitter::None)
        .max_retry_after(Duration::from_secs(120));
    let cases: [(&str, Option<f64>); 7] = [
        ("30", Some(30.0)),
        ("Wed, 21 Oct 2015 07:28:00 GMT", Some(30.0)), // an HTTP-date 30 s ahead
        ("Wed, 21 Oct 2015 07:00:00 GMT", Some(1.0)),  // in the past: the backoff's 1 s
        ("18446744073709551616", Some(120.0)),         // absurdly large: clamped
        ("86400", Some(120.0)),                        // a day: clamped
        ("soon", Some(1.0)),                           // garbage: plain backoff
        ("-5", Some(1.0)),
    ];
    for (header, expected) in cases {
        let advice = match parse_retry_after(header, now) {
            Some(delay) => Advice::RetryAfter(delay),
            None => Advice::Retry,
        };
        let (seen, result) = gaps(
            &policy,
            0,
            1,
            Fail {
                advice,
                status: Some(429),
            },
        )
        .await;
        assert!(result.is_ok(), "{header}");
        assert_eq!(seen, secs(&[expected.unwrap()]), "{header}");
    }
}

#[tokio::test(start_paused = true)]
async fn a_hint_past_the_deadline_returns_at_once() {
    let policy = Policy::DEFAULT.deadline(Duration::from_secs(10));
    let hinted = Fail {
        advice: Advice::RetryAfter(Duration::from_secs(30)),
        status: Some(429),
    };
    let start = Instant::now();
    let (result, report) = Retry::new(&policy)
        .run_report(async |_| Err::<(), _>(hinted.clone()))
        .await;
    assert_eq!(result, Err(hinted));
    assert_eq!(Instant::now(), start, "no sleep on the paused clock");
    assert_eq!(report.attempts, 1);
    assert_eq!(report.stop, Some(StopReason::HintBeyondDeadline));
}

#[tokio::test(start_paused = true)]
async fn deadlines_cut_a_sequence_short() {
    let policy = Policy::exponential()
        .jitter(Jitter::None)
        .max_retries(10)
        .deadline(Duration::from_secs(5));
    let start = Instant::now();
    let (result, report) = Retry::new(&policy)
        .run_report(async |_| Err::<(), _>(Fail::retry()))
        .await;
    assert!(result.is_err());
    // Sleeps of 1 s and 2 s fit in 5 s; the next 4 s would end at 7 s.
    assert_eq!(report.attempts, 3);
    assert_eq!(report.stop, Some(StopReason::Deadline));
    assert_eq!(Instant::now() - start, Duration::from_secs(3));
    let delays: Vec<Option<Duration>> = report.failures.iter().map(|f| f.delay).collect();
    assert_eq!(
        delays,
        [
            Some(Duration::from_secs(1)),
            Some(Duration::from_secs(2)),
            None
        ]
    );
}

#[tokio::test(start_paused = true)]
async fn non_retryable_errors_return_after_exactly_one_attempt() {
    let mut calls = 0;
    let stop = Fail {
        advice: Advice::Stop,
        status: Some(404),
    };
    let (result, report) = Retry::new(&Policy::DEFAULT)
        .run_report(async |_| {
            calls += 1;
            Err::<(), _>(stop.clone())
        })
        .await;
    assert_eq!(result, Err(stop));
    assert_eq!(calls, 1);
    assert_eq!(report.stop, Some(StopReason::NotRetryable));
    assert_eq!(report.failures.len(), 1);
    assert_eq!(report.failures[0].status, Some(StatusCode::NOT_FOUND));
}

#[tokio::test(start_paused = true)]
async fn out_of_attempts_after_max_retries() {
    let policy = Policy::DEFAULT.max_retries(2);
    let (result, report) = Retry::new(&policy)
        .seed(1)
        .run_report(async |_| Err::<(), _>(Fail::retry()))
        .await;
    assert!(result.is_err());
    assert_eq!(report.attempts, 3);
    assert_eq!(report.stop, Some(StopReason::OutOfAttempts));
    assert_eq!(report.failures[0].error, "failed with Some(503)");
}

#[tokio::test(start_paused = true)]
async fn per_status_minimum_waits() {
    let policy = Policy::exponential()
        .jitter(Jitter::None)
        .min_wait(StatusCode::SERVICE_UNAVAILABLE, Duration::from_secs(30));
    let (seen, _) = gaps(
        &policy,
        0,
        1,
        Fail {
            advice: Advice::Retry,
            status: Some(503),
        },
    )
    .await;
    assert_eq!(seen, secs(&[30.0]));
    let (seen, _) = gaps(
        &policy,
        0,
        1,
        Fail {
            advice: Advice::Retry,
            status: Some(500),
        },
    )
    .await;
    assert_eq!(seen, secs(&[1.0]));
}

#[tokio::test(start_paused = true)]
async fn attempts_time_out_and_are_retried() {
    let policy = Policy::exponential()
        .jitter(Jitter::None)
        .attempt_timeout(Duration::from_secs(2));
    let mut calls = 0;
    let start = Instant::now();
    let result: Result<u32, std::io::Error> = Retry::new(&policy)
        .run(async || {
            calls += 1;
            if calls == 1 {
                tokio::time::sleep(Duration::from_secs(3600)).await;
            }
            Ok(calls)
        })
        .await;
    assert_eq!(result.unwrap(), 2);
    // 2 s cut-off, then the 1 s backoff.
    assert_eq!(Instant::now() - start, Duration::from_secs(3));

    // The deadline shortens the last attempt's allowance too.
    let policy = Policy::DEFAULT.deadline(Duration::from_secs(5));
    let err = Retry::new(&policy)
        .run(async || {
            tokio::time::sleep(Duration::from_secs(3600)).await;
            Ok::<(), std::io::Error>(())
        })
        .await
        .unwrap_err();
    assert_eq!(err.kind(), std::io::ErrorKind::TimedOut);
}

#[tokio::test(start_paused = true)]
async fn when_overrides_the_advice_and_hooks_see_each_retry() {
    static EVENTS: Mutex<Vec<(u32, Duration)>> = Mutex::new(Vec::new());
    static GAVE_UP: Mutex<Option<(u32, StopReason)>> = Mutex::new(None);
    fn on_retry(event: &RetryEvent<'_, Fail>) {
        EVENTS.lock().unwrap().push((event.attempt, event.delay));
    }
    let stop = Fail {
        advice: Advice::Stop,
        status: Some(400),
    };
    let result = Retry::new(&Policy::DEFAULT.jitter(Jitter::None).max_retries(2))
        .when(|_: &Fail| Advice::Retry)
        .on_retry(on_retry)
        .on_give_up(|give_up| *GAVE_UP.lock().unwrap() = Some((give_up.attempts, give_up.reason)))
        .run(async || Err::<(), _>(stop.clone()))
        .await;
    assert!(result.is_err());
    assert_eq!(
        *EVENTS.lock().unwrap(),
        [(1, Duration::from_secs(1)), (2, Duration::from_secs(2))]
    );
    assert_eq!(
        *GAVE_UP.lock().unwrap(),
        Some((3, StopReason::OutOfAttempts))
    );
}

#[tokio::test(start_paused = true)]
async fn the_idempotency_key_is_stable_across_attempts() {
    let mut seen = Vec::new();
    let _ = Retry::new(&Policy::DEFAULT)
        .run_with_attempt(async |attempt| {
            seen.push((
                attempt.number(),
                attempt.idempotency_key(),
                attempt.elapsed(),
            ));
            if attempt.number() < 3 {
                Err(Fail::retry())
            } else {
                Ok(())
            }
        })
        .await;
    assert_eq!(seen.len(), 3);
    assert!(seen.iter().all(|(_, key, _)| *key == seen[0].1));
    assert!(seen.windows(2).all(|w| w[1].2 > w[0].2), "elapsed grows");
    let key = seen[0].1.to_string();
    assert_eq!(key.len(), 36);
    assert_eq!(&key[14..15], "4", "version 4: {key}");
    assert!("89ab".contains(&key[19..20]), "variant: {key}");
    // Another call, another key.
    let other = Retry::new(&Policy::DEFAULT)
        .run_with_attempt(async |attempt| Ok::<_, Fail>(attempt.idempotency_key()))
        .await
        .unwrap();
    assert_ne!(other, seen[0].1);
}

#[test]
fn test_mode_records_instead_of_sleeping() {
    // Hours of backoff: slept, they would hold the call past the bound
    // below, which only catches a call that never comes back.
    let policy = Policy::exponential()
        .initial_delay(HOUR)
        .max_delay(8 * HOUR)
        .jitter(Jitter::None)
        .max_retries(3)
        .deadline(6 * HOUR);
    let (done, finished) = std::sync::mpsc::channel();
    // Test mode is the thread's: enabled on the thread that makes the call.
    std::thread::spawn(move || {
        let test_mode = retry::testing::enable();
        let mut calls = 0;
        let (result, report): (Result<(), Fail>, Report) =
            Retry::new(&policy).run_blocking_report(|_| {
                calls += 1;
                Err(Fail::retry())
            });
        let recorded = (test_mode.attempts(), test_mode.sleeps());
        test_mode.reset();
        let after_reset = test_mode.attempts();
        let _ = done.send((result.is_err(), report.stop, calls, recorded, after_reset));
    });
    let (failed, stop, calls, (attempts, sleeps), after_reset) = finished
        .recv_timeout(Duration::from_secs(60))
        .expect("recorded, not slept");
    assert!(failed);
    // 1 h + 2 h skipped count as elapsed: the next 4 h would pass 6 h.
    assert_eq!(stop, Some(StopReason::Deadline));
    assert_eq!(calls, 3);
    assert_eq!(attempts, 3);
    assert_eq!(sleeps, vec![HOUR, 2 * HOUR]);
    assert_eq!(after_reset, 0);
}

#[test]
fn test_mode_in_an_async_runtime() {
    let test_mode = retry::testing::enable();
    let runtime = tokio::runtime::Builder::new_current_thread()
        .enable_time()
        .build()
        .unwrap();
    // The runtime's clock is real: 7 h of backoff are recorded, not slept
    // (the bound only catches a call that never comes back).
    let policy = Policy::DEFAULT
        .initial_delay(HOUR)
        .jitter(Jitter::None)
        .max_delay(8 * HOUR)
        .max_retries(3);
    let result = runtime.block_on(async {
        let call = retry::run(&policy, async || Err::<(), _>(Fail::retry()));
        tokio::time::timeout(Duration::from_secs(60), call).await
    });
    assert!(result.expect("recorded, not slept").is_err());
    assert_eq!(test_mode.attempts(), 4);
    assert_eq!(test_mode.sleeps(), vec![HOUR, 2 * HOUR, 4 * HOUR]);
}

#[test]
fn blocking_engine_retries_io_errors_by_kind() {
    let _test_mode = retry::testing::enable();
    let mut calls = 0;
    let result = retry::run_blocking(&Policy::DEFAULT, || {
        calls += 1;
        if calls < 3 {
            Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
        } else {
            Ok(calls)
        }
    });
    assert_eq!(result.unwrap(), 3);
    let mut calls = 0;
    let result: Result<(), _> = retry::run_blocking(&Policy::DEFAULT, || {
        calls += 1;
        Err(std::io::Error::from(std::io::ErrorKind::PermissionDenied))
    });
    assert!(result.is_err());
    assert_eq!(calls, 1);
}

/// `run_futures` promises a `Send` run whenever the attempts' futures are
/// `Send`: it can be spawned on a multi-threaded runtime.
#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn run_futures_can_be_spawned() {
    let calls = std::sync::Arc::new(std::sync::atomic::AtomicU32::new(0));
    let counted = calls.clone();
    let task = tokio::spawn(async move {
        Retry::new(
            &Policy::DEFAULT
                .jitter(Jitter::None)
                .initial_delay(Duration::from_millis(1)),
        )
        .run_futures(move |attempt| {
            let counted = counted.clone();
            async move {
                counted.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
                if attempt.number() < 2 {
                    Err(std::io::Error::from(std::io::ErrorKind::ConnectionReset))
                } else {
                    Ok(attempt.number())
                }
            }
        })
        .await
    });
    assert_eq!(task.await.unwrap().unwrap(), 2);
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 2);
}
