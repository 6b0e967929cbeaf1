//! The [`DurableSessionStore`] contract, clause by clause: what a tiered store
//! relies on from its durable tier beyond [`SessionStore`](crate::SessionStore).

use std::sync::Arc;

use time::Duration;

use crate::{
    Clock, DurableSessionStore, ManualClock, Session, SessionTokenHash, Touch, UserId, testkit::SessionBuilder,
};

/// What each clause runs against: one store of its own and the clock it reads.
pub struct Fixture {
    store: Arc<dyn DurableSessionStore>,
    clock: ManualClock,
}

impl Fixture {
    /// Wraps a fresh store and the clock it was built with.
    pub fn new(store: Arc<dyn DurableSessionStore>, clock: ManualClock) -> Self {
        Self { store, clock }
    }

    fn session(&self) -> Session {
        SessionBuilder::opened_at(self.clock.now()).build()
    }

    async fn pending(&self) -> Vec<SessionTokenHash> {
        let mut pending: Vec<SessionTokenHash> =
            self.store.cache_pending(100).await.expect("cache_pending").iter().map(|s| s.token_hash).collect();
        pending.sort_by_key(|hash| *hash.as_bytes());
        pending
    }
}

fn sorted(mut hashes: Vec<SessionTokenHash>) -> Vec<SessionTokenHash> {
    hashes.sort_by_key(|hash| *hash.as_bytes());
    hashes
}

/// `insert_if_absent` stores a session once and never overwrites it.
pub async fn insert_if_absent_stores_once(f: Fixture) {
    let session = f.session();
    assert!(f.store.insert_if_absent(&session).await.expect("insert"));
    assert_eq!(f.store.get(&session.token_hash).await.expect("get"), Some(session.clone()));

    let mut other = f.session();
    other.token_hash = session.token_hash;
    assert!(!f.store.insert_if_absent(&other).await.expect("insert again"));
    assert_eq!(f.store.get(&session.token_hash).await.expect("get"), Some(session));
}

/// An ended session cannot be copied back in: its record outlives the deletion.
pub async fn insert_if_absent_never_revives_an_ended_session(f: Fixture) {
    let [deleted, revoked, all] = [(); 3].map(|()| f.session());
    for session in [&deleted, &revoked, &all] {
        f.store.create(session).await.expect("create");
    }
    f.store.delete(&deleted.token_hash).await.expect("delete");
    f.store.revoke(revoked.user_id, revoked.id).await.expect("revoke");
    f.store.revoke_all(all.user_id).await.expect("revoke_all");
    for session in [&deleted, &revoked, &all] {
        assert!(!f.store.insert_if_absent(session).await.expect("insert"), "{session:?} was copied back");
        assert_eq!(f.store.get(&session.token_hash).await.expect("get"), None);
    }
}

/// Ended sessions marked cache-pending are listed until cleared; live or
/// unknown hashes are not.
pub async fn cache_pending_lists_marked_ended_sessions_until_cleared(f: Fixture) {
    let user = UserId::random();
    let [first, second, live] = [(); 3].map(|()| SessionBuilder::opened_at(f.clock.now()).user(user).build());
    for session in [&first, &second, &live] {
        f.store.create(session).await.expect("create");
    }
    f.store.delete(&first.token_hash).await.expect("delete");
    f.store.delete(&second.token_hash).await.expect("delete");
    assert!(f.pending().await.is_empty(), "nothing is pending until marked");

    let unknown = f.session().token_hash;
    let marked = [first.token_hash, second.token_hash, live.token_hash, unknown];
    f.store.mark_cache_pending(&marked).await.expect("mark");
    assert_eq!(f.pending().await, sorted(vec![first.token_hash, second.token_hash]));
    let listed = f.store.cache_pending(100).await.expect("cache_pending");
    assert!(listed.contains(&first) && listed.contains(&second), "whole sessions, for the cache to end them");
    assert_eq!(f.store.cache_pending(1).await.expect("limited").len(), 1, "the limit holds");

    f.store.clear_cache_pending(&[first.token_hash]).await.expect("clear");
    assert_eq!(f.pending().await, vec![second.token_hash]);
    assert_eq!(f.store.get(&live.token_hash).await.expect("get"), Some(live), "marking never ends a live session");
}

/// An ended record is purged once the session would have expired, and leaves
/// the pending list with it.
pub async fn ended_records_are_purged_at_their_expiry(f: Fixture) {
    let session = SessionBuilder::opened_at(f.clock.now()).idle_for(Duration::minutes(5)).build();
    f.store.create(&session).await.expect("create");
    f.store.delete(&session.token_hash).await.expect("delete");
    f.store.mark_cache_pending(&[session.token_hash]).await.expect("mark");
    assert_eq!(f.store.purge_expired(100).await.expect("purge"), 0, "an ended record outlives its deletion");

    f.clock.advance(Duration::minutes(5));
    assert_eq!(f.store.purge_expired(100).await.expect("purge"), 1);
    assert!(f.pending().await.is_empty());
    assert!(f.store.insert_if_absent(&session).await.expect("insert"), "once purged, the hash is free again");
}

/// `touch_many` extends live sessions in one call, skips the rest, and never
/// shortens a session.
pub async fn touch_many_extends_live_sessions_and_never_shortens_one(f: Fixture) {
    let [live, ended, unknown, later] = [(); 4].map(|()| f.session());
    let short = SessionBuilder::opened_at(f.clock.now()).idle_for(Duration::minutes(1)).build();
    for session in [&live, &ended, &short, &later] {
        f.store.create(session).await.expect("create");
    }
    f.store.delete(&ended.token_hash).await.expect("delete");
    f.clock.advance(Duration::minutes(2));
    let now = f.clock.now();
    let idle = now + SessionBuilder::IDLE;
    f.store.touch(&later, now, idle + Duration::minutes(5)).await.expect("a direct touch, later than the batch");

    let touch = |session: &Session| Touch { token_hash: session.token_hash, last_seen_at: now, idle_expires_at: idle };
    let batch = [touch(&live), touch(&ended), touch(&short), touch(&unknown), touch(&later)];
    f.store.touch_many(&batch).await.expect("touch_many");

    let stored = f.store.get(&live.token_hash).await.expect("get").expect("live");
    assert_eq!((stored.last_seen_at, stored.idle_expires_at), (now, idle), "the live session was extended");
    for gone in [&ended, &short, &unknown] {
        assert_eq!(f.store.get(&gone.token_hash).await.expect("get"), None, "{gone:?} stays gone");
    }
    let stored = f.store.get(&later.token_hash).await.expect("get").expect("live");
    assert_eq!(stored.idle_expires_at, idle + Duration::minutes(5), "a late batch does not shorten a session");
}
