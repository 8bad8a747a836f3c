//! What an instance answers without asking Redis, when leases are on: the
//! rest of a lease Redis granted (requests already charged to the caller
//! there), and a refusal until the moment Redis said a request would be
//! admitted again. A cache: bounded, and forgetting an entry only means
//! asking Redis next time.

use core::hash::BuildHasher;
use std::collections::hash_map::RandomState;
use std::collections::{HashMap, HashSet};
use std::sync::{Mutex, PoisonError};

use crate::ratelimit::gcra::{Decision, Escalation, Outcome};
use crate::ratelimit::store::Key;

const SHARDS: usize = 16;

/// Leases and refusals of one instance, per caller.
pub(super) struct Local {
    shards: Box<[Mutex<HashMap<u64, Entry>>]>,
    per_shard: usize,
    hasher: RandomState,
    /// The most requests asked for at once.
    pub(super) lease: u32,
    /// How long a lease is good for, in microseconds.
    ttl: u64,
    /// Callers a lease is being asked for: one at a time, so that
    /// concurrent requests do not each take one.
    asking: Mutex<HashSet<u64>>,
}

enum Entry {
    /// `left` more requests may be admitted before `until`.
    Lease {
        left: u32,
        until: u64,
        base: Decision,
        at: u64,
    },
    /// Refused until `until`; `strikes` refusals counted by Redis so far,
    /// `local` more made here since, the last of them at `last`.
    Refused {
        until: u64,
        base: Decision,
        at: u64,
        strikes: u32,
        local: u32,
        last: u64,
    },
    /// No answer kept, but `local` refusals made here that Redis has not
    /// counted yet (their call to it failed), the last of them at `last`.
    Unsent { local: u32, last: u64 },
}

impl Local {
    pub(super) fn new(lease: u32, ttl_micros: u64, capacity: usize) -> Self {
        Local {
            shards: (0..SHARDS).map(|_| Mutex::new(HashMap::new())).collect(),
            per_shard: capacity.div_ceil(SHARDS).max(1),
            hasher: RandomState::new(),
            lease: lease.max(1),
            ttl: ttl_micros,
            asking: Mutex::new(HashSet::new()),
        }
    }

    /// How many requests to ask Redis for: a lease, unless one is being
    /// asked for this caller already (then just this request). Pair with
    /// [`asked`](Self::asked).
    pub(super) fn ask_for(&self, hash: u64) -> u32 {
        let mut asking = self.asking.lock().unwrap_or_else(PoisonError::into_inner);
        if asking.len() < self.per_shard * SHARDS && asking.insert(hash) {
            self.lease
        } else {
            1
        }
    }

    /// The lease asked for `hash` came back (or never will).
    pub(super) fn asked(&self, hash: u64) {
        self.asking
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
            .remove(&hash);
    }

    pub(super) fn hash(&self, key: &Key<'_>) -> u64 {
        self.hasher.hash_one(key)
    }

    fn shard(&self, hash: u64) -> std::sync::MutexGuard<'_, HashMap<u64, Entry>> {
        let index = usize::try_from(hash % SHARDS as u64).unwrap_or(0);
        self.shards[index]
            .lock()
            .unwrap_or_else(PoisonError::into_inner)
    }

    /// The answer for a caller at `now` (this instance's clock, in
    /// microseconds), if this instance has one: a request of its lease, or
    /// a refusal still running. A refusal that would make the escalation
    /// block the caller goes to Redis, so that the fleet blocks it.
    pub(super) fn answer(
        &self,
        hash: u64,
        escalation: Option<&Escalation>,
        now: u64,
    ) -> Option<Decision> {
        let mut shard = self.shard(hash);
        let entry = shard.get_mut(&hash)?;
        match entry {
            Entry::Lease {
                left,
                until,
                base,
                at,
            } => {
                if *left == 0 || now >= *until {
                    shard.remove(&hash);
                    return None;
                }
                *left -= 1;
                let left = *left;
                let mut decision = moved(base, *at, now);
                // The requests still leased are the caller's to spend.
                for window in &mut decision.windows[..decision.len] {
                    window.remaining = window.remaining.saturating_add(left).min(window.quota);
                }
                if left == 0 {
                    shard.remove(&hash);
                }
                Some(decision)
            }
            Entry::Refused {
                until,
                base,
                at,
                strikes,
                local,
                last,
            } => {
                if now >= *until {
                    // Refusals made here stay to be counted.
                    return None;
                }
                let blocking = matches!(base.outcome, Outcome::Blocked { .. });
                if !blocking
                    && escalation.is_some_and(|e| {
                        strikes.saturating_add(*local).saturating_add(1) >= e.refusals.max(1)
                    })
                {
                    return None;
                }
                // A request during a block is not counted (as in Redis,
                // and in process): the block is the escalation already.
                if !blocking {
                    *local += 1;
                    *last = now;
                }
                let mut decision = moved(base, *at, now);
                let wait = *until - now;
                decision.outcome = match base.outcome {
                    Outcome::Limited { window, .. } => Outcome::Limited {
                        window,
                        retry_after: wait,
                    },
                    _ => Outcome::Blocked { retry_after: wait },
                };
                Some(decision)
            }
            Entry::Unsent { .. } => None,
        }
    }

    /// The refusals made here since Redis last counted, taken to be
    /// counted now (a refusal running out starts afresh); none when the
    /// last of them is further back than the escalation counts (`within`
    /// microseconds), so old refusals never start a new count.
    pub(super) fn take_refusals(&self, hash: u64, within: Option<u64>, now: u64) -> u32 {
        let mut shard = self.shard(hash);
        match shard.remove(&hash) {
            Some(Entry::Refused { local, last, .. } | Entry::Unsent { local, last }) => {
                match within {
                    Some(within) if now.saturating_sub(last) <= within => local,
                    _ => 0,
                }
            }
            Some(lease) => {
                shard.insert(hash, lease);
                0
            }
            None => 0,
        }
    }

    /// Gives back `refusals` taken to be counted ([`take_refusals`]) whose
    /// call to Redis surely did not run (refused, or never sent): they are
    /// sent with the caller's next request that reaches it, so that a Redis
    /// outage does not let a caller slip under its escalation.
    ///
    /// [`take_refusals`]: Self::take_refusals
    pub(super) fn give_back_refusals(&self, hash: u64, refusals: u32, now: u64) {
        if refusals == 0 {
            return;
        }
        let mut shard = self.shard(hash);
        let room = shard.len() < self.per_shard;
        match shard.get_mut(&hash) {
            Some(Entry::Refused { local, last, .. } | Entry::Unsent { local, last }) => {
                *local = local.saturating_add(refusals);
                *last = (*last).max(now);
            }
            None if room => {
                shard.insert(
                    hash,
                    Entry::Unsent {
                        local: refusals,
                        last: now,
                    },
                );
            }
            // A lease is held: its requests are admitted, and the refusals
            // are as old as it is by the time it runs out. Or the cache is
            // full: a cache forgets.
            Some(Entry::Lease { .. }) | None => {}
        }
    }

    /// Keeps what Redis said at `now`: the rest of a lease of `granted`
    /// requests, or a refusal until it runs out (with the refusals still
    /// unsent, if any).
    pub(super) fn keep(
        &self,
        hash: u64,
        decision: &Decision,
        granted: u32,
        strikes: u32,
        now: u64,
    ) {
        let entry = match decision.outcome {
            Outcome::Admitted if granted > 1 => {
                // The decision counts the whole lease as remaining; the
                // base counts what is left after it, in Redis.
                let mut base = *decision;
                for window in &mut base.windows[..base.len] {
                    window.remaining = window.remaining.saturating_sub(granted - 1);
                }
                Entry::Lease {
                    left: granted - 1,
                    until: now.saturating_add(self.ttl),
                    base,
                    at: now,
                }
            }
            Outcome::Admitted => return,
            Outcome::Limited { retry_after, .. } | Outcome::Blocked { retry_after } => {
                Entry::Refused {
                    until: now.saturating_add(retry_after),
                    base: *decision,
                    at: now,
                    strikes,
                    local: 0,
                    last: now,
                }
            }
        };
        let mut shard = self.shard(hash);
        // Refusals given back meanwhile stay to be sent.
        let entry = match (entry, shard.get(&hash)) {
            (
                Entry::Refused {
                    until,
                    base,
                    at,
                    strikes,
                    ..
                },
                Some(Entry::Unsent { local, last } | Entry::Refused { local, last, .. }),
            ) if *local > 0 => Entry::Refused {
                until,
                base,
                at,
                strikes,
                local: *local,
                last: *last,
            },
            (entry, _) => entry,
        };
        // A refusal of one request asked alongside does not take away a
        // lease still held: those requests are charged in Redis already.
        if let (Entry::Refused { .. }, Some(Entry::Lease { left, until, .. })) =
            (&entry, shard.get(&hash))
        {
            if *left > 0 && *until > now {
                return;
            }
        }
        if let (
            Entry::Lease { left, .. },
            Some(Entry::Lease {
                left: held, until, ..
            }),
        ) = (&entry, shard.get(&hash))
        {
            // A lease still held: both are the caller's.
            if *until > now {
                let left = left.saturating_add(*held);
                if let Entry::Lease {
                    base, at, until, ..
                } = entry
                {
                    shard.insert(
                        hash,
                        Entry::Lease {
                            left,
                            until,
                            base,
                            at,
                        },
                    );
                }
                return;
            }
        }
        if shard.len() >= self.per_shard && !shard.contains_key(&hash) {
            shard.retain(|_, entry| match entry {
                Entry::Lease { until, left, .. } => *until > now && *left > 0,
                Entry::Refused { until, .. } => *until > now,
                Entry::Unsent { .. } => false,
            });
            if shard.len() >= self.per_shard {
                shard.clear();
            }
        }
        shard.insert(hash, entry);
    }

    #[cfg(test)]
    fn len(&self) -> usize {
        self.shards
            .iter()
            .map(|s| s.lock().unwrap_or_else(PoisonError::into_inner).len())
            .sum()
    }
}

/// `base`, decided at `at`, as of `now`: the clock and the times to full
/// moved on.
fn moved(base: &Decision, at: u64, now: u64) -> Decision {
    let elapsed = now.saturating_sub(at);
    let mut decision = *base;
    decision.now = base.now + elapsed;
    for window in &mut decision.windows[..decision.len] {
        window.reset_after = window.reset_after.saturating_sub(elapsed);
    }
    decision
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::MAX_WINDOWS;
    use crate::ratelimit::gcra::WindowState;
    use crate::ratelimit::store::CallerId;

    fn key(caller: &str) -> Key<'_> {
        Key {
            plan: "free",
            caller: CallerId::Key(caller),
        }
    }

    /// Refused by the first window, for half a second.
    fn limited() -> Decision {
        decision(
            Outcome::Limited {
                window: 0,
                retry_after: 500_000,
            },
            0,
        )
    }

    fn decision(outcome: Outcome, remaining: u32) -> Decision {
        Decision {
            outcome,
            windows: [WindowState {
                quota: 60,
                remaining,
                reset_after: 10_000_000,
            }; MAX_WINDOWS],
            len: 1,
            now: 1_000_000_000,
            degraded: false,
        }
    }

    #[test]
    fn a_lease_is_spent_here_then_the_caller_goes_back_to_redis() {
        let local = Local::new(4, 1_000_000, 100);
        let h = local.hash(&key("k"));
        // Redis granted 4: one for the request that asked (which saw 53
        // remaining: 50 in Redis and 3 leased), 3 left here.
        local.keep(h, &decision(Outcome::Admitted, 53), 4, 0, 0);
        let seen: Vec<u32> = (0..3)
            .map(|_| local.answer(h, None, 10).unwrap().windows[0].remaining)
            .collect();
        assert_eq!(seen, [52, 51, 50]);
        assert!(local.answer(h, None, 10).is_none());
    }

    #[test]
    fn one_lease_is_asked_for_at_a_time() {
        let local = Local::new(4, 1_000_000, 100);
        let h = local.hash(&key("k"));
        assert_eq!(local.ask_for(h), 4);
        assert_eq!(local.ask_for(h), 1, "while the first is asked");
        local.asked(h);
        assert_eq!(local.ask_for(h), 4);
    }

    #[test]
    fn a_lease_runs_out_with_its_time() {
        let local = Local::new(4, 1_000_000, 100);
        let h = local.hash(&key("k"));
        local.keep(h, &decision(Outcome::Admitted, 50), 4, 0, 0);
        assert!(local.answer(h, None, 1_000_000).is_none());
    }

    #[test]
    fn a_refusal_holds_until_it_runs_out_and_its_refusals_are_counted_after() {
        let local = Local::new(4, 1_000_000, 100);
        let h = local.hash(&key("k"));
        let limited = limited();
        local.keep(h, &limited, 0, 1, 0);
        let again = local.answer(h, None, 100_000).unwrap();
        assert_eq!(
            again.outcome,
            Outcome::Limited {
                window: 0,
                retry_after: 400_000
            }
        );
        assert_eq!(again.now, 1_000_100_000);
        assert!(local.answer(h, None, 500_000).is_none());
        assert_eq!(local.take_refusals(h, Some(1_000_000), 500_000), 1);
        assert_eq!(local.take_refusals(h, Some(1_000_000), 500_000), 0);
    }

    #[test]
    fn refusals_whose_call_failed_are_sent_with_the_next_one() {
        let local = Local::new(4, 1_000_000, 100);
        let h = local.hash(&key("k"));
        let limited = limited();
        local.keep(h, &limited, 0, 1, 0);
        let _ = local.answer(h, None, 100_000).unwrap();
        let _ = local.answer(h, None, 200_000).unwrap();
        // Taken for a call to Redis that failed: given back, taken again.
        let taken = local.take_refusals(h, Some(1_000_000), 600_000);
        assert_eq!(taken, 2);
        local.give_back_refusals(h, taken, 600_000);
        assert!(local.answer(h, None, 600_000).is_none(), "Redis is asked");
        assert_eq!(local.take_refusals(h, Some(1_000_000), 700_000), 2);

        // Given back while another request's refusal from Redis arrives:
        // kept with it.
        local.give_back_refusals(h, 3, 800_000);
        local.keep(h, &limited, 0, 2, 800_000);
        assert_eq!(local.take_refusals(h, Some(1_000_000), 1_400_000), 3);
    }

    #[test]
    fn refusals_older_than_the_escalation_counts_are_not_sent() {
        let local = Local::new(4, 1_000_000, 100);
        let h = local.hash(&key("k"));
        let limited = limited();
        local.keep(h, &limited, 0, 1, 0);
        assert!(local.answer(h, None, 100_000).is_some());
        // Within 10 s of the last local refusal: counted; later: not.
        assert_eq!(local.take_refusals(h, Some(10_000_000), 31_000_000), 0);
        local.keep(h, &limited, 0, 1, 0);
        assert!(local.answer(h, None, 100_000).is_some());
        assert_eq!(local.take_refusals(h, Some(10_000_000), 5_000_000), 1);
    }

    #[test]
    fn requests_during_a_block_are_not_counted() {
        let local = Local::new(4, 1_000_000, 100);
        let h = local.hash(&key("k"));
        let blocked = decision(
            Outcome::Blocked {
                retry_after: 500_000,
            },
            0,
        );
        local.keep(h, &blocked, 0, 0, 0);
        for now in [1, 2, 3] {
            assert!(local.answer(h, None, now).is_some());
        }
        assert_eq!(local.take_refusals(h, Some(10_000_000), 600_000), 0);
    }

    #[test]
    fn a_refusal_alongside_keeps_a_lease_held() {
        let local = Local::new(4, 1_000_000, 100);
        let h = local.hash(&key("k"));
        local.keep(h, &decision(Outcome::Admitted, 50), 4, 0, 0);
        let limited = limited();
        local.keep(h, &limited, 0, 1, 1);
        assert_eq!(local.answer(h, None, 2).unwrap().outcome, Outcome::Admitted);
    }

    #[test]
    fn a_refusal_that_would_block_goes_to_redis() {
        let local = Local::new(4, 1_000_000, 100);
        let h = local.hash(&key("k"));
        let escalation = Escalation {
            refusals: 3,
            within: 10_000_000,
            block: 60_000_000,
        };
        let limited = limited();
        local.keep(h, &limited, 0, 1, 0);
        assert!(
            local.answer(h, Some(&escalation), 1).is_some(),
            "the second"
        );
        assert!(
            local.answer(h, Some(&escalation), 2).is_none(),
            "the third blocks"
        );
        assert_eq!(local.take_refusals(h, Some(escalation.within), 3), 1);
    }

    #[test]
    fn the_cache_stays_within_its_capacity() {
        let local = Local::new(4, 1_000_000, 64);
        for i in 0..10_000 {
            let h = local.hash(&key(&format!("{i}")));
            local.keep(h, &decision(Outcome::Admitted, 50), 4, 0, 0);
            assert!(local.len() <= 64);
        }
    }
}
