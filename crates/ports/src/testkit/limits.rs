//! The [`RateLimiter`] contract, clause by clause. Limits use real time (a
//! limiter may keep time in its store), in periods of a fraction of a second.

use std::{sync::Arc, time::Duration};

use crate::{RateLimit, RateLimiter, UserId, Verdict};

/// What each clause runs against: one limiter of its own.
pub struct Fixture {
    limiter: Arc<dyn RateLimiter>,
}

impl Fixture {
    /// Wraps a fresh limiter.
    pub fn new(limiter: Arc<dyn RateLimiter>) -> Self {
        Self { limiter }
    }

    async fn hits(&self, key: &str, limit: RateLimit, times: u32) -> Vec<Verdict> {
        let mut verdicts = Vec::new();
        for _ in 0..times {
            verdicts.push(self.limiter.hit(key, limit).await.expect("hit"));
        }
        verdicts
    }
}

/// A key no other test uses.
fn unique_key(tag: &str) -> String {
    format!("{tag}:{}", UserId::random())
}

const THREE_PER_MINUTE: RateLimit = RateLimit { burst: 3, period: Duration::from_secs(60) };

/// A burst is allowed, the next event is limited with a wait of at most one
/// interval, and a limited event does not count.
pub async fn a_burst_is_allowed_then_events_are_limited(f: Fixture) {
    let key = unique_key("burst");
    assert_eq!(f.hits(&key, THREE_PER_MINUTE, 3).await, [Verdict::Allowed; 3]);
    for verdict in f.hits(&key, THREE_PER_MINUTE, 3).await {
        let Verdict::Limited { retry_after } = verdict else { panic!("over the limit: {verdict:?}") };
        assert!(retry_after > Duration::from_secs(15), "{retry_after:?}");
        assert!(retry_after <= THREE_PER_MINUTE.interval(), "{retry_after:?}");
    }
}

/// Each key has its own count.
pub async fn keys_are_counted_apart(f: Fixture) {
    let (first, second) = (unique_key("first"), unique_key("second"));
    f.hits(&first, THREE_PER_MINUTE, 3).await;
    assert!(matches!(f.limiter.hit(&first, THREE_PER_MINUTE).await.expect("hit"), Verdict::Limited { .. }));
    assert_eq!(f.limiter.hit(&second, THREE_PER_MINUTE).await.expect("hit"), Verdict::Allowed);
}

/// A reset key starts again from a full burst; resetting an unknown key is fine.
pub async fn reset_restores_the_full_burst(f: Fixture) {
    let key = unique_key("reset");
    f.hits(&key, THREE_PER_MINUTE, 4).await;
    f.limiter.reset(&key).await.expect("reset");
    assert_eq!(f.hits(&key, THREE_PER_MINUTE, 3).await, [Verdict::Allowed; 3]);
    f.limiter.reset(&unique_key("never-seen")).await.expect("reset of an unknown key");
}

/// Events are allowed again once the wait has passed.
pub async fn events_are_allowed_again_after_the_wait(f: Fixture) {
    let key = unique_key("refill");
    let fast = RateLimit { burst: 2, period: Duration::from_millis(400) };
    f.hits(&key, fast, 2).await;
    let Verdict::Limited { retry_after } = f.limiter.hit(&key, fast).await.expect("hit") else {
        panic!("over the limit")
    };
    tokio::time::sleep(retry_after + Duration::from_millis(50)).await;
    assert_eq!(f.limiter.hit(&key, fast).await.expect("hit"), Verdict::Allowed);
}

/// Concurrent events on one key never let more than the burst through.
pub async fn concurrent_events_never_exceed_the_burst(f: Fixture) {
    let key = unique_key("race");
    let limiter = Arc::clone(&f.limiter);
    let calls = (0..20).map(|_| {
        let (limiter, key) = (Arc::clone(&limiter), key.clone());
        tokio::spawn(async move { limiter.hit(&key, THREE_PER_MINUTE).await.expect("hit") })
    });
    let mut allowed = 0;
    for call in calls.collect::<Vec<_>>() {
        allowed += usize::from(call.await.expect("task") == Verdict::Allowed);
    }
    assert_eq!(allowed, 3);
}
