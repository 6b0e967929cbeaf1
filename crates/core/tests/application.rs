//! The application layer against mockall mocks of the ports: what each
//! operation lets through, counts and records, without HTTP.

use std::{
    sync::{Arc, Mutex},
    time::Duration,
};

use sesame_core::{
    Application, AuthError, AuthService, Client, Limits, PasswordHasher, RateLimits, SessionPolicy,
    ports::{
        Actor, AuditEvent, AuditRecord, AuditSink, Email, ManualClock, MockRateLimiter, MockSessionStore,
        MockUserRepository, RateLimit, User, UserId, Verdict,
    },
};

/// Keeps every record, for the test to read.
#[derive(Default)]
struct Kept(Mutex<Vec<AuditRecord>>);

impl AuditSink for Kept {
    fn record(&self, record: AuditRecord) {
        self.0.lock().unwrap().push(record);
    }
}

fn application(
    users: MockUserRepository,
    sessions: MockSessionStore,
    limiter: MockRateLimiter,
) -> (Application, Arc<Kept>) {
    let clock = ManualClock::default();
    let policy = SessionPolicy {
        idle_timeout: time::Duration::minutes(30),
        absolute_timeout: time::Duration::hours(12),
        touch_interval: time::Duration::seconds(60),
    };
    let auth =
        AuthService::new(Arc::new(users), Arc::new(sessions), Arc::new(clock), PasswordHasher::new(1, 8), policy);
    let every = Some(RateLimit { burst: 10, period: Duration::from_secs(600) });
    let limits = RateLimits {
        login_per_ip: every,
        login_per_email: every,
        register_per_ip: every,
        invalid_cookie_per_ip: every,
    };
    let kept = Arc::new(Kept::default());
    let audit: Arc<dyn AuditSink> = Arc::clone(&kept) as _;
    let limits = Limits::new(Arc::new(limiter), limits, Arc::clone(&audit));
    (Application::new(Arc::new(auth), limits, audit), kept)
}

const CLIENT: Client<'static> =
    Client { ip: Some(std::net::IpAddr::V4(std::net::Ipv4Addr::new(203, 0, 113, 7))), request_id: Some("req-1") };

#[tokio::test]
async fn a_login_over_the_limit_is_refused_before_any_store_is_asked_and_recorded() {
    let users = MockUserRepository::new(); // no expectation: a call would panic
    let mut limiter = MockRateLimiter::new();
    limiter.expect_hit().times(1).returning(|_, _| Ok(Verdict::Limited { retry_after: Duration::from_secs(42) }));
    let (app, kept) = application(users, MockSessionStore::new(), limiter);

    let refused = app.login(CLIENT, Default::default(), &[], "alice@example.com", "any password at all").await;
    assert!(matches!(refused, Err(AuthError::RateLimited(wait)) if wait == Duration::from_secs(42)), "{refused:?}");
    let records = kept.0.lock().unwrap();
    assert_eq!(records.len(), 1, "{records:?}");
    assert_eq!(records[0].event, AuditEvent::RateLimited("login_per_ip"));
    assert_eq!(records[0].actor, Actor::Client { ip: CLIENT.ip, request_id: Some("req-1".to_owned()) });
}

#[tokio::test]
async fn a_wrong_password_is_recorded_as_a_failed_login_by_the_client() {
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().times(1).returning(|_| Ok(None));
    let mut limiter = MockRateLimiter::new();
    limiter.expect_hit().times(2).returning(|_, _| Ok(Verdict::Allowed));
    let (app, kept) = application(users, MockSessionStore::new(), limiter);

    let refused = app.login(CLIENT, Default::default(), &[], "alice@example.com", "not the password").await;
    assert!(matches!(refused, Err(AuthError::InvalidCredentials)), "{refused:?}");
    let events: Vec<AuditEvent> = kept.0.lock().unwrap().iter().map(|record| record.event).collect();
    assert_eq!(events, [AuditEvent::LoginFailed]);
}

#[tokio::test]
async fn an_operators_deletion_is_recorded_as_theirs_with_the_sessions_it_ended() {
    let user = User {
        id: UserId::random(),
        email: Email::parse("gone@example.com").unwrap(),
        password_hash: sesame_core::ports::PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA"),
        is_verified: true,
        is_disabled: false,
        created_at: time::OffsetDateTime::UNIX_EPOCH,
    };
    let id = user.id;
    let mut users = MockUserRepository::new();
    users.expect_find_by_email().times(1).returning(move |_| Ok(Some(user.clone())));
    users.expect_delete().times(1).returning(|_| Ok(true));
    let mut sessions = MockSessionStore::new();
    let mut ended = vec![
        vec![sesame_core::ports::testkit::SessionBuilder::opened_at(time::OffsetDateTime::UNIX_EPOCH).user(id).build()],
        vec![],
    ]
    .into_iter();
    sessions.expect_revoke_all().times(2).returning(move |_| Ok(ended.next().unwrap()));
    let (app, kept) = application(users, sessions, MockRateLimiter::new());

    let (deleted, count) = app.delete_user("ops", &Email::parse("gone@example.com").unwrap()).await.unwrap();
    assert_eq!((deleted.id, count), (id, 1));
    let records = kept.0.lock().unwrap();
    assert_eq!(records.len(), 1);
    let record = &records[0];
    assert_eq!((record.event, record.user, record.sessions), (AuditEvent::UserDeleted, Some(id), Some(1)));
    assert_eq!(record.actor, Actor::Operator { name: "ops".to_owned() });
}
