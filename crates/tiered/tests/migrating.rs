//! The migrating store: the session store contract over two in-memory stores,
//! and what the contract cannot see — sessions carried forward from the old
//! store, ends reaching both, an old store that fails.

use std::sync::Arc;

use sesame_mock::InMemorySessionStore;
use sesame_ports::{
    Clock, ManualClock, MockSessionStore, PortError, Session, SessionStore, UserId, testkit::SessionBuilder,
};
use sesame_tiered::MigratingSessionStore;

mod contract {
    use super::*;

    sesame_ports::session_store_contract!(|clock: ManualClock| async move {
        let new = Arc::new(InMemorySessionStore::new(Arc::new(clock.clone())));
        let old = Arc::new(InMemorySessionStore::new(Arc::new(clock)));
        Arc::new(MigratingSessionStore::new(new, old)) as Arc<dyn SessionStore>
    });
}

struct Move {
    clock: ManualClock,
    new: Arc<InMemorySessionStore>,
    old: Arc<InMemorySessionStore>,
    store: MigratingSessionStore,
}

impl Move {
    fn new() -> Self {
        let clock = ManualClock::default();
        let new = Arc::new(InMemorySessionStore::new(Arc::new(clock.clone())));
        let old = Arc::new(InMemorySessionStore::new(Arc::new(clock.clone())));
        let store = MigratingSessionStore::new(Arc::clone(&new) as _, Arc::clone(&old) as _);
        Self { clock, new, old, store }
    }

    fn session(&self) -> Session {
        SessionBuilder::opened_at(self.clock.now()).build()
    }
}

#[tokio::test]
async fn a_session_only_the_old_store_holds_is_served_and_carried_forward() {
    let m = Move::new();
    let session = m.session();
    m.old.create(&session).await.unwrap();

    assert_eq!(m.store.get(&session.token_hash).await.unwrap(), Some(session.clone()));
    assert_eq!(m.new.get(&session.token_hash).await.unwrap(), Some(session.clone()), "now in the new store");

    let later = m.clock.now() + time::Duration::minutes(5);
    assert!(m.store.touch(&session, later, later + SessionBuilder::IDLE).await.unwrap(), "uses reach the new store");
    assert_eq!(m.new.get(&session.token_hash).await.unwrap().unwrap().last_seen_at, later);
}

#[tokio::test]
async fn a_session_the_new_store_ended_is_not_brought_back_from_the_old_one() {
    let m = Move::new();
    let session = m.session();
    m.old.create(&session).await.unwrap();
    m.new.create(&session).await.unwrap();
    // Ended by an instance that reads the new store only.
    m.new.delete(&session.token_hash).await.unwrap();

    assert_eq!(m.store.get(&session.token_hash).await.unwrap(), None);
    assert_eq!(m.new.get(&session.token_hash).await.unwrap(), None, "still ended in the new store");
}

#[tokio::test]
async fn new_sessions_are_written_to_both_stores_and_ends_reach_both() {
    let m = Move::new();
    let (kept, ended) = (m.session(), m.session());
    for session in [&kept, &ended] {
        m.store.create(session).await.unwrap();
        assert!(m.old.get(&session.token_hash).await.unwrap().is_some(), "instances on the old settings accept it");
    }

    assert_eq!(m.store.delete(&ended.token_hash).await.unwrap(), Some(ended.clone()));
    assert_eq!(m.new.get(&ended.token_hash).await.unwrap(), None);
    assert_eq!(m.old.get(&ended.token_hash).await.unwrap(), None);
    assert!(m.new.get(&kept.token_hash).await.unwrap().is_some(), "the other session lives on");
}

#[tokio::test]
async fn listing_and_revoking_see_both_stores_once() {
    let m = Move::new();
    let user = UserId::random();
    let in_both = SessionBuilder::opened_at(m.clock.now()).user(user).build();
    let only_old = SessionBuilder::opened_at(m.clock.now() + time::Duration::seconds(1)).user(user).build();
    let only_new = SessionBuilder::opened_at(m.clock.now() + time::Duration::seconds(2)).user(user).build();
    m.store.create(&in_both).await.unwrap();
    m.old.create(&only_old).await.unwrap();
    m.new.create(&only_new).await.unwrap();

    let listed = m.store.list_for_user(user).await.unwrap();
    assert_eq!(listed, vec![in_both.clone(), only_old.clone(), only_new.clone()], "each once, oldest first");

    assert_eq!(m.store.revoke(user, only_old.id).await.unwrap(), Some(only_old.clone()));
    assert_eq!(m.old.get(&only_old.token_hash).await.unwrap(), None);

    let ended = m.store.revoke_all(user).await.unwrap();
    assert_eq!(ended.len(), 2, "{ended:?}");
    assert!(m.store.list_for_user(user).await.unwrap().is_empty());
    assert!(m.old.list_for_user(user).await.unwrap().is_empty(), "revoke-all reached the old store");
}

fn failing_old() -> MockSessionStore {
    let mut old = MockSessionStore::new();
    old.expect_create().returning(|_| Err(PortError::unavailable("redis", "down")));
    old.expect_delete().returning(|_| Err(PortError::unavailable("redis", "down")));
    old.expect_get().returning(|_| Err(PortError::unavailable("redis", "down")));
    old
}

#[tokio::test]
async fn an_old_store_that_fails_fails_ends_and_misses_but_not_logins_or_hits() {
    let clock = ManualClock::default();
    let new = Arc::new(InMemorySessionStore::new(Arc::new(clock.clone())));
    let store = MigratingSessionStore::new(Arc::clone(&new) as _, Arc::new(failing_old()));
    let session = SessionBuilder::opened_at(clock.now()).build();

    store.create(&session).await.expect("a login works without the old store");
    assert_eq!(store.get(&session.token_hash).await.unwrap(), Some(session.clone()), "a hit needs the new store only");

    let err = store.delete(&session.token_hash).await.expect_err("an end that misses the old store is reported");
    assert!(matches!(err, PortError::Unavailable { .. }), "{err:?}");

    let unknown = SessionBuilder::opened_at(clock.now()).build();
    let err = store.get(&unknown.token_hash).await.expect_err("a miss cannot be answered without the old store");
    assert!(matches!(err, PortError::Unavailable { .. }), "{err:?}");
}
