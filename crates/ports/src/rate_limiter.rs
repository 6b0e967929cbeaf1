//! The port to where rate-limit counts live, so that every instance of the
//! service shares one count per key.

use std::time::Duration;

use async_trait::async_trait;

use crate::PortError;

/// At most `burst` events at once, refilled evenly over `period`: a burst of
/// `burst`, then one every `period / burst`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimit {
    /// Events allowed at once (at least 1).
    pub burst: u32,
    /// The time in which `burst` events are allowed again.
    pub period: Duration,
}

impl RateLimit {
    /// The time between two events allowed once the burst is spent.
    pub fn interval(&self) -> Duration {
        self.period / self.burst.max(1)
    }
}

/// What a limiter answers to one event.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Verdict {
    /// Within the limit; the event counts.
    Allowed,
    /// Over the limit; the event does not count. The next one is allowed after
    /// `retry_after`.
    Limited {
        /// How long until an event is allowed again.
        retry_after: Duration,
    },
}

/// Counts events per key against a [`RateLimit`] (for example with the generic
/// cell rate algorithm). Keys are opaque; each one has its own count. A store
/// shared by several instances gives them one count.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait RateLimiter: Send + Sync + 'static {
    /// Counts one event for `key` under `limit`, unless it is over the limit.
    async fn hit(&self, key: &str, limit: RateLimit) -> Result<Verdict, PortError>;

    /// Forgets `key`'s count: its next events start from a full burst.
    async fn reset(&self, key: &str) -> Result<(), PortError>;
}
