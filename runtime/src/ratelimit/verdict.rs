//! [`Verdict`]: what the limiter said of a request, for its answer, and how
//! a decision becomes one.

use std::sync::atomic::Ordering;

use super::gcra::{Decision, Outcome};
use super::{PlanEntry, RateLimiter, Route, StoreError, headers};
use crate::{RateLimit, Rejection};

/// What to do with a request ([`RateLimiter::decide_request`]): the
/// rejection to answer with instead of serving it, if it is refused, and
/// the headers for its response.
#[derive(Debug)]
pub struct Verdict {
    /// The decision and the plan's index (none when the store failed).
    pub(super) decided: Option<(Decision, usize)>,
    /// Whether the request is refused (not in shadow mode).
    pub(super) refused: bool,
    /// Boxed: an admitted request's verdict travels with its response
    /// future, and is smaller without room for a refusal it does not have.
    pub(super) refusal: Option<Box<Rejection>>,
}

impl Verdict {
    /// A 503: the store is unreachable and the route fails closed.
    pub(super) fn unavailable() -> Self {
        Verdict {
            decided: None,
            refused: true,
            refusal: Some(Box::new(Rejection::Unavailable { retry_after: 1 })),
        }
    }

    /// Whether the request is refused.
    #[must_use]
    pub fn is_refused(&self) -> bool {
        self.refused
    }

    /// The rejection to answer a refused request with
    /// ([`Rejection::RateLimited`], [`Rejection::Blocked`], or
    /// [`Rejection::Unavailable`] on a route that fails closed while its
    /// store is away), once.
    pub fn take_refusal(&mut self) -> Option<Rejection> {
        self.refusal.take().map(|refusal| *refusal)
    }

    /// Writes the rate-limit headers into a response's (over a refusal's
    /// own, which are the same values; without the legacy ones when
    /// `limiter` has them off). `limiter` is the one that decided.
    pub fn write_headers(&self, limiter: &RateLimiter, headers: &mut http::HeaderMap) {
        if self.strips_legacy(limiter) {
            for name in [
                crate::X_RATELIMIT_LIMIT,
                crate::X_RATELIMIT_REMAINING,
                crate::X_RATELIMIT_RESET,
            ] {
                headers.remove(name);
            }
        }
        if let Some((decision, plan)) = &self.decided {
            let entry = limiter.entry(*plan);
            headers::write(
                decision,
                &entry.headers,
                limiter.families,
                self.refused,
                headers,
            );
        }
    }

    /// Whether a refusal's own `X-RateLimit-*` come off its response (the
    /// legacy family is off).
    pub(crate) fn strips_legacy(&self, limiter: &RateLimiter) -> bool {
        self.refused && !limiter.families.legacy
    }
}

impl RateLimiter {
    /// What the server does with a decision: the headers, and the refusal
    /// unless in shadow mode. A store that failed admits (and logs), or,
    /// on a route that fails closed, refuses with a 503; so does a decision
    /// a fleet's store could not share.
    pub(crate) fn verdict(&self, route: Route, decided: Result<Decision, StoreError>) -> Verdict {
        let Route { plan, fail_closed } = route;
        // Shadow mode never refuses, not even on a route that fails closed.
        let fail_closed = fail_closed && !self.shadow;
        let entry = self.entry(plan);
        let decision = match decided {
            Ok(decision) if !(decision.degraded && fail_closed) => decision,
            failed => return failed_verdict(entry, failed, fail_closed),
        };
        if decision.degraded {
            entry.stats.degraded.fetch_add(1, Ordering::Relaxed);
        }
        let refusal = match decision.outcome {
            Outcome::Admitted => {
                entry.stats.admitted.fetch_add(1, Ordering::Relaxed);
                tracing::trace!(target: "rebuff::ratelimit", plan = entry.plan.name(), "admitted");
                None
            }
            _ => self.refusal(entry, &decision),
        };
        Verdict {
            decided: Some((decision, plan)),
            refused: refusal.is_some(),
            refusal,
        }
    }

    /// The refusal of a decision that did not admit (none in shadow mode),
    /// counted and logged.
    #[cold]
    #[inline(never)]
    fn refusal(&self, entry: &PlanEntry, decision: &Decision) -> Option<Box<Rejection>> {
        let refusal = match decision.outcome {
            Outcome::Admitted => return None,
            Outcome::Limited {
                window,
                retry_after,
            } => {
                entry.stats.refused.fetch_add(1, Ordering::Relaxed);
                let (reset, retry_after_secs) = headers::refused_until(decision, retry_after);
                let refused_window = entry.plan.windows().get(window).copied();
                tracing::info!(target: "rebuff::ratelimit", plan = entry.plan.name(), retry_after = retry_after_secs, shadow = self.shadow, "over the rate limit");
                Rejection::RateLimited {
                    retry_after: retry_after_secs,
                    limit: refused_window.map(|w| w.to_string()).unwrap_or_default(),
                    rate_limit: RateLimit {
                        limit: refused_window.map_or(0, |w| u64::from(w.quota())),
                        remaining: 0,
                        reset,
                    },
                }
            }
            Outcome::Blocked { retry_after } => {
                entry.stats.blocked.fetch_add(1, Ordering::Relaxed);
                let (_, retry_after_secs) = headers::refused_until(decision, retry_after);
                tracing::warn!(target: "rebuff::ratelimit", plan = entry.plan.name(), retry_after = retry_after_secs, shadow = self.shadow, "blocked after repeated refusals");
                Rejection::Blocked {
                    retry_after: retry_after_secs,
                }
            }
        };
        Some(refusal).filter(|_| !self.shadow).map(Box::new)
    }
}

/// The verdict without a decision to share: the store failed, or (`Ok`,
/// which [`RateLimiter::verdict`] sends here only then) decided alone, its
/// fleet's store away, on a route that fails closed.
#[cold]
#[inline(never)]
fn failed_verdict(
    entry: &PlanEntry,
    decided: Result<Decision, StoreError>,
    fail_closed: bool,
) -> Verdict {
    match decided {
        Ok(_) => {
            entry.stats.degraded.fetch_add(1, Ordering::Relaxed);
            tracing::warn!(target: "rebuff::ratelimit", plan = entry.plan.name(), "the shared rate-limit store is unreachable; this route fails closed");
            Verdict::unavailable()
        }
        Err(err) if fail_closed => {
            tracing::error!(target: "rebuff::ratelimit", plan = entry.plan.name(), error = %err, "the rate-limit store failed; this route fails closed");
            Verdict::unavailable()
        }
        Err(err) => {
            tracing::warn!(target: "rebuff::ratelimit", plan = entry.plan.name(), error = %err, "the rate-limit store failed; admitting");
            Verdict {
                decided: None,
                refused: false,
                refusal: None,
            }
        }
    }
}
