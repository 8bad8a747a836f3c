#!/usr/bin/env bash
# The retry engine of an older commit and of the working tree, side by side
# in one criterion run: a call that succeeds at once, called directly,
# through `#[retry]`, `retry::run`, `Retry::run_futures` and
# `retry::run_blocking`, old and new, with backon beside them.
#
# Usage: benches/compare/retry_old_new.sh OLD_COMMIT [criterion args...]
#
# Both versions are built into one scratch benchmark (under
# $TMPDIR/rebuff-retry-compare) as two small crates, each expanding the
# attribute against its own rebuff; the benchmark links both with fat LTO, so
# neither gets an inlining advantage the other lacks. Nothing is written to
# the repository.
set -euo pipefail
top=$(git rev-parse --show-toplevel)
old=${1:?usage: $0 OLD_COMMIT [criterion args...]}
shift
work=${TMPDIR:-/tmp}/rebuff-retry-compare
rm -rf "$work"
mkdir -p "$work/old" "$work/old_fns/src" "$work/new_fns/src" "$work/bench/benches"

# The old tree, renumbered so both versions fit in one dependency graph.
git -C "$top" archive "$old" | tar -x -C "$work/old"
sed -i 's/0\.1\.0/0.0.1/g' "$work/old/Cargo.toml"

fns() { # $1: crate name, $2: path of its rebuff
    cat > "$work/$1/Cargo.toml" <<TOML
[package]
name = "$1"
version = "0.0.0"
edition = "2024"
publish = false

[dependencies]
rebuff = { path = "$2", default-features = false, features = ["tokio"] }
TOML
    cat > "$work/$1/src/lib.rs" <<'RS'
use std::future::Future;
use std::hint::black_box;

use rebuff::{Policy, retry};

pub const POLICY: Policy = Policy::DEFAULT;

#[inline(never)]
pub async fn op(x: u64) -> Result<u64, std::io::Error> {
    Ok(black_box(x) + 1)
}

#[inline(never)]
pub fn op_blocking(x: u64) -> Result<u64, std::io::Error> {
    Ok(black_box(x) + 1)
}

#[retry(policy = POLICY)]
#[inline]
pub async fn attribute(x: u64) -> Result<u64, std::io::Error> {
    op(x).await
}

#[retry(policy = POLICY)]
#[inline]
pub fn attribute_blocking(x: u64) -> Result<u64, std::io::Error> {
    op_blocking(x)
}

#[inline]
pub fn run(x: u64) -> impl Future<Output = Result<u64, std::io::Error>> {
    retry::run(&POLICY, async move || op(x).await)
}

#[inline]
pub fn run_futures(x: u64) -> impl Future<Output = Result<u64, std::io::Error>> {
    retry::Retry::new(&POLICY).run_futures(move |_| op(x))
}

#[inline]
pub fn run_blocking(x: u64) -> Result<u64, std::io::Error> {
    retry::run_blocking(&POLICY, || op_blocking(x))
}
RS
}
fns old_fns "$work/old/runtime"
fns new_fns "$top/runtime"

cat > "$work/bench/Cargo.toml" <<TOML
[package]
name = "retry-compare"
version = "0.0.0"
edition = "2024"
publish = false

[workspace]

[dependencies]
old_fns = { path = "../old_fns" }
new_fns = { path = "../new_fns" }

[dev-dependencies]
criterion = { version = "0.8", default-features = false, features = ["cargo_bench_support"] }
backon = { version = "1.6", default-features = false, features = ["std", "std-blocking-sleep", "tokio-sleep"] }

[[bench]]
name = "retry"
harness = false

[profile.bench]
lto = "fat"
codegen-units = 1
TOML
cat > "$work/bench/benches/retry.rs" <<'RS'
use std::future::Future;
use std::hint::black_box;
use std::pin::pin;
use std::task::{Context, Poll, Waker};
use std::time::{Duration, Instant};

use backon::{BlockingRetryable, ExponentialBuilder, Retryable as _};
use criterion::{Criterion, criterion_group, criterion_main};

fn block_on<F: Future>(future: F) -> F::Output {
    let mut future = pin!(future);
    let mut cx = Context::from_waker(Waker::noop());
    loop {
        if let Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

macro_rules! awaited {
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
    awaited!(group, "direct", new_fns::op(black_box(1)));
    awaited!(group, "attribute_old", old_fns::attribute(black_box(1)));
    awaited!(group, "attribute_new", new_fns::attribute(black_box(1)));
    awaited!(group, "run_old", old_fns::run(black_box(1)));
    awaited!(group, "run_new", new_fns::run(black_box(1)));
    awaited!(group, "run_futures_old", old_fns::run_futures(black_box(1)));
    awaited!(group, "run_futures_new", new_fns::run_futures(black_box(1)));
    awaited!(group, "backon", (|| new_fns::op(black_box(1))).retry(ExponentialBuilder::default()));
    group.finish();

    let mut group = c.benchmark_group("blocking_first_attempt");
    group.bench_function("direct", |b| b.iter(|| new_fns::op_blocking(black_box(1))));
    group.bench_function("attribute_old", |b| b.iter(|| old_fns::attribute_blocking(black_box(1))));
    group.bench_function("attribute_new", |b| b.iter(|| new_fns::attribute_blocking(black_box(1))));
    group.bench_function("run_blocking_old", |b| b.iter(|| old_fns::run_blocking(black_box(1))));
    group.bench_function("run_blocking_new", |b| b.iter(|| new_fns::run_blocking(black_box(1))));
    group.bench_function("backon", |b| {
        b.iter(|| (|| new_fns::op_blocking(black_box(1))).retry(ExponentialBuilder::default()).call())
    });
    group.finish();
}

criterion_group! {
    name = benches;
    config = Criterion::default().warm_up_time(Duration::from_secs(1)).measurement_time(Duration::from_secs(3));
    targets = first_attempt_success
}
criterion_main!(benches);
RS

cd "$work/bench"
CARGO_TARGET_DIR="$work/target" cargo bench --bench retry -- "$@"
