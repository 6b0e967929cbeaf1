//! The tiered store over real tiers: the contract kit on PostgreSQL + Redis and
//! PostgreSQL + Redis Cluster, and what the kit cannot see — a cache that lost,
//! evicted or never had a session, and a cache that fails.
//!
//! Needs PostgreSQL at `TEST_DATABASE_URL`, Redis at `TEST_REDIS_URL` and a
//! Cluster at `TEST_REDIS_CLUSTER_URLS` (`cargo xtask test` provides them); fails,
//! naming the variable, without them.

use std::sync::{
    Arc,
    atomic::{AtomicBool, AtomicUsize, Ordering},
};

use async_trait::async_trait;
use secrecy::SecretString;
use sesame_ports::{
    Cached, Clock, DurableSessionStore, ExportCursor, ExportPage, Imported, ManualClock, PortError, Session,
    SessionCache, SessionId, SessionStore, SessionTokenHash, Touch, UserId, testkit::SessionBuilder,
};
use sesame_postgres::{Database, PostgresSessionStore};
use sesame_redis::{RedisSessionStore, RedisSettings};
use sesame_tiered::{TieredSessionStore, TieredSettings};
use time::OffsetDateTime;

async fn durable(clock: &ManualClock) -> Arc<PostgresSessionStore> {
    let (database, _) = Database::migrated_for_test(&sesame_testbed::test_database_url()).await;
    Arc::new(PostgresSessionStore::new(&database, Arc::new(clock.clone())))
}

fn redis_url() -> String {
    sesame_testbed::test_redis_url()
}

async fn cache(settings: RedisSettings, clock: &ManualClock, variable: &str) -> Arc<RedisSessionStore> {
    let store = RedisSessionStore::connect(&settings, Arc::new(clock.clone()))
        .await
        .unwrap_or_else(|err| panic!("Redis is needed ({variable}): {err}. Start it, or set {variable}."));
    Arc::new(store)
}

/// The tiered store's bounds in these tests.
fn tuning() -> TieredSettings {
    TieredSettings {
        miss_lookups_per_second: 200,
        outbox_capacity: TieredSettings::OUTBOX_CAPACITY,
        session_lifetime: std::time::Duration::from_secs(12 * 3600),
    }
}

fn standalone_settings() -> RedisSettings {
    let mut settings = RedisSettings::for_test(SecretString::from(redis_url()));
    settings.key_prefix = format!("sesame-test:{}:", uuid::Uuid::new_v4().simple());
    settings
}

mod contract {
    use super::*;

    mod standalone {
        use super::*;

        sesame_ports::session_store_contract!(|clock: ManualClock| async move {
            let cache = cache(standalone_settings(), &clock, "TEST_REDIS_URL").await;
            Arc::new(TieredSessionStore::new(durable(&clock).await, cache, Arc::new(clock.clone()), &tuning()))
                as Arc<dyn SessionStore>
        });
    }

    mod cluster {
        use super::*;

        sesame_ports::session_store_contract!(|clock: ManualClock| async move {
            let urls = std::env::var("TEST_REDIS_CLUSTER_URLS").unwrap_or_else(|_| {
                panic!("a Redis Cluster is needed: set TEST_REDIS_CLUSTER_URLS, or run `cargo xtask test`, which starts one")
            });
            let mut settings = standalone_settings();
            settings.urls = urls.split(',').map(|url| SecretString::from(url.trim().to_owned())).collect();
            settings.cluster = true;
            let cache = cache(settings, &clock, "TEST_REDIS_CLUSTER_URLS").await;
            Arc::new(TieredSessionStore::new(durable(&clock).await, cache, Arc::new(clock.clone()), &tuning()))
                as Arc<dyn SessionStore>
        });
    }
}

/// A tier whose every call fails while `failing` is set (the store is down, as
/// the tiered store sees it), and which counts its `get`s.
struct Flaky<T: ?Sized> {
    inner: Arc<T>,
    failing: AtomicBool,
    gets: AtomicUsize,
    /// Ends the session in the cache just before `mark_durable` runs, as a
    /// logout racing a copy-forward would.
    logout_before_mark: AtomicBool,
}

impl<T: ?Sized> Flaky<T> {
    fn new(inner: Arc<T>) -> Arc<Self> {
        Arc::new(Self {
            inner,
            failing: AtomicBool::new(false),
            gets: AtomicUsize::new(0),
            logout_before_mark: AtomicBool::new(false),
        })
    }

    fn check(&self) -> Result<(), PortError> {
        if self.failing.load(Ordering::SeqCst) {
            Err(PortError::unavailable("test", "the test cut this tier off"))
        } else {
            Ok(())
        }
    }
}

#[async_trait]
impl<T: SessionStore + ?Sized> SessionStore for Flaky<T> {
    async fn create(&self, session: &Session) -> Result<(), PortError> {
        self.check()?;
        self.inner.create(session).await
    }
    async fn get(&self, hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        self.gets.fetch_add(1, Ordering::SeqCst);
        self.check()?;
        self.inner.get(hash).await
    }
    async fn touch(&self, session: &Session, seen: OffsetDateTime, idle: OffsetDateTime) -> Result<bool, PortError> {
        self.check()?;
        self.inner.touch(session, seen, idle).await
    }
    async fn delete(&self, hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        self.check()?;
        self.inner.delete(hash).await
    }
    async fn list_for_user(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        self.check()?;
        self.inner.list_for_user(user_id).await
    }
    async fn revoke(&self, user_id: UserId, id: SessionId) -> Result<Option<Session>, PortError> {
        self.check()?;
        self.inner.revoke(user_id, id).await
    }
    async fn revoke_all(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        self.check()?;
        self.inner.revoke_all(user_id).await
    }
    async fn purge_expired(&self, limit: u32) -> Result<u64, PortError> {
        self.check()?;
        self.inner.purge_expired(limit).await
    }
    async fn ping(&self) -> Result<(), PortError> {
        self.check()?;
        self.inner.ping().await
    }
    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<Session>, PortError> {
        self.check()?;
        self.inner.export(cursor, limit).await
    }
    async fn import(&self, session: &Session) -> Result<Imported, PortError> {
        self.check()?;
        self.inner.import(session).await
    }
}

#[async_trait]
impl<T: SessionCache + ?Sized> SessionCache for Flaky<T> {
    async fn lookup(&self, hash: &SessionTokenHash) -> Result<Cached, PortError> {
        self.check()?;
        self.inner.lookup(hash).await
    }
    async fn put(&self, session: &Session) -> Result<(), PortError> {
        self.check()?;
        self.inner.put(session).await
    }
    async fn fill(&self, session: &Session) -> Result<bool, PortError> {
        self.check()?;
        self.inner.fill(session).await
    }
    async fn mark_durable(&self, hash: &SessionTokenHash) -> Result<bool, PortError> {
        self.check()?;
        if self.logout_before_mark.load(Ordering::SeqCst)
            && let Cached::Live { session, .. } = self.inner.lookup(hash).await?
        {
            self.inner.end(&[session]).await?;
        }
        self.inner.mark_durable(hash).await
    }
    async fn end(&self, sessions: &[Session]) -> Result<(), PortError> {
        self.check()?;
        self.inner.end(sessions).await
    }
    async fn end_by_hash(&self, hash: &SessionTokenHash, lifetime: std::time::Duration) -> Result<(), PortError> {
        self.check()?;
        self.inner.end_by_hash(hash, lifetime).await
    }
}

#[async_trait]
impl<T: DurableSessionStore + ?Sized> DurableSessionStore for Flaky<T> {
    async fn insert_if_absent(&self, session: &Session) -> Result<bool, PortError> {
        self.check()?;
        self.inner.insert_if_absent(session).await
    }
    async fn cache_pending(&self, limit: u32) -> Result<Vec<Session>, PortError> {
        self.check()?;
        self.inner.cache_pending(limit).await
    }
    async fn clear_cache_pending(&self, hashes: &[SessionTokenHash]) -> Result<(), PortError> {
        self.check()?;
        self.inner.clear_cache_pending(hashes).await
    }
    async fn ended_since(&self, since: OffsetDateTime, limit: u32) -> Result<Vec<Session>, PortError> {
        self.check()?;
        self.inner.ended_since(since, limit).await
    }
    async fn touch_many(&self, touches: &[Touch]) -> Result<(), PortError> {
        self.check()?;
        self.inner.touch_many(touches).await
    }
}

/// A tiered store over PostgreSQL and a standalone Redis that the test can
/// look into, garble and cut off.
struct World {
    tiered: TieredSessionStore,
    durable: Arc<Flaky<PostgresSessionStore>>,
    cache: Arc<Flaky<RedisSessionStore>>,
    clock: ManualClock,
    prefix: String,
    admin: redis::aio::MultiplexedConnection,
}

async fn world() -> World {
    world_with(&tuning()).await
}

async fn world_with(settings: &TieredSettings) -> World {
    let clock = ManualClock::default();
    let redis_settings = standalone_settings();
    let prefix = redis_settings.key_prefix.clone();
    let cache = Flaky::new(cache(redis_settings, &clock, "TEST_REDIS_URL").await);
    let durable = Flaky::new(durable(&clock).await);
    let tiered =
        TieredSessionStore::new(Arc::clone(&durable) as _, Arc::clone(&cache) as _, Arc::new(clock.clone()), settings);
    let admin = redis::Client::open(redis_url()).unwrap().get_multiplexed_async_connection().await.expect("Redis");
    World { tiered, durable, cache, clock, prefix, admin }
}

impl World {
    fn session(&self) -> Session {
        SessionBuilder::opened_at(self.clock.now()).build()
    }

    fn session_key(&self, session: &Session) -> String {
        format!("{}session:{}", self.prefix, session.token_hash.to_hex())
    }

    async fn redis<T: redis::FromRedisValue>(&mut self, command: &redis::Cmd) -> T {
        command.query_async(&mut self.admin).await.expect("admin command")
    }

    /// Forgets a key, as a Redis restart, `FLUSHALL` or eviction would.
    async fn lose(&mut self, key: String) {
        let _: i64 = self.redis(redis::cmd("DEL").arg(key)).await;
    }

    fn cut_cache(&self, failing: bool) {
        self.cache.failing.store(failing, Ordering::SeqCst);
    }

    fn cut_durable(&self, failing: bool) {
        self.durable.failing.store(failing, Ordering::SeqCst);
    }

    async fn cached(&self, session: &Session) -> Cached {
        self.cache.inner.lookup(&session.token_hash).await.expect("lookup")
    }
}

#[tokio::test]
async fn a_session_the_cache_lost_is_found_in_the_durable_tier_and_refilled() {
    let mut w = world().await;
    let session = w.session();
    w.tiered.create(&session).await.unwrap();
    assert_eq!(w.cached(&session).await, Cached::Live { session: session.clone(), durable: true });

    w.lose(w.session_key(&session)).await;
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), Some(session.clone()), "no logout");
    assert_eq!(w.cached(&session).await, Cached::Live { session, durable: true }, "the cache was refilled");
}

#[tokio::test]
async fn while_the_cache_is_down_sessions_are_created_read_and_ended_in_the_durable_tier() {
    let w = world().await;
    let before = w.session();
    w.tiered.create(&before).await.unwrap();
    w.cut_cache(true);

    let during = w.session();
    w.tiered.create(&during).await.unwrap();
    for session in [&before, &during] {
        assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), Some(session.clone()));
    }
    assert_eq!(w.tiered.delete(&before.token_hash).await.unwrap(), Some(before.clone()));
    assert_eq!(w.tiered.get(&before.token_hash).await.unwrap(), None);
    let pending: Vec<SessionTokenHash> =
        w.durable.cache_pending(10).await.unwrap().iter().map(|s| s.token_hash).collect();
    assert_eq!(pending, [before.token_hash], "the cache still holds it; the durable tier remembers to end it there");

    w.cut_cache(false);
    assert!(w.tiered.cache_is_suspect(), "the cache is not trusted until reconciled");
    assert_eq!(w.cached(&before).await, Cached::Live { session: before.clone(), durable: true }, "it still holds it");
    assert_eq!(w.tiered.get(&before.token_hash).await.unwrap(), None, "but the store does not read it");

    w.tiered.upkeep().await;
    assert!(!w.tiered.cache_is_suspect());
    assert_eq!(w.cached(&before).await, Cached::Ended, "reconciled: ended in the cache too");
    assert!(w.durable.cache_pending(10).await.unwrap().is_empty());
    assert_eq!(w.tiered.get(&before.token_hash).await.unwrap(), None);
    assert_eq!(
        w.tiered.get(&during.token_hash).await.unwrap(),
        Some(during.clone()),
        "refilled once the cache is back"
    );
    assert_eq!(w.cached(&during).await, Cached::Live { session: during, durable: true });
}

#[tokio::test]
async fn an_ended_session_stays_ended_when_the_cache_loses_its_marker() {
    let mut w = world().await;
    let session = w.session();
    w.tiered.create(&session).await.unwrap();
    assert!(w.tiered.delete(&session.token_hash).await.unwrap().is_some());
    assert_eq!(w.cached(&session).await, Cached::Ended);

    w.lose(w.session_key(&session)).await;
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), None, "the durable tier says it ended");
    assert_eq!(w.cached(&session).await, Cached::Missing, "and nothing was refilled");
}

#[tokio::test]
async fn logout_all_reaches_sessions_whose_cache_index_was_evicted() {
    let mut w = world().await;
    let user = UserId::random();
    let sessions: Vec<Session> = (0..3).map(|_| SessionBuilder::opened_at(w.clock.now()).user(user).build()).collect();
    for session in &sessions {
        w.tiered.create(session).await.unwrap();
    }
    w.lose(format!("{}user:{user}:sessions", w.prefix)).await;

    assert_eq!(w.tiered.list_for_user(user).await.unwrap().len(), 3, "listing answers from the durable tier");
    assert_eq!(w.tiered.revoke_all(user).await.unwrap().len(), 3);
    for session in &sessions {
        assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), None, "every session ended");
        assert_eq!(w.cached(session).await, Cached::Ended, "in the cache too");
    }
}

#[tokio::test]
async fn a_record_written_before_tiering_is_copied_forward_at_first_use_and_ends_with_logout_all() {
    let mut w = world().await;
    // Version 1 records kept no user snapshot.
    let session = Session { user: None, ..w.session() };
    // Today's (version 1) record, exactly as the Redis-only store wrote it: no `v`, no `d`.
    let micros = |at: OffsetDateTime| (at.unix_timestamp_nanos() / 1_000).to_string();
    let fields = [
        ("id", session.id.to_string()),
        ("user", session.user_id.to_string()),
        ("created", micros(session.created_at)),
        ("seen", micros(session.last_seen_at)),
        ("idle", micros(session.idle_expires_at)),
        ("absolute", micros(session.absolute_expires_at)),
        ("ip", "192.0.2.7".to_owned()),
        ("ua", "contract-kit/1.0".to_owned()),
    ];
    let key = w.session_key(&session);
    let _: i64 = w.redis(redis::cmd("HSET").arg(&key).arg(&fields[..])).await;
    let _: i64 = w.redis(redis::cmd("PEXPIRE").arg(&key).arg(1_800_000)).await;
    let index = format!("{}user:{}:sessions", w.prefix, session.user_id);
    let _: i64 = w
        .redis(redis::cmd("ZADD").arg(&index).arg(micros(session.expires_at())).arg(session.token_hash.to_hex()))
        .await;

    assert_eq!(
        w.tiered.list_for_user(session.user_id).await.unwrap(),
        vec![session.clone()],
        "listed before its first use"
    );
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), Some(session.clone()), "it still authenticates");
    assert_eq!(w.durable.get(&session.token_hash).await.unwrap(), Some(session.clone()), "copied forward");
    assert_eq!(w.cached(&session).await, Cached::Live { session: session.clone(), durable: true });
    let version: Option<String> = w.redis(redis::cmd("HGET").arg(&key).arg("d")).await;
    assert_eq!(version.as_deref(), Some("1"), "the record is marked durable");

    w.lose(key).await;
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), Some(session.clone()), "the copy survives a loss");
    assert_eq!(w.tiered.revoke_all(session.user_id).await.unwrap(), vec![session.clone()]);
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), None);
}

#[tokio::test]
async fn a_session_only_the_cache_holds_is_ended_by_logout_all_before_its_first_use() {
    let w = world().await;
    let user = UserId::random();
    let legacy = SessionBuilder::opened_at(w.clock.now()).user(user).build();
    w.cache.inner.create(&legacy).await.unwrap();
    let current = SessionBuilder::opened_at(w.clock.now()).user(user).build();
    w.tiered.create(&current).await.unwrap();

    let mut ended = w.tiered.revoke_all(user).await.unwrap();
    ended.sort_by_key(|s| s.created_at);
    assert_eq!(ended.len(), 2, "{ended:?}");
    for session in [&legacy, &current] {
        assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), None);
    }
}

#[tokio::test]
async fn a_copy_forward_racing_a_logout_is_ended_again() {
    let mut w = world().await;
    let session = w.session();
    w.cache.inner.create(&session).await.unwrap();
    // The logout lands in the cache between the copy's insert and its mark.
    w.cache.logout_before_mark.store(true, Ordering::SeqCst);
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), None, "the logout won the race");

    assert_eq!(w.cached(&session).await, Cached::Ended);
    assert_eq!(w.durable.get(&session.token_hash).await.unwrap(), None, "the copy was ended again");
    w.lose(w.session_key(&session)).await;
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), None, "so losing the cache cannot bring it back");
}

#[tokio::test]
async fn uses_reach_the_durable_tier_behind_the_request_in_one_batch() {
    let w = world().await;
    let sessions: Vec<Session> = (0..3).map(|_| w.session()).collect();
    for session in &sessions {
        w.tiered.create(session).await.unwrap();
    }
    w.clock.advance(time::Duration::minutes(5));
    let now = w.clock.now();
    let idle = now + SessionBuilder::IDLE;
    w.cut_durable(true);
    for session in &sessions {
        assert!(w.tiered.touch(session, now, idle).await.unwrap(), "a use needs only the cache");
    }
    for session in &sessions {
        let stored = w.durable.inner.get(&session.token_hash).await.unwrap().unwrap();
        assert_eq!(stored.last_seen_at, session.last_seen_at, "not written yet");
    }
    w.tiered.upkeep().await;
    w.cut_durable(false);
    w.tiered.upkeep().await;
    for session in &sessions {
        let stored = w.durable.inner.get(&session.token_hash).await.unwrap().unwrap();
        assert_eq!(
            (stored.last_seen_at, stored.idle_expires_at),
            (now, idle),
            "written behind, kept while it was down"
        );
    }
}

#[tokio::test]
async fn while_the_durable_tier_is_down_sessions_authenticate_and_a_logout_reaches_it_later() {
    let mut w = world().await;
    let session = w.session();
    let other = w.session();
    w.tiered.create(&session).await.unwrap();
    w.tiered.create(&other).await.unwrap();
    w.cut_durable(true);

    assert_eq!(w.tiered.get(&other.token_hash).await.unwrap(), Some(other.clone()), "authenticates from the cache");
    assert!(w.tiered.create(&w.session()).await.is_err(), "no session is created that the durable tier lacks");
    assert!(w.tiered.list_for_user(other.user_id).await.is_err(), "listing needs the durable tier");
    assert_eq!(w.tiered.delete(&session.token_hash).await.unwrap(), Some(session.clone()), "logout answers");
    assert_eq!(w.cached(&session).await, Cached::Ended, "ended in the cache at once");
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), None);

    // The cache loses its marker before the durable tier is back: the outbox still says no.
    w.lose(w.session_key(&session)).await;
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap_or(None), None);
    w.cut_durable(false);
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), None, "not read back while its end waits");
    w.tiered.upkeep().await;
    assert_eq!(w.durable.inner.get(&session.token_hash).await.unwrap(), None, "the durable end was written");
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), None);
    assert_eq!(w.tiered.get(&other.token_hash).await.unwrap(), Some(other));
}

#[tokio::test]
async fn tokens_that_were_never_issued_cost_a_bounded_number_of_durable_lookups() {
    let w = world_with(&TieredSettings { miss_lookups_per_second: 10, ..tuning() }).await;
    let random = || SessionBuilder::opened_at(w.clock.now()).build().token_hash;
    let mut refused = 0;
    let started = std::time::Instant::now();
    for _ in 0..200 {
        match w.tiered.get(&random()).await {
            Ok(None) => {}
            Ok(Some(_)) => panic!("a random token authenticated"),
            Err(err) => {
                assert!(err.is_outage(), "{err}");
                refused += 1;
            }
        }
    }
    // The burst, plus what the budget refilled (10 a second) while the loop ran.
    #[allow(clippy::cast_possible_truncation, clippy::cast_sign_loss)]
    let refilled = (started.elapsed().as_secs_f64() * 10.0).ceil() as usize;
    let lookups = w.durable.gets.load(Ordering::SeqCst);
    assert!((50..=50 + refilled).contains(&lookups), "five seconds' worth of lookups, then the rate: {lookups}");
    assert_eq!(refused, 200 - lookups, "past the budget a miss answers 503, never a 401 it did not check");

    let stale = random();
    w.tiered.lift_miss_budget(std::time::Duration::from_secs(60));
    for _ in 0..5 {
        assert_eq!(w.tiered.get(&stale).await.unwrap(), None);
    }
    assert_eq!(w.durable.gets.load(Ordering::SeqCst), lookups + 1, "a token the durable tier lacked is looked up once");
}

#[tokio::test]
async fn a_cache_that_went_back_to_an_older_state_is_told_again_what_ended() {
    let w = world().await;
    let session = w.session();
    w.tiered.create(&session).await.unwrap();
    assert!(w.tiered.delete(&session.token_hash).await.unwrap().is_some());
    // A failover to a replica that had not seen the logout: the live record is back.
    w.cache.inner.put(&session).await.unwrap();
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), Some(session.clone()), "revived, until told");

    assert!(w.tiered.replay_ends(std::time::Duration::from_secs(600)).await);
    assert_eq!(w.cached(&session).await, Cached::Ended);
    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), None);
}

#[tokio::test]
async fn a_logout_while_postgres_is_down_leaves_a_marker_even_where_redis_held_nothing() {
    let mut w = world().await;
    let session = w.session();
    w.tiered.create(&session).await.unwrap();
    w.lose(w.session_key(&session)).await;
    w.cut_durable(true);
    assert_eq!(w.tiered.delete(&session.token_hash).await.unwrap(), None, "answered");
    assert_eq!(w.cached(&session).await, Cached::Ended, "a marker by hash: PostgreSQL may hold it live");
    assert_eq!(w.tiered.ends_waiting(), 1);

    w.cut_durable(false);
    w.tiered.upkeep().await;
    assert_eq!(w.tiered.ends_waiting(), 0);
    assert_eq!(w.durable.inner.get(&session.token_hash).await.unwrap(), None, "ended in PostgreSQL too");
}

#[tokio::test]
async fn a_session_only_redis_holds_whose_postgres_row_ended_is_not_revived_by_its_copy() {
    let w = world().await;
    let session = w.session();
    w.cache.inner.create(&session).await.unwrap();
    // Ended in PostgreSQL while Redis could not be told: the row is ended, Redis still holds it live.
    assert!(w.durable.inner.insert_if_absent(&session).await.unwrap());
    assert!(w.durable.inner.delete(&session.token_hash).await.unwrap().is_some());

    assert_eq!(w.tiered.get(&session.token_hash).await.unwrap(), None, "the copy found the ended row");
    assert_eq!(w.cached(&session).await, Cached::Ended, "and ended it in Redis too");
}
