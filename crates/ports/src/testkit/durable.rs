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

/// Every deletion puts the sessions it ends on the cache-pending list, until
/// cleared; live sessions are never on it.
pub async fn deletions_leave_sessions_cache_pending_until_cleared(f: Fixture) {
    let user = UserId::random();
    let [deleted, revoked, all, live] = [(); 4].map(|()| f.session());
    let mine = SessionBuilder::opened_at(f.clock.now()).user(user).build();
    for session in [&deleted, &revoked, &all, &live, &mine] {
        f.store.create(session).await.expect("create");
    }
    assert!(f.pending().await.is_empty(), "nothing ended, nothing pending");
    f.store.delete(&deleted.token_hash).await.expect("delete");
    f.store.revoke(revoked.user_id, revoked.id).await.expect("revoke");
    f.store.revoke_all(all.user_id).await.expect("revoke_all");
    f.store.revoke_all(user).await.expect("revoke_all");
    let ended = [deleted.token_hash, revoked.token_hash, all.token_hash, mine.token_hash];
    assert_eq!(f.pending().await, sorted(ended.to_vec()));
    let listed = f.store.cache_pending(100).await.expect("cache_pending");
    assert!(listed.contains(&deleted) && listed.contains(&mine), "whole sessions, for the cache to end them");
    assert_eq!(f.store.cache_pending(1).await.expect("limited").len(), 1, "the limit holds");

    f.store.clear_cache_pending(&[deleted.token_hash, live.token_hash]).await.expect("clear");
    assert_eq!(f.pending().await, sorted(vec![revoked.token_hash, all.token_hash, mine.token_hash]));
    assert_eq!(f.store.get(&live.token_hash).await.expect("get"), Some(live), "clearing never touches a live session");
}

/// `ended_since` lists what ended from an instant on, cleared or not.
pub async fn ended_since_lists_recent_ends_whether_cleared_or_not(f: Fixture) {
    let [early, late, live] = [(); 3].map(|()| f.session());
    for session in [&early, &late, &live] {
        f.store.create(session).await.expect("create");
    }
    f.store.delete(&early.token_hash).await.expect("delete");
    f.clock.advance(Duration::minutes(1));
    let since = f.clock.now();
    f.store.delete(&late.token_hash).await.expect("delete");
    f.store.clear_cache_pending(&[late.token_hash]).await.expect("clear");

    let recent: Vec<SessionTokenHash> =
        f.store.ended_since(since, 100).await.expect("ended_since").iter().map(|s| s.token_hash).collect();
    assert_eq!(recent, vec![late.token_hash], "only what ended from `since` on, cleared or not");
    let all = f.store.ended_since(since - Duration::minutes(2), 100).await.expect("ended_since");
    assert_eq!(all.len(), 2);
}

/// An ended record is purged once the session would have expired, and leaves
/// the pending list with it.
pub async fn ended_records_are_purged_at_their_expiry(f: Fixture) {
    let session = SessionBuilder::opened_at(f.clock.now()).idle_for(Duration::minutes(5)).build();
    f.store.create(&session).await.expect("create");
    f.store.delete(&session.token_hash).await.expect("delete");
    assert_eq!(f.pending().await, vec![session.token_hash]);
    assert_eq!(f.store.purge_expired(100).await.expect("purge"), 0, "an ended record outlives its deletion");

    f.clock.advance(Duration::minutes(5));
    assert_eq!(f.store.purge_expired(100).await.expect("purge"), 1);
    assert!(f.pending().await.is_empty());
    assert!(f.store.insert_if_absent(&session).await.expect("insert"), "once purged, the hash is free again");
}

/// `touch_many` records uses in one call: it brings a session up to date even
/// when its stored idle expiry has lapsed (the durable tier lags the cache it is
/// written behind), skips ended, unknown and absolutely expired sessions, and
/// never shortens a session.
pub async fn touch_many_records_uses_and_never_shortens_a_session(f: Fixture) {
    let [live, ended, unknown, later] = [(); 4].map(|()| f.session());
    let lagging = SessionBuilder::opened_at(f.clock.now()).idle_for(Duration::minutes(1)).build();
    let finished = SessionBuilder::opened_at(f.clock.now())
        .absolute_after(Duration::minutes(1))
        .idle_for(Duration::minutes(1))
        .build();
    for session in [&live, &ended, &later, &lagging, &finished] {
        f.store.create(session).await.expect("create");
    }
    f.store.delete(&ended.token_hash).await.expect("delete");
    f.clock.advance(Duration::minutes(2));
    let now = f.clock.now();
    let idle = now + SessionBuilder::IDLE;
    f.store.touch(&later, now, idle + Duration::minutes(5)).await.expect("a direct touch, later than the batch");

    let touch = |session: &Session| Touch { token_hash: session.token_hash, last_seen_at: now, idle_expires_at: idle };
    let batch = [touch(&live), touch(&ended), touch(&unknown), touch(&later), touch(&lagging), touch(&finished)];
    f.store.touch_many(&batch).await.expect("touch_many");

    for extended in [&live, &lagging] {
        let stored = f.store.get(&extended.token_hash).await.expect("get").expect("live");
        assert_eq!((stored.last_seen_at, stored.idle_expires_at), (now, idle), "{extended:?} was brought up to date");
    }
    for gone in [&ended, &unknown, &finished] {
        assert_eq!(f.store.get(&gone.token_hash).await.expect("get"), None, "{gone:?} stays gone");
    }
    let stored = f.store.get(&later.token_hash).await.expect("get").expect("live");
    assert_eq!(stored.idle_expires_at, idle + Duration::minutes(5), "a late batch does not shorten a session");
}

/// A session this store ended stays ended whatever an import brings.
pub async fn import_never_revives_an_ended_session(f: Fixture) {
    super::sessions::import_never_revives_an_ended_session(f.store, f.clock).await;
}
