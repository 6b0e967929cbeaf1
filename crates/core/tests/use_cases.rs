//! The use cases against mockall mocks of the ports, failure paths included.

use std::{io, sync::Arc};

use sesame_core::{
    AuthError, AuthService, Credentials, PasswordHasher, SessionPolicy, SessionToken,
    ports::{
        Clock, Email, ManualClock, MockSessionStore, MockUserRepository, NewUser, PasswordHash, PortError, Session,
        SessionId, SessionMetadata, User, UserId, testkit::SessionBuilder,
    },
};
use time::Duration;

const PASSWORD: &str = "correct horse battery staple";

fn service(users: MockUserRepository, sessions: MockSessionStore, clock: &ManualClock) -> AuthService {
    AuthService::new(
        Arc::new(users),
        Arc::new(sessions),
        Arc::new(clock.clone()),
        PasswordHasher::new(2, 64),
        SessionPolicy {
            idle_timeout: Duration::minutes(30),
            absolute_timeout: Duration::hours(12),
            touch_interval: Duration::seconds(60),
        },
    )
}

fn meta() -> SessionMetadata {
    SessionMetadata::default()
}

fn outage() -> PortError {
    PortError::unavailable("test", io::Error::new(io::ErrorKind::ConnectionRefused, "refused"))
}

async fn stored_user(clock: &ManualClock) -> User {
    let hasher = PasswordHasher::new(1, 64);
    let hash = hasher.hash(&sesame_core::Password::parse(PASSWORD).unwrap()).await.unwrap();
    User {
        id: UserId::random(),
        email: Email::parse("alice@example.com").unwrap(),
        password_hash: hash,
        is_verified: false,
        is_disabled: false,
        created_at: clock.now(),
    }
}

fn session_of(user_id: UserId, token: &SessionToken, clock: &ManualClock) -> Session {
    SessionBuilder::opened_at(clock.now()).user(user_id).token_hash(token.hash()).build()
}

#[tokio::test]
async fn register_stores_an_argon2id_hash_and_opens_a_session() {
    let clock = ManualClock::default();
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().times(1).returning(|_| Ok(None));
    users.expect_create().times(1).returning(|new: NewUser| {
        assert_eq!(new.email.as_str(), "alice@example.com");
        assert!(new.password_hash.expose().starts_with("$argon2id$"));
        Ok(new.into())
    });
    let mut sessions = MockSessionStore::new();
    sessions.expect_create().times(1).returning(|_| Ok(()));

    let logged_in = service(users, sessions, &clock)
        .register(" Alice@Example.com ", PASSWORD, &[], SessionMetadata::default())
        .await
        .unwrap();
    assert_eq!(logged_in.session.token_hash, logged_in.token.hash());
    assert_eq!(logged_in.session.user_id, logged_in.user.id);
    assert_eq!(logged_in.session.idle_expires_at, clock.now() + Duration::minutes(30));
    assert_eq!(logged_in.session.absolute_expires_at, clock.now() + Duration::hours(12));
}

#[tokio::test]
async fn register_refuses_bad_input_before_touching_a_store() {
    let clock = ManualClock::default();
    // Mocks without expectations panic if called.
    let service = service(MockUserRepository::new(), MockSessionStore::new(), &clock);
    assert!(matches!(service.register("not-an-email", PASSWORD, &[], meta()).await, Err(AuthError::InvalidEmail(_))));
    assert!(matches!(service.register("a@example.com", "short", &[], meta()).await, Err(AuthError::WeakPassword(_))));
    assert!(matches!(
        service.register("not-an-email", "short", &[], meta()).await,
        Err(AuthError::InvalidEmailAndPassword(_, _))
    ));
    assert!(matches!(
        service.register("a@example.com", "password123", &[], meta()).await,
        Err(AuthError::WeakPassword(_))
    ));
}

#[tokio::test]
async fn register_losing_a_race_is_email_taken_and_opens_no_session() {
    let clock = ManualClock::default();
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(|_| Ok(None));
    users.expect_create().returning(|_| Err(PortError::EmailTaken));
    let result = service(users, MockSessionStore::new(), &clock)
        .register("alice@example.com", PASSWORD, &[], SessionMetadata::default())
        .await;
    assert!(matches!(result, Err(AuthError::EmailTaken)), "{result:?}");
}

#[tokio::test]
async fn register_of_a_known_email_skips_hashing_and_is_email_taken() {
    let clock = ManualClock::default();
    let user = stored_user(&clock).await;
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(move |_| Ok(Some(user.clone())));
    let service = service(users, MockSessionStore::new(), &clock);
    let result = service.register("ALICE@example.com", PASSWORD, &[], SessionMetadata::default()).await;
    assert!(matches!(result, Err(AuthError::EmailTaken)), "{result:?}");
    assert_eq!(service.hasher().stats().runs, 0, "no hash was computed");
}

#[tokio::test]
async fn register_surfaces_a_store_outage_as_an_error() {
    let clock = ManualClock::default();
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(|_| Ok(None));
    users.expect_create().returning(|_| Err(outage()));
    let result = service(users, MockSessionStore::new(), &clock)
        .register("alice@example.com", PASSWORD, &[], SessionMetadata::default())
        .await;
    assert!(matches!(result, Err(AuthError::Store(PortError::Unavailable { .. }))), "{result:?}");
}

#[tokio::test]
async fn login_revokes_the_presented_session_and_opens_a_new_one() {
    let clock = ManualClock::default();
    let user = stored_user(&clock).await;
    let presented = SessionToken::generate().unwrap();
    let presented_hash = presented.hash();

    let mut users = MockUserRepository::new();
    let found = user.clone();
    users.expect_find_by_email().returning(move |_| Ok(Some(found.clone())));
    let mut sessions = MockSessionStore::new();
    sessions.expect_delete().withf(move |hash| *hash == presented_hash).times(1).returning(|_| Ok(None));
    sessions.expect_create().withf(move |s| s.token_hash != presented_hash).times(1).returning(|_| Ok(()));

    let logged_in = service(users, sessions, &clock)
        .login(
            &Credentials::read("alice@example.com", PASSWORD),
            std::slice::from_ref(&presented),
            SessionMetadata::default(),
        )
        .await
        .unwrap();
    assert_eq!(logged_in.user.id, user.id);
    assert_ne!(logged_in.token, presented);
}

#[tokio::test]
async fn login_with_unknown_email_or_wrong_password_is_invalid_credentials_at_the_same_cost() {
    let clock = ManualClock::default();
    let user = stored_user(&clock).await;
    let mut users = MockUserRepository::new();
    users
        .expect_find_by_email()
        .returning(move |email| Ok((email.as_str() == "alice@example.com").then(|| user.clone())));
    let service = service(users, MockSessionStore::new(), &clock);
    let login = |email: &'static str, password: &'static str| {
        let service = &service;
        async move {
            let before = service.hasher().stats().runs;
            let result = service.login(&Credentials::read(email, password), &[], SessionMetadata::default()).await;
            assert!(matches!(result, Err(AuthError::InvalidCredentials)), "{email}: {result:?}");
            service.hasher().stats().runs - before
        }
    };
    // The first unknown email also computes the dummy hash once.
    assert_eq!(login("first@example.com", PASSWORD).await, 2);
    assert_eq!(login("bob@example.com", PASSWORD).await, 1, "an unknown email costs one verification");
    assert_eq!(login("alice@example.com", "wrong password").await, 1, "so does a wrong password");
    // Input that no account can match is refused without hashing: it reveals nothing.
    assert_eq!(login("nonsense", PASSWORD).await, 0);
    let too_long: &'static str = "x".repeat(129).leak();
    assert_eq!(login("alice@example.com", too_long).await, 0);
}

#[tokio::test]
async fn login_surfaces_a_session_store_outage() {
    let clock = ManualClock::default();
    let user = stored_user(&clock).await;
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().returning(move |_| Ok(Some(user.clone())));
    let mut sessions = MockSessionStore::new();
    sessions.expect_create().returning(|_| Err(outage()));
    let result = service(users, sessions, &clock)
        .login(&Credentials::read("alice@example.com", PASSWORD), &[], SessionMetadata::default())
        .await;
    assert!(matches!(result, Err(AuthError::Store(_))), "{result:?}");
}

#[tokio::test]
async fn authenticate_within_the_touch_interval_is_a_read_only() {
    let clock = ManualClock::default();
    let token = SessionToken::generate().unwrap();
    let session = session_of(UserId::random(), &token, &clock);
    let mut sessions = MockSessionStore::new();
    let stored = session.clone();
    sessions.expect_get().times(1).returning(move |_| Ok(Some(stored.clone())));
    sessions.expect_touch().never();
    clock.advance(Duration::seconds(59));
    let authenticated = service(MockUserRepository::new(), sessions, &clock).authenticate(&token).await.unwrap();
    assert_eq!(authenticated, session);
}

#[tokio::test]
async fn authenticate_records_use_once_the_interval_has_passed() {
    let clock = ManualClock::default();
    let token = SessionToken::generate().unwrap();
    let session = session_of(UserId::random(), &token, &clock);
    clock.advance(Duration::minutes(10));
    let now = clock.now();
    let mut sessions = MockSessionStore::new();
    sessions.expect_get().returning(move |_| Ok(Some(session.clone())));
    sessions
        .expect_touch()
        .withf(move |_, seen, idle| *seen == now && *idle == now + Duration::minutes(30))
        .times(1)
        .returning(|_, _, _| Ok(true));
    let authenticated = service(MockUserRepository::new(), sessions, &clock).authenticate(&token).await.unwrap();
    assert_eq!(authenticated.last_seen_at, now);
}

/// A session store mock that serves `stored` and keeps what is created.
fn serving(stored: Session, created: &Arc<std::sync::Mutex<Vec<Session>>>) -> MockSessionStore {
    let mut sessions = MockSessionStore::new();
    sessions.expect_get().returning(move |_| Ok(Some(stored.clone())));
    let created = Arc::clone(created);
    sessions.expect_create().returning(move |session| {
        created.lock().unwrap().push(session.clone());
        Ok(())
    });
    sessions
}

#[tokio::test]
async fn a_legacy_token_is_rotated_at_its_first_use_and_works_for_the_grace_after() {
    let clock = ManualClock::default();
    let legacy = SessionToken::parse_legacy("0b6f3c1e-6a3f-4f7e-9a51-5c2d8f1e7a90").unwrap();
    let imported = session_of(UserId::random(), &legacy, &clock);
    let created = Arc::default();
    let service = service(MockUserRepository::new(), serving(imported.clone(), &created), &clock);

    let (session, new_token) = service.authenticate_legacy(&legacy).await.unwrap();
    let new_token = new_token.expect("the first use rotates the token");
    assert!(SessionToken::parse(new_token.expose()).is_some(), "to a sesame token");
    let created = created.lock().unwrap().clone();
    assert_eq!(created.len(), 2, "{created:?}");
    let (rotated, grace) = (&created[0], &created[1]);
    assert_eq!(rotated, &session, "the request goes on under the new session");
    assert_eq!(rotated.token_hash, new_token.hash());
    assert_ne!(rotated.id, imported.id);
    assert_eq!(
        (rotated.user_id, rotated.created_at, rotated.absolute_expires_at),
        (imported.user_id, imported.created_at, imported.absolute_expires_at),
        "the same login, ending when it would have"
    );
    assert_eq!(grace.token_hash, legacy.hash(), "the legacy token keeps opening a session…");
    assert_eq!(grace.absolute_expires_at, clock.now() + AuthService::LEGACY_GRACE, "…for 60 s");
    assert!(grace.idle_expires_at <= grace.absolute_expires_at);
}

#[tokio::test]
async fn a_rotated_legacy_token_is_served_without_rotating_again() {
    let clock = ManualClock::default();
    let legacy = SessionToken::parse_legacy("legacy-session-0123456789").unwrap();
    let grace = SessionBuilder::opened_at(clock.now())
        .token_hash(legacy.hash())
        .absolute_after(AuthService::LEGACY_GRACE)
        .build();
    let created = Arc::default();
    let service = service(MockUserRepository::new(), serving(grace.clone(), &created), &clock);
    clock.advance(Duration::seconds(20));

    let (session, new_token) = service.authenticate_legacy(&legacy).await.unwrap();
    assert_eq!((session, new_token), (grace, None));
    assert!(created.lock().unwrap().is_empty(), "nothing written");
}

#[tokio::test]
async fn authenticate_answers_unauthenticated_when_the_session_is_gone() {
    let clock = ManualClock::default();
    let token = SessionToken::generate().unwrap();
    let session = session_of(UserId::random(), &token, &clock);
    clock.advance(Duration::minutes(10));
    let mut sessions = MockSessionStore::new();
    let mut first = true;
    sessions.expect_get().returning(move |_| {
        // First call: the session exists but is deleted before the touch lands.
        let answer = if first { Some(session.clone()) } else { None };
        first = false;
        Ok(answer)
    });
    sessions.expect_touch().returning(|_, _, _| Ok(false));
    let service = service(MockUserRepository::new(), sessions, &clock);
    assert!(matches!(service.authenticate(&token).await, Err(AuthError::Unauthenticated)));
    assert!(matches!(service.authenticate(&token).await, Err(AuthError::Unauthenticated)));
}

#[tokio::test]
async fn authenticate_surfaces_a_store_outage() {
    let clock = ManualClock::default();
    let mut sessions = MockSessionStore::new();
    sessions.expect_get().returning(|_| Err(outage()));
    let result =
        service(MockUserRepository::new(), sessions, &clock).authenticate(&SessionToken::generate().unwrap()).await;
    assert!(matches!(result, Err(AuthError::Store(_))), "{result:?}");
}

#[tokio::test]
async fn current_user_is_the_sessions_snapshot_without_a_lookup() {
    let clock = ManualClock::default();
    let user = stored_user(&clock).await;
    let token = SessionToken::generate().unwrap();
    let session = SessionBuilder::opened_at(clock.now())
        .user(user.id)
        .token_hash(token.hash())
        .user_snapshot(Some(user.snapshot()))
        .build();
    // No expectation on the users store: any lookup would fail the test.
    let result = service(MockUserRepository::new(), MockSessionStore::new(), &clock).current_user(&session).await;
    assert_eq!(result.unwrap(), user.snapshot());
}

#[tokio::test]
async fn login_keeps_a_snapshot_of_the_user_in_the_session() {
    let clock = ManualClock::default();
    let user = stored_user(&clock).await;
    let mut users = MockUserRepository::new();
    let found = user.clone();
    users.expect_find_by_email().returning(move |_| Ok(Some(found.clone())));
    let mut sessions = MockSessionStore::new();
    let expected = user.snapshot();
    sessions.expect_create().withf(move |s| s.user.as_ref() == Some(&expected)).times(1).returning(|_| Ok(()));
    service(users, sessions, &clock)
        .login(&Credentials::read("alice@example.com", PASSWORD), &[], SessionMetadata::default())
        .await
        .unwrap();
}

#[tokio::test]
async fn current_user_of_a_deleted_user_ends_their_sessions() {
    let clock = ManualClock::default();
    let token = SessionToken::generate().unwrap();
    // A session written before sessions kept a snapshot: its user is looked up.
    let session = SessionBuilder::opened_at(clock.now()).token_hash(token.hash()).user_snapshot(None).build();
    let owner = session.user_id;
    let mut users = MockUserRepository::new();
    users.expect_find_by_id().returning(|_| Ok(None));
    let mut sessions = MockSessionStore::new();
    sessions.expect_revoke_all().withf(move |id| *id == owner).times(1).returning(|_| Ok(Vec::new()));
    let result = service(users, sessions, &clock).current_user(&session).await;
    assert!(matches!(result, Err(AuthError::Unauthenticated)));
}

#[tokio::test]
async fn revoking_a_session_that_is_not_the_users_is_not_found() {
    let clock = ManualClock::default();
    let mut sessions = MockSessionStore::new();
    sessions.expect_revoke().returning(|_, _| Ok(None));
    let result = service(MockUserRepository::new(), sessions, &clock)
        .revoke_session(UserId::random(), SessionId::random())
        .await;
    assert!(matches!(result, Err(AuthError::SessionNotFound)));
}

#[tokio::test]
async fn logout_and_logout_everywhere_surface_store_outages() {
    let clock = ManualClock::default();
    let mut sessions = MockSessionStore::new();
    sessions.expect_delete().returning(|_| Err(outage()));
    sessions.expect_revoke_all().returning(|_| Err(outage()));
    sessions.expect_list_for_user().returning(|_| Err(outage()));
    let service = service(MockUserRepository::new(), sessions, &clock);
    assert!(matches!(service.logout(&SessionToken::generate().unwrap()).await, Err(AuthError::Store(_))));
    assert!(matches!(service.logout_everywhere(UserId::random()).await, Err(AuthError::Store(_))));
    assert!(matches!(service.list_sessions(UserId::random()).await, Err(AuthError::Store(_))));
}

#[test]
fn password_hash_is_never_printed() {
    let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
    assert!(!format!("{hash:?}").contains("argon2id"));
}

/// Users holding `user`, expecting one update: a new hash that `rehashed` accepts.
fn expecting_a_rehash(user: &User, rehashed: fn(&str) -> bool) -> MockUserRepository {
    let mut users = MockUserRepository::new();
    let found = user.clone();
    users.expect_find_by_email().returning(move |_| Ok(Some(found.clone())));
    let updated = user.clone();
    users
        .expect_update()
        .withf(move |_, changes| changes.password_hash.as_ref().is_some_and(|hash| rehashed(hash.expose())))
        .times(1)
        .returning(move |_, changes| {
            let mut user = updated.clone();
            changes.apply_to(&mut user);
            Ok(user)
        });
    users
}

#[tokio::test]
async fn login_rehashes_a_hash_made_with_weaker_settings() {
    use argon2::{Algorithm, Argon2, Params, PasswordHasher as _, Version};
    let clock = ManualClock::default();
    let mut user = stored_user(&clock).await;
    let weak = Argon2::new(Algorithm::Argon2id, Version::V0x13, Params::new(8192, 1, 1, None).unwrap());
    user.password_hash = PasswordHash::new(weak.hash_password(PASSWORD.as_bytes()).unwrap().to_string());
    let users = expecting_a_rehash(&user, |hash| hash.contains("m=19456,t=2,p=1"));
    let mut sessions = MockSessionStore::new();
    sessions.expect_create().times(1).returning(|_| Ok(()));
    let logged_in = service(users, sessions, &clock)
        .login(&Credentials::read("alice@example.com", PASSWORD), &[], meta())
        .await
        .unwrap();
    assert!(logged_in.user.password_hash.expose().contains("m=19456"));
}

#[tokio::test]
async fn an_imported_bcrypt_hash_logs_in_and_is_replaced_by_argon2id() {
    let clock = ManualClock::default();
    let mut user = stored_user(&clock).await;
    user.password_hash = PasswordHash::new(bcrypt::hash(PASSWORD, 4).unwrap());
    let users = expecting_a_rehash(&user, |hash| hash.starts_with("$argon2id$"));
    let mut sessions = MockSessionStore::new();
    sessions.expect_create().times(1).returning(|_| Ok(()));
    let service = service(users, sessions, &clock);
    let wrong = service.login(&Credentials::read("alice@example.com", "not the password at all"), &[], meta()).await;
    assert!(matches!(wrong, Err(AuthError::InvalidCredentials)), "a wrong password stays wrong");
    let logged_in = service.login(&Credentials::read("alice@example.com", PASSWORD), &[], meta()).await.unwrap();
    assert!(logged_in.user.password_hash.expose().starts_with("$argon2id$"));
}

#[tokio::test]
async fn a_password_change_checks_the_current_one_ends_every_session_and_opens_one() {
    let clock = ManualClock::default();
    let user = stored_user(&clock).await;
    let token = SessionToken::generate().unwrap();
    let session = session_of(user.id, &token, &clock);
    let owner = user.id;
    let mut users = MockUserRepository::new();
    let found = user.clone();
    users.expect_find_by_id().returning(move |_| Ok(Some(found.clone())));
    let updated = user.clone();
    users.expect_update().times(1).returning(move |_, changes| {
        let mut user = updated.clone();
        changes.apply_to(&mut user);
        Ok(user)
    });
    let mut sessions = MockSessionStore::new();
    sessions.expect_revoke_all().withf(move |id| *id == owner).times(1).returning(|_| Ok(Vec::new()));
    sessions.expect_create().withf(move |s| s.user_id == owner).times(1).returning(|_| Ok(()));
    let service = service(users, sessions, &clock);

    let weak = service.change_password(&session, PASSWORD, "password", meta()).await;
    assert!(matches!(weak, Err(AuthError::WeakPassword(_))), "checked before anything else");
    let wrong = service.change_password(&session, "not the password", "a new long passphrase", meta()).await;
    assert!(matches!(wrong, Err(AuthError::WrongPassword)));
    let changed = service.change_password(&session, PASSWORD, "a new long passphrase", meta()).await.unwrap();
    assert_ne!(changed.user.password_hash, user.password_hash);
    assert_ne!(changed.token, token);
}

#[tokio::test]
async fn deleting_an_account_checks_the_password_and_ends_sessions_before_and_after() {
    let clock = ManualClock::default();
    let user = stored_user(&clock).await;
    let session = session_of(user.id, &SessionToken::generate().unwrap(), &clock);
    let owner = user.id;
    let mut users = MockUserRepository::new();
    let found = user.clone();
    users.expect_find_by_id().returning(move |_| Ok(Some(found.clone())));
    users.expect_delete().withf(move |id| *id == owner).times(1).returning(|_| Ok(true));
    let mut sessions = MockSessionStore::new();
    sessions.expect_revoke_all().withf(move |id| *id == owner).times(2).returning(|_| Ok(Vec::new()));
    let service = service(users, sessions, &clock);
    assert!(matches!(service.delete_account(&session, "not the password").await, Err(AuthError::WrongPassword)));
    service.delete_account(&session, PASSWORD).await.unwrap();
}
