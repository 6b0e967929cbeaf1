//! The guard: the ports' kits through it (it must change no answer), and its
//! breaker, retry and timeout, on mocks in paused time.

use std::{
    io,
    sync::{
        Arc,
        atomic::{AtomicUsize, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use secrecy::SecretString;
use sesame_guard::{BreakerState, Guard, GuardSettings};
use sesame_mock::{InMemoryRateLimiter, InMemorySessionStore, InMemoryUserRepository};
use sesame_ports::{
    DurableSessionStore, Email, ExportCursor, ExportPage, Imported, ManualClock, MockSessionStore, NewUser, PortError,
    RateLimiter, SessionCache, SessionStore, User, UserChanges, UserId, UserRepository,
};

fn guard() -> Arc<Guard> {
    Guard::new(GuardSettings::new("test", Duration::from_millis(500)))
}

mod kits {
    use sesame_postgres::{Database, PostgresSessionStore};
    use sesame_redis::{RedisSessionStore, RedisSettings};

    use super::*;

    sesame_ports::session_store_contract!(|clock: ManualClock| async move {
        Arc::new(guard().wrap(Arc::new(InMemorySessionStore::new(Arc::new(clock))))) as Arc<dyn SessionStore>
    });

    sesame_ports::user_repository_contract!(|| async {
        Arc::new(guard().wrap(Arc::new(InMemoryUserRepository::new()))) as Arc<dyn UserRepository>
    });

    sesame_ports::rate_limiter_contract!(|| async {
        Arc::new(guard().wrap(Arc::new(InMemoryRateLimiter::new()))) as Arc<dyn RateLimiter>
    });

    sesame_ports::session_cache_contract!(|clock: ManualClock| async move {
        let url = sesame_testbed::test_redis_url();
        let mut settings = RedisSettings::for_test(SecretString::from(url));
        settings.key_prefix = format!("sesame-test:{}:", uuid::Uuid::new_v4().simple());
        let redis = RedisSessionStore::connect(&settings, Arc::new(clock))
            .await
            .unwrap_or_else(|err| panic!("Redis is needed: {err}. Start it, or set TEST_REDIS_URL."));
        Arc::new(guard().wrap(Arc::new(redis))) as Arc<dyn SessionCache>
    });

    sesame_ports::durable_session_store_contract!(|clock: ManualClock| async move {
        let (database, _) = Database::migrated_for_test(&sesame_testbed::test_database_url()).await;
        let store = PostgresSessionStore::new(&database, Arc::new(clock));
        Arc::new(guard().wrap(Arc::new(store))) as Arc<dyn DurableSessionStore>
    });
}

fn refused() -> PortError {
    PortError::unavailable("test", io::Error::new(io::ErrorKind::ConnectionRefused, "refused"))
}

fn dropped() -> PortError {
    PortError::connection_lost("test", io::Error::new(io::ErrorKind::ConnectionReset, "reset"))
}

#[tokio::test(start_paused = true)]
async fn three_failures_open_the_breaker_and_then_calls_fail_without_reaching_the_store() {
    let mut store = MockSessionStore::new();
    store.expect_ping().times(3).returning(|| Err(refused()));
    let guard = guard();
    let guarded = guard.wrap(Arc::new(store));
    for _ in 0..3 {
        assert!(guarded.ping().await.is_err());
    }
    assert_eq!(guard.state(), BreakerState::Open);
    let started = tokio::time::Instant::now();
    let err = guarded.ping().await.expect_err("refused");
    assert!(err.cause_chain().contains("circuit breaker open"), "{}", err.cause_chain());
    assert_eq!(started.elapsed(), Duration::ZERO, "refused at once");
}

#[tokio::test(start_paused = true)]
async fn after_the_back_off_one_probe_goes_through_and_its_success_closes_the_breaker() {
    let mut store = MockSessionStore::new();
    let mut sequence = mockall::Sequence::new();
    store.expect_ping().times(3).in_sequence(&mut sequence).returning(|| Err(refused()));
    store.expect_ping().times(1).in_sequence(&mut sequence).returning(|| Err(refused()));
    store.expect_ping().times(2).in_sequence(&mut sequence).returning(|| Ok(()));
    let guard = guard();
    let guarded = guard.wrap(Arc::new(store));
    for _ in 0..3 {
        assert!(guarded.ping().await.is_err());
    }
    tokio::time::advance(Duration::from_millis(1001)).await;
    assert_eq!(guard.state(), BreakerState::HalfOpen);
    assert!(guarded.ping().await.is_err(), "the probe fails");
    assert_eq!(guard.state(), BreakerState::Open);

    tokio::time::advance(Duration::from_millis(1500)).await;
    assert!(guarded.ping().await.is_err(), "the back-off doubled to 2 s: still refused");
    tokio::time::advance(Duration::from_millis(501)).await;
    guarded.ping().await.expect("the second probe succeeds");
    assert_eq!(guard.state(), BreakerState::Closed);
    guarded.ping().await.expect("calls go through again");
}

#[tokio::test(start_paused = true)]
async fn isolated_failures_do_not_open_the_breaker() {
    let mut store = MockSessionStore::new();
    let mut sequence = mockall::Sequence::new();
    for _ in 0..3 {
        store.expect_ping().times(2).in_sequence(&mut sequence).returning(|| Err(refused()));
        store.expect_ping().times(1).in_sequence(&mut sequence).returning(|| Ok(()));
    }
    let guard = guard();
    let guarded = guard.wrap(Arc::new(store));
    for _ in 0..9 {
        let _ = guarded.ping().await;
    }
    assert_eq!(guard.state(), BreakerState::Closed, "two failures in a row, never three");
}

#[tokio::test]
async fn an_idempotent_call_is_tried_once_more_after_a_lost_connection_and_a_create_is_not() {
    let mut store = MockSessionStore::new();
    let mut sequence = mockall::Sequence::new();
    store.expect_list_for_user().times(1).in_sequence(&mut sequence).returning(|_| Err(dropped()));
    store.expect_list_for_user().times(1).in_sequence(&mut sequence).returning(|_| Ok(Vec::new()));
    store.expect_create().times(1).returning(|_| Err(dropped()));
    store.expect_get().times(1).returning(|_| Err(refused()));
    let guarded = guard().wrap(Arc::new(store));

    assert_eq!(guarded.list_for_user(UserId::random()).await.expect("retried"), Vec::new());
    let session = sesame_ports::testkit::SessionBuilder::opened_at(time::OffsetDateTime::now_utc()).build();
    assert!(matches!(guarded.create(&session).await, Err(PortError::ConnectionLost { .. })), "not retried");
    assert!(guarded.get(&session.token_hash).await.is_err(), "a refusal is not a lost connection: not retried");
}

/// A user store whose lookups never answer.
struct Hanging {
    calls: AtomicUsize,
}

#[async_trait]
impl UserRepository for Hanging {
    async fn create(&self, _: NewUser) -> Result<User, PortError> {
        unreachable!("not called")
    }
    async fn find_by_id(&self, _: UserId) -> Result<Option<User>, PortError> {
        self.calls.fetch_add(1, Ordering::SeqCst);
        std::future::pending().await
    }
    async fn find_by_email(&self, _: &Email) -> Result<Option<User>, PortError> {
        unreachable!("not called")
    }
    async fn update(&self, _: UserId, _: UserChanges) -> Result<User, PortError> {
        unreachable!("not called")
    }
    async fn delete(&self, _: UserId) -> Result<bool, PortError> {
        unreachable!("not called")
    }
    async fn ping(&self) -> Result<(), PortError> {
        Ok(())
    }
    async fn export(&self, _: ExportCursor, _: u32) -> Result<ExportPage<User>, PortError> {
        unreachable!("not called")
    }
    async fn import(&self, _: &User) -> Result<Imported, PortError> {
        unreachable!("not called")
    }
}

#[tokio::test(start_paused = true)]
async fn a_call_that_hangs_is_cut_off_at_the_timeout_and_counts_as_a_failure() {
    let hanging = Arc::new(Hanging { calls: AtomicUsize::new(0) });
    let guard = guard();
    let guarded = guard.wrap(Arc::clone(&hanging));
    let started = tokio::time::Instant::now();
    for _ in 0..3 {
        let err = guarded.find_by_id(UserId::random()).await.expect_err("cut off");
        assert!(err.is_outage() && err.cause_chain().contains("no answer within"), "{}", err.cause_chain());
    }
    assert_eq!(started.elapsed(), Duration::from_millis(1500), "500 ms each");
    assert_eq!(guard.state(), BreakerState::Open);
    assert!(guarded.find_by_id(UserId::random()).await.is_err());
    assert_eq!(hanging.calls.load(Ordering::SeqCst), 3, "the fourth was refused before reaching the store");
}

#[tokio::test(start_paused = true)]
async fn a_probe_whose_caller_went_away_does_not_leave_the_breaker_stuck() {
    let hanging = Arc::new(Hanging { calls: AtomicUsize::new(0) });
    let guard = guard();
    let guarded = guard.wrap(Arc::clone(&hanging));
    for _ in 0..3 {
        assert!(guarded.find_by_id(UserId::random()).await.is_err());
    }
    tokio::time::advance(Duration::from_millis(1001)).await;
    // The probe starts, and its caller gives up on it (a client hung up).
    let probe = tokio::time::timeout(Duration::from_millis(10), guarded.find_by_id(UserId::random())).await;
    assert!(probe.is_err(), "the probe was dropped before it answered");
    assert_eq!(guard.state(), BreakerState::HalfOpen);
    assert!(guarded.ping().await.is_err(), "while a probe may still be in flight, others are refused");

    tokio::time::advance(Duration::from_millis(500)).await;
    guarded.ping().await.expect("after a call's timeout another call probes, and closes the breaker");
    assert_eq!(guard.state(), BreakerState::Closed);
}
