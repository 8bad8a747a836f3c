//! [`Verdict`]: what the limiter said of a request, for its answer.

use super::gcra::Decision;
use super::{RateLimiter, headers};
use crate::Rejection;

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
