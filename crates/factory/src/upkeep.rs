//! The stores' periodic work — readiness probes, the Redis data check, the
//! tiered store's write-behind, the purge of expired sessions — as units the
//! runtime schedules ([`Upkeep`]). Nothing here loops or spawns.

use std::{sync::Arc, time::Duration};

use sesame_ports::SessionStore;
use sesame_redis::RedisSessionStore;
use sesame_tiered::TieredSessionStore;

use crate::health::Health;

/// The stores' periodic work: [`tick`](Upkeep::tick) every
/// [`TICK`](Upkeep::TICK) and [`purge`](Upkeep::purge) every
/// [`purge_every`](Upkeep::purge_every) for the service's life, and
/// [`finish`](Upkeep::finish) once at shutdown. The runtime that starts the
/// service schedules it; the factory only builds it.
#[derive(Clone)]
pub struct Upkeep {
    pub(crate) health: Arc<Health>,
    /// Redis went back to an older state and has not yet been told again what
    /// ended lately.
    pub(crate) replay_due: Arc<std::sync::atomic::AtomicBool>,
    pub(crate) sessions: Arc<dyn SessionStore>,
    pub(crate) tiered: Option<Arc<TieredSessionStore>>,
    /// Redis, watched for lost data.
    pub(crate) redis: Option<Arc<RedisSessionStore>>,
    pub(crate) purge_every: Duration,
    /// How long after Redis lost its data every live session may still miss once.
    pub(crate) idle_timeout: Duration,
}

impl Upkeep {
    /// How often [`tick`](Self::tick) runs: the tiered store writes behind
    /// and reconciles, and readiness is probed, every second.
    pub const TICK: Duration = Duration::from_secs(1);

    /// How often [`purge`](Self::purge) runs (`SESAME__STORE__PURGE_INTERVAL_SECONDS`).
    pub fn purge_every(&self) -> Duration {
        self.purge_every
    }

    /// One tick's work: the stores' readiness probed, a check that Redis kept
    /// its data, and the tiered store's upkeep (writing uses and ends behind,
    /// reconciling the cache). Safe to run on every instance at once.
    pub async fn tick(&self) {
        tokio::join!(self.health.probe(), self.watch_redis());
        self.flush().await;
    }

    /// Purges expired sessions in batches, from stores that do not expire
    /// them by themselves. Safe to run on every instance at once; scheduled
    /// apart from [`tick`](Self::tick), so that a long purge never holds up
    /// the probes behind readiness.
    pub async fn purge(&self) {
        purge_expired(self.sessions.as_ref()).await;
    }

    /// The last flush, at shutdown: ends still waiting for PostgreSQL are lost
    /// with the process, so they are named in an ERROR.
    pub async fn finish(&self) {
        self.flush().await;
        if let Some(waiting) = self.tiered.as_ref().map(|tiered| tiered.ends_waiting()).filter(|n| *n > 0) {
            tracing::error!(
                sessions = waiting,
                "stopping with session ends PostgreSQL never took: Redis holds them ended, PostgreSQL does not"
            );
        }
    }

    /// Checks that Redis kept its data. While it lost some (or evicts), every
    /// live session misses once, so the tiered store's miss budget is raised;
    /// when it went back to an older state (a restart, a failover), it is told
    /// again what ended lately.
    async fn watch_redis(&self) {
        use std::sync::atomic::Ordering;
        /// Ends older than this are assumed to have reached every replica and snapshot.
        const REPLAY_WINDOW: Duration = Duration::from_secs(600);
        let Some(redis) = &self.redis else { return };
        match tokio::time::timeout(Self::TICK, redis.check_data()).await {
            Ok(Ok(check)) => {
                if check.went_back {
                    self.replay_due.store(true, Ordering::Relaxed);
                }
                if let Some(tiered) = &self.tiered {
                    if check.lost {
                        tiered.lift_miss_budget(self.idle_timeout);
                    } else if check.evicting {
                        tiered.lift_miss_budget(Self::TICK * 10);
                    }
                    if self.replay_due.load(Ordering::Relaxed) && tiered.replay_ends(REPLAY_WINDOW).await {
                        self.replay_due.store(false, Ordering::Relaxed);
                    }
                }
            }
            // An outage: the guard of the store's calls reports it.
            Ok(Err(err)) => tracing::debug!(error = %err, "redis data check failed"),
            Err(_) => tracing::debug!("redis data check timed out"),
        }
    }

    /// Writes what waits for the durable tier; what a graceful shutdown runs last.
    pub async fn flush(&self) {
        if let Some(tiered) = &self.tiered {
            tiered.upkeep().await;
        }
    }
}

/// Purges expired sessions in batches until a batch comes back short.
async fn purge_expired(sessions: &dyn SessionStore) {
    const BATCH: u32 = 1000;
    let mut purged = 0;
    loop {
        match sessions.purge_expired(BATCH).await {
            Ok(count) => {
                purged += count;
                if count < u64::from(BATCH) {
                    break;
                }
            }
            Err(err) => {
                tracing::warn!(error = %err, "purging expired sessions failed; trying again next time");
                break;
            }
        }
    }
    if purged > 0 {
        tracing::debug!(purged, "purged expired sessions");
    }
}

#[cfg(test)]
mod tests {
    use sesame_mock::InMemorySessionStore;
    use sesame_ports::Clock as _;

    use super::*;

    #[tokio::test]
    async fn a_purge_removes_the_expired_sessions_only() {
        let clock = sesame_ports::ManualClock::default();
        let store = Arc::new(InMemorySessionStore::new(Arc::new(clock.clone())));
        for _ in 0..3 {
            store.create(&sesame_ports::testkit::SessionBuilder::opened_at(clock.now()).build()).await.unwrap();
        }
        let places = (None, ("memory".to_owned(), None));
        let health = Arc::new(Health::new(None, (Arc::clone(&store) as _, None), ("memory", "memory"), places));
        let upkeep = Upkeep {
            health,
            replay_due: Arc::default(),
            sessions: Arc::clone(&store) as _,
            tiered: None,
            redis: None,
            purge_every: Duration::from_secs(60),
            idle_timeout: Duration::from_secs(1800),
        };
        upkeep.purge().await;
        assert_eq!(store.len(), 3, "nothing has expired yet");

        clock.advance(time::Duration::hours(1));
        upkeep.purge().await;
        assert_eq!(store.len(), 0, "the purge removed the three expired sessions");
    }
}
