//! The decision, written once: GCRA (the generic cell rate algorithm) over
//! every window of a caller's plan at once, and the escalation of a caller
//! who keeps getting refused. Plain functions over a caller's state and the
//! time; every store (in process or remote) applies exactly this.
//!
//! Per window of `quota` requests per `period`, one request is worth
//! `T = period / quota` of time, and the caller's state is its theoretical
//! arrival time `tat`. A request at `now` is admitted when
//! `max(tat, now) + T - now <= period` (a caller may spend the whole quota
//! at once, then gets one request back every `T`); the window then moves
//! `tat` to `max(tat, now) + T`. A plan's windows are decided together: a
//! request is admitted only if every window admits it, and only then does
//! any window move, so a refusal costs the caller nothing.

use super::plan::Window;

/// The most windows a plan has.
pub const MAX_WINDOWS: usize = 4;

/// What a store keeps for one caller: a theoretical arrival time per
/// window, and the escalation's count and block, in microseconds of the
/// store's clock.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct CallerState {
    /// Per window, in the plan's order.
    pub tat: [u64; MAX_WINDOWS],
    /// Refusals counted since `strikes_since`.
    pub strikes: u32,
    /// When the current count of refusals began.
    pub strikes_since: u64,
    /// Refused outright until then (0: not blocked).
    pub blocked_until: u64,
}

impl CallerState {
    /// Whether the state is what a caller never seen has: every window
    /// full again at `now`, no refusal counted, no block.
    #[must_use]
    pub fn is_idle(&self, now: u64) -> bool {
        self.tat.iter().all(|&tat| tat <= now) && self.blocked_until <= now && self.strikes == 0
    }

    /// [`is_idle`](Self::is_idle) under the limiter's `escalation`: refusals
    /// counted longer ago than it counts them no longer hold the caller
    /// (without an escalation, none do). A caller refused once who never
    /// comes back is idle once the count would have started afresh.
    #[must_use]
    pub fn is_idle_under(&self, now: u64, escalation: Option<&Escalation>) -> bool {
        let counted = self.strikes > 0
            && escalation.is_some_and(|e| now.saturating_sub(self.strikes_since) <= e.within);
        self.tat.iter().all(|&tat| tat <= now) && self.blocked_until <= now && !counted
    }

    /// How much forgetting the caller at `now` would give it, as the time
    /// its state still matters: until its windows are full again, or its
    /// refusals stop counting for `escalation`; everything while it is
    /// blocked. The store forgets the callers of least stake first.
    pub(crate) fn stake(&self, now: u64, escalation: Option<&Escalation>) -> u64 {
        if self.blocked_until > now {
            return u64::MAX;
        }
        let windows = self
            .tat
            .iter()
            .map(|&tat| tat.saturating_sub(now))
            .max()
            .unwrap_or(0);
        let strikes = match escalation {
            Some(e) if self.strikes > 0 => self
                .strikes_since
                .saturating_add(e.within)
                .saturating_sub(now),
            _ => 0,
        };
        windows.max(strikes)
    }
}

/// Repeat offenders are blocked: `refusals` refusals within `within` (of
/// the first refusal of the count) block the caller for `block`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Escalation {
    /// Refusals that trigger the block.
    pub refusals: u32,
    /// The time within which they count, in microseconds.
    pub within: u64,
    /// How long the block lasts, in microseconds.
    pub block: u64,
}

/// One window's state after a decision.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct WindowState {
    /// The window's quota.
    pub quota: u32,
    /// Requests left in it now.
    pub remaining: u32,
    /// Microseconds until it is full again.
    pub reset_after: u64,
}

/// What a decision came to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Outcome {
    /// Go ahead.
    Admitted,
    /// Refused: `window` is the first window that refused, and a request
    /// is admitted again after `retry_after` microseconds.
    Limited {
        /// The index of the refusing window in the plan.
        window: usize,
        /// Microseconds until a request is admitted.
        retry_after: u64,
    },
    /// Refused outright: the caller is blocked for `retry_after` more
    /// microseconds.
    Blocked {
        /// Microseconds until the block ends.
        retry_after: u64,
    },
}

/// The decision for one request and the state of every window after it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Decision {
    /// Admitted, limited or blocked.
    pub outcome: Outcome,
    /// The plan's windows, in its order (`len` of them).
    pub windows: [WindowState; MAX_WINDOWS],
    /// How many of `windows` are the plan's.
    pub len: usize,
    /// The store's time of the decision, in microseconds since the Unix
    /// epoch, for reset headers in epoch seconds.
    pub now: u64,
    /// Decided by this instance alone, at its share of the limits, because
    /// the store a fleet shares could not be reached.
    pub degraded: bool,
}

impl Decision {
    /// The plan's windows.
    #[must_use]
    pub fn windows(&self) -> &[WindowState] {
        // A store of the user's own may say more than there are.
        &self.windows[..self.len.min(MAX_WINDOWS)]
    }
}

/// A window's cost of one request and its tolerance (the quota's worth of
/// them), in microseconds. The cost is rounded up, so that a quota the
/// period does not divide, or one near the clock's resolution (600,000 a
/// second), refills a little slower than it says, never faster; the
/// tolerance keeps the whole quota as the burst.
pub(crate) fn cost(window: &Window) -> (u64, u64) {
    cost_of(window.period_micros(), window.quota())
}

/// [`cost`] of a window of `quota` requests every `period` microseconds.
pub(crate) fn cost_of(period: u64, quota: u32) -> (u64, u64) {
    let quota = u64::from(quota.max(1));
    let per_request = period.div_ceil(quota).max(1);
    (per_request, per_request.saturating_mul(quota))
}

/// Decides one request at `now` (microseconds since the Unix epoch) for a
/// caller in `state` under `windows`, updating `state`.
#[must_use]
pub fn decide(
    state: &mut CallerState,
    windows: &[Window],
    escalation: Option<&Escalation>,
    now: u64,
) -> Decision {
    let len = windows.len().min(MAX_WINDOWS);
    let windows = &windows[..len];
    let mut out = Decision {
        outcome: Outcome::Admitted,
        windows: [WindowState {
            quota: 0,
            remaining: 0,
            reset_after: 0,
        }; MAX_WINDOWS],
        len,
        now,
        degraded: false,
    };

    // Each window's cost of one request and tolerance, worked out once.
    let mut costs = [(1, 0); MAX_WINDOWS];
    for (at, window) in costs.iter_mut().zip(windows) {
        *at = cost(window);
    }
    let costs = &costs[..len];
    settle(state, costs, escalation, now);

    if state.blocked_until > now {
        out.outcome = Outcome::Blocked {
            retry_after: state.blocked_until - now,
        };
        report(state, windows, costs, now, &mut out);
        return out;
    }
    if state.blocked_until != 0 {
        // The block is over: the caller starts afresh.
        *state = CallerState {
            tat: state.tat,
            ..CallerState::default()
        };
    }

    // Every window must admit; the longest wait decides when to come back.
    let mut refused: Option<(usize, u64)> = None;
    for (i, &(per_request, period)) in costs.iter().enumerate() {
        let next = state.tat[i].max(now) + per_request;
        if next - now > period {
            let wait = next - now - period;
            if refused.is_none_or(|(_, longest)| wait > longest) {
                refused = Some((i, wait));
            }
        }
    }
    match refused {
        None => {
            for (tat, &(per_request, _)) in state.tat.iter_mut().zip(costs) {
                *tat = (*tat).max(now) + per_request;
            }
        }
        Some((window, retry_after)) => {
            out.outcome = Outcome::Limited {
                window,
                retry_after,
            };
            if let Some(escalation) = escalation {
                strike(state, escalation, now, &mut out);
            }
        }
    }
    report(state, windows, costs, now, &mut out);
    out
}

/// A state ahead of anything a decision at `now` leaves (the store's clock
/// set back since, or a failover to a server whose clock is behind) read
/// as the most a decision could have left: a window spent to its
/// tolerance, a block at most its length, refusals counted from now.
/// Otherwise the caller would be refused, or blocked, for as long as the
/// clock's step.
fn settle(
    state: &mut CallerState,
    costs: &[(u64, u64)],
    escalation: Option<&Escalation>,
    now: u64,
) {
    let mut dearest = 0;
    for (tat, &(per_request, tolerance)) in state.tat.iter_mut().zip(costs) {
        *tat = (*tat).min(now.saturating_add(tolerance));
        dearest = dearest.max(per_request);
    }
    // A block is as long as the escalation's, or the refusal's wait when
    // that is longer: at most a request's cost.
    let block = escalation.map_or(0, |e| e.block).max(dearest);
    state.blocked_until = state.blocked_until.min(now.saturating_add(block));
    state.strikes_since = state.strikes_since.min(now);
}

/// Counts a refusal; enough of them within the escalation's time block the
/// caller.
fn strike(state: &mut CallerState, escalation: &Escalation, now: u64, out: &mut Decision) {
    if state.strikes == 0 || now.saturating_sub(state.strikes_since) > escalation.within {
        state.strikes = 0;
        state.strikes_since = now;
    }
    state.strikes = state.strikes.saturating_add(1);
    if state.strikes >= escalation.refusals.max(1) {
        // Never shorter than the wait the refusal had: a client coming back
        // when the block ends is not refused by the window again.
        let wait = match out.outcome {
            Outcome::Limited { retry_after, .. } => retry_after,
            _ => 0,
        };
        let block = escalation.block.max(wait);
        state.blocked_until = now.saturating_add(block);
        out.outcome = Outcome::Blocked { retry_after: block };
    }
}

/// Each window's remaining requests and time to full, after the decision.
fn report(
    state: &CallerState,
    windows: &[Window],
    costs: &[(u64, u64)],
    now: u64,
    out: &mut Decision,
) {
    for (i, (window, &(per_request, period))) in windows.iter().zip(costs).enumerate() {
        let used = state.tat[i].saturating_sub(now);
        let left = period.saturating_sub(used) / per_request;
        out.windows[i] = WindowState {
            quota: window.quota(),
            remaining: u32::try_from(left).unwrap_or(u32::MAX).min(window.quota()),
            reset_after: used,
        };
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use core::time::Duration;

    const SECOND: u64 = 1_000_000;

    fn per_minute(quota: u32) -> Window {
        Window::per_minute(quota)
    }

    #[test]
    fn a_full_quota_at_once_then_one_per_interval() {
        let windows = [per_minute(60)];
        let mut state = CallerState::default();
        let now = 1_000 * SECOND;
        for i in 0..60 {
            let d = decide(&mut state, &windows, None, now);
            assert_eq!(d.outcome, Outcome::Admitted, "request {i}");
            assert_eq!(d.windows()[0].remaining, 59 - i);
        }
        let refused = decide(&mut state, &windows, None, now);
        assert_eq!(
            refused.outcome,
            Outcome::Limited {
                window: 0,
                retry_after: SECOND
            }
        );
        assert_eq!(refused.windows()[0].remaining, 0);
        // A refusal moved nothing: one second later, one request is back.
        let later = decide(&mut state, &windows, None, now + SECOND);
        assert_eq!(later.outcome, Outcome::Admitted);
        assert_eq!(later.windows()[0].remaining, 0);
        assert_eq!(later.windows()[0].reset_after, 60 * SECOND);
    }

    #[test]
    fn a_block_never_ends_before_the_window_would_admit() {
        // One a minute, blocked for 10 s at the first refusal: the block
        // lasts as long as the window's wait.
        let windows = [per_minute(1)];
        let escalation = Escalation {
            refusals: 1,
            within: 60 * SECOND,
            block: 10 * SECOND,
        };
        let mut state = CallerState::default();
        let now = 50 * SECOND;
        let _ = decide(&mut state, &windows, Some(&escalation), now);
        let refused = decide(&mut state, &windows, Some(&escalation), now);
        assert_eq!(
            refused.outcome,
            Outcome::Blocked {
                retry_after: 60 * SECOND
            }
        );
        let back = decide(&mut state, &windows, Some(&escalation), now + 60 * SECOND);
        assert_eq!(back.outcome, Outcome::Admitted);
    }

    #[test]
    fn windows_decide_together_and_a_refusal_charges_none() {
        // A burst of 3 a second within 5 a minute.
        let windows = [Window::per_second(3), per_minute(5)];
        let mut state = CallerState::default();
        let now = 50 * SECOND;
        for _ in 0..3 {
            assert_eq!(
                decide(&mut state, &windows, None, now).outcome,
                Outcome::Admitted
            );
        }
        let burst = decide(&mut state, &windows, None, now);
        assert!(matches!(burst.outcome, Outcome::Limited { window: 0, .. }));
        // The minute window was not charged by the refusal: 2 left.
        assert_eq!(burst.windows()[1].remaining, 2);
        // (A third of a second is 333,334 µs, rounded up: the burst window
        // is whole again a couple of microseconds past the second.)
        let a_second_later = now + SECOND + 10;
        for _ in 0..2 {
            assert_eq!(
                decide(&mut state, &windows, None, a_second_later).outcome,
                Outcome::Admitted
            );
        }
        let minute = decide(&mut state, &windows, None, a_second_later);
        assert!(matches!(minute.outcome, Outcome::Limited { window: 1, .. }));
        assert_eq!(
            minute.windows()[0].remaining,
            1,
            "the burst window kept its slot"
        );
    }

    #[test]
    fn repeated_refusals_block_then_the_block_expires() {
        let windows = [per_minute(1)];
        let escalation = Escalation {
            refusals: 3,
            within: 10 * SECOND,
            block: 60 * SECOND,
        };
        let mut state = CallerState::default();
        let now = 7 * SECOND;
        assert_eq!(
            decide(&mut state, &windows, Some(&escalation), now).outcome,
            Outcome::Admitted
        );
        assert!(matches!(
            decide(&mut state, &windows, Some(&escalation), now).outcome,
            Outcome::Limited { .. }
        ));
        assert!(matches!(
            decide(&mut state, &windows, Some(&escalation), now + SECOND).outcome,
            Outcome::Limited { .. }
        ));
        let third = decide(&mut state, &windows, Some(&escalation), now + 2 * SECOND);
        assert_eq!(
            third.outcome,
            Outcome::Blocked {
                retry_after: 60 * SECOND
            }
        );
        // Blocked although the minute window is full again.
        let during = decide(&mut state, &windows, Some(&escalation), now + 61 * SECOND);
        assert_eq!(
            during.outcome,
            Outcome::Blocked {
                retry_after: SECOND
            }
        );
        let after = decide(&mut state, &windows, Some(&escalation), now + 62 * SECOND);
        assert_eq!(after.outcome, Outcome::Admitted);
        assert!(!state.is_idle(now + 62 * SECOND));
        assert!(state.is_idle(now + 200 * SECOND));
    }

    #[test]
    fn refusals_spread_out_do_not_escalate() {
        let windows = [per_minute(1)];
        let escalation = Escalation {
            refusals: 2,
            within: 5 * SECOND,
            block: 60 * SECOND,
        };
        let mut state = CallerState::default();
        let _ = decide(&mut state, &windows, Some(&escalation), 0);
        let first = decide(&mut state, &windows, Some(&escalation), SECOND);
        assert!(matches!(first.outcome, Outcome::Limited { .. }));
        let much_later = decide(&mut state, &windows, Some(&escalation), 30 * SECOND);
        assert!(
            matches!(much_later.outcome, Outcome::Limited { .. }),
            "{much_later:?}"
        );
    }

    #[test]
    fn odd_quotas_and_periods_stay_in_bounds() {
        let windows = [Window::new(7, Duration::from_millis(3))];
        let mut state = CallerState::default();
        let mut admitted = 0;
        for step in 0..1000u64 {
            let d = decide(&mut state, &windows, None, step * 10);
            if d.outcome == Outcome::Admitted {
                admitted += 1;
            }
            assert!(d.windows()[0].remaining <= 7);
        }
        // 10 ms in 10 µs steps: 7 at once, then one per 428 µs.
        assert!((25..=32).contains(&admitted), "{admitted}");
    }

    #[test]
    fn a_clock_set_back_costs_a_caller_at_most_a_window() {
        let windows = [per_minute(60)];
        let escalation = Escalation {
            refusals: 1,
            within: 5 * SECOND,
            block: 10 * SECOND,
        };
        let hour = 3_600 * SECOND;
        let now = 1_000 * SECOND;
        // A caller that spent its minute and got itself blocked by a clock
        // an hour ahead of the one deciding now.
        let mut state = CallerState::default();
        for _ in 0..61 {
            let _ = decide(&mut state, &windows, Some(&escalation), now + hour);
        }
        assert!(state.blocked_until > now + hour);
        let blocked = decide(&mut state, &windows, Some(&escalation), now);
        assert_eq!(
            blocked.outcome,
            Outcome::Blocked {
                retry_after: 10 * SECOND
            },
            "blocked for the block's length, not the clock's step"
        );
        let after = decide(&mut state, &windows, None, now + 10 * SECOND);
        assert_eq!(after.outcome, Outcome::Admitted, "{after:?}");
        assert!(after.windows()[0].reset_after <= 60 * SECOND, "{after:?}");
        assert!(state.strikes_since <= now + 10 * SECOND);
    }
}
