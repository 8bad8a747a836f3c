//! A call that succeeds on its first attempt, side by side: called
//! directly, through `#[retry]`, through `rebuff::retry::run` (and, async,
//! `Retry::run_futures`, the closure-returning-a-future form backon also
//! takes), through backon, and (async) through the least a hand-written
//! retry loop can be. The gap to the direct call is what retrying costs when
//! nothing fails, which is nearly every call.
//!
//! Futures are polled with a no-op waker: every one here is ready on its
//! first poll, so no runtime's scheduling is measured. Async calls are
//! measured two ways:
//!
//! - `async_first_attempt`: awaited inside a caller's `async` block, as code
//!   calls them (and as criterion's own `to_async` measures), the future
//!   built in the caller's state;
//! - `async_own_task`: each call's future built, moved into an executor's
//!   slot and polled there, as a task spawned per call would be. The move
//!   of a future larger than a direct call's shows up here.
//!
//! Run: `cargo bench --bench retry`

use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, ExponentialBuilder, Retryable as _};
use criterion::{Criterion, criterion_group, criterion_main};
use rebuff::{Policy, retry};

const POLICY: Policy = Policy::DEFAULT;

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

#[inline(never)]
async fn op(x: u64) -> Result<u64, std::io::Error> {
    Ok(black_box(x) + 1)
}

#[inline(never)]
fn op_blocking(x: u64) -> Result<u64, std::io::Error> {
    Ok(black_box(x) + 1)
}

#[retry(policy = POLICY)]
async fn op_retried(x: u64) -> Result<u64, std::io::Error> {
    op(x).await
}

/// `op_retried` again, for the other async group: each function is called
/// from one place, so the compiler's inlining of its `poll` into the caller
/// does not depend on the other group (as `retry::run`'s closures, each its
/// own type, never do).
#[retry(policy = POLICY)]
async fn op_retried_task(x: u64) -> Result<u64, std::io::Error> {
    op(x).await
}

#[retry(policy = POLICY)]
fn op_blocking_retried(x: u64) -> Result<u64, std::io::Error> {
    op_blocking(x)
}

/// The least an async retry loop can be: a counter, a policy reference, and
/// a boxed sleep it never reaches on success. Not a usable retrier (no
/// jitter, no advice, no deadline); it shows what merely wrapping an async
/// call in a loop that may sleep costs in this harness, as a floor for the
/// real ones.
async fn op_handwritten_loop(x: u64) -> Result<u64, std::io::Error> {
    let policy = black_box(&POLICY);
    let mut attempts = 0;
    loop {
        attempts += 1;
        match op(x).await {
            Ok(value) => break Ok(value),
            Err(err) if attempts > policy.get_max_retries() => break Err(err),
            Err(_) => Box::pin(tokio::time::sleep(Duration::from_secs(1))).await,
        }
    }
}

/// Benchmarks `$call` (a future) awaited inside one caller's `async` block,
/// `iters` times.
macro_rules! bench_awaited {
    ($group:ident, $name:literal, $call:expr) => {
        $group.bench_function($name, |b| {
            b.iter_custom(|iters| {
                block_on(async {
                    let start = Instant::now();
                    for _ in 0..iters {
                        black_box($call.await.ok());
                    }
                    start.elapsed()
                })
            })
        });
    };
}

fn first_attempt_success(c: &mut Criterion) {
    let mut group = c.benchmark_group("async_first_attempt");
    bench_awaited!(group, "direct", op(black_box(1)));
    bench_awaited!(group, "rebuff_attribute", op_retried(black_box(1)));
    bench_awaited!(group, "handwritten_loop", op_handwritten_loop(black_box(1)));
    bench_awaited!(
        group,
        "rebuff_run",
        retry::run(&POLICY, async || op(black_box(1)).await)
    );
    bench_awaited!(
        group,
        "rebuff_run_futures",
        retry::Retry::new(&POLICY).run_futures(|_| op(black_box(1)))
    );
    bench_awaited!(
        group,
        "backon",
        (|| op(black_box(1))).retry(ExponentialBuilder::default())
    );
    group.finish();

    let mut group = c.benchmark_group("async_own_task");
    group.bench_function("direct", |b| b.iter(|| block_on(op(black_box(1)))));
    group.bench_function("rebuff_attribute", |b| {
        b.iter(|| block_on(op_retried_task(black_box(1))))
    });
    group.bench_function("handwritten_loop", |b| {
        b.iter(|| block_on(op_handwritten_loop(black_box(1))))
    });
    group.bench_function("rebuff_run", |b| {
        b.iter(|| block_on(retry::run(&POLICY, async || op(black_box(1)).await)));
    });
    group.bench_function("rebuff_run_futures", |b| {
        b.iter(|| block_on(retry::Retry::new(&POLICY).run_futures(|_| op(black_box(1)))));
    });
    group.bench_function("backon", |b| {
        b.iter(|| block_on((|| op(black_box(1))).retry(ExponentialBuilder::default())));
    });
    group.finish();

    let mut group = c.benchmark_group("blocking_first_attempt");
    group.bench_function("direct", |b| b.iter(|| op_blocking(black_box(1))));
    group.bench_function("rebuff_attribute", |b| {
        b.iter(|| op_blocking_retried(black_box(1)))
    });
    group.bench_function("rebuff_run", |b| {
        b.iter(|| retry::run_blocking(&POLICY, || op_blocking(black_box(1))));
    });
    group.bench_function("backon", |b| {
        b.iter(|| {
            (|| op_blocking(black_box(1)))
                .retry(ExponentialBuilder::default())
                .call()
        });
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = first_attempt_success
}
criterion_main!(benches);
