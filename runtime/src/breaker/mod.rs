//! A lock-free circuit breaker: closed, open, half-open, as API guides
//! describe it, const-constructible for a `static`.

use core::fmt;
use core::sync::atomic::{AtomicU8, AtomicU32, AtomicU64, Ordering};
use core::time::Duration;
use std::sync::OnceLock;
use std::time::Instant;

use crate::{Advice, Retryable};

mod keyed;
pub use keyed::Breakers;

const CLOSED: u8 = 0;
const OPEN: u8 = 1;
const HALF_OPEN: u8 = 2;

/// Buckets of the failure-rate window.
const BUCKETS: usize = 8;

/// Milliseconds since the first time any breaker looked at the clock. A
/// `static` cannot hold an `Instant`, so the base is set once, lazily.
fn now_ms() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A round of probes and its probes under way, in one word.
const fn join(round: u32, probes: u32) -> u64 {
    ((round as u64) << 32) | probes as u64
}

/// [`join`]'s parts.
#[allow(clippy::cast_possible_truncation)] // the halves of a word
const fn split(word: u64) -> (u32, u32) {
    ((word >> 32) as u32, word as u32)
}

/// The state of a [`Breaker`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum State {
    /// Calls go through; failures are counted.
    Closed,
    /// Calls fail at once until the cooldown ends.
    Open,
    /// A limited number of probe calls test whether the service is back.
    HalfOpen,
}

/// A call refused because the circuit is open (or the host asked everyone
/// to wait). Functions under `#[retry(breaker = ...)]` need
/// `E: From<CircuitOpen>` to return it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct CircuitOpen {
    /// How long until the breaker lets a probe through, if known.
    pub retry_after: Option<Duration>,
}

impl fmt::Display for CircuitOpen {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("circuit open: the service is failing, calls are refused")?;
        if let Some(delay) = self.retry_after {
            write!(f, " for {}", humantime::format_duration(delay))?;
        }
        Ok(())
    }
}

impl std::error::Error for CircuitOpen {}

impl Retryable for CircuitOpen {
    fn retry_advice(&self) -> Advice {
        match self.retry_after {
            Some(delay) => Advice::RetryAfter(delay),
            None => Advice::Retry,
        }
    }

    /// A refusal on this side: another breaker (an outer one, say) counts
    /// it neither way.
    fn reached_service(&self) -> bool {
        false
    }
}

/// Leave to make one call, from [`Breaker::allow`]; hand it back to
/// [`Breaker::record`] with the outcome, or to [`Breaker::release`] if the
/// call never finished. Not `Copy`: a permit is handed back once.
#[derive(Debug, PartialEq, Eq)]
#[must_use = "record the outcome with Breaker::record, or give it back with Breaker::release"]
pub struct Permit {
    probe: bool,
    /// The round of probes it belongs to (see [`Breaker::probe_timeout`]).
    round: u32,
}

impl Permit {
    const CALL: Permit = Permit {
        probe: false,
        round: 0,
    };
}

impl Permit {
    /// Whether this call is one of the half-open probes that decide if the
    /// circuit closes again (worth a log line, or a metric). A probe given
    /// up on after the [probe timeout](Breaker::probe_timeout) decides
    /// nothing when it ends: it counts as an ordinary call.
    #[must_use]
    pub const fn is_probe(&self) -> bool {
        self.probe
    }
}

struct Bucket {
    /// The bucket's slot number (time / bucket width); stale slots are reset.
    slot: AtomicU64,
    successes: AtomicU32,
    failures: AtomicU32,
}

impl Bucket {
    const fn new() -> Self {
        Bucket {
            slot: AtomicU64::new(0),
            successes: AtomicU32::new(0),
            failures: AtomicU32::new(0),
        }
    }
}

/// A circuit breaker.
///
/// - **Closed**: calls go through. After `failures` consecutive failures
///   (or, if set, a failure rate over the time window), it opens.
/// - **Open**: [`Breaker::allow`] refuses at once with [`CircuitOpen`] until
///   `cooldown` has passed, then half-opens.
/// - **Half-open**: up to `probes` calls at a time go through; a success
///   closes the breaker, a failure opens it again. A probe that goes
///   unanswered for [`probe_timeout`](Breaker::probe_timeout) (the cooldown,
///   at least a second, unless set) is given up on: its slot goes to a new
///   probe, so one hung call cannot hold the circuit open for good.
///
/// What counts as a failure is the error's [`Retryable`] advice: an error
/// worth retrying (a 5xx, a timeout, a reset connection) says the service
/// struggles; a 404 or a validation error says nothing about its health.
///
/// Lock-free: `allow` and `record` are a few atomic operations, and a closed
/// breaker reads the clock only to count a failure (and, with a
/// [failure rate](Breaker::failure_rate), a success).
///
/// ```
/// use std::time::Duration;
/// use rebuff::breaker::Breaker;
///
/// // A common recommendation: open after 5 failures, try again after 60 s.
/// static UPSTREAM: Breaker = Breaker::new().failures(5).cooldown(Duration::from_secs(60));
///
/// let permit = UPSTREAM.allow().expect("closed");
/// UPSTREAM.record_success(permit);
/// ```
pub struct Breaker {
    failure_threshold: u32,
    rate_permille: u32,
    min_calls: u32,
    window_ms: u64,
    cooldown_ms: u64,
    max_probes: u32,
    /// `None`: the cooldown.
    probe_timeout_ms: Option<u64>,
    state: AtomicU8,
    consecutive: AtomicU32,
    opened_at: AtomicU64,
    /// The round of probes (high 32 bits) and its probes under way (low).
    probes: AtomicU64,
    /// When the latest probe slot was taken, in [`now_ms`] time.
    probed_at: AtomicU64,
    paused_until: AtomicU64,
    opened: AtomicU64,
    buckets: [Bucket; BUCKETS],
}

impl fmt::Debug for Breaker {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Breaker")
            .field("state", &self.state())
            .field(
                "consecutive_failures",
                &self.consecutive.load(Ordering::Relaxed),
            )
            .field("times_opened", &self.times_opened())
            .finish_non_exhaustive()
    }
}

impl Default for Breaker {
    fn default() -> Self {
        Self::new()
    }
}

impl Breaker {
    /// A common recommendation: open after 5 consecutive failures, half-open
    /// after 60 s, one probe at a time, no failure-rate threshold.
    #[must_use]
    pub const fn new() -> Self {
        Breaker {
            failure_threshold: 5,
            rate_permille: 0,
            min_calls: 0,
            window_ms: 60_000,
            cooldown_ms: 60_000,
            max_probes: 1,
            probe_timeout_ms: None,
            state: AtomicU8::new(CLOSED),
            consecutive: AtomicU32::new(0),
            opened_at: AtomicU64::new(0),
            probes: AtomicU64::new(0),
            probed_at: AtomicU64::new(0),
            paused_until: AtomicU64::new(0),
            opened: AtomicU64::new(0),
            buckets: [const { Bucket::new() }; BUCKETS],
        }
    }

    /// Consecutive failures that open the breaker (at least 1).
    #[must_use]
    pub const fn failures(mut self, threshold: u32) -> Self {
        self.failure_threshold = if threshold == 0 { 1 } else { threshold };
        self
    }

    /// Also open when at least `percent` of the calls in the last `window`
    /// failed, once there were `min_calls` of them.
    #[must_use]
    // `const fn` cannot use `try_from`; each cast is after a range check.
    #[allow(clippy::cast_possible_truncation)]
    pub const fn failure_rate(mut self, percent: u32, min_calls: u32, window: Duration) -> Self {
        self.rate_permille = if percent > 100 { 1000 } else { percent * 10 };
        self.min_calls = min_calls;
        let ms = window.as_millis();
        self.window_ms = if ms == 0 {
            1
        } else if ms > u64::MAX as u128 {
            u64::MAX
        } else {
            ms as u64
        };
        self
    }

    /// How long the breaker stays open before it lets a probe through.
    #[must_use]
    #[allow(clippy::cast_possible_truncation)] // after a range check, in a `const fn`
    pub const fn cooldown(mut self, cooldown: Duration) -> Self {
        let ms = cooldown.as_millis();
        self.cooldown_ms = if ms > u64::MAX as u128 {
            u64::MAX
        } else {
            ms as u64
        };
        self
    }

    /// How many probe calls may be under way at once while half-open (a
    /// probe given up on after the [probe timeout](Breaker::probe_timeout)
    /// no longer takes a slot).
    #[must_use]
    pub const fn probes(mut self, probes: u32) -> Self {
        self.max_probes = if probes == 0 { 1 } else { probes };
        self
    }

    /// How long a half-open probe may go unanswered before the breaker
    /// gives up on it (by default, the cooldown, but at least a second; set
    /// here, exactly this). Once every probe slot has
    /// been taken for that long, the next caller becomes a probe of a new
    /// round; the outcome of a probe given up on still counts, as an
    /// ordinary call's. Without it a probe sent to a server that accepts
    /// the connection and never answers (and a policy without an attempt
    /// timeout) would keep the circuit from ever closing.
    #[must_use]
    #[allow(clippy::cast_possible_truncation)] // after a range check, in a `const fn`
    pub const fn probe_timeout(mut self, timeout: Duration) -> Self {
        let ms = timeout.as_millis();
        self.probe_timeout_ms = Some(if ms > u64::MAX as u128 {
            u64::MAX
        } else {
            ms as u64
        });
        self
    }

    /// The current state.
    #[must_use]
    pub fn state(&self) -> State {
        match self.state.load(Ordering::Acquire) {
            CLOSED => State::Closed,
            OPEN => State::Open,
            _ => State::HalfOpen,
        }
    }

    /// How long the breaker stays open before it lets a probe through, if
    /// it is open.
    #[must_use]
    pub fn open_for(&self) -> Option<Duration> {
        if self.state.load(Ordering::Acquire) != OPEN {
            return None;
        }
        Some(Duration::from_millis(
            self.probe_at().saturating_sub(now_ms()),
        ))
    }

    /// When an open breaker lets a probe through, in [`now_ms`] time.
    fn probe_at(&self) -> u64 {
        self.opened_at
            .load(Ordering::Acquire)
            .saturating_add(self.cooldown_ms)
    }

    /// How many times the breaker has opened.
    #[must_use]
    pub fn times_opened(&self) -> u64 {
        self.opened.load(Ordering::Relaxed)
    }

    /// Leave to make a call, or [`CircuitOpen`] with how long until a probe
    /// (or until a [pause](Breaker::pause_for) ends).
    pub fn allow(&self) -> Result<Permit, CircuitOpen> {
        let state = self.state.load(Ordering::Acquire);
        let paused = self.paused_until.load(Ordering::Relaxed);
        if state == CLOSED && paused == 0 {
            return Ok(Permit::CALL);
        }
        self.allow_slow(state, paused)
    }

    /// [`Breaker::allow`] for a caller that has waited out the pause
    /// already (in test mode, only on paper).
    pub fn allow_after_pause(&self) -> Result<Permit, CircuitOpen> {
        let state = self.state.load(Ordering::Acquire);
        if state == CLOSED {
            return Ok(Permit::CALL);
        }
        self.allow_slow(state, 0)
    }

    #[cold]
    fn allow_slow(&self, mut state: u8, paused: u64) -> Result<Permit, CircuitOpen> {
        let now = now_ms();
        if paused != 0 {
            if now < paused {
                return Err(CircuitOpen {
                    retry_after: Some(Duration::from_millis(paused - now)),
                });
            }
            let _ =
                self.paused_until
                    .compare_exchange(paused, 0, Ordering::Relaxed, Ordering::Relaxed);
        }
        if state == CLOSED {
            return Ok(Permit::CALL);
        }
        if state == OPEN {
            let ready_at = self.probe_at();
            if now < ready_at {
                return Err(CircuitOpen {
                    retry_after: Some(Duration::from_millis(ready_at - now)),
                });
            }
            // One caller moves the breaker to half-open; every caller then
            // competes for a probe slot.
            if self
                .state
                .compare_exchange(OPEN, HALF_OPEN, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                tracing::info!(target: "rebuff::breaker", "circuit half-open: probing");
            }
            state = self.state.load(Ordering::Acquire);
            if state == CLOSED {
                return Ok(Permit::CALL);
            }
            if state == OPEN {
                return Err(CircuitOpen { retry_after: None });
            }
        }
        // Half-open: take a probe slot if one is free, or start a new round
        // if every probe under way has gone unanswered too long.
        let limit = self.probe_limit_ms();
        let mut current = self.probes.load(Ordering::Acquire);
        loop {
            // Read afresh each time: a caller held up since its first read
            // must not date a new probe in the past.
            let now = now_ms();
            let (round, probes) = split(current);
            let next = if probes < self.max_probes {
                join(round, probes + 1)
            } else if now.saturating_sub(self.probed_at.load(Ordering::Acquire)) >= limit {
                join(round.wrapping_add(1), 1)
            } else {
                return Err(CircuitOpen { retry_after: None });
            };
            // Written before the slot is taken: a caller that reads it next
            // sees a fresh probe, and does not give up on it too. Never
            // moved back.
            self.probed_at.fetch_max(now, Ordering::AcqRel);
            match self.probes.compare_exchange_weak(
                current,
                next,
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => {
                    let (round, _) = split(next);
                    if probes >= self.max_probes {
                        tracing::warn!(target: "rebuff::breaker", "circuit half-open: a probe went unanswered, probing afresh");
                    }
                    return Ok(Permit { probe: true, round });
                }
                Err(seen) => current = seen,
            }
        }
    }

    /// How long a probe may go unanswered: as set, else the cooldown but at
    /// least a second (a zero or short cooldown would otherwise give up on
    /// every probe at once, and let every caller through as one).
    fn probe_limit_ms(&self) -> u64 {
        self.probe_timeout_ms
            .unwrap_or_else(|| self.cooldown_ms.max(1000))
    }

    /// Whether `permit` is a probe of the current round (a probe given up
    /// on counts as an ordinary call).
    fn is_current_probe(&self, permit: &Permit) -> bool {
        permit.probe && split(self.probes.load(Ordering::Acquire)).0 == permit.round
    }

    /// Frees the slot of a probe of round `round`, unless that round was
    /// given up on (its slots are free already).
    fn free_probe(&self, round: u32) {
        let mut current = self.probes.load(Ordering::Acquire);
        loop {
            let (now_round, probes) = split(current);
            if now_round != round || probes == 0 {
                return;
            }
            match self.probes.compare_exchange_weak(
                current,
                join(round, probes - 1),
                Ordering::AcqRel,
                Ordering::Acquire,
            ) {
                Ok(_) => return,
                Err(seen) => current = seen,
            }
        }
    }

    /// Records a call that worked (or failed in a way that says nothing of
    /// the service's health).
    #[expect(
        clippy::needless_pass_by_value,
        reason = "the permit is used up: handed back once"
    )]
    pub fn record_success(&self, permit: Permit) {
        if self.is_current_probe(&permit) {
            // The state moves before the slot is freed, so no other probe
            // slips in between.
            if self
                .state
                .compare_exchange(HALF_OPEN, CLOSED, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.consecutive.store(0, Ordering::Release);
                for bucket in &self.buckets {
                    bucket.failures.store(0, Ordering::Relaxed);
                    bucket.successes.store(0, Ordering::Relaxed);
                }
                tracing::info!(target: "rebuff::breaker", "circuit closed: the service recovered");
            }
            self.free_probe(permit.round);
            return;
        }
        if self.consecutive.load(Ordering::Relaxed) != 0 {
            self.consecutive.store(0, Ordering::Relaxed);
        }
        if self.rate_permille != 0 {
            self.bucket(now_ms())
                .successes
                .fetch_add(1, Ordering::Relaxed);
        }
    }

    /// Records a call that failed in a way that says the service is
    /// struggling.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "the permit is used up: handed back once"
    )]
    pub fn record_failure(&self, permit: Permit) {
        let now = now_ms();
        if self.is_current_probe(&permit) {
            // `opened_at` is written before the state says open, so nobody
            // reads an old cooldown; the slot is freed only after the state
            // moved, so no other probe slips in between.
            self.opened_at.store(now, Ordering::Release);
            if self
                .state
                .compare_exchange(HALF_OPEN, OPEN, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.opened.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "rebuff::breaker", "circuit opened again: the probe failed");
            }
            self.free_probe(permit.round);
            return;
        }
        let consecutive = self
            .consecutive
            .fetch_add(1, Ordering::AcqRel)
            .saturating_add(1);
        let mut trip = consecutive >= self.failure_threshold;
        if self.rate_permille != 0 {
            self.bucket(now).failures.fetch_add(1, Ordering::Relaxed);
            trip |= self.rate_exceeded(now);
        }
        if trip && self.state.load(Ordering::Acquire) == CLOSED {
            self.opened_at.store(now, Ordering::Release);
            if self
                .state
                .compare_exchange(CLOSED, OPEN, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
            {
                self.opened.fetch_add(1, Ordering::Relaxed);
                tracing::warn!(target: "rebuff::breaker", consecutive_failures = consecutive, "circuit opened");
            }
        }
    }

    /// Gives back a permit whose call never finished (its future was
    /// dropped, it panicked): a probe's slot is freed for another caller and
    /// nothing is counted. The retry engine does this itself.
    #[expect(
        clippy::needless_pass_by_value,
        reason = "the permit is used up: handed back once"
    )]
    pub fn release(&self, permit: Permit) {
        if permit.probe {
            self.free_probe(permit.round);
        }
    }

    /// Records the outcome of a call by its error's advice: `Ok` and errors
    /// not worth retrying are successes; errors worth retrying are failures
    /// (5xx, timeouts, network errors), except a retryable 4xx (429, 408,
    /// a 409 "in progress"), which says the service is up and busy: it
    /// counts as neither (a 429's wait is [`Breaker::pause_for`]'s job).
    /// An error of a call that never reached the service
    /// ([`Retryable::reached_service`]) counts as neither too.
    pub fn record<T, E: Retryable>(&self, permit: Permit, outcome: &Result<T, E>) {
        match outcome {
            Ok(_) => self.record_success(permit),
            Err(err) => self.record_error(permit, err),
        }
    }

    /// [`Breaker::record`] of a call that returned `err`.
    pub(crate) fn record_error<E: Retryable>(&self, permit: Permit, err: &E) {
        if !err.reached_service() {
            self.release(permit);
        } else if !err.retry_advice().is_retry() {
            self.record_success(permit);
        } else if err.retry_status().is_some_and(|s| s.is_client_error()) {
            self.release(permit);
        } else {
            self.record_failure(permit);
        }
    }

    /// Refuses every call until `delay` from now: a server said it is over
    /// its limit for everyone (a 429 with a reset time), so no call needs to
    /// find out on its own.
    pub fn pause_for(&self, delay: Duration) {
        let until = now_ms()
            .saturating_add(u64::try_from(delay.as_millis()).unwrap_or(u64::MAX))
            .max(1);
        self.paused_until.fetch_max(until, Ordering::Relaxed);
    }

    /// Whether a [`Breaker::pause_for`] is in force.
    #[must_use]
    pub fn is_paused(&self) -> bool {
        let until = self.paused_until.load(Ordering::Relaxed);
        until != 0 && now_ms() < until
    }

    /// The bucket of `now`, reset if it held an older slot.
    fn bucket(&self, now: u64) -> &Bucket {
        let width = (self.window_ms / BUCKETS as u64).max(1);
        let slot = now / width;
        let bucket = &self.buckets[usize::try_from(slot % BUCKETS as u64).unwrap_or(0)];
        let old = bucket.slot.load(Ordering::Acquire);
        if old != slot
            && bucket
                .slot
                .compare_exchange(old, slot, Ordering::AcqRel, Ordering::Acquire)
                .is_ok()
        {
            bucket.successes.store(0, Ordering::Relaxed);
            bucket.failures.store(0, Ordering::Relaxed);
        }
        bucket
    }

    /// Whether the failure rate over the window reached the threshold.
    fn rate_exceeded(&self, now: u64) -> bool {
        let width = (self.window_ms / BUCKETS as u64).max(1);
        let current = now / width;
        let (mut calls, mut failures) = (0u64, 0u64);
        for bucket in &self.buckets {
            let slot = bucket.slot.load(Ordering::Acquire);
            if current.saturating_sub(slot) < BUCKETS as u64 {
                let f = u64::from(bucket.failures.load(Ordering::Relaxed));
                failures += f;
                calls += f + u64::from(bucket.successes.load(Ordering::Relaxed));
            }
        }
        calls >= u64::from(self.min_calls.max(1))
            && failures * 1000 >= calls * u64::from(self.rate_permille)
    }
}

#[cfg(test)]
mod tests;
