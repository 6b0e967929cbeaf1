//! The [`SessionStore`] contract, clause by clause, and the [`SessionBuilder`]
//! every test uses to make sessions.

use std::{future::Future, net::IpAddr, sync::Arc};

use time::{Duration, OffsetDateTime};

use crate::{
    Clock, Email, ExportCursor, Imported, ManualClock, PortError, Session, SessionId, SessionMetadata, SessionStore,
    SessionTokenHash, UserId, UserSnapshot,
};

const IDLE: Duration = SessionBuilder::IDLE;

/// Builds a [`Session`] for a test: sensible defaults, adjusted per test.
///
/// ```
/// use sesame_ports::{ManualClock, Clock, UserId, testkit::SessionBuilder};
/// let clock = ManualClock::default();
/// let user = UserId::random();
/// let session = SessionBuilder::opened_at(clock.now()).user(user).build();
/// assert_eq!(session.user_id, user);
/// assert!(session.is_live_at(clock.now()));
/// ```
#[derive(Debug, Clone)]
pub struct SessionBuilder {
    session: Session,
}

impl SessionBuilder {
    /// The default idle window.
    pub const IDLE: Duration = Duration::minutes(30);
    /// The default absolute lifetime.
    pub const ABSOLUTE: Duration = Duration::hours(12);

    /// A session of a random user opened at `now`, with a random id and token
    /// hash, the default windows, a documentation IP and user agent, and a
    /// snapshot of a user who registered a day before.
    pub fn opened_at(now: OffsetDateTime) -> Self {
        let mut token = [0u8; 32];
        token[..16].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        token[16..].copy_from_slice(uuid::Uuid::new_v4().as_bytes());
        Self {
            session: Session {
                id: SessionId::random(),
                token_hash: SessionTokenHash::from_bytes(token),
                user_id: UserId::random(),
                created_at: now,
                last_seen_at: now,
                idle_expires_at: now + Self::IDLE,
                absolute_expires_at: now + Self::ABSOLUTE,
                metadata: SessionMetadata::new(Some(IpAddr::from([192, 0, 2, 7])), Some("contract-kit/1.0")),
                user: Some(UserSnapshot {
                    email: Email::parse("kit@example.com").expect("a valid address"),
                    is_verified: true,
                    created_at: now - Duration::days(1),
                }),
            },
        }
    }

    /// Whose session it is.
    pub fn user(mut self, user_id: UserId) -> Self {
        self.session.user_id = user_id;
        self
    }

    /// The token hash, for tests that hold the token.
    pub fn token_hash(mut self, token_hash: SessionTokenHash) -> Self {
        self.session.token_hash = token_hash;
        self
    }

    /// A token hash made of one repeated byte, for tests that look at keys.
    pub fn token_byte(mut self, byte: u8) -> Self {
        self.session.token_hash = SessionTokenHash::from_bytes([byte; 32]);
        self
    }

    /// The idle window, counted from the opening.
    pub fn idle_for(mut self, window: Duration) -> Self {
        self.session.idle_expires_at = self.session.last_seen_at + window;
        self
    }

    /// The absolute lifetime, counted from the opening.
    pub fn absolute_after(mut self, lifetime: Duration) -> Self {
        self.session.absolute_expires_at = self.session.created_at + lifetime;
        self
    }

    /// What the session keeps of its user (`None`: a session written before
    /// sessions kept one).
    pub fn user_snapshot(mut self, snapshot: Option<UserSnapshot>) -> Self {
        self.session.user = snapshot;
        self
    }

    /// What is known of the client.
    pub fn metadata(mut self, metadata: SessionMetadata) -> Self {
        self.session.metadata = metadata;
        self
    }

    /// The session.
    pub fn build(self) -> Session {
        self.session
    }
}

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
        SessionBuilder::opened_at(self.clock.now()).user(user_id).build()
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
    assert_eq!(f.store.delete(&session.token_hash).await.expect("delete"), Some(session.clone()));
    assert!(!f.is_live(&session).await);
    assert!(f.is_live(&other).await, "delete ends one session only");
    assert_eq!(f.store.delete(&session.token_hash).await.expect("second delete"), None);
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
    assert_eq!(f.store.revoke(user, revoked.id).await.expect("revoke"), Some(revoked.clone()));
    assert!(!f.is_live(&revoked).await);
    assert!(f.is_live(&kept).await);
    assert_eq!(f.store.list_for_user(user).await.expect("list"), vec![kept]);
    assert_eq!(f.store.revoke(user, revoked.id).await.expect("second revoke"), None);
}

/// Revoking someone else's session by its id reports `false` and leaves it live.
pub async fn revoke_of_another_users_session_is_refused(f: Fixture) {
    let victim = f.create(UserId::random()).await;
    let attacker = UserId::random();
    assert_eq!(f.store.revoke(attacker, victim.id).await.expect("revoke"), None);
    assert!(f.is_live(&victim).await);
    assert_eq!(f.store.revoke(attacker, SessionId::random()).await.expect("revoke unknown"), None);
}

/// `revoke_all` ends every session of one user and none of another's.
pub async fn revoke_all_ends_every_session_of_one_user_only(f: Fixture) {
    let user = UserId::random();
    let mine = [f.create(user).await, f.create(user).await, f.create(user).await];
    let theirs = f.create(UserId::random()).await;

    let ended = f.store.revoke_all(user).await.expect("revoke_all");
    assert_eq!(ended.len(), 3, "it returns the three sessions it ended");
    for session in &mine {
        assert!(ended.contains(session), "{session:?} is among those returned");
        assert!(!f.is_live(session).await);
    }
    assert!(f.store.list_for_user(user).await.expect("list").is_empty());
    assert!(f.is_live(&theirs).await, "another user's session survives");
    assert!(f.store.revoke_all(user).await.expect("again").is_empty());
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
    assert_eq!(f.store.revoke(session.user_id, session.id).await.expect("revoke"), None);
    assert!(f.store.revoke_all(session.user_id).await.expect("revoke_all").is_empty());
}

/// Deleting a session that has expired reports nothing deleted, and it stays gone.
pub async fn delete_of_an_expired_session_reports_none(f: Fixture) {
    let session = f.create(UserId::random()).await;
    f.clock.advance(IDLE);
    assert_eq!(f.store.delete(&session.token_hash).await.expect("delete"), None);
    f.clock.set(session.created_at);
    assert!(!f.is_live(&session).await, "deleted, not merely hidden: turning the clock back does not revive it");
}

/// Creating a session under a hash that already has one replaces it whole.
pub async fn create_replaces_a_session_with_the_same_hash(f: Fixture) {
    let first = f.create(UserId::random()).await;
    f.clock.advance(Duration::seconds(5));
    let mut second = f.session(UserId::random());
    second.token_hash = first.token_hash;
    f.store.create(&second).await.expect("create again");

    assert_eq!(f.store.get(&first.token_hash).await.expect("get"), Some(second.clone()));
    assert!(f.store.list_for_user(first.user_id).await.expect("list").is_empty(), "the first owner lost it");
    assert_eq!(f.store.list_for_user(second.user_id).await.expect("list"), vec![second]);
}

/// Purging removes sessions that are no longer live and never a live one.
pub async fn purge_removes_only_sessions_that_are_not_live(f: Fixture) {
    let user = UserId::random();
    let short = SessionBuilder::opened_at(f.clock.now()).user(user).idle_for(Duration::minutes(5)).build();
    f.store.create(&short).await.expect("create");
    let long = f.create(user).await;
    f.clock.advance(Duration::minutes(10));

    let purged = f.store.purge_expired(100).await.expect("purge");
    assert!(purged <= 1, "only the expired session may be purged, not {purged}");
    assert!(f.is_live(&long).await, "the live session survives the purge");
    assert_eq!(f.store.list_for_user(user).await.expect("list"), vec![long]);
    assert_eq!(f.store.purge_expired(100).await.expect("second purge"), 0, "nothing is left to purge");
}

/// A record that cannot be decoded is deleted and treated as absent. The kit
/// cannot write a corrupt record through the port, so each adapter that can hold
/// one calls this with `corrupt`, which garbles the stored record of the hash
/// it is given.
pub async fn a_corrupt_record_is_deleted_and_treated_as_absent<F, Fut>(f: Fixture, corrupt: F)
where
    F: FnOnce(SessionTokenHash) -> Fut,
    Fut: Future<Output = ()>,
{
    let session = f.create(UserId::random()).await;
    let other = f.create(session.user_id).await;
    corrupt(session.token_hash).await;
    assert_eq!(f.store.get(&session.token_hash).await.expect("get"), None, "a corrupt record is absent, not an error");
    assert_eq!(f.store.list_for_user(session.user_id).await.expect("list"), vec![other], "and it is not listed");
    let now = f.clock.now();
    assert!(!f.store.touch(&session, now, now + IDLE).await.expect("touch"), "nor extended");
}

/// A reachable store answers its ping.
pub async fn ping_answers(f: Fixture) {
    f.store.ping().await.expect("ping");
}

/// Every live session: the whole store, page after page.
async fn export_all(store: &dyn SessionStore, limit: u32) -> Vec<Session> {
    let mut cursor = ExportCursor::start();
    let mut sessions = Vec::new();
    loop {
        let page = store.export(cursor, limit).await.expect("export");
        sessions.extend(page.records);
        match page.next {
            Some(next) => cursor = next,
            None => return sessions,
        }
    }
}

/// An export pages through every live session, each once and whole, and
/// leaves out the expired.
pub async fn export_pages_through_every_live_session_once(f: Fixture) {
    let expired = SessionBuilder::opened_at(f.clock.now()).idle_for(Duration::minutes(1)).build();
    f.store.create(&expired).await.expect("create");
    f.clock.advance(Duration::minutes(2));
    let mut live = Vec::new();
    for user in [UserId::random(), UserId::random(), UserId::random()] {
        for _ in 0..8 {
            live.push(f.create(user).await);
        }
    }
    let exported = export_all(f.store.as_ref(), 5).await;
    for session in &live {
        let copies: Vec<&Session> =
            exported.iter().filter(|exported| exported.token_hash == session.token_hash).collect();
        assert_eq!(copies, [session], "exported once, as stored");
    }
    assert!(
        !exported.iter().any(|session| session.token_hash == expired.token_hash),
        "the expired session is left out"
    );
    assert!(exported.iter().all(|session| session.is_live_at(f.clock.now())));
    let err = f.store.export(ExportCursor::at("not a cursor of this store!"), 5).await;
    assert!(matches!(err, Err(PortError::Invalid(_))), "{err:?}");
}

/// An imported session is stored as exported and lives as long as it would
/// have; importing it again changes nothing.
pub async fn import_creates_a_session_as_exported_then_skips_it(f: Fixture) {
    let session = f.session(UserId::random());
    assert_eq!(f.store.import(&session).await.expect("import"), Imported::Created);
    assert_eq!(f.store.get(&session.token_hash).await.expect("get").as_ref(), Some(&session));
    assert_eq!(
        f.store.list_for_user(session.user_id).await.expect("list"),
        vec![session.clone()],
        "listed as its user's"
    );
    assert_eq!(f.store.import(&session).await.expect("import again"), Imported::Skipped);
    assert_eq!(f.store.get(&session.token_hash).await.expect("get").as_ref(), Some(&session));

    f.clock.advance(IDLE + Duration::minutes(1));
    assert!(!f.is_live(&session).await, "it ends when it would have ended where it came from");
}

/// An import takes a later use of a session, and never an earlier one.
pub async fn import_takes_a_later_use_and_never_an_earlier_one(f: Fixture) {
    let earlier = f.create(UserId::random()).await;
    f.clock.advance(Duration::minutes(5));
    let now = f.clock.now();
    let later = Session { last_seen_at: now, idle_expires_at: now + IDLE, ..earlier.clone() };
    assert_eq!(f.store.import(&later).await.expect("import"), Imported::Updated);
    assert_eq!(f.store.get(&later.token_hash).await.expect("get").as_ref(), Some(&later));
    assert_eq!(f.store.import(&earlier).await.expect("import"), Imported::Skipped, "an older copy never wins");
    assert_eq!(f.store.get(&later.token_hash).await.expect("get").as_ref(), Some(&later));
}

/// A session that is no longer live is not imported.
pub async fn import_skips_an_expired_session(f: Fixture) {
    let session = SessionBuilder::opened_at(f.clock.now()).idle_for(Duration::minutes(1)).build();
    f.clock.advance(Duration::minutes(2));
    assert_eq!(f.store.import(&session).await.expect("import"), Imported::Skipped);
    assert_eq!(f.store.get(&session.token_hash).await.expect("get"), None);
    assert!(f.store.list_for_user(session.user_id).await.expect("list").is_empty());
}

/// A session this store ended is not brought back by an import, however
/// recent its copy: what lets a live move carry sessions forward from the store
/// it leaves without reviving one ended meanwhile.
pub async fn import_never_revives_a_session_it_ended(f: Fixture) {
    import_never_revives_an_ended_session(f.store, f.clock).await;
}

/// [`import_never_revives_a_session_it_ended`], for the tier kits.
pub async fn import_never_revives_an_ended_session(store: Arc<dyn SessionStore>, clock: ManualClock) {
    let f = Fixture::new(store, clock);
    let session = f.create(UserId::random()).await;
    f.store.delete(&session.token_hash).await.expect("delete");
    f.clock.advance(Duration::minutes(1));
    let now = f.clock.now();
    let later = Session { last_seen_at: now, idle_expires_at: now + IDLE, ..session.clone() };
    assert_eq!(f.store.import(&later).await.expect("import"), Imported::Skipped);
    assert_eq!(f.store.get(&session.token_hash).await.expect("get"), None, "it stays ended");
}
