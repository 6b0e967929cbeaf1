//! Rate-limit counts in process memory (the generic cell rate algorithm): one
//! count per key for this process only.

use std::{
    collections::HashMap,
    sync::{Mutex, PoisonError},
    time::{Duration, Instant},
};

use async_trait::async_trait;
use sesame_ports::{PortError, RateLimit, RateLimiter, Verdict};

/// Above this many keys, keys whose count has run out are dropped.
const PRUNE_ABOVE: usize = 10_000;

/// Counts in memory: per key, the theoretical arrival time of the next event.
#[derive(Debug, Default)]
pub struct InMemoryRateLimiter {
    arrivals: Mutex<HashMap<String, Instant>>,
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
        let mut arrivals = self.arrivals.lock().unwrap_or_else(PoisonError::into_inner);
        if arrivals.len() > PRUNE_ABOVE {
            arrivals.retain(|_, arrival| *arrival > now);
        }
        let arrival = arrivals.get(key).copied().filter(|arrival| *arrival > now).unwrap_or(now);
        let next = arrival + limit.interval();
        let allowed_from = next.checked_sub(limit.period).unwrap_or(now);
        if allowed_from > now {
            return Ok(Verdict::Limited { retry_after: (allowed_from - now).max(Duration::from_millis(1)) });
        }
        arrivals.insert(key.to_owned(), next);
        Ok(Verdict::Allowed)
    }

    async fn reset(&self, key: &str) -> Result<(), PortError> {
        self.arrivals.lock().unwrap_or_else(PoisonError::into_inner).remove(key);
        Ok(())
    }
}
