//! [`MemoryStore`]: limits kept in this process, bounded in memory.

use core::hash::{BuildHasher, BuildHasherDefault, Hasher};
use std::collections::HashMap;
use std::collections::hash_map::RandomState;
use std::sync::{Arc, Mutex, PoisonError};

use super::gcra::{self, CallerState, Decision};
use super::store::{Ask, Clock, Deciding, RateLimitStore, StoreError, SystemClock};

/// How many callers a store keeps by default.
pub const DEFAULT_CAPACITY: usize = 100_000;

const SHARDS: usize = 64;

/// Limits kept in this process: sharded maps of callers' states, each
/// caller under a 64-bit keyed hash of its plan and key (two callers share
/// limits only if their hashes collide, about one chance in 10^19 per pair).
///
/// **Bounded memory**: at most `capacity` callers (about 80 bytes each).
/// A shard that reaches its share first forgets its idle callers (those
/// whose every window is full again and who are neither counted for
/// escalation, within its time, nor blocked: forgetting them changes
/// nothing); if that frees less than a quarter of the shard, it forgets
/// those with least at stake until a quarter is free (the shortest time
/// until their windows are full again and their refusals stop counting,
/// blocked callers last), which lets them start afresh. A flood of fresh
/// keys so evicts fresh keys: a caller whose state matters longer (a spent
/// quota, counted refusals, a block) stays while one whose state matters
/// less is there. Each cleanup is
/// linear in the shard and frees a quarter of it, so it costs O(1) per new
/// caller, amortized. A flood of distinct keys or addresses cannot grow the
/// store past its capacity.
///
/// ```
/// use rebuff::ratelimit::MemoryStore;
/// let store = MemoryStore::with_capacity(10_000);
/// assert_eq!(store.len(), 0);
/// ```
pub struct MemoryStore {
    shards: Box<[Mutex<Shard>]>,
    per_shard: usize,
    hasher: RandomState,
    clock: Arc<dyn Clock>,
}

type Shard = HashMap<u64, CallerState, BuildHasherDefault<Prehashed>>;

impl core::fmt::Debug for MemoryStore {
    fn fmt(&self, f: &mut core::fmt::Formatter<'_>) -> core::fmt::Result {
        f.debug_struct("MemoryStore")
            .field("callers", &self.len())
            .field("capacity", &self.capacity())
            .finish_non_exhaustive()
    }
}

impl Default for MemoryStore {
    fn default() -> Self {
        Self::new()
    }
}

impl MemoryStore {
    /// A store for [`DEFAULT_CAPACITY`] callers, on the system clock.
    #[must_use]
    pub fn new() -> Self {
        Self::with_capacity(DEFAULT_CAPACITY)
    }

    /// A store for at most `capacity` callers, rounded up to a whole
    /// number per shard (of 64 shards, each for at least 4 callers: at
    /// least 256 in all).
    #[must_use]
    pub fn with_capacity(capacity: usize) -> Self {
        let per_shard = capacity.div_ceil(SHARDS).max(4);
        MemoryStore {
            shards: (0..SHARDS).map(|_| Mutex::new(Shard::default())).collect(),
            per_shard,
            hasher: RandomState::new(),
            clock: Arc::new(SystemClock),
        }
    }

    /// Decides by `clock` instead of the system's ([`super::TestClock`] in
    /// tests).
    #[must_use]
    pub fn clock(mut self, clock: impl Clock) -> Self {
        self.clock = Arc::new(clock);
        self
    }

    /// Callers kept now.
    #[must_use]
    pub fn len(&self) -> usize {
        self.shards.iter().map(|shard| lock(shard).len()).sum()
    }

    /// Whether no caller is kept.
    #[must_use]
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }

    /// The most callers it keeps.
    #[must_use]
    pub fn capacity(&self) -> usize {
        self.per_shard.saturating_mul(SHARDS)
    }

    /// Decides now, on the store's clock.
    #[cfg(feature = "redis")]
    pub(crate) fn decide_here(&self, ask: &Ask<'_>) -> Decision {
        self.decide_at(ask, self.clock.now_micros())
    }

    fn decide_at(&self, ask: &Ask<'_>, now: u64) -> Decision {
        let hash = self.hasher.hash_one(ask.key);
        // The shard from bits the map's own table does not use (its low
        // bits place entries, its top seven tag them): every key of a shard
        // would otherwise share them, and crowd the table.
        let index = usize::try_from((hash >> 32) % SHARDS as u64).unwrap_or(0);
        let mut shard = lock(&self.shards[index]);
        if shard.len() >= self.per_shard && !shard.contains_key(&hash) {
            make_room(&mut shard, self.per_shard, now, ask.escalation.as_ref());
        }
        let state = shard.entry(hash).or_default();
        gcra::decide(state, ask.windows, ask.escalation.as_ref(), now)
    }
}

fn lock(shard: &Mutex<Shard>) -> std::sync::MutexGuard<'_, Shard> {
    shard.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Frees at least a quarter of a full shard: idle callers first (their
/// refusals too old to count), then those forgetting gives the least (the
/// shortest time their state still matters: windows full again, refusals
/// no longer counted), never a blocked one while any other is left. A flood of fresh keys evicts fresh keys, not the callers it means
/// to free from their limits.
fn make_room(shard: &mut Shard, per_shard: usize, now: u64, escalation: Option<&gcra::Escalation>) {
    shard.retain(|_, state| !state.is_idle_under(now, escalation));
    let target = per_shard - per_shard / 4;
    if shard.len() > target {
        let excess = shard.len() - target;
        let mut stakes: Vec<(u64, u64)> = shard
            .iter()
            .map(|(&key, state)| (state.stake(now, escalation), key))
            .collect();
        stakes.select_nth_unstable(excess - 1);
        for &(_, key) in &stakes[..excess] {
            shard.remove(&key);
        }
    }
}

impl RateLimitStore for MemoryStore {
    fn decide_now(&self, ask: &Ask<'_>) -> Option<Result<Decision, StoreError>> {
        Some(Ok(self.decide_at(ask, self.clock.now_micros())))
    }

    fn decide(&self, ask: &Ask<'_>) -> Deciding {
        let decision = self.decide_at(ask, self.clock.now_micros());
        Box::pin(core::future::ready(Ok(decision)))
    }
}

/// Keys are hashes already: the map uses them as they are.
#[derive(Default)]
struct Prehashed(u64);

impl Hasher for Prehashed {
    fn finish(&self) -> u64 {
        self.0
    }

    fn write(&mut self, bytes: &[u8]) {
        // Only `u64` keys are hashed here.
        for byte in bytes {
            self.0 = self.0.rotate_left(8) ^ u64::from(*byte);
        }
    }

    fn write_u64(&mut self, value: u64) {
        self.0 = value;
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ratelimit::gcra::Outcome;
    use crate::ratelimit::store::{CallerId, Key};
    use crate::ratelimit::{TestClock, Window};

    #[test]
    fn the_largest_capacity_is_reported_without_overflow() {
        let store = MemoryStore::with_capacity(usize::MAX);
        assert!(store.capacity() >= usize::MAX / 2);
        let _ = format!("{store:?}");
    }

    fn ask<'a>(key: &'a str, windows: &'a [Window]) -> Ask<'a> {
        Ask {
            key: Key {
                plan: "free",
                caller: CallerId::Key(key),
            },
            windows,
            escalation: None,
        }
    }

    #[test]
    fn callers_are_independent() {
        let store = MemoryStore::new().clock(TestClock::at_secs(100));
        let windows = [Window::per_minute(1)];
        let first = store.decide_now(&ask("a", &windows)).unwrap().unwrap();
        assert_eq!(first.outcome, Outcome::Admitted);
        let again = store.decide_now(&ask("a", &windows)).unwrap().unwrap();
        assert!(matches!(again.outcome, Outcome::Limited { .. }));
        let other = store.decide_now(&ask("b", &windows)).unwrap().unwrap();
        assert_eq!(other.outcome, Outcome::Admitted);
        assert_eq!(store.len(), 2);
    }

    #[test]
    fn keys_whose_bytes_run_together_are_still_different_callers() {
        let store = MemoryStore::new().clock(TestClock::at_secs(100));
        let windows = [Window::per_minute(1)];
        let long = "k".repeat(100);
        // Plan and key split differently over the same bytes, a key made of
        // an address's octets beside that address, and a key longer than
        // any buffer a hash might copy it into.
        let callers = [
            Key {
                plan: "ab",
                caller: CallerId::Key("c"),
            },
            Key {
                plan: "a",
                caller: CallerId::Key("bc"),
            },
            Key {
                plan: "a",
                caller: CallerId::Key("\u{7f}\0\0\u{1}"),
            },
            Key {
                plan: "a",
                caller: CallerId::Ip("127.0.0.1".parse().unwrap()),
            },
            Key {
                plan: "a",
                caller: CallerId::Key(&long),
            },
        ];
        for key in callers {
            let ask = Ask {
                key,
                windows: &windows,
                escalation: None,
            };
            let first = store.decide_now(&ask).unwrap().unwrap();
            assert_eq!(first.outcome, Outcome::Admitted, "{key}");
            // The same caller again: its own limit, spent.
            let again = store.decide_now(&ask).unwrap().unwrap();
            assert!(matches!(again.outcome, Outcome::Limited { .. }), "{key}");
        }
        assert_eq!(store.len(), 5);
    }

    #[test]
    fn a_flood_of_callers_never_grows_the_store_past_its_capacity() {
        let store = MemoryStore::with_capacity(64 * 8).clock(TestClock::at_secs(100));
        let windows = [Window::per_minute(10)];
        for i in 0..2_000 {
            let key = format!("caller-{i}");
            let _ = store.decide_now(&ask(&key, &windows));
            assert!(
                store.len() <= store.capacity(),
                "{} > {}",
                store.len(),
                store.capacity()
            );
        }
    }

    #[test]
    fn a_full_shard_forgets_its_idle_callers_first() {
        let now = 100_000_000;
        let windows = [Window::per_minute(10)];
        let mut shard = Shard::default();
        // 6 idle callers (every window full again) and 2 active ones.
        for key in 0..6 {
            shard.insert(key, CallerState::default());
        }
        for key in 6..8 {
            let mut state = CallerState::default();
            let _ = gcra::decide(&mut state, &windows, None, now);
            assert!(!state.is_idle(now));
            shard.insert(key, state);
        }
        make_room(&mut shard, 8, now, None);
        let mut kept: Vec<u64> = shard.keys().copied().collect();
        kept.sort_unstable();
        assert_eq!(kept, [6, 7]);

        // Nothing idle: arbitrary callers go, down to three quarters.
        let mut busy = Shard::default();
        for key in 0..8 {
            let mut state = CallerState::default();
            let _ = gcra::decide(&mut state, &windows, None, now);
            busy.insert(key, state);
        }
        make_room(&mut busy, 8, now, None);
        assert_eq!(busy.len(), 6);
    }

    #[test]
    fn a_full_store_forgets_those_with_least_at_stake_and_never_the_blocked() {
        let now = 1_700_000_000_000_000;
        let windows = [Window::per_minute(10)];
        let escalation = gcra::Escalation {
            refusals: 1,
            within: 10_000_000,
            block: 600_000_000,
        };
        let mut shard = Shard::default();
        // Keys 0..4 spent their whole quota, key 4 is blocked; 5..8 made one
        // request each (a flood of fresh keys).
        for key in 0..5 {
            let mut state = CallerState::default();
            for _ in 0..10 {
                let _ = gcra::decide(&mut state, &windows, None, now);
            }
            if key == 4 {
                let _ = gcra::decide(&mut state, &windows, Some(&escalation), now);
                assert!(state.blocked_until > now);
            }
            shard.insert(key, state);
        }
        for key in 5..8 {
            let mut state = CallerState::default();
            let _ = gcra::decide(&mut state, &windows, None, now);
            shard.insert(key, state);
        }
        make_room(&mut shard, 8, now, Some(&escalation));
        let mut kept: Vec<u64> = shard.keys().copied().collect();
        kept.sort_unstable();
        assert_eq!(kept.len(), 6, "{kept:?}");
        assert_eq!(kept[..5], [0, 1, 2, 3, 4], "two fresh keys go: {kept:?}");
    }

    #[test]
    fn refusals_still_counted_are_at_stake() {
        let now = 1_700_000_000_000_000;
        let windows = [Window::per_second(1)];
        let escalation = gcra::Escalation {
            refusals: 20,
            within: 60_000_000,
            block: 600_000_000,
        };
        let mut shard = Shard::default();
        // Key 0 was refused, its window full again a second later; its
        // refusal still counts for a minute. Keys 1..8 are fresh.
        let mut striking = CallerState::default();
        let _ = gcra::decide(&mut striking, &windows, Some(&escalation), now);
        let _ = gcra::decide(&mut striking, &windows, Some(&escalation), now);
        assert_eq!(striking.strikes, 1);
        shard.insert(0, striking);
        let later = now + 2_000_000;
        for key in 1..8 {
            let mut state = CallerState::default();
            let _ = gcra::decide(&mut state, &windows, None, later);
            shard.insert(key, state);
        }
        make_room(&mut shard, 8, later, Some(&escalation));
        assert!(
            shard.contains_key(&0),
            "the caller with counted refusals stays"
        );
    }

    #[test]
    fn a_refusal_too_old_to_count_does_not_hold_a_caller() {
        let now = 1_700_000_000_000_000;
        let windows = [Window::per_minute(1)];
        let escalation = gcra::Escalation {
            refusals: 3,
            within: 10_000_000,
            block: 60_000_000,
        };
        let mut state = CallerState::default();
        let _ = gcra::decide(&mut state, &windows, Some(&escalation), now);
        let _ = gcra::decide(&mut state, &windows, Some(&escalation), now);
        assert_eq!(state.strikes, 1);
        // A minute and more later: the window is full again, the count over.
        let later = now + 70_000_000;
        assert!(state.is_idle_under(later, Some(&escalation)));
        assert!(!state.is_idle_under(now + 1_000_000, Some(&escalation)));
    }
}
