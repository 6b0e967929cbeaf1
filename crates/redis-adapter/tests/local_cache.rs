//! The local session cache (`RedisSettings::local_cache_sessions`) on a
//! throw-away Redis of the test's own: what another client changes reaches it
//! through Redis's invalidations, and when the invalidation connection drops
//! it empties itself instead of serving what it can no longer hear about.

use std::{
    sync::Arc,
    time::{Duration, Instant},
};

use secrecy::SecretString;
use sesame_ports::{Cached, Clock, ManualClock, Session, SessionCache, testkit::SessionBuilder};
use sesame_redis::{LOCAL_CACHE_CONNECTION_NAME, RedisSessionStore, RedisSettings};
use sesame_testbed::Redis;

/// How long these tests allow an invalidation to arrive: it takes about one
/// network hop; the allowance is for a loaded, shared machine.
const BOUND: Duration = Duration::from_secs(1);

async fn store(redis: &Redis, clock: &ManualClock, cached: usize) -> RedisSessionStore {
    let mut settings = RedisSettings::for_test(SecretString::from(redis.url()));
    settings.local_cache_sessions = cached;
    let store = RedisSessionStore::connect(&settings, Arc::new(clock.clone())).await.expect("the test's Redis");
    if let Some(cache) = store.local_cache() {
        eventually("tracking to be on", Duration::from_secs(5), || cache.is_tracking()).await;
    }
    store
}

/// Reads `session` through `store` until its cache holds it: a read that an
/// invalidation overtook (the put's own, say) is rightly not cached.
async fn read_into_cache(store: &RedisSessionStore, session: &Session) {
    let cache = store.local_cache().expect("on");
    let started = Instant::now();
    while cache.is_empty() {
        assert!(matches!(store.lookup(&session.token_hash).await.unwrap(), Cached::Live { .. }));
        assert!(started.elapsed() < BOUND, "a read of a live session was never cached");
        tokio::time::sleep(Duration::from_millis(5)).await;
    }
}

/// A throw-away Redis, two stores over it (`here` with the cache on,
/// `elsewhere` without), and a session `elsewhere` wrote and `here` has cached.
async fn cached_elsewhere_made_session() -> (Redis, ManualClock, RedisSessionStore, RedisSessionStore, Session) {
    let redis = Redis::start();
    let clock = ManualClock::default();
    let (here, elsewhere) = (store(&redis, &clock, 100).await, store(&redis, &clock, 0).await);
    let session = SessionBuilder::opened_at(clock.now()).build();
    elsewhere.put(&session).await.unwrap();
    read_into_cache(&here, &session).await;
    (redis, clock, here, elsewhere, session)
}

async fn eventually(what: &str, deadline: Duration, mut done: impl FnMut() -> bool) -> Duration {
    let started = Instant::now();
    while !done() {
        assert!(started.elapsed() < deadline, "{what} did not happen within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
    started.elapsed()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_by_another_instance_is_refused_once_redis_says_so() {
    let (redis, _, here, elsewhere, session) = cached_elsewhere_made_session().await;
    let cache = here.local_cache().expect("on");
    redis.cli(&["CONFIG", "RESETSTAT"]);
    assert!(matches!(here.lookup(&session.token_hash).await.unwrap(), Cached::Live { .. }));
    assert!(!redis.cli(&["INFO", "commandstats"]).contains("cmdstat_hmget"), "the second read asks Redis nothing");

    elsewhere.end(std::slice::from_ref(&session)).await.unwrap();
    eventually("the invalidation to arrive", BOUND, || cache.is_empty()).await;
    assert_eq!(here.lookup(&session.token_hash).await.unwrap(), Cached::Ended);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_its_invalidation_connection_drops_the_cache_empties_itself_and_refills_once_back() {
    let (redis, clock, here, elsewhere, session) = cached_elsewhere_made_session().await;
    let cache = here.local_cache().expect("on");

    let clients = redis.cli(&["CLIENT", "LIST"]);
    let id = clients
        .lines()
        .find(|line| line.contains(&format!("name={LOCAL_CACHE_CONNECTION_NAME} ")))
        .and_then(|line| line.split_whitespace().find_map(|field| field.strip_prefix("id=")))
        .unwrap_or_else(|| panic!("no invalidation connection in:\n{clients}"))
        .to_owned();
    redis.cli(&["CLIENT", "KILL", "ID", &id]);
    eventually("the cache to empty itself", BOUND, || cache.is_empty()).await;
    // Ended while nobody could tell this instance: it must not answer from memory.
    elsewhere.end(std::slice::from_ref(&session)).await.unwrap();
    assert_eq!(here.lookup(&session.token_hash).await.unwrap(), Cached::Ended);

    eventually("tracking to be back", Duration::from_secs(5), || cache.is_tracking()).await;
    let again = SessionBuilder::opened_at(clock.now()).build();
    elsewhere.put(&again).await.unwrap();
    // Caching resumes once invalidations flow again.
    read_into_cache(&here, &again).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_dropped_store_closes_its_invalidation_connection() {
    let redis = Redis::start();
    let store = store(&redis, &ManualClock::default(), 100).await;
    let tracking = || redis.cli(&["CLIENT", "LIST"]).contains(&format!("name={LOCAL_CACHE_CONNECTION_NAME} "));
    assert!(tracking(), "the cache has its invalidation connection");
    drop(store);
    // The tracking task notices within a heartbeat (1 s) and lets the connection go.
    let started = Instant::now();
    while tracking() {
        assert!(started.elapsed() < Duration::from_secs(5), "the invalidation connection outlived its store");
        tokio::time::sleep(Duration::from_millis(50)).await;
    }
}
