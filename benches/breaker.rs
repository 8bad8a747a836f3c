//! A closed circuit breaker's `allow` + `record` (what every call through it
//! pays), single-threaded and contended from 2 threads, side by side with
//! the failsafe and recloser crates. Target: faster than both, under 10 ns
//! uncontended.
//!
//! Run: `cargo bench --bench breaker`

use std::hint::black_box;
use std::time::{Duration, Instant};

use criterion::{Criterion, criterion_group, criterion_main};

fn ours(breaker: &rebuff::Breaker) {
    let permit = breaker.allow().expect("closed");
    black_box(&permit);
    breaker.record_success(permit);
}

fn theirs_failsafe<P: failsafe::failure_policy::FailurePolicy, I: failsafe::Instrument>(
    breaker: &failsafe::StateMachine<P, I>,
) {
    assert!(black_box(breaker.is_call_permitted()));
    breaker.on_success();
}

fn theirs_recloser(breaker: &recloser::Recloser) {
    let result: Result<u8, recloser::Error<()>> = breaker.call(|| Ok(black_box(1)));
    assert!(result.is_ok());
}

/// `iters` calls on each of 2 threads at once; the time per call of one
/// thread.
fn contended(iters: u64, call: &(dyn Fn() + Sync)) -> Duration {
    let start = Instant::now();
    std::thread::scope(|scope| {
        for _ in 0..2 {
            scope.spawn(|| {
                for _ in 0..iters {
                    call();
                }
            });
        }
    });
    start.elapsed()
}

fn breakers(c: &mut Criterion) {
    let rebuff_breaker = rebuff::Breaker::new();
    let failsafe_breaker = failsafe::Config::new().build();
    let recloser_breaker = recloser::Recloser::default();

    let mut group = c.benchmark_group("closed_allow_record");
    group.bench_function("rebuff", |b| b.iter(|| ours(&rebuff_breaker)));
    group.bench_function("failsafe", |b| {
        b.iter(|| theirs_failsafe(&failsafe_breaker))
    });
    group.bench_function("recloser", |b| {
        b.iter(|| theirs_recloser(&recloser_breaker))
    });
    group.finish();

    let mut group = c.benchmark_group("closed_allow_record_2_threads");
    group.bench_function("rebuff", |b| {
        b.iter_custom(|iters| contended(iters, &|| ours(&rebuff_breaker)))
    });
    group.bench_function("failsafe", |b| {
        b.iter_custom(|iters| contended(iters, &|| theirs_failsafe(&failsafe_breaker)))
    });
    group.bench_function("recloser", |b| {
        b.iter_custom(|iters| contended(iters, &|| theirs_recloser(&recloser_breaker)))
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = breakers
}
criterion_main!(benches);
