//! Test mode: retries without real sleeps, for your own test suite.
//!
//! Code under test keeps its `#[retry]` attributes and policies; a test
//! switches test mode on and the retry engine stops sleeping, while still
//! counting attempts and computing (and recording) every delay it would have
//! slept. Deadlines see the skipped sleeps as elapsed time, so a test still
//! observes a deadline cutting a sequence short.
//!
//! ```
//! use rebuff::{Policy, retry};
//! use std::time::Duration;
//!
//! let test_mode = retry::testing::enable();
//! let result: Result<(), std::io::Error> = retry::run_blocking(&Policy::DEFAULT.jitter(rebuff::Jitter::None), || {
//!     Err(std::io::ErrorKind::ConnectionRefused.into())
//! });
//! assert!(result.is_err());
//! assert_eq!(test_mode.attempts(), 4);
//! assert_eq!(test_mode.sleeps(), [Duration::from_secs(1), Duration::from_secs(2), Duration::from_secs(4)]);
//! ```
//!
//! [`enable`] acts on the current thread (and so on a current-thread tokio
//! runtime, the default of `#[tokio::test]`), leaving other tests that run in
//! parallel untouched. [`enable_globally`] acts on every thread, for
//! multi-threaded runtimes; tests using it should not run beside tests that
//! expect real sleeps.

use core::cell::RefCell;
use core::time::Duration;
use std::sync::Mutex;
use std::sync::atomic::{AtomicUsize, Ordering};

#[derive(Debug, Default, Clone)]
struct Record {
    attempts: u32,
    sleeps: Vec<Duration>,
}

/// How many scopes (thread or global) are active: zero keeps the engine's
/// check to one relaxed load.
static ACTIVE: AtomicUsize = AtomicUsize::new(0);
static GLOBAL: Mutex<Option<Record>> = Mutex::new(None);

thread_local! {
    static LOCAL: RefCell<Option<Record>> = const { RefCell::new(None) };
}

/// Where a [`TestMode`] records.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Scope {
    Thread,
    Global,
}

/// Test mode, on while this guard lives. Dropping it restores real sleeps.
#[derive(Debug)]
#[must_use = "test mode ends when the guard is dropped"]
pub struct TestMode {
    scope: Scope,
    // Thread-scoped: must be dropped on the thread that enabled it.
    _not_send: core::marker::PhantomData<*const ()>,
}

/// Turns test mode on for the current thread. One guard at a time on a
/// thread: enabling again starts a fresh record, and dropping either guard
/// ends test mode for the thread.
pub fn enable() -> TestMode {
    LOCAL.with(|local| *local.borrow_mut() = Some(Record::default()));
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    TestMode {
        scope: Scope::Thread,
        _not_send: core::marker::PhantomData,
    }
}

/// Turns test mode on for every thread of the process.
pub fn enable_globally() -> TestMode {
    *lock() = Some(Record::default());
    ACTIVE.fetch_add(1, Ordering::SeqCst);
    TestMode {
        scope: Scope::Global,
        _not_send: core::marker::PhantomData,
    }
}

fn lock() -> std::sync::MutexGuard<'static, Option<Record>> {
    GLOBAL
        .lock()
        .unwrap_or_else(std::sync::PoisonError::into_inner)
}

impl TestMode {
    /// Attempts made (first calls and retries) since test mode began.
    #[must_use]
    pub fn attempts(&self) -> u32 {
        self.with(|r| r.attempts)
    }

    /// Every delay the engine would have slept, in order.
    #[must_use]
    pub fn sleeps(&self) -> Vec<Duration> {
        self.with(|r| r.sleeps.clone())
    }

    /// Forgets what was recorded so far.
    pub fn reset(&self) {
        self.with(|r| *r = Record::default());
    }

    fn with<R>(&self, f: impl FnOnce(&mut Record) -> R) -> R {
        match self.scope {
            Scope::Thread => {
                LOCAL.with(|local| f(local.borrow_mut().get_or_insert_with(Record::default)))
            }
            Scope::Global => f(lock().get_or_insert_with(Record::default)),
        }
    }
}

impl Drop for TestMode {
    fn drop(&mut self) {
        match self.scope {
            Scope::Thread => LOCAL.with(|local| *local.borrow_mut() = None),
            Scope::Global => *lock() = None,
        }
        ACTIVE.fetch_sub(1, Ordering::SeqCst);
    }
}

/// Runs `f` on the active record: the thread's, else the process's.
#[cold]
fn with_active<R>(f: impl FnOnce(&mut Record) -> R) -> Option<R> {
    let mut f = Some(f);
    let local = LOCAL.with(|local| {
        local
            .borrow_mut()
            .as_mut()
            .map(|record| (f.take().expect("called once"))(record))
    });
    if local.is_some() {
        return local;
    }
    lock()
        .as_mut()
        .map(|record| (f.take().expect("called once"))(record))
}

/// Counts an attempt; true if test mode is on.
#[inline]
pub(crate) fn record_attempt() -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0 && with_active(|r| r.attempts += 1).is_some()
}

/// Records a sleep instead of sleeping; true if test mode is on.
#[inline]
pub(crate) fn record_sleep(delay: Duration) -> bool {
    ACTIVE.load(Ordering::Relaxed) != 0 && with_active(|r| r.sleeps.push(delay)).is_some()
}
