//! Every way of retrying against a server that accepts and never answers:
//! the policy's attempt timeout cuts each attempt off and the deadline ends
//! the call, at every entry point (the attribute on async, `impl Future`
//! and blocking functions, the closure runs, the builder's runs, the
//! reqwest client). A blocking attempt cannot be cut off, so it is told its
//! limit (`Attempt::limit`) and hands it to its socket.

use std::io::{Read, Write};
use std::net::{SocketAddr, TcpStream};
use std::time::Duration;

use rebuff::client::reqwest::{RequestBuilderExt, SendRetrying};
use rebuff::client::{ClientError, RemoteError};
use rebuff::retry::{self, Attempt, Retry, StopReason};
use rebuff::{Jitter, Policy};
use serde_json::Value;

use crate::silent::Silent;

/// 150 ms per attempt, two retries 10 ms apart: three attempts, ~470 ms.
const TIMED: Policy = Policy::constant(Duration::from_millis(10))
    .max_retries(2)
    .attempt_timeout(Duration::from_millis(150))
    .jitter(Jitter::None);
/// 600 ms for the whole call, however many attempts fit.
const DEADLINE: Policy = Policy::constant(Duration::from_millis(10))
    .max_retries(10)
    .deadline(Duration::from_millis(600))
    .jitter(Jitter::None);

type Result<T> = std::result::Result<T, ClientError<RemoteError>>;

fn client() -> reqwest::Client {
    // No timeout of reqwest's own: only the engine cuts attempts off.
    reqwest::Client::new()
}

fn is_timeout(err: &ClientError<RemoteError>) -> bool {
    matches!(err, ClientError::Timeout { after: Some(_) })
}

/// Runs one async entry point twice against a fresh silent server: under
/// [`TIMED`] (a timeout after exactly 3 attempts) and under [`DEADLINE`]
/// (a timeout: without the deadline the first attempt would wait for
/// ever, which the bound of 10 s catches).
macro_rules! cut_off_async {
    ($name:ident, |$policy:ident, $client:ident, $url:ident| $call:expr) => {
        #[tokio::test]
        async fn $name() {
            for (policy, attempts) in [(&TIMED, Some(3)), (&DEADLINE, None)] {
                let server = Silent::start();
                let ($policy, $client, $url) = (policy, client(), server.url("/leads/1"));
                // The bound that fails the test if the engine hangs, as the
                // reqwest client once did.
                let result: Result<Value> =
                    tokio::time::timeout(Duration::from_secs(10), async { $call })
                        .await
                        .expect("the call came back");
                let err = result.expect_err("a silent server");
                assert!(is_timeout(&err), "{err:?}");
                match attempts {
                    Some(attempts) => assert_eq!(server.requests_settled(attempts), attempts),
                    None => assert!(server.requests_settled(1) >= 1),
                }
            }
        }
    };
}

#[rebuff::retry(policy = policy)]
async fn attribute_async(policy: &Policy, client: &reqwest::Client, url: &str) -> Result<Value> {
    client.get(url).send_api().await
}

#[rebuff::retry(policy = policy)]
fn attribute_future<'a>(
    policy: &'a Policy,
    client: &'a reqwest::Client,
    url: &'a str,
) -> impl Future<Output = Result<Value>> + 'a {
    client.get(url).send_api()
}

cut_off_async!(attribute_on_an_async_fn, |policy, client, url| {
    attribute_async(policy, &client, &url).await
});

cut_off_async!(attribute_on_an_impl_future_fn, |policy, client, url| {
    attribute_future(policy, &client, &url).await
});

cut_off_async!(run, |policy, client, url| {
    retry::run(policy, async || client.get(&url).send_api().await).await
});

cut_off_async!(builder_run, |policy, client, url| {
    Retry::new(policy)
        .run(async || client.get(&url).send_api().await)
        .await
});

cut_off_async!(builder_run_with_attempt, |policy, client, url| {
    Retry::new(policy)
        .run_with_attempt(async |_: Attempt| client.get(&url).send_api().await)
        .await
});

cut_off_async!(builder_run_futures, |policy, client, url| {
    Retry::new(policy)
        .run_futures(|_| client.get(&url).send_api())
        .await
});

cut_off_async!(builder_run_report, |policy, client, url| {
    let (result, report) = Retry::new(policy)
        .run_report(async |_| client.get(&url).send_api().await)
        .await;
    assert!(matches!(
        report.stop,
        Some(StopReason::OutOfAttempts | StopReason::Deadline)
    ));
    result
});

cut_off_async!(send_retrying, |policy, client, url| {
    SendRetrying::new(policy).send(|| client.get(&url)).await
});

cut_off_async!(send_retrying_a_keyed_post, |policy, client, url| {
    SendRetrying::new(policy)
        .send(|| client.post(&url).body("{}"))
        .await
});

/// A blocking GET over a raw socket that waits at most `limit` for an
/// answer.
fn get_blocking(addr: SocketAddr, limit: Option<Duration>) -> std::io::Result<Vec<u8>> {
    let mut stream = TcpStream::connect(addr)?;
    stream.write_all(b"GET /leads/1 HTTP/1.1\r\nhost: rebuff\r\n\r\n")?;
    match limit {
        Some(limit) if limit.is_zero() => return Err(std::io::ErrorKind::TimedOut.into()),
        limit => stream.set_read_timeout(limit)?,
    }
    let mut answer = vec![0; 1024];
    let n = stream.read(&mut answer)?;
    answer.truncate(n);
    Ok(answer)
}

/// The read timeout's error: `WouldBlock` or `TimedOut`, by platform.
fn timed_out(err: &std::io::Error) -> bool {
    matches!(
        err.kind(),
        std::io::ErrorKind::WouldBlock | std::io::ErrorKind::TimedOut
    )
}

/// Runs one blocking entry point under both policies, as
/// [`cut_off_async!`] does.
fn cut_off_blocking(call: impl Fn(&Policy, SocketAddr) -> std::io::Result<Vec<u8>>) {
    for (policy, attempts) in [(&TIMED, Some(3)), (&DEADLINE, None)] {
        let server = Silent::start();
        let result = call(policy, server.addr());
        let err = result.expect_err("a silent server");
        assert!(timed_out(&err), "{err:?}");
        match attempts {
            Some(attempts) => assert_eq!(server.requests_settled(attempts), attempts),
            None => assert!(server.requests_settled(1) >= 1),
        }
    }
}

#[rebuff::retry(policy = policy, attempt = attempt)]
fn attribute_blocking(policy: &Policy, addr: SocketAddr) -> std::io::Result<Vec<u8>> {
    get_blocking(addr, attempt.limit())
}

#[test]
fn attribute_on_a_blocking_fn() {
    cut_off_blocking(attribute_blocking);
}

#[test]
fn builder_run_blocking_with_attempt() {
    cut_off_blocking(|policy, addr| {
        Retry::new(policy).run_blocking_with_attempt(|attempt| get_blocking(addr, attempt.limit()))
    });
}

#[test]
fn builder_run_blocking_report() {
    cut_off_blocking(|policy, addr| {
        let (result, report) =
            Retry::new(policy).run_blocking_report(|attempt| get_blocking(addr, attempt.limit()));
        assert_eq!(report.attempts as usize, report.failures.len());
        result
    });
}

/// A blocking closure that is not told its limit waits as long as it
/// waits; the engine still starts no attempt past the deadline, so the call
/// overruns it by at most one attempt's own wait.
#[test]
fn run_blocking_starts_no_attempt_past_the_deadline() {
    for run in [
        |policy: &Policy, addr| {
            retry::run_blocking(policy, || {
                get_blocking(addr, Some(Duration::from_millis(200)))
            })
        },
        |policy: &Policy, addr| {
            Retry::new(policy).run_blocking(|| get_blocking(addr, Some(Duration::from_millis(200))))
        },
    ] {
        let server = Silent::start();
        let err = run(&DEADLINE, server.addr()).expect_err("a silent server");
        assert!(timed_out(&err), "{err:?}");
        // 200 ms attempts 10 ms apart: the fourth would start past 600 ms
        // (fewer fit on a loaded machine); an engine that started attempts
        // past the deadline would make all eleven.
        let seen = server.requests_settled(1);
        assert!((1..=3).contains(&seen), "{seen} attempts");
    }
}

#[rebuff::retry(policy = TIMED)]
fn blocking_unbound(calls: &std::cell::Cell<u32>) -> std::io::Result<u32> {
    calls.set(calls.get() + 1);
    Ok(7)
}

/// A policy's attempt timeout on a blocking function whose attempt is not
/// bound cannot cut its attempts off (the `attempt_timeout` key is a
/// compile error there; a policy's is not): the first such run says so in
/// the log, and runs as it would. (Once a process: the only test of this
/// binary whose run warns.)
#[test]
fn a_blocking_policy_timeout_the_attempt_never_sees_is_logged() {
    let lines = crate::log_lines::Lines::default();
    let _listening = crate::log_lines::listen_here(lines.subscriber());
    let calls = std::cell::Cell::new(0);
    assert_eq!(blocking_unbound(&calls).unwrap(), 7);
    assert_eq!(calls.get(), 1);
    let text = lines.text();
    assert!(
        text.contains("WARN") && text.contains("attempts cannot be cut off"),
        "{text}"
    );
}

/// A derived error type whose `#[api(timeout)]` variant the engine returns
/// for an attempt it cuts off.
#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum LeadError {
    #[error("lead service unavailable")]
    #[api(status = 503)]
    Unavailable,
    #[error("the lead service did not answer in time")]
    #[api(status = 504, timeout)]
    TimedOut,
}

/// The same errors with no timeout variant.
#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum UntimedError {
    #[error("lead service unavailable")]
    #[api(status = 503)]
    Unavailable,
}

#[rebuff::retry(
    max_retries = 2,
    initial_delay = "10ms",
    jitter = "none",
    attempt_timeout = "100ms"
)]
async fn hangs_per_attempt(
    calls: &std::sync::atomic::AtomicU32,
) -> std::result::Result<(), LeadError> {
    calls.fetch_add(1, std::sync::atomic::Ordering::SeqCst);
    std::future::pending().await
}

#[rebuff::retry(
    max_retries = 10,
    initial_delay = "10ms",
    jitter = "none",
    deadline = "300ms"
)]
async fn hangs_past_the_deadline() -> std::result::Result<(), LeadError> {
    std::future::pending().await
}

#[rebuff::retry(
    max_retries = 10,
    initial_delay = "10ms",
    jitter = "none",
    deadline = "50ms"
)]
async fn slow_untimed() -> std::result::Result<u32, UntimedError> {
    tokio::time::sleep(Duration::from_millis(200)).await;
    Ok(7)
}

#[tokio::test(start_paused = true)]
async fn a_derived_error_with_a_timeout_variant_has_its_attempts_cut_off() {
    let calls = std::sync::atomic::AtomicU32::new(0);
    let started = tokio::time::Instant::now();
    let err = hangs_per_attempt(&calls).await.unwrap_err();
    assert!(matches!(err, LeadError::TimedOut), "{err:?}");
    // 504 is retried: three attempts of 100 ms, 10 and 20 ms apart.
    assert_eq!(calls.load(std::sync::atomic::Ordering::SeqCst), 3);
    assert_eq!(started.elapsed(), Duration::from_millis(330));

    let started = tokio::time::Instant::now();
    let err = hangs_past_the_deadline().await.unwrap_err();
    assert!(matches!(err, LeadError::TimedOut), "{err:?}");
    assert_eq!(started.elapsed(), Duration::from_millis(300));

    // A type that cannot say "timed out": the attempt runs to completion,
    // past the deadline.
    let started = tokio::time::Instant::now();
    assert_eq!(slow_untimed().await.unwrap(), 7);
    assert_eq!(started.elapsed(), Duration::from_millis(200));
    let _ = UntimedError::Unavailable;
    let _ = LeadError::Unavailable;
}

/// A struct error can say "timed out" too.
#[derive(Debug, thiserror::Error, rebuff::ApiError)]
#[error("the lead service did not answer in time")]
#[api(status = 504, timeout)]
struct LeadTimedOut;

#[rebuff::retry(
    max_retries = 1,
    initial_delay = "10ms",
    jitter = "none",
    attempt_timeout = "100ms"
)]
async fn hangs_as_a_struct() -> std::result::Result<(), LeadTimedOut> {
    std::future::pending().await
}

#[tokio::test(start_paused = true)]
async fn a_derived_struct_marked_timeout_has_its_attempts_cut_off() {
    let started = tokio::time::Instant::now();
    let err = tokio::time::timeout(Duration::from_secs(5), hangs_as_a_struct())
        .await
        .expect("attempts cut off")
        .unwrap_err();
    assert_eq!(err.to_string(), "the lead service did not answer in time");
    assert_eq!(started.elapsed(), Duration::from_millis(210));
}

/// A derived error type that a breaker can refuse.
#[derive(Debug, thiserror::Error, rebuff::ApiError)]
enum GuardedError {
    #[error("the lead service did not answer in time")]
    #[api(status = 504, timeout)]
    TimedOut,
    #[error(transparent)]
    #[api(status = 503, code = "circuit_open")]
    CircuitOpen(#[from] rebuff::CircuitOpen),
}

static CUT_BY_DEADLINE: rebuff::Breaker = rebuff::Breaker::new()
    .failures(1)
    .cooldown(Duration::from_secs(3600));
static CUT_BY_TIMEOUT: rebuff::Breaker = rebuff::Breaker::new()
    .failures(1)
    .cooldown(Duration::from_secs(3600));

#[rebuff::retry(
    max_retries = 10,
    initial_delay = "10ms",
    jitter = "none",
    deadline = "300ms",
    breaker = CUT_BY_DEADLINE
)]
async fn hangs_until_the_deadline() -> std::result::Result<(), GuardedError> {
    std::future::pending().await
}

#[rebuff::retry(max_retries = 0, attempt_timeout = "100ms", breaker = CUT_BY_TIMEOUT)]
async fn hangs_past_its_attempt_timeout() -> std::result::Result<(), GuardedError> {
    std::future::pending().await
}

static SLOW_FAILURE: rebuff::Breaker = rebuff::Breaker::new()
    .failures(1)
    .cooldown(Duration::from_secs(3600));

/// An attempt the caller's deadline cuts off says nothing of the service:
/// the breaker does not count it. One its attempt timeout cuts off does,
/// and so does a failure the service sent late, past the deadline, in a
/// blocking run (which the engine never cuts off).
#[tokio::test(start_paused = true)]
async fn only_an_attempt_timeout_counts_against_the_breaker() {
    let err = hangs_until_the_deadline().await.unwrap_err();
    assert!(matches!(err, GuardedError::TimedOut), "{err:?}");
    assert_eq!(CUT_BY_DEADLINE.state(), rebuff::breaker::State::Closed);

    let err = hangs_past_its_attempt_timeout().await.unwrap_err();
    assert!(matches!(err, GuardedError::TimedOut), "{err:?}");
    assert_eq!(CUT_BY_TIMEOUT.state(), rebuff::breaker::State::Open);

    let policy = Policy::constant(Duration::from_millis(10))
        .max_retries(3)
        .deadline(Duration::from_millis(20));
    let late = Retry::new(&policy).breaker(&SLOW_FAILURE).run_blocking(|| {
        std::thread::sleep(Duration::from_millis(40));
        Err::<(), _>(GuardedError::TimedOut)
    });
    assert!(matches!(late, Err(GuardedError::TimedOut)), "{late:?}");
    assert_eq!(SLOW_FAILURE.state(), rebuff::breaker::State::Open);
}
