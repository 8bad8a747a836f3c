//! `#[retry]` on every shape of function a user writes: async and blocking,
//! free functions and methods (`&self`, `&mut self`, `self`), generic ones,
//! ones returning `impl Future` or `Result<impl Trait, E>`; with a policy
//! constant, inline keys, hooks and the attempt binding.

use std::fmt::Display;
use std::sync::atomic::{AtomicU32, Ordering};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use rebuff::retry::{Attempt, RetryEvent, testing};
use rebuff::{Advice, ApiError, Jitter, Policy, Retryable, retry};
use tokio::time::Instant;

#[derive(Debug, Clone, PartialEq, thiserror::Error, ApiError)]
enum CallError {
    #[error("unavailable")]
    #[api(status = 503)]
    Unavailable,
    #[error("not found")]
    #[api(status = 404)]
    LeadNotFound,
    #[error("rate limited")]
    #[api(status = 429)]
    RateLimited {
        #[api(retry_after)]
        retry_after: u64,
    },
}

const FAST: Policy = Policy::constant(Duration::from_millis(100)).max_retries(3);
static PATIENT: Policy = Policy::exponential().jitter(Jitter::None).max_retries(5);

/// Fails `fail_times` times with `error`, then returns the attempt count.
fn step(calls: &AtomicU32, fail_times: u32, error: CallError) -> Result<u32, CallError> {
    let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
    if call <= fail_times {
        Err(error)
    } else {
        Ok(call)
    }
}

#[retry(policy = FAST)]
async fn fetch(calls: &AtomicU32, fail_times: u32, id: String) -> Result<String, CallError> {
    let call = step(calls, fail_times, CallError::Unavailable)?;
    Ok(format!("{id}#{call}"))
}

#[tokio::test(start_paused = true)]
async fn async_free_function_retries_and_clones_by_value_arguments() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    assert_eq!(fetch(&calls, 2, "lead_1".into()).await.unwrap(), "lead_1#3");
    assert_eq!(Instant::now() - start, Duration::from_millis(200));
    let calls = AtomicU32::new(0);
    assert_eq!(
        fetch(&calls, 9, "x".into()).await,
        Err(CallError::Unavailable)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 4, "max_retries = 3");
}

/// A policy built in place, from `const` parts.
#[retry(policy = Policy::constant(Duration::from_millis(100)).max_retries(3))]
async fn fetch_in_place(calls: &AtomicU32, fail_times: u32) -> Result<u32, CallError> {
    step(calls, fail_times, CallError::Unavailable)
}

fn patient() -> &'static Policy {
    &PATIENT
}

/// A policy from a function returning a reference, known at run time.
#[retry(policy = patient())]
fn fetch_by_function(calls: &AtomicU32) -> Result<u32, CallError> {
    step(calls, 9, CallError::Unavailable)
}

#[tokio::test(start_paused = true)]
async fn a_policy_built_in_the_attribute_is_used() {
    let _test_mode = testing::enable();
    let by_function = AtomicU32::new(0);
    assert!(fetch_by_function(&by_function).is_err());
    assert_eq!(
        by_function.load(Ordering::SeqCst),
        6,
        "PATIENT: max_retries = 5"
    );
    let calls = AtomicU32::new(0);
    assert_eq!(fetch_in_place(&calls, 9).await, Err(CallError::Unavailable));
    assert_eq!(calls.load(Ordering::SeqCst), 4, "max_retries = 3");
}

#[retry(policy = &PATIENT)]
fn fetch_blocking(calls: &AtomicU32, error: CallError) -> Result<u32, CallError> {
    step(calls, 1, error)
}

/// Settings passed in, which only the policy reads and the body never
/// names: not cloned for each attempt (they need not be `Clone`), and no
/// clone left unused to warn of.
#[deny(unused_variables)]
#[retry(policy = settings.policy)]
fn fetch_with(settings: Settings, calls: &AtomicU32) -> Result<u32, CallError> {
    step(calls, 1, CallError::Unavailable)
}

/// Not `Clone`.
struct Settings {
    policy: Policy,
}

#[test]
fn an_argument_the_body_never_names_is_not_cloned() {
    let _test_mode = testing::enable();
    let calls = AtomicU32::new(0);
    let settings = Settings {
        policy: Policy::constant(Duration::from_millis(100)).max_retries(3),
    };
    assert_eq!(fetch_with(settings, &calls), Ok(2));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// An argument a body names only in a format string (`{id}`) is cloned for
/// each attempt too: the future of each attempt takes its own.
#[retry(max_retries = 2, initial_delay = "1ms")]
fn label(
    id: String,
    calls: &AtomicU32,
) -> impl std::future::Future<Output = Result<String, CallError>> + '_ {
    async move {
        step(calls, 1, CallError::Unavailable)?;
        Ok(format!("lead {id}"))
    }
}

#[tokio::test]
async fn an_argument_named_in_a_format_string_is_cloned_per_attempt() {
    let _test_mode = testing::enable();
    let calls = AtomicU32::new(0);
    assert_eq!(
        label("l1".to_owned(), &calls).await,
        Ok("lead l1".to_owned())
    );
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// A boxed error that can time out can have its attempts cut off.
#[derive(Debug, thiserror::Error, ApiError)]
enum Slow {
    #[error("timed out")]
    #[api(status = 504, timeout)]
    TimedOut,
}

#[retry(max_retries = 0, attempt_timeout = "50ms")]
async fn never_answers() -> Result<u32, Box<Slow>> {
    std::future::pending::<()>().await;
    Ok(1)
}

#[tokio::test]
async fn a_boxed_error_that_can_time_out_cuts_attempts_off() {
    let result = tokio::time::timeout(Duration::from_secs(5), never_answers()).await;
    assert!(
        matches!(result, Ok(Err(ref slow)) if matches!(**slow, Slow::TimedOut)),
        "{result:?}"
    );
}

#[test]
fn blocking_function_retries_retryable_errors_only() {
    let test_mode = testing::enable();
    let calls = AtomicU32::new(0);
    assert_eq!(fetch_blocking(&calls, CallError::Unavailable), Ok(2));
    assert_eq!(test_mode.sleeps(), [Duration::from_secs(1)]);
    let calls = AtomicU32::new(0);
    assert_eq!(
        fetch_blocking(&calls, CallError::LeadNotFound),
        Err(CallError::LeadNotFound)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1, "a 404 is not retried");
    let calls = AtomicU32::new(0);
    test_mode.reset();
    assert_eq!(
        fetch_blocking(&calls, CallError::RateLimited { retry_after: 7 }),
        Ok(2)
    );
    assert_eq!(
        test_mode.sleeps(),
        [Duration::from_secs(7)],
        "Retry-After is a floor"
    );
}

#[retry(
    max_retries = 2,
    initial_delay = "500ms",
    max_delay = "20s",
    jitter = "none",
    deadline = "30s"
)]
async fn inline_policy(calls: &AtomicU32) -> Result<u32, CallError> {
    step(calls, 10, CallError::Unavailable)
}

#[tokio::test(start_paused = true)]
async fn inline_keys_build_the_policy_at_compile_time() {
    let calls = AtomicU32::new(0);
    let start = Instant::now();
    assert!(inline_policy(&calls).await.is_err());
    assert_eq!(calls.load(Ordering::SeqCst), 3);
    assert_eq!(Instant::now() - start, Duration::from_millis(500 + 1000));
}

#[derive(Clone)]
struct Client {
    calls: Arc<AtomicU32>,
    name: String,
}

impl Client {
    /// Documented method: the doc comment stays on the function.
    #[retry(policy = FAST)]
    async fn by_ref(&self, fail_times: u32) -> Result<&str, CallError> {
        step(&self.calls, fail_times, CallError::Unavailable)?;
        Ok(self.name.as_str())
    }

    #[retry(policy = FAST)]
    async fn by_mut(&mut self, fail_times: u32) -> Result<usize, CallError> {
        self.name.push('!');
        step(&self.calls, fail_times, CallError::Unavailable)?;
        Ok(self.name.len())
    }

    #[retry(policy = FAST)]
    async fn by_value(mut self, fail_times: u32) -> Result<String, CallError> {
        self.name.push('?');
        step(&self.calls, fail_times, CallError::Unavailable)?;
        Ok(self.name)
    }

    #[retry(policy = FAST)]
    fn blocking_by_ref(&self) -> Result<u32, CallError> {
        step(&self.calls, 1, CallError::Unavailable)
    }

    /// A by-value `self` in a body that also names the current module
    /// (`self::`) and a `fn` pointer type: only the receiver is renamed.
    #[retry(policy = FAST)]
    async fn by_value_with_paths(self, fail_times: u32) -> Result<usize, CallError> {
        let measure: fn(&Self) -> usize = self::name_length;
        step(&self.calls, fail_times, CallError::Unavailable)?;
        // Consumed: each attempt has its own clone.
        Ok(measure(&self) + self::into_name_length(self))
    }
}

fn name_length(client: &Client) -> usize {
    client.name.len()
}

fn into_name_length(client: Client) -> usize {
    client.name.len()
}

#[tokio::test(start_paused = true)]
async fn methods_with_every_receiver() {
    let mut client = Client {
        calls: Arc::new(AtomicU32::new(0)),
        name: "api".into(),
    };
    assert_eq!(client.by_ref(1).await, Ok("api"));
    client.calls.store(0, Ordering::SeqCst);
    // `&mut self` state persists across attempts, as a loop would.
    assert_eq!(client.by_mut(2).await, Ok(6));
    client.calls.store(0, Ordering::SeqCst);
    // A by-value `self` is cloned per attempt: each sees the original.
    assert_eq!(client.clone().by_value(2).await, Ok("api!!!?".to_owned()));
    client.calls.store(0, Ordering::SeqCst);
    assert_eq!(client.clone().by_value_with_paths(2).await, Ok(12));
    client.calls.store(0, Ordering::SeqCst);
    let _test_mode = testing::enable();
    assert_eq!(client.blocking_by_ref(), Ok(2));
}

#[retry(policy = FAST)]
async fn generic<T>(calls: &AtomicU32, value: T) -> Result<String, CallError>
where
    T: Display + Clone + Send,
{
    step(calls, 1, CallError::Unavailable)?;
    Ok(value.to_string())
}

#[retry(policy = FAST)]
async fn opaque(calls: &AtomicU32) -> Result<impl Display, CallError> {
    step(calls, 1, CallError::Unavailable)
}

#[retry(policy = FAST)]
fn future(
    calls: Arc<AtomicU32>,
) -> impl std::future::Future<Output = Result<u32, CallError>> + Send {
    async move { step(&calls, 2, CallError::Unavailable) }
}

#[tokio::test(start_paused = true)]
async fn generic_opaque_and_future_returning_functions() {
    let calls = AtomicU32::new(0);
    assert_eq!(generic(&calls, 42).await.unwrap(), "42");
    let calls = AtomicU32::new(0);
    assert_eq!(opaque(&calls).await.unwrap().to_string(), "2");
    let calls = Arc::new(AtomicU32::new(0));
    let handle = tokio::spawn(future(calls.clone()));
    assert_eq!(handle.await.unwrap(), Ok(3));
}

#[retry(policy = FAST)]
async fn early_return(calls: &AtomicU32, give_up: bool) -> Result<u32, CallError> {
    let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
    if give_up {
        return Err(CallError::LeadNotFound);
    }
    if call < 3 {
        return Err(CallError::Unavailable);
    }
    Ok(call)
}

#[tokio::test(start_paused = true)]
async fn return_and_question_mark_end_one_attempt() {
    let calls = AtomicU32::new(0);
    assert_eq!(early_return(&calls, false).await, Ok(3));
    let calls = AtomicU32::new(0);
    assert_eq!(
        early_return(&calls, true).await,
        Err(CallError::LeadNotFound)
    );
    assert_eq!(calls.load(Ordering::SeqCst), 1);
}

static EVENTS: Mutex<Vec<(u32, Duration)>> = Mutex::new(Vec::new());

fn record(event: &RetryEvent<'_, CallError>) {
    EVENTS.lock().unwrap().push((event.attempt, event.delay));
}

fn retry_not_found(err: &CallError) -> Advice {
    match err {
        CallError::LeadNotFound => Advice::Retry,
        other => other.retry_advice(),
    }
}

#[retry(policy = FAST, when = retry_not_found, on_retry = record, attempt = attempt)]
async fn hooked(keys: &Mutex<Vec<(u32, String)>>) -> Result<u32, CallError> {
    let attempt: Attempt = attempt;
    keys.lock()
        .unwrap()
        .push((attempt.number(), attempt.idempotency_key().to_string()));
    if attempt.number() < 3 {
        Err(CallError::LeadNotFound)
    } else {
        Ok(attempt.number())
    }
}

#[tokio::test(start_paused = true)]
async fn when_on_retry_and_the_attempt_binding() {
    let keys = Mutex::new(Vec::new());
    assert_eq!(hooked(&keys).await, Ok(3));
    let keys = keys.into_inner().unwrap();
    assert_eq!(keys.iter().map(|k| k.0).collect::<Vec<_>>(), [1, 2, 3]);
    assert!(
        keys.iter().all(|k| k.1 == keys[0].1),
        "one key for all attempts"
    );
    assert_eq!(
        *EVENTS.lock().unwrap(),
        [
            (1, Duration::from_millis(100)),
            (2, Duration::from_millis(100))
        ]
    );
}

#[retry]
fn default_policy(calls: &AtomicU32) -> Result<u32, std::io::Error> {
    let call = calls.fetch_add(1, Ordering::SeqCst) + 1;
    if call < 4 {
        Err(std::io::ErrorKind::ConnectionReset.into())
    } else {
        Ok(call)
    }
}

#[test]
fn bare_attribute_uses_the_default_policy() {
    let test_mode = testing::enable();
    let calls = AtomicU32::new(0);
    assert_eq!(default_policy(&calls).unwrap(), 4);
    assert_eq!(test_mode.attempts(), 4);
}

#[retry(policy = FAST)]
async fn owned_args(
    calls: Arc<AtomicU32>,
    id: String,
    tags: Vec<String>,
) -> Result<String, CallError> {
    step(&calls, 1, CallError::Unavailable)?;
    tokio::task::yield_now().await;
    Ok(format!("{id}:{}", tags.join(",")))
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn retried_futures_are_send_and_spawnable() {
    // Real (100 ms) sleeps: a global test mode would leak into the other
    // tests of this binary, which run in parallel.
    let calls = Arc::new(AtomicU32::new(0));
    let handle = tokio::spawn(owned_args(
        calls.clone(),
        "lead".into(),
        vec!["a".into(), "b".into()],
    ));
    assert_eq!(handle.await.unwrap(), Ok("lead:a,b".to_owned()));
    assert_eq!(calls.load(Ordering::SeqCst), 2);
}

/// An inner attribute at the top of the body stays the function's, as
/// before the attribute wrapped it.
#[retry(policy = FAST)]
async fn with_inner_attribute(calls: &AtomicU32) -> Result<u32, CallError> {
    #![allow(unused_variables)]
    let unused = 1;
    step(calls, 1, CallError::Unavailable)
}

#[retry(policy = FAST)]
fn blocking_with_inner_attribute(calls: &AtomicU32) -> Result<u32, CallError> {
    #![allow(unused_variables)]
    let unused = 1;
    step(calls, 1, CallError::Unavailable)
}

#[tokio::test(start_paused = true)]
async fn an_inner_attribute_of_the_body_stays_the_functions() {
    let calls = AtomicU32::new(0);
    assert_eq!(with_inner_attribute(&calls).await, Ok(2));
    let test_mode = testing::enable();
    let calls = AtomicU32::new(0);
    assert_eq!(blocking_with_inner_attribute(&calls), Ok(2));
    assert_eq!(test_mode.attempts(), 2);
}

/// A policy chosen by an expression is a temporary: bound for the call,
/// not borrowed past it.
#[retry(policy = if std::hint::black_box(true) { FAST } else { PATIENT })]
async fn chosen_policy(calls: &AtomicU32) -> Result<u32, CallError> {
    step(calls, 1, CallError::Unavailable)
}

/// A `&mut` argument whose type a `macro_rules!` passed on (as `$t:ty`,
/// which arrives in an invisible group) is borrowed per attempt as any
/// other, not cloned.
macro_rules! retried_push {
    ($name:ident, $buffer:ty) => {
        #[retry(policy = FAST)]
        async fn $name(calls: &AtomicU32, buffer: $buffer) -> Result<usize, CallError> {
            buffer.push(1);
            step(calls, 1, CallError::Unavailable)?;
            Ok(buffer.len())
        }
    };
}

retried_push!(push_through_a_macro, &mut Vec<u8>);

#[tokio::test(start_paused = true)]
async fn policies_of_expressions_and_arguments_of_macros() {
    let calls = AtomicU32::new(0);
    assert_eq!(chosen_policy(&calls).await, Ok(2));
    let calls = AtomicU32::new(0);
    let mut buffer = Vec::new();
    assert_eq!(push_through_a_macro(&calls, &mut buffer).await, Ok(2));
    assert_eq!(
        buffer,
        [1, 1],
        "one push per attempt, into the caller's buffer"
    );
}

/// A `&mut self` used before each attempt's future is made, that future
/// owning what it needs (the retrying future borrows `self` throughout).
struct Counting {
    made: u32,
    calls: Arc<AtomicU32>,
}

impl Counting {
    #[retry(policy = FAST)]
    fn fetch(&mut self) -> impl std::future::Future<Output = Result<u32, CallError>> + '_ {
        self.made += 1;
        let calls = self.calls.clone();
        async move { step(&calls, 1, CallError::Unavailable) }
    }
}

const POLICIES: [Policy; 2] = [FAST, Policy::DEFAULT];

/// Policies given as an element of a `const` array, or as a reference to
/// a temporary: both kept for the whole call.
#[retry(policy = POLICIES[std::hint::black_box(0)])]
async fn indexed_policy(calls: &AtomicU32) -> Result<u32, CallError> {
    step(calls, 1, CallError::Unavailable)
}

#[retry(policy = &Policy::constant(Duration::from_millis(100)).max_retries(3))]
async fn referenced_policy(calls: &AtomicU32) -> Result<u32, CallError> {
    step(calls, 1, CallError::Unavailable)
}

#[tokio::test(start_paused = true)]
async fn exclusive_receivers_before_the_future_and_policies_of_temporaries() {
    let mut counting = Counting {
        made: 0,
        calls: Arc::new(AtomicU32::new(0)),
    };
    assert_eq!(counting.fetch().await, Ok(2));
    assert_eq!(counting.made, 2, "one future made per attempt");
    let calls = AtomicU32::new(0);
    assert_eq!(indexed_policy(&calls).await, Ok(2));
    let calls = AtomicU32::new(0);
    assert_eq!(referenced_policy(&calls).await, Ok(2));
}

/// A pinned receiver is a borrow: borrowed again for each attempt, not
/// cloned.
struct Pinned {
    attempts: u32,
}

impl Pinned {
    #[retry(policy = FAST)]
    async fn attempt(mut self: std::pin::Pin<&mut Self>) -> Result<u32, CallError> {
        let this = self.as_mut().get_mut();
        this.attempts += 1;
        if this.attempts < 2 {
            Err(CallError::Unavailable)
        } else {
            Ok(this.attempts)
        }
    }
}

#[tokio::test(start_paused = true)]
async fn a_pinned_receiver_is_borrowed_for_each_attempt() {
    let mut pinned = Pinned { attempts: 0 };
    assert_eq!(std::pin::Pin::new(&mut pinned).attempt().await, Ok(2));
    assert_eq!(pinned.attempts, 2);
}
