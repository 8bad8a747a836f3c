//! Rendering allocates nothing but the output buffer, and a retried call
//! that succeeds at once allocates nothing: a counting global allocator
//! proves both.
//!
//! This binary holds a single test, so no other test thread allocates while
//! it counts.
#![allow(unsafe_code)]

use std::alloc::{GlobalAlloc, Layout, System};
use std::collections::BTreeMap;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::{Duration, UNIX_EPOCH};

use rebuff::envelope::{Envelope, Flat, Nested, Plain, Problem, Success};
use rebuff::{ApiError, Context, RateLimit};

struct Counting;

static ALLOCATIONS: AtomicUsize = AtomicUsize::new(0);

// SAFETY: every method forwards to `System` unchanged; the counter is an
// atomic and allocates nothing itself.
unsafe impl GlobalAlloc for Counting {
    unsafe fn alloc(&self, layout: Layout) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.alloc(layout) }
    }

    unsafe fn dealloc(&self, ptr: *mut u8, layout: Layout) {
        // SAFETY: same contract as the caller's.
        unsafe { System.dealloc(ptr, layout) }
    }

    unsafe fn realloc(&self, ptr: *mut u8, layout: Layout, new_size: usize) -> *mut u8 {
        ALLOCATIONS.fetch_add(1, Ordering::SeqCst);
        // SAFETY: same contract as the caller's.
        unsafe { System.realloc(ptr, layout, new_size) }
    }
}

#[global_allocator]
static GLOBAL: Counting = Counting;

type Render = fn(&Everything, &Context, &mut Vec<u8>);

fn allocations_during(f: impl FnOnce()) -> usize {
    let before = ALLOCATIONS.load(Ordering::SeqCst);
    f();
    ALLOCATIONS.load(Ordering::SeqCst) - before
}

#[derive(Debug, Default, serde::Serialize)]
#[cfg_attr(feature = "openapi", derive(utoipa::ToSchema))]
struct Sizes {
    file_size_mb: u64,
    max_size_mb: u64,
}

#[derive(Debug, thiserror::Error, ApiError)]
#[api(
    type_base = "https://api.example.com/errors/",
    rename_all = "camelCase"
)]
enum Everything {
    #[error("too large")]
    #[api(
        status = 413,
        message = "Audio file exceeds maximum size of {max:?} MB, {name:>8}!"
    )]
    TooLarge {
        name: &'static str,
        max: u64,
        #[api(flatten)]
        sizes: Sizes,
        #[api(flatten)]
        extra: BTreeMap<&'static str, u32>,
        missing_fields: Vec<&'static str>,
        #[api(retry_after)]
        retry_after: Duration,
        #[api(rate_limit)]
        limits: RateLimit,
    },
    #[error("lead {lead_id} is gone")]
    #[api(status = 410)]
    Gone { lead_id: &'static str },
    #[error("invalid")]
    #[api(status = 422)]
    Invalid {
        #[api(errors)]
        errors: Vec<&'static str>,
    },
    #[error("internal {0}")]
    #[api(status = 500)]
    Internal(String),
}

#[test]
fn rendering_allocates_only_the_output_buffer() {
    let errors = [
        Everything::TooLarge {
            name: "call.wav",
            max: 100,
            sizes: Sizes {
                file_size_mb: 150,
                max_size_mb: 100,
            },
            extra: [("chunk", 3)].into(),
            missing_fields: vec!["agent_id", "contact_id"],
            retry_after: Duration::from_secs(32),
            limits: RateLimit {
                limit: 60,
                remaining: 0,
                reset: 1_699_564_832,
            },
        },
        Everything::Gone { lead_id: "lead_1" },
        Everything::Invalid {
            errors: vec!["Field 1 is invalid", "Field 2 is required"],
        },
        Everything::Internal("secret".into()),
    ];
    let ctx = Context::new()
        .request_id("req_1a2b3c4d5e")
        .timestamp(UNIX_EPOCH + Duration::from_secs(1_705_401_000))
        .instance("/api/v1/calls/analyze");
    let mut out = Vec::with_capacity(64 * 1024);

    for err in &errors {
        let renders: [(&str, Render); 5] = [
            ("Nested", Nested::write_into),
            ("Success", Success::write_into),
            ("Plain", Plain::write_into),
            ("Flat", Flat::write_into),
            ("Problem", Problem::write_into),
        ];
        for (name, render) in renders {
            out.clear();
            let count = allocations_during(|| render(err, &ctx, &mut out));
            assert_eq!(count, 0, "{name} allocated rendering {err:?}");
            assert!(
                serde_json::from_slice::<serde_json::Value>(&out).is_ok(),
                "{name}: valid JSON"
            );
            assert!(!out.is_empty());
        }
        // The message of a template and of a `Display` fallback too.
        let count = allocations_during(|| {
            use std::fmt::Write as _;
            let mut sink = FixedSink::default();
            write!(sink, "{}", err.message()).unwrap();
        });
        assert_eq!(count, 0, "message of {err:?}");
    }

    // A retried call that succeeds at once allocates nothing either.
    assert_eq!(
        allocations_during(|| assert_eq!(retried_blocking(1).unwrap(), 2)),
        0
    );
    assert_eq!(
        allocations_during(|| assert_eq!(block_on(retried_async(1)).unwrap(), 2)),
        0
    );
    let policy = rebuff::Policy::DEFAULT.deadline(Duration::from_secs(5));
    let count = allocations_during(|| {
        assert_eq!(
            rebuff::retry::run_blocking(&policy, || Ok::<_, std::io::Error>(1)).unwrap(),
            1
        );
    });
    assert_eq!(count, 0, "with a deadline too");

    // Every other entry point, the builder's runs with their attempt
    // binding, report and seed included: the state a failure needs is built
    // on the first failure, not before.
    use rebuff::retry::{Report, Retry};
    let ok = || Ok::<_, std::io::Error>(1);
    let plain = rebuff::Policy::DEFAULT;
    let counts = [
        (
            "retry::run",
            allocations_during(|| {
                block_on(rebuff::retry::run(&plain, async || ok())).unwrap();
            }),
        ),
        (
            "Retry::run",
            allocations_during(|| {
                block_on(Retry::new(&plain).run(async || ok())).unwrap();
            }),
        ),
        (
            "Retry::run_with_attempt",
            allocations_during(|| {
                block_on(Retry::new(&plain).run_with_attempt(async |_| ok())).unwrap();
            }),
        ),
        (
            "Retry::run_report",
            allocations_during(|| {
                let (result, report): (_, Report) =
                    block_on(Retry::new(&plain).run_report(async |_| ok()));
                assert_eq!((result.unwrap(), report.attempts), (1, 1));
            }),
        ),
        (
            "Retry::run_futures",
            allocations_during(|| {
                block_on(Retry::new(&plain).run_futures(|_| async { ok() })).unwrap();
            }),
        ),
        (
            "Retry::seed",
            allocations_during(|| {
                block_on(Retry::new(&plain).seed(7).run_with_attempt(async |_| ok())).unwrap();
            }),
        ),
        (
            "Retry::run_blocking_with_attempt",
            allocations_during(|| {
                Retry::new(&policy)
                    .run_blocking_with_attempt(|_| ok())
                    .unwrap();
            }),
        ),
        (
            "Retry::run_blocking_report",
            allocations_during(|| {
                let (result, _) = Retry::new(&policy).run_blocking_report(|_| ok());
                result.unwrap();
            }),
        ),
    ];
    for (entry, count) in counts {
        assert_eq!(count, 0, "{entry} allocated on a first-attempt success");
    }

    // `to_vec` allocates its buffer once when the body fits its initial
    // capacity.
    let small = Everything::Gone { lead_id: "lead_1" };
    let mut body = Vec::new();
    let count = allocations_during(|| body = rebuff::to_vec(&small, &ctx));
    assert_eq!(count, 1);
    assert!(!body.is_empty());
}

#[rebuff::retry]
fn retried_blocking(x: u32) -> Result<u32, std::io::Error> {
    Ok(x + 1)
}

#[rebuff::retry(max_retries = 2)]
async fn retried_async(x: u32) -> Result<u32, std::io::Error> {
    Ok(x + 1)
}

fn block_on<F: std::future::Future>(future: F) -> F::Output {
    let mut future = std::pin::pin!(future);
    let mut cx = std::task::Context::from_waker(std::task::Waker::noop());
    loop {
        if let std::task::Poll::Ready(value) = future.as_mut().poll(&mut cx) {
            return value;
        }
    }
}

/// A `fmt::Write` into a fixed array: formatting into it allocates nothing.
struct FixedSink {
    buf: [u8; 256],
    len: usize,
}

impl Default for FixedSink {
    fn default() -> Self {
        Self {
            buf: [0; 256],
            len: 0,
        }
    }
}

impl std::fmt::Write for FixedSink {
    fn write_str(&mut self, s: &str) -> std::fmt::Result {
        let end = self.len + s.len();
        self.buf
            .get_mut(self.len..end)
            .ok_or(std::fmt::Error)?
            .copy_from_slice(s.as_bytes());
        self.len = end;
        Ok(())
    }
}
