//! Bounding what cache misses cost the durable tier.
//!
//! A token the cache does not hold is either a session the cache lost (worth a
//! durable lookup) or a token that was never issued (a stale cookie, or an
//! attacker guessing). Two bounds keep the second from becoming a stream of
//! durable-tier queries:
//!
//! - a negative cache: a hash the durable tier did not hold is not asked about
//!   again for a minute (safe, because a token hash only ever comes into being
//!   with its session, before its client can present it);
//! - a budget of durable lookups per second for misses. Past it, a miss is
//!   answered 503 with `Retry-After` — never 401, because the session may be
//!   live — so the cost of a flood of random tokens is bounded while a real
//!   session is never logged out. The budget is raised tenfold while the cache
//!   is known to have lost data (every live session then misses once): raised,
//!   not lifted, so a flood during that window stays bounded too.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::Duration,
};

use sesame_ports::SessionTokenHash;
use tokio::time::Instant;

/// How long a hash the durable tier did not hold is remembered.
const FORGET_AFTER: Duration = Duration::from_secs(60);

/// Hashes the durable tier did not hold, remembered for [`FORGET_AFTER`].
#[derive(Debug)]
pub(crate) struct NegativeCache {
    capacity: usize,
    entries: Mutex<HashMap<SessionTokenHash, Instant>>,
}

impl NegativeCache {
    pub(crate) fn new(capacity: usize) -> Self {
        Self { capacity, entries: Mutex::new(HashMap::new()) }
    }

    /// Whether the durable tier recently said it does not hold `token_hash`.
    pub(crate) fn contains(&self, token_hash: &SessionTokenHash) -> bool {
        let entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        entries.get(token_hash).is_some_and(|until| Instant::now() < *until)
    }

    /// Remembers that the durable tier does not hold `token_hash`. When full,
    /// it forgets what has expired, and everything if that is not enough.
    pub(crate) fn insert(&self, token_hash: SessionTokenHash) {
        let now = Instant::now();
        let mut entries = self.entries.lock().unwrap_or_else(PoisonError::into_inner);
        if entries.len() >= self.capacity {
            entries.retain(|_, until| now < *until);
            if entries.len() >= self.capacity {
                entries.clear();
            }
        }
        entries.insert(token_hash, now + FORGET_AFTER);
    }

    /// Forgets `token_hash` (a session was just created under it).
    pub(crate) fn remove(&self, token_hash: &SessionTokenHash) {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner).remove(token_hash);
    }
}

/// How much more a raised budget allows.
const RAISED: f64 = 10.0;

/// A token bucket of durable lookups for misses, which can be raised for a while.
#[derive(Debug)]
pub(crate) struct MissBudget {
    per_second: f64,
    burst: f64,
    state: Mutex<Bucket>,
}

#[derive(Debug)]
struct Bucket {
    tokens: f64,
    refilled: Instant,
    lifted_until: Option<Instant>,
}

impl MissBudget {
    /// `per_second` lookups a second, with a burst of five seconds' worth.
    pub(crate) fn new(per_second: u32) -> Self {
        let per_second = f64::from(per_second.max(1));
        let burst = per_second * 5.0;
        Self {
            per_second,
            burst,
            state: Mutex::new(Bucket { tokens: burst, refilled: Instant::now(), lifted_until: None }),
        }
    }

    /// Takes one lookup from the budget; `false` when it is spent.
    pub(crate) fn take(&self) -> bool {
        let now = Instant::now();
        let mut bucket = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        let factor = if bucket.lifted_until.is_some_and(|until| now < until) { RAISED } else { 1.0 };
        let earned = now.duration_since(bucket.refilled).as_secs_f64() * self.per_second * factor;
        bucket.tokens = (bucket.tokens + earned).min(self.burst * factor);
        bucket.refilled = now;
        if bucket.tokens >= 1.0 {
            bucket.tokens -= 1.0;
            true
        } else {
            false
        }
    }

    /// Raises the budget tenfold (rate and burst) for `period`.
    pub(crate) fn lift_for(&self, period: Duration) {
        let now = Instant::now();
        let until = now + period;
        let mut bucket = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if bucket.lifted_until.is_none_or(|current| current <= now) {
            // The larger burst is available at once.
            bucket.tokens = self.burst * RAISED;
            bucket.refilled = now;
        }
        bucket.lifted_until = Some(bucket.lifted_until.map_or(until, |current| current.max(until)));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test(start_paused = true)]
    async fn the_budget_allows_a_burst_then_its_rate_and_can_be_lifted() {
        let budget = MissBudget::new(10);
        let granted = (0..100).filter(|_| budget.take()).count();
        assert_eq!(granted, 50, "five seconds' worth at once");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!((0..100).filter(|_| budget.take()).count(), 10, "then ten a second");
        budget.lift_for(Duration::from_secs(30));
        assert_eq!((0..1000).filter(|_| budget.take()).count(), 500, "raised tenfold: a burst of 500");
        tokio::time::advance(Duration::from_secs(1)).await;
        assert_eq!((0..1000).filter(|_| budget.take()).count(), 100, "then a hundred a second");
        tokio::time::advance(Duration::from_secs(31)).await;
        assert!((0..1000).filter(|_| budget.take()).count() <= 50, "and back to normal");
    }

    #[tokio::test(start_paused = true)]
    async fn a_negative_entry_expires_and_a_full_cache_starts_over() {
        let cache = NegativeCache::new(2);
        let hash = |byte| SessionTokenHash::from_bytes([byte; 32]);
        cache.insert(hash(1));
        assert!(cache.contains(&hash(1)));
        tokio::time::advance(FORGET_AFTER).await;
        assert!(!cache.contains(&hash(1)), "forgotten after a minute");
        cache.insert(hash(2));
        cache.insert(hash(3));
        cache.insert(hash(4));
        assert!(cache.contains(&hash(4)) && !cache.contains(&hash(2)), "full: started over");
        cache.remove(&hash(4));
        assert!(!cache.contains(&hash(4)));
    }
}
