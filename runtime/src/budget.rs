//! A retry budget: retries as a fraction of recent calls, plus a small
//! floor, so a fleet of retrying clients cannot multiply the load on a
//! service that is down.

use core::fmt;
use core::sync::atomic::{AtomicI64, AtomicU64, Ordering};
use std::sync::OnceLock;
use std::time::Instant;

/// Token amounts are kept in thousandths of a retry.
const UNIT: i64 = 1000;

fn now_ms() -> u64 {
    static BASE: OnceLock<Instant> = OnceLock::new();
    let base = *BASE.get_or_init(Instant::now);
    u64::try_from(base.elapsed().as_millis()).unwrap_or(u64::MAX)
}

/// A retry budget, shared by every call that draws on it (make it a
/// `static`).
///
/// Each first attempt deposits `ratio` of a retry; each retry withdraws one.
/// On top, `floor` retries per second are always allowed, so a client that
/// makes few calls can still retry. With the default (10% and 1/s, the
/// proportions of Finagle's budgets and gRPC's throttling), an outage turns
/// 100 calls into at most about 110 requests, not 100 × (1 + retries),
/// plus what was saved before it: unspent retries accumulate up to
/// [`Budget::max_saved`] (default 100), so an outage right after a quiet
/// spell may spend those first. Lower `max_saved` for a tighter bound.
///
/// ```
/// use rebuff::budget::Budget;
///
/// static BUDGET: Budget = Budget::new().ratio_percent(10).floor_per_second(1);
///
/// for _ in 0..100 {
///     BUDGET.deposit(); // a first attempt
/// }
/// let mut retries = 0;
/// while BUDGET.try_withdraw() {
///     retries += 1;
/// }
/// assert!((10..=12).contains(&retries), "{retries}");
/// ```
pub struct Budget {
    ratio_milli: i64,
    floor_milli_per_sec: i64,
    max_milli: i64,
    balance: AtomicI64,
    refilled_at: AtomicU64,
}

impl fmt::Debug for Budget {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Budget")
            .field(
                "retries_available",
                &(self.balance.load(Ordering::Relaxed) / UNIT),
            )
            .finish_non_exhaustive()
    }
}

impl Default for Budget {
    fn default() -> Self {
        Self::new()
    }
}

impl Budget {
    /// 10% of first attempts, a floor of 1 retry per second, at most 100
    /// retries saved up.
    #[must_use]
    pub const fn new() -> Self {
        Budget {
            ratio_milli: 100,
            floor_milli_per_sec: UNIT,
            max_milli: 100 * UNIT,
            balance: AtomicI64::new(0),
            refilled_at: AtomicU64::new(0),
        }
    }

    /// Retries allowed as a percentage of first attempts.
    #[must_use]
    pub const fn ratio_percent(mut self, percent: u32) -> Self {
        self.ratio_milli = percent as i64 * UNIT / 100;
        self
    }

    /// Retries always allowed per second, whatever the traffic.
    #[must_use]
    pub const fn floor_per_second(mut self, retries: u32) -> Self {
        self.floor_milli_per_sec = retries as i64 * UNIT;
        self
    }

    /// The most retries that can be saved up; never less than one second
    /// of the floor, which stays spendable (`max_saved(0)` leaves the floor
    /// alone, nothing saved beyond it).
    #[must_use]
    pub const fn max_saved(mut self, retries: u32) -> Self {
        self.max_milli = retries as i64 * UNIT;
        self
    }

    /// Counts a first attempt.
    pub fn deposit(&self) {
        self.add(self.ratio_milli);
    }

    fn add(&self, amount: i64) {
        let cap = self.max_milli.max(self.floor_milli_per_sec);
        let mut balance = self.balance.load(Ordering::Relaxed);
        loop {
            let next = (balance + amount).min(cap);
            if next <= balance {
                return;
            }
            match self.balance.compare_exchange_weak(
                balance,
                next,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return,
                Err(current) => balance = current,
            }
        }
    }

    /// Gives back a retry taken with [`try_withdraw`](Self::try_withdraw)
    /// that was never made (its call was refused before it went out, or
    /// dropped while it slept before it). The retry engine does this
    /// itself.
    pub fn refund(&self) {
        self.add(UNIT);
    }

    /// Takes one retry from the budget, if it has one.
    pub fn try_withdraw(&self) -> bool {
        self.refill();
        let mut balance = self.balance.load(Ordering::Relaxed);
        loop {
            if balance < UNIT {
                return false;
            }
            match self.balance.compare_exchange_weak(
                balance,
                balance - UNIT,
                Ordering::AcqRel,
                Ordering::Relaxed,
            ) {
                Ok(_) => return true,
                Err(current) => balance = current,
            }
        }
    }

    /// Adds the floor's retries for the time since the last refill.
    fn refill(&self) {
        if self.floor_milli_per_sec == 0 {
            return;
        }
        let now = now_ms();
        let last = self.refilled_at.load(Ordering::Relaxed);
        // The first refill gives one second's floor.
        let elapsed = if last == 0 {
            1000
        } else {
            now.saturating_sub(last)
        };
        let amount = i64::try_from(elapsed)
            .unwrap_or(i64::MAX)
            .saturating_mul(self.floor_milli_per_sec)
            / 1000;
        if amount > 0
            && self
                .refilled_at
                .compare_exchange(last, now.max(1), Ordering::AcqRel, Ordering::Relaxed)
                .is_ok()
        {
            self.add(amount);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn spend(budget: &Budget) -> u32 {
        let mut retries = 0;
        while budget.try_withdraw() {
            retries += 1;
        }
        retries
    }

    #[test]
    fn nothing_saved_still_leaves_the_floor() {
        let budget = Budget::new().max_saved(0).floor_per_second(2);
        for _ in 0..1000 {
            budget.deposit();
        }
        // The first refill gives one second's floor; the deposits beyond
        // it are not saved.
        assert_eq!(spend(&budget), 2);
        let none = Budget::new().max_saved(0).floor_per_second(0);
        for _ in 0..1000 {
            none.deposit();
        }
        assert_eq!(spend(&none), 0, "no floor and nothing saved: no retries");
    }

    #[test]
    fn savings_are_capped() {
        let budget = Budget::new()
            .ratio_percent(100)
            .max_saved(5)
            .floor_per_second(0);
        for _ in 0..50 {
            budget.deposit();
        }
        assert_eq!(spend(&budget), 5);
    }
}
