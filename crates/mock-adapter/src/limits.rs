//! Rate-limit counts in process memory (the generic cell rate algorithm): one
//! count per key for this process only.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use sesame_ports::{PortError, RateLimit, RateLimiter, Verdict};

/// Keys whose count has run out are dropped once the map holds this many,
/// and again each time it has doubled since: pruning costs O(1) a hit on
/// average, however many keys a flood of made-up ones creates.
const FIRST_PRUNE: usize = 10_000;

/// Counts in memory: per key, the theoretical arrival time of the next event.
#[derive(Debug)]
pub struct InMemoryRateLimiter {
    state: Mutex<Arrivals>,
}

#[derive(Debug)]
struct Arrivals {
    by_key: HashMap<String, Instant>,
    prune_at: usize,
}

impl Default for InMemoryRateLimiter {
    fn default() -> Self {
        Self { state: Mutex::new(Arrivals { by_key: HashMap::new(), prune_at: FIRST_PRUNE }) }
    }
}

impl InMemoryRateLimiter {
    /// A limiter with no counts.
    pub fn new() -> Self {
        Self::default()
    }
}

#[async_trait]
impl RateLimiter for InMemoryRateLimiter {
    async fn hit(&self, key: &str, limit: RateLimit) -> Result<Verdict, PortError> {
        let now = Instant::now();
        let mut state = self.state.lock().unwrap_or_else(PoisonError::into_inner);
        if state.by_key.len() >= state.prune_at {
            state.by_key.retain(|_, arrival| *arrival > now);
            state.prune_at = (state.by_key.len() * 2).max(FIRST_PRUNE);
        }
        let arrival = state.by_key.get(key).copied().filter(|arrival| *arrival > now).unwrap_or(now);
        let next = arrival + limit.interval();
        // The wait is how far the next arrival lies beyond a period from now.
        if let Some(wait) = (next - now).checked_sub(limit.period).filter(|wait| !wait.is_zero()) {
            return Ok(Verdict::Limited { retry_after: wait.max(Duration::from_millis(1)) });
        }
        state.by_key.insert(key.to_owned(), next);
        Ok(Verdict::Allowed)
    }

    async fn reset(&self, key: &str) -> Result<(), PortError> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner).by_key.remove(key);
        Ok(())
    }
}
