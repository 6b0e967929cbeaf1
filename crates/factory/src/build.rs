//! From settings to adapters.

use std::{fmt, sync::Arc};

use sesame_mock::{InMemorySessionStore, InMemoryUserRepository};
use sesame_ports::{Clock, SessionStore, UserRepository};

use crate::{EnvironmentError, SessionBackend, Settings, SettingsError, UserBackend};

/// The adapters behind every port, ready to hand to the domain.
#[derive(Clone)]
pub struct Adapters {
    /// Where users live.
    pub users: Arc<dyn UserRepository>,
    /// Where sessions live.
    pub sessions: Arc<dyn SessionStore>,
    /// The clock every time-dependent rule reads.
    pub clock: Arc<dyn Clock>,
    /// Backend names, for logs, metrics and readiness: `(users, sessions)`.
    pub backends: (&'static str, &'static str),
}

impl fmt::Debug for Adapters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adapters").field("backends", &self.backends).finish_non_exhaustive()
    }
}

/// Why the service cannot start.
#[derive(Debug, thiserror::Error)]
pub enum FactoryError {
    /// `SESSION_ENVIRONMENT` is not an environment.
    #[error(transparent)]
    Environment(#[from] EnvironmentError),
    /// The settings are malformed or refused.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// The selected backend has no adapter yet.
    #[error(
        "the {backend} adapter is not available yet; run with SESSION_ENVIRONMENT=mock (the default) or set {setting}=memory"
    )]
    NotAvailableYet {
        /// The backend asked for.
        backend: &'static str,
        /// The setting that asked for it.
        setting: &'static str,
    },
}

/// Builds the adapters the settings select. Every adapter that reads time reads `clock`,
/// so a test can pass a [`ManualClock`](sesame_ports::ManualClock) and move time.
pub async fn build(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Adapters, FactoryError> {
    let users: Arc<dyn UserRepository> = match settings.store.users {
        UserBackend::Memory => Arc::new(InMemoryUserRepository::new()),
        UserBackend::Postgres => {
            return Err(FactoryError::NotAvailableYet { backend: "postgres", setting: "SESAME__STORE__USERS" });
        }
    };
    let sessions: Arc<dyn SessionStore> = match settings.store.sessions {
        SessionBackend::Memory => Arc::new(InMemorySessionStore::new(Arc::clone(&clock))),
        SessionBackend::Redis => {
            return Err(FactoryError::NotAvailableYet { backend: "redis", setting: "SESAME__STORE__SESSIONS" });
        }
    };
    Ok(Adapters { users, sessions, clock, backends: (sesame_mock::BACKEND, sesame_mock::BACKEND) })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use sesame_ports::SystemClock;

    use super::*;
    use crate::Environment;

    #[tokio::test]
    async fn mock_builds_in_memory_adapters() {
        let settings = Settings::from_vars(Environment::Mock, HashMap::new()).unwrap();
        let adapters = build(&settings, Arc::new(SystemClock)).await.unwrap();
        assert_eq!(adapters.backends, ("memory", "memory"));
        adapters.users.ping().await.unwrap();
    }

    #[tokio::test]
    async fn development_says_its_stores_are_not_available_rather_than_falling_back() {
        let settings = Settings::from_vars(Environment::Development, HashMap::new()).unwrap();
        let err = build(&settings, Arc::new(SystemClock)).await.unwrap_err();
        assert!(err.to_string().contains("postgres adapter is not available yet"), "{err}");
    }
}
