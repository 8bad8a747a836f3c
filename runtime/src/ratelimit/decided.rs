//! Which limiters decided a request already: a request goes through a
//! limiter once, however many surfaces or layers with it wrap the route.

use std::sync::Arc;

use super::RateLimiter;

/// The most limiters a request's mark tells apart. A request through more
/// distinct limiters than this is decided by each past them, again.
const MOST: usize = 4;

/// The limiters (by their store: two limiters on one store count the same
/// callers) that decided a request, in its extensions. Copied, never
/// allocated.
#[derive(Debug, Clone, Copy, Default)]
pub(crate) struct Decided {
    stores: [usize; MOST],
    len: usize,
}

impl RateLimiter {
    /// Whether this limiter is to decide a request that `decided` says
    /// was decided by the limiters it names, and the mark to leave on it
    /// if so. Not when a limiter on the same store decided it: a surface
    /// inside another (`Router::nest`, an actix scope) or a surface with a
    /// layer of the same limiter would otherwise charge the caller once
    /// per wrapper. Two different limiters both decide.
    pub(crate) fn claim(&self, decided: Option<&Decided>) -> Option<Decided> {
        let store = Arc::as_ptr(&self.store).cast::<()>().addr();
        let mut decided = decided.copied().unwrap_or_default();
        if decided.stores[..decided.len].contains(&store) {
            return None;
        }
        if decided.len < MOST {
            decided.stores[decided.len] = store;
            decided.len += 1;
        }
        Some(decided)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A limiter on a store of its own.
    fn limiter() -> RateLimiter {
        RateLimiter::new()
    }

    #[test]
    fn a_limiter_decides_a_request_once_and_another_one_still_does() {
        let first = limiter();
        let mark = first.claim(None).expect("undecided");
        assert!(first.claim(Some(&mark)).is_none());
        // A clone shares the store: the same counters, decided already.
        assert!(first.clone().claim(Some(&mark)).is_none());
        let second = limiter();
        let both = second.claim(Some(&mark)).expect("another store");
        assert!(first.claim(Some(&both)).is_none());
        assert!(second.claim(Some(&both)).is_none());
    }

    #[test]
    fn past_the_most_told_apart_a_limiter_decides_again() {
        let limiters: Vec<RateLimiter> = (0..=MOST).map(|_| limiter()).collect();
        let mut mark = None;
        for limiter in &limiters {
            mark = Some(limiter.claim(mark.as_ref()).expect("undecided"));
        }
        assert!(limiters[0].claim(mark.as_ref()).is_none());
        assert!(limiters[MOST].claim(mark.as_ref()).is_some());
    }
}
