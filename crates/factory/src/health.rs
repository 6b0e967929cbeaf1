//! Readiness from background probes: each store is `up`, `degraded` or `down`,
//! as the last probe found it, so that `/readyz` answers at once whatever the
//! stores are doing.

use std::sync::{Arc, PoisonError, RwLock};

use sesame_ports::{SessionStore, UserRepository};

/// How a store answered the last probe.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum StoreStatus {
    /// Every part answered.
    Up,
    /// One tier of a tiered store did not answer; the store still serves.
    Degraded,
    /// It did not answer.
    Down,
}

impl StoreStatus {
    /// `up`, `degraded` or `down`.
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Up => "up",
            Self::Degraded => "degraded",
            Self::Down => "down",
        }
    }

    /// The status of a store made of parts that answered (`true`) or not.
    fn of(answers: &[bool]) -> Self {
        match (answers.iter().all(|up| *up), answers.iter().any(|up| *up)) {
            (true, _) => Self::Up,
            (false, true) => Self::Degraded,
            (false, false) => Self::Down,
        }
    }
}

/// One store in a readiness report: its kind (never more internals) and status.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct StoreHealth {
    /// `memory`, `postgres`, `redis` or `tiered`.
    pub backend: &'static str,
    /// As the last probe found it.
    pub status: StoreStatus,
}

/// What the last probe found.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct HealthReport {
    /// The users store.
    pub users: StoreHealth,
    /// The sessions store.
    pub sessions: StoreHealth,
}

impl HealthReport {
    /// Whether anyone can be authenticated: sessions are read from the sessions
    /// store alone (the user comes from the session's snapshot).
    pub fn can_authenticate(&self) -> bool {
        self.sessions.status != StoreStatus::Down
    }

    /// Whether every store answered in full.
    pub fn all_up(&self) -> bool {
        self.users.status == StoreStatus::Up && self.sessions.status == StoreStatus::Up
    }
}

/// The parts of the sessions store: one, or a tiered store's durable tier and cache.
pub(crate) type SessionParts = (Arc<dyn SessionStore>, Option<Arc<dyn SessionStore>>);

/// Where each probed part is, as the log names it when it stops answering
/// (`redis at redis://:***@cache:6379`): the users store's (none in memory),
/// then the session store's one or two parts.
pub(crate) type Places = (Option<String>, (String, Option<String>));

/// The stores' probes and the last report.
pub struct Health {
    users: Option<Arc<dyn UserRepository>>,
    sessions: SessionParts,
    places: Places,
    report: RwLock<HealthReport>,
}

impl Health {
    /// Probes `users` (none for the in-memory store, which is always up) and the
    /// parts of the sessions store, which are at `places`.
    pub(crate) fn new(
        users: Option<Arc<dyn UserRepository>>,
        sessions: SessionParts,
        backends: (&'static str, &'static str),
        places: Places,
    ) -> Self {
        let unknown = |backend| StoreHealth { backend, status: StoreStatus::Down };
        let report = HealthReport { users: unknown(backends.0), sessions: unknown(backends.1) };
        Self { users, sessions, places, report: RwLock::new(report) }
    }

    /// The last report.
    pub fn report(&self) -> HealthReport {
        *self.report.read().unwrap_or_else(PoisonError::into_inner)
    }

    /// Pings every store at once and updates the report, logging each change.
    pub async fn probe(&self) {
        let users = async {
            match &self.users {
                Some(users) => users.ping().await.is_ok(),
                None => true,
            }
        };
        let (first, second) = &self.sessions;
        let second = async {
            match second {
                Some(part) => Some(part.ping().await.is_ok()),
                None => None,
            }
        };
        let (users, first, second) = tokio::join!(users, first.ping(), second);
        let sessions: Vec<bool> = std::iter::once(first.is_ok()).chain(second).collect();
        let (users_place, (first_place, second_place)) = &self.places;
        let silent = |answered: &[bool], places: [Option<&String>; 2]| -> String {
            let silent = answered.iter().zip(places).filter(|(up, _)| !**up).filter_map(|(_, place)| place);
            silent.map(String::as_str).collect::<Vec<_>>().join(", ")
        };
        let unreachable = [
            silent(&[users], [users_place.as_ref(), None]),
            silent(&sessions, [Some(first_place), second_place.as_ref()]),
        ];
        let mut report = self.report.write().unwrap_or_else(PoisonError::into_inner);
        let next = HealthReport {
            users: StoreHealth { status: StoreStatus::of(&[users]), ..report.users },
            sessions: StoreHealth { status: StoreStatus::of(&sessions), ..report.sessions },
        };
        let changes = [("users", report.users, next.users), ("sessions", report.sessions, next.sessions)];
        for ((role, before, after), unreachable) in changes.into_iter().zip(unreachable) {
            if before.status != after.status {
                let (backend, status) = (after.backend, after.status.as_str());
                match after.status {
                    StoreStatus::Up => tracing::info!(role, backend, status, "store status changed"),
                    _ => tracing::warn!(role, backend, status, unreachable, "store status changed"),
                }
            }
        }
        *report = next;
        drop(report);
        self.publish();
    }

    /// Sets `sesame_store_up` and `sesame_store_degraded` from the last report:
    /// after every probe, and once by whoever installs the metrics recorder
    /// after the first probe ran (start-up probes before serving).
    pub fn publish(&self) {
        let report = self.report();
        for (store, health) in [("users", report.users), ("sessions", report.sessions)] {
            let up = if health.status == StoreStatus::Down { 0.0 } else { 1.0 };
            let degraded = if health.status == StoreStatus::Degraded { 1.0 } else { 0.0 };
            metrics::gauge!("sesame_store_up", "store" => store).set(up);
            metrics::gauge!("sesame_store_degraded", "store" => store).set(degraded);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_store_is_degraded_while_some_of_its_parts_answer() {
        assert_eq!(StoreStatus::of(&[true]), StoreStatus::Up);
        assert_eq!(StoreStatus::of(&[false]), StoreStatus::Down);
        assert_eq!(StoreStatus::of(&[true, false]), StoreStatus::Degraded);
        assert_eq!(StoreStatus::of(&[false, false]), StoreStatus::Down);
    }
}
