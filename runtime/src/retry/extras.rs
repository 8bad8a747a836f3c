//! What a run may add to its policy: hooks, a breaker, a budget, a seed and
//! a report. A run without any ([`NoExtras`]) carries none of their state
//! and makes none of their checks: every method is a constant the compiler
//! folds away.

use core::fmt;

use super::{GiveUp, RetryEvent};
use crate::Advice;
use crate::breaker::{Breaker, CircuitOpen, Permit};
use crate::budget::Budget;

/// A breaker and how to turn its refusal into the run's error.
pub(super) type BreakerRef<'p, E> = (&'p Breaker, fn(CircuitOpen) -> E);

/// The extras of a run, as the driver reads them. Implemented by
/// [`NoExtras`] and [`WithExtras`].
#[doc(hidden)]
pub trait Extras<'p, E> {
    /// The breaker gating every attempt.
    fn breaker(&self) -> Option<BreakerRef<'p, E>>;
    /// The budget every retry draws from.
    fn budget(&self) -> Option<&'p Budget>;
    /// Overrides the error's advice.
    fn when(&self) -> Option<fn(&E) -> Advice>;
    /// Called before each sleep.
    fn on_retry(&self) -> Option<fn(&RetryEvent<'_, E>)>;
    /// Called when the engine gives up.
    fn on_give_up(&self) -> Option<fn(&GiveUp<'_, E>)>;
    /// The jitter's seed, for runs that must repeat their delays.
    fn seed(&self) -> Option<u64>;
    /// Whether the run keeps every failed attempt for a
    /// [`Report`](super::Report).
    fn keeps_report(&self) -> bool;
    /// The breaker's permit for the running attempt, taken to report it.
    fn take_permit(&mut self) -> Option<Permit>;
    /// Keeps the running attempt's permit.
    fn set_permit(&mut self, permit: Permit);
    /// Whether this call has waited out the host's pause (and so does not
    /// wait again), clearing it.
    fn take_past_pause(&mut self) -> bool;
    /// Marks that the next admission follows the host's pause.
    fn set_past_pause(&mut self, past: bool);
}

/// No hooks, breaker, budget, seed or report.
#[doc(hidden)]
#[derive(Debug, Clone, Copy, Default)]
pub struct NoExtras;

impl<'p, E> Extras<'p, E> for NoExtras {
    #[inline]
    fn breaker(&self) -> Option<BreakerRef<'p, E>> {
        None
    }
    #[inline]
    fn budget(&self) -> Option<&'p Budget> {
        None
    }
    #[inline]
    fn when(&self) -> Option<fn(&E) -> Advice> {
        None
    }
    #[inline]
    fn on_retry(&self) -> Option<fn(&RetryEvent<'_, E>)> {
        None
    }
    #[inline]
    fn on_give_up(&self) -> Option<fn(&GiveUp<'_, E>)> {
        None
    }
    #[inline]
    fn seed(&self) -> Option<u64> {
        None
    }
    #[inline]
    fn keeps_report(&self) -> bool {
        false
    }
    #[inline]
    fn take_permit(&mut self) -> Option<Permit> {
        None
    }
    #[inline]
    fn set_permit(&mut self, _: Permit) {}
    #[inline]
    fn take_past_pause(&mut self) -> bool {
        false
    }
    #[inline]
    fn set_past_pause(&mut self, _: bool) {}
}

/// Hooks, a breaker, a budget, a seed and a report, each optional.
#[doc(hidden)]
pub struct WithExtras<'p, E> {
    when: Option<fn(&E) -> Advice>,
    on_retry: Option<fn(&RetryEvent<'_, E>)>,
    on_give_up: Option<fn(&GiveUp<'_, E>)>,
    breaker: Option<BreakerRef<'p, E>>,
    budget: Option<&'p Budget>,
    seed: Option<u64>,
    report: bool,
    permit: Option<Permit>,
    past_pause: bool,
}

impl<E> fmt::Debug for WithExtras<'_, E> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("WithExtras")
            .field("when", &self.when.is_some())
            .field("on_retry", &self.on_retry.is_some())
            .field("on_give_up", &self.on_give_up.is_some())
            .field("breaker", &self.breaker.map(|(breaker, _)| breaker))
            .field("budget", &self.budget)
            .field("seed", &self.seed)
            .field("report", &self.report)
            .finish_non_exhaustive()
    }
}

impl<'p, E> WithExtras<'p, E> {
    /// None set yet.
    pub const NONE: Self = WithExtras {
        when: None,
        on_retry: None,
        on_give_up: None,
        breaker: None,
        budget: None,
        seed: None,
        report: false,
        permit: None,
        past_pause: false,
    };

    /// Decides retries with `when` instead of the error's advice.
    #[must_use]
    pub fn when(mut self, when: fn(&E) -> Advice) -> Self {
        self.when = Some(when);
        self
    }

    /// Called before each sleep.
    #[must_use]
    pub fn on_retry(mut self, hook: fn(&RetryEvent<'_, E>)) -> Self {
        self.on_retry = Some(hook);
        self
    }

    /// Called when the engine gives up.
    #[must_use]
    pub fn on_give_up(mut self, hook: fn(&GiveUp<'_, E>)) -> Self {
        self.on_give_up = Some(hook);
        self
    }

    /// Gates every attempt through `breaker`.
    #[must_use]
    pub fn breaker(mut self, breaker: &'p Breaker) -> Self
    where
        E: FromCircuitOpen,
    {
        self.breaker = Some((breaker, <E as FromCircuitOpen>::__rebuff_from));
        self
    }

    /// Draws every retry from `budget`.
    #[must_use]
    pub fn budget(mut self, budget: &'p Budget) -> Self {
        self.budget = Some(budget);
        self
    }

    /// Seeds the jitter.
    #[must_use]
    pub fn seed(mut self, seed: u64) -> Self {
        self.seed = Some(seed);
        self
    }

    /// Keeps every failed attempt for a report.
    #[must_use]
    pub(super) fn keep_report(mut self) -> Self {
        self.report = true;
        self
    }
}

impl<E> Drop for WithExtras<'_, E> {
    /// An attempt that never reported back (its future was dropped by a
    /// timeout or `select!`, or it panicked) gives its breaker permit back,
    /// so a half-open breaker's probe slot is not lost.
    #[inline]
    fn drop(&mut self) {
        if let (Some((breaker, _)), Some(permit)) = (self.breaker, self.permit.take()) {
            breaker.release(permit);
        }
    }
}

impl<'p, E> Extras<'p, E> for WithExtras<'p, E> {
    #[inline]
    fn breaker(&self) -> Option<BreakerRef<'p, E>> {
        self.breaker
    }
    #[inline]
    fn budget(&self) -> Option<&'p Budget> {
        self.budget
    }
    #[inline]
    fn when(&self) -> Option<fn(&E) -> Advice> {
        self.when
    }
    #[inline]
    fn on_retry(&self) -> Option<fn(&RetryEvent<'_, E>)> {
        self.on_retry
    }
    #[inline]
    fn on_give_up(&self) -> Option<fn(&GiveUp<'_, E>)> {
        self.on_give_up
    }
    #[inline]
    fn seed(&self) -> Option<u64> {
        self.seed
    }
    #[inline]
    fn keeps_report(&self) -> bool {
        self.report
    }
    #[inline]
    fn take_permit(&mut self) -> Option<Permit> {
        self.permit.take()
    }
    #[inline]
    fn set_permit(&mut self, permit: Permit) {
        self.permit = Some(permit);
    }
    #[inline]
    fn take_past_pause(&mut self) -> bool {
        core::mem::take(&mut self.past_pause)
    }
    #[inline]
    fn set_past_pause(&mut self, past: bool) {
        self.past_pause = past;
    }
}

/// `#[retry(breaker = ...)]` fails refused calls with the function's own
/// error, which must be able to say "circuit open".
#[diagnostic::on_unimplemented(
    message = "`#[retry(breaker = ...)]` needs `{Self}: From<rebuff::CircuitOpen>` to fail a call the breaker refuses",
    label = "cannot say \"circuit open\"",
    note = "add a variant such as `#[error(\"circuit open\")] CircuitOpen(#[from] rebuff::CircuitOpen)`"
)]
#[doc(hidden)]
pub trait FromCircuitOpen: Sized {
    #[doc(hidden)]
    fn __rebuff_from(open: CircuitOpen) -> Self;
}

impl<T: From<CircuitOpen>> FromCircuitOpen for T {
    fn __rebuff_from(open: CircuitOpen) -> Self {
        T::from(open)
    }
}
