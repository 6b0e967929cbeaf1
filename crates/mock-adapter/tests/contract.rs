//! The ports' contract kit, run against the in-memory adapter.

use std::sync::Arc;

use sesame_mock::{InMemorySessionStore, InMemoryUserRepository};
use sesame_ports::{ManualClock, SessionStore, UserRepository};

sesame_ports::user_repository_contract!(|| async {
    Arc::new(InMemoryUserRepository::new()) as Arc<dyn UserRepository>
});

sesame_ports::session_store_contract!(|clock: ManualClock| async move {
    Arc::new(InMemorySessionStore::new(Arc::new(clock))) as Arc<dyn SessionStore>
});
