//! The [`SessionStore`] contract, clause by clause.

use std::{net::IpAddr, sync::Arc};

use time::Duration;

use crate::{Clock, ManualClock, Session, SessionId, SessionMetadata, SessionStore, SessionTokenHash, UserId};

const IDLE: Duration = Duration::minutes(30);
const ABSOLUTE: Duration = Duration::hours(12);

/// What each clause runs against: one store of its own and the clock it reads.
pub struct Fixture {
    store: Arc<dyn SessionStore>,
    clock: ManualClock,
}

impl Fixture {
    /// Wraps a fresh store and the clock it was built with.
    pub fn new(store: Arc<dyn SessionStore>, clock: ManualClock) -> Self {
        Self { store, clock }
    }

    /// A session of `user_id` opened now, with a random token hash.
    fn session(&self, user_id: UserId) -> Session {
        let now = self.clock.now();
        let mut token = [0u8; 32];
        token[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        token[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Session {
            id: SessionId::random(),
            token_hash: SessionTokenHash::from_bytes(token),
            user_id,
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now + IDLE,
            absolute_expires_at: now + ABSOLUTE,
            metadata: SessionMetadata::new(Some(IpAddr::from([192, 0, 2, 7])), Some("contract-kit/1.0")),
        }
    }

    async fn create(&self, user_id: UserId) -> Session {
        let session = self.session(user_id);
        self.store.create(&session).await.expect("create");
        session
    }

    async fn is_live(&self, session: &Session) -> bool {
        self.store.get(&session.token_hash).await.expect("get").is_some()
    }
}

/// A created session is returned whole by its token hash.
pub async fn create_then_get(f: Fixture) {
    let session = f.create(UserId::random()).await;
    assert_eq!(f.store.get(&session.token_hash).await.expect("get"), Some(session));
}

/// An unknown token hash is not an error.
pub async fn get_of_unknown_hash_returns_none(f: Fixture) {
    let unknown = f.session(UserId::random());
    assert_eq!(f.store.get(&unknown.token_hash).await.expect("get"), None);
}

/// `touch` moves `last_seen_at` and the idle expiry, so a used session outlives its first window.
pub async fn touch_extends_the_idle_expiry(f: Fixture) {
    let session = f.create(UserId::random()).await;
    f.clock.advance(Duration::minutes(20));
    let now = f.clock.now();
    assert!(f.store.touch(&session, now, now + IDLE).await.expect("touch"));

    let touched = f.store.get(&session.token_hash).await.expect("get").expect("live");
    assert_eq!((touched.last_seen_at, touched.idle_expires_at), (now, now + IDLE));
    assert_eq!(touched.created_at, session.created_at, "touch keeps the creation time");

    f.clock.advance(Duration::minutes(20));
    assert!(f.is_live(&session).await, "40 minutes after creation, 20 after use, it is live");
}

/// Touching a session that does not exist reports `false`.
pub async fn touch_of_unknown_session_returns_false(f: Fixture) {
    let unknown = f.session(UserId::random());
    let now = f.clock.now();
    assert!(!f.store.touch(&unknown, now, now + IDLE).await.expect("touch"));
    assert!(!f.is_live(&unknown).await, "touch must not create a session");
}

/// `delete` ends the session and reports whether there was one.
pub async fn delete_removes_the_session(f: Fixture) {
    let session = f.create(UserId::random()).await;
    let other = f.create(session.user_id).await;
    assert!(f.store.delete(&session.token_hash).await.expect("delete"));
    assert!(!f.is_live(&session).await);
    assert!(f.is_live(&other).await, "delete ends one session only");
    assert!(!f.store.delete(&session.token_hash).await.expect("second delete"));
}

/// A user's live sessions are listed oldest first, and nobody else's.
pub async fn list_returns_the_users_live_sessions_oldest_first(f: Fixture) {
    let user = UserId::random();
    let first = f.create(user).await;
    f.clock.advance(Duration::seconds(1));
    let second = f.create(user).await;
    let stranger = f.create(UserId::random()).await;

    let listed = f.store.list_for_user(user).await.expect("list");
    assert_eq!(listed, vec![first, second]);
    assert_eq!(f.store.list_for_user(stranger.user_id).await.expect("list"), vec![stranger]);
    assert!(f.store.list_for_user(UserId::random()).await.expect("list").is_empty());
}

/// `revoke` ends one session of its owner by public id.
pub async fn revoke_deletes_one_own_session(f: Fixture) {
    let user = UserId::random();
    let revoked = f.create(user).await;
    let kept = f.create(user).await;
    assert!(f.store.revoke(user, revoked.id).await.expect("revoke"));
    assert!(!f.is_live(&revoked).await);
    assert!(f.is_live(&kept).await);
    assert_eq!(f.store.list_for_user(user).await.expect("list"), vec![kept]);
    assert!(!f.store.revoke(user, revoked.id).await.expect("second revoke"));
}

/// Revoking someone else's session by its id reports `false` and leaves it live.
pub async fn revoke_of_another_users_session_is_refused(f: Fixture) {
    let victim = f.create(UserId::random()).await;
    let attacker = UserId::random();
    assert!(!f.store.revoke(attacker, victim.id).await.expect("revoke"));
    assert!(f.is_live(&victim).await);
    assert!(!f.store.revoke(attacker, SessionId::random()).await.expect("revoke unknown"));
}

/// `revoke_all` ends every session of one user and none of another's.
pub async fn revoke_all_ends_every_session_of_one_user_only(f: Fixture) {
    let user = UserId::random();
    let mine = [f.create(user).await, f.create(user).await, f.create(user).await];
    let theirs = f.create(UserId::random()).await;

    assert_eq!(f.store.revoke_all(user).await.expect("revoke_all"), 3);
    for session in &mine {
        assert!(!f.is_live(session).await);
    }
    assert!(f.store.list_for_user(user).await.expect("list").is_empty());
    assert!(f.is_live(&theirs).await, "another user's session survives");
    assert_eq!(f.store.revoke_all(user).await.expect("again"), 0);
}

/// A session left unused for its idle window is gone: not returned, not listed.
pub async fn idle_expiry_ends_an_unused_session(f: Fixture) {
    let session = f.create(UserId::random()).await;
    f.clock.advance(IDLE - Duration::seconds(1));
    assert!(f.is_live(&session).await, "one second before the idle expiry it is live");
    f.clock.advance(Duration::seconds(1));
    assert!(!f.is_live(&session).await, "at the idle expiry it is gone");
    assert!(f.store.list_for_user(session.user_id).await.expect("list").is_empty());
}

/// A session used within every idle window still ends at its absolute expiry.
pub async fn absolute_expiry_ends_a_session_however_much_it_is_used(f: Fixture) {
    let session = f.create(UserId::random()).await;
    let step = IDLE - Duration::minutes(1);
    while f.clock.now() + step < session.absolute_expires_at {
        f.clock.advance(step);
        let now = f.clock.now();
        let idle_expires_at = (now + IDLE).min(session.absolute_expires_at);
        assert!(f.store.touch(&session, now, idle_expires_at).await.expect("touch"));
    }
    assert!(f.is_live(&session).await, "used in every window, it is live until the absolute expiry");
    f.clock.set(session.absolute_expires_at);
    assert!(!f.is_live(&session).await, "at the absolute expiry it is gone");
    assert!(f.store.list_for_user(session.user_id).await.expect("list").is_empty());
}

/// An expired session cannot be brought back by `touch`, and revoking it reports nothing deleted.
pub async fn expired_session_is_neither_touched_nor_revoked(f: Fixture) {
    let session = f.create(UserId::random()).await;
    f.clock.advance(IDLE);
    let now = f.clock.now();
    assert!(!f.store.touch(&session, now, now + IDLE).await.expect("touch"));
    assert!(!f.is_live(&session).await, "touch must not revive an expired session");
    assert!(!f.store.revoke(session.user_id, session.id).await.expect("revoke"));
    assert_eq!(f.store.revoke_all(session.user_id).await.expect("revoke_all"), 0);
}

/// A reachable store answers its ping.
pub async fn ping_answers(f: Fixture) {
    f.store.ping().await.expect("ping");
}
