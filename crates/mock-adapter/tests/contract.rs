//! The ports' contract kit, run against the in-memory adapter.

use std::sync::Arc;

use sesame_mock::{InMemoryRateLimiter, InMemorySessionStore, InMemoryUserRepository};
use sesame_ports::{ManualClock, RateLimiter, SessionStore, UserRepository};

sesame_ports::user_repository_contract!(|| async {
    Arc::new(InMemoryUserRepository::new()) as Arc<dyn UserRepository>
});

sesame_ports::session_store_contract!(|clock: ManualClock| async move {
    Arc::new(InMemorySessionStore::new(Arc::new(clock))) as Arc<dyn SessionStore>
});

sesame_ports::rate_limiter_contract!(|| async { Arc::new(InMemoryRateLimiter::new()) as Arc<dyn RateLimiter> });
