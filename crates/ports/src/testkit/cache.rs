//! The [`SessionCache`] contract, clause by clause: what a tiered store relies on
//! from its fast tier beyond [`SessionStore`](crate::SessionStore).

use std::sync::Arc;

use crate::{Cached, Clock, ManualClock, Session, SessionCache, UserId, testkit::SessionBuilder};

/// What each clause runs against: one cache of its own and the clock it reads.
pub struct Fixture {
    cache: Arc<dyn SessionCache>,
    clock: ManualClock,
}

impl Fixture {
    /// Wraps a fresh cache and the clock it was built with.
    pub fn new(cache: Arc<dyn SessionCache>, clock: ManualClock) -> Self {
        Self { cache, clock }
    }

    fn session(&self) -> Session {
        SessionBuilder::opened_at(self.clock.now()).build()
    }

    async fn lookup(&self, session: &Session) -> Cached {
        self.cache.lookup(&session.token_hash).await.expect("lookup")
    }
}

fn live(session: &Session, durable: bool) -> Cached {
    Cached::Live { session: session.clone(), durable }
}

/// `put` stores a session marked durable; `create` stores one that is not.
pub async fn put_is_durable_and_create_is_not(f: Fixture) {
    let put = f.session();
    f.cache.put(&put).await.expect("put");
    assert_eq!(f.lookup(&put).await, live(&put, true));
    assert_eq!(f.cache.get(&put.token_hash).await.expect("get"), Some(put.clone()), "a put session is an ordinary one");

    let created = f.session();
    f.cache.create(&created).await.expect("create");
    assert_eq!(f.lookup(&created).await, live(&created, false));
}

/// `mark_durable` marks a live session and nothing else.
pub async fn mark_durable_marks_only_a_live_session(f: Fixture) {
    let session = f.session();
    f.cache.create(&session).await.expect("create");
    assert!(f.cache.mark_durable(&session.token_hash).await.expect("mark"));
    assert_eq!(f.lookup(&session).await, live(&session, true));

    let unknown = f.session();
    assert!(!f.cache.mark_durable(&unknown.token_hash).await.expect("mark unknown"));
    assert_eq!(f.lookup(&unknown).await, Cached::Missing, "marking must not create a record");

    f.cache.end(std::slice::from_ref(&session)).await.expect("end");
    assert!(!f.cache.mark_durable(&session.token_hash).await.expect("mark ended"));
    assert_eq!(f.lookup(&session).await, Cached::Ended);
}

/// `fill` stores a session only where the cache holds nothing.
pub async fn fill_stores_only_where_nothing_is(f: Fixture) {
    let session = f.session();
    assert!(f.cache.fill(&session).await.expect("fill"));
    assert_eq!(f.lookup(&session).await, live(&session, true));

    let mut other = f.session();
    other.token_hash = session.token_hash;
    assert!(!f.cache.fill(&other).await.expect("fill over a live session"));
    assert_eq!(f.lookup(&session).await, live(&session, true), "a live session is not overwritten");
}

/// An ended session stays ended: not returned, not listed, not refilled; only
/// `put` replaces its marker.
pub async fn end_leaves_a_marker_that_fill_respects(f: Fixture) {
    let session = f.session();
    let other = SessionBuilder::opened_at(f.clock.now()).user(session.user_id).build();
    f.cache.create(&session).await.expect("create");
    f.cache.create(&other).await.expect("create");
    f.cache.end(std::slice::from_ref(&session)).await.expect("end");

    assert_eq!(f.lookup(&session).await, Cached::Ended);
    assert_eq!(f.cache.get(&session.token_hash).await.expect("get"), None);
    assert_eq!(f.cache.list_for_user(session.user_id).await.expect("list"), vec![other.clone()]);
    assert!(!f.cache.fill(&session).await.expect("fill"), "a refill must not bring an ended session back");
    assert_eq!(f.lookup(&session).await, Cached::Ended);
    let now = f.clock.now();
    assert!(!f.cache.touch(&session, now, now + SessionBuilder::IDLE).await.expect("touch"));

    f.cache.put(&session).await.expect("put");
    assert_eq!(f.lookup(&session).await, live(&session, true), "put replaces the marker");
    assert_eq!(f.lookup(&other).await, live(&other, false), "ending one session leaves the others");
}

/// Ending a session the cache never held still leaves the marker, so that a
/// refill racing with the end cannot bring it back.
pub async fn end_of_a_session_the_cache_never_held_leaves_a_marker(f: Fixture) {
    let session = f.session();
    f.cache.end(std::slice::from_ref(&session)).await.expect("end");
    assert_eq!(f.lookup(&session).await, Cached::Ended);
    assert!(!f.cache.fill(&session).await.expect("fill"));
    assert_eq!(f.cache.get(&session.token_hash).await.expect("get"), None);
}

/// `delete`, `revoke` and `revoke_all` leave ended markers too, so a tiered
/// store never looks for those sessions in its durable tier.
pub async fn deletions_leave_ended_markers(f: Fixture) {
    let user = UserId::random();
    let [deleted, revoked, first, second] =
        [(); 4].map(|()| SessionBuilder::opened_at(f.clock.now()).user(user).build());
    for session in [&deleted, &revoked, &first, &second] {
        f.cache.create(session).await.expect("create");
    }
    assert_eq!(f.cache.delete(&deleted.token_hash).await.expect("delete"), Some(deleted.clone()));
    assert_eq!(f.cache.revoke(user, revoked.id).await.expect("revoke"), Some(revoked.clone()));
    assert_eq!(f.cache.revoke_all(user).await.expect("revoke_all").len(), 2);
    for session in [&deleted, &revoked, &first, &second] {
        assert_eq!(f.lookup(session).await, Cached::Ended, "{session:?}");
    }
}

/// `end_by_hash` leaves a marker where the cache held a session, or nothing.
pub async fn end_by_hash_leaves_a_marker_whatever_the_cache_held(f: Fixture) {
    let held = f.session();
    let unknown = f.session();
    f.cache.create(&held).await.expect("create");
    for session in [&held, &unknown] {
        f.cache.end_by_hash(&session.token_hash, std::time::Duration::from_secs(60)).await.expect("end_by_hash");
        assert_eq!(f.lookup(session).await, Cached::Ended);
        assert!(!f.cache.fill(session).await.expect("fill"), "no refill over the marker");
    }
    assert_eq!(f.cache.get(&held.token_hash).await.expect("get"), None);
}

/// An expired session is missing, whatever tier it came from.
pub async fn an_expired_session_is_missing(f: Fixture) {
    let created = f.session();
    let put = f.session();
    f.cache.create(&created).await.expect("create");
    f.cache.put(&put).await.expect("put");
    f.clock.advance(SessionBuilder::IDLE);
    assert_eq!(f.lookup(&created).await, Cached::Missing);
    assert_eq!(f.lookup(&put).await, Cached::Missing);
    assert!(!f.cache.mark_durable(&created.token_hash).await.expect("mark"), "an expired session is not marked");
}

/// A session this cache ended stays ended whatever an import brings.
pub async fn import_never_revives_an_ended_session(f: Fixture) {
    super::sessions::import_never_revives_an_ended_session(f.cache, f.clock).await;
}
