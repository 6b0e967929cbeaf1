//! The ports' contract kit, run against a standalone Redis and a Redis Cluster;
//! each test under a key prefix of its own.
//!
//! Needs Redis at `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`) and a
//! Cluster at `TEST_REDIS_CLUSTER_URLS` (comma-separated node URLs; `cargo xtask
//! test` starts a local one). Without them these tests fail, naming the variable;
//! they never pass by skipping.

use std::sync::Arc;

use secrecy::SecretString;
use sesame_ports::{ManualClock, RateLimiter, SessionCache, SessionStore};
use sesame_redis::{RedisSessionStore, RedisSettings};

fn unique_prefix() -> String {
    format!("sesame-test:{}:", uuid::Uuid::new_v4().simple())
}

async fn connect(settings: RedisSettings, clock: ManualClock, variable: &str) -> Arc<RedisSessionStore> {
    let store = RedisSessionStore::connect(&settings, Arc::new(clock))
        .await
        .unwrap_or_else(|err| panic!("Redis is needed ({variable}): {err}. Start it, or set {variable}."));
    Arc::new(store)
}

fn standalone_settings() -> RedisSettings {
    let url = sesame_testbed::test_redis_url();
    let mut settings = RedisSettings::for_test(SecretString::from(url));
    settings.key_prefix = unique_prefix();
    settings
}

mod standalone {
    use super::*;

    async fn fresh_store(clock: ManualClock) -> Arc<RedisSessionStore> {
        connect(standalone_settings(), clock, "TEST_REDIS_URL").await
    }

    sesame_ports::session_store_contract!(|clock| async { fresh_store(clock).await as Arc<dyn SessionStore> });
    sesame_ports::session_cache_contract!(|clock| async { fresh_store(clock).await as Arc<dyn SessionCache> });
    sesame_ports::rate_limiter_contract!(|| async {
        Arc::new(fresh_store(ManualClock::default()).await.rate_limiter()) as Arc<dyn RateLimiter>
    });

    #[tokio::test]
    async fn a_corrupt_record_is_deleted_and_treated_as_absent() {
        let settings = standalone_settings();
        let key = |hash: sesame_ports::SessionTokenHash| format!("{}session:{}", settings.key_prefix, hash.to_hex());
        let clock = ManualClock::default();
        let store = connect(settings.clone(), clock.clone(), "TEST_REDIS_URL").await;
        let mut admin = admin().await;
        let fixture = sesame_ports::testkit::sessions::Fixture::new(store, clock);
        sesame_ports::testkit::sessions::a_corrupt_record_is_deleted_and_treated_as_absent(
            fixture,
            |hash| async move {
                let _: i64 =
                    redis::cmd("HSET").arg(key(hash)).arg("idle").arg("garbage").query_async(&mut admin).await.unwrap();
            },
        )
        .await;
    }
}

/// The contract once more, with the local session cache on.
mod local_cache {
    use super::*;

    async fn fresh_store(clock: ManualClock) -> Arc<RedisSessionStore> {
        let mut settings = standalone_settings();
        settings.local_cache_sessions = 1_000;
        let store = connect(settings, clock, "TEST_REDIS_URL").await;
        let cache = store.local_cache().expect("on");
        let started = std::time::Instant::now();
        while !cache.is_tracking() {
            assert!(started.elapsed() < std::time::Duration::from_secs(5), "tracking did not start");
            tokio::time::sleep(std::time::Duration::from_millis(5)).await;
        }
        store
    }

    sesame_ports::session_store_contract!(|clock| async { fresh_store(clock).await as Arc<dyn SessionStore> });
    sesame_ports::session_cache_contract!(|clock| async { fresh_store(clock).await as Arc<dyn SessionCache> });
}

mod cluster {
    use super::*;

    async fn fresh_store(clock: ManualClock) -> Arc<RedisSessionStore> {
        let urls = std::env::var("TEST_REDIS_CLUSTER_URLS").unwrap_or_else(|_| {
            panic!("a Redis Cluster is needed: set TEST_REDIS_CLUSTER_URLS to its node URLs, or run `cargo xtask test`, which starts one")
        });
        let mut settings = RedisSettings::for_test(SecretString::from(String::new()));
        settings.urls = urls.split(',').map(|url| SecretString::from(url.trim().to_owned())).collect();
        settings.cluster = true;
        settings.key_prefix = unique_prefix();
        connect(settings, clock, "TEST_REDIS_CLUSTER_URLS").await
    }

    sesame_ports::session_store_contract!(|clock| async { fresh_store(clock).await as Arc<dyn SessionStore> });
    sesame_ports::session_cache_contract!(|clock| async { fresh_store(clock).await as Arc<dyn SessionCache> });
    sesame_ports::rate_limiter_contract!(|| async {
        Arc::new(fresh_store(ManualClock::default()).await.rate_limiter()) as Arc<dyn RateLimiter>
    });
}

/// A connection for the tests to look at (and garble) what the store wrote.
async fn admin() -> redis::aio::MultiplexedConnection {
    let url = sesame_testbed::test_redis_url();
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.expect("Redis at TEST_REDIS_URL")
}

mod password {
    use sesame_ports::{Clock, testkit::SessionBuilder};

    use super::*;

    fn protected_url() -> String {
        std::env::var("TEST_REDIS_PASSWORD_URL").unwrap_or_else(|_| {
            panic!("a password-protected Redis is needed: set TEST_REDIS_PASSWORD_URL (redis://:password@host:port), or run `cargo xtask test`, which starts one")
        })
    }

    #[tokio::test]
    async fn a_password_url_connects_and_stores_sessions() {
        let clock = ManualClock::default();
        let mut settings = RedisSettings::for_test(SecretString::from(protected_url()));
        settings.key_prefix = unique_prefix();
        let store = connect(settings, clock.clone(), "TEST_REDIS_PASSWORD_URL").await;
        let session = SessionBuilder::opened_at(clock.now()).build();
        store.create(&session).await.unwrap();
        assert_eq!(store.get(&session.token_hash).await.unwrap(), Some(session));
    }

    #[tokio::test]
    async fn a_wrong_password_fails_without_printing_it() {
        let url = protected_url().replace("sesame-test-secret", "not-the-password");
        let settings = RedisSettings::for_test(SecretString::from(url));
        let result = RedisSessionStore::connect(&settings, Arc::new(ManualClock::default())).await;
        let err = result.err().expect("a wrong password is refused").to_string();
        assert!(!err.contains("not-the-password"), "{err}");
    }
}

mod tls {
    use super::*;

    #[tokio::test]
    async fn a_rediss_url_connects_over_tls() {
        let url = std::env::var("TEST_REDIS_TLS_URL").unwrap_or_else(|_| {
            panic!("a TLS Redis is needed: set TEST_REDIS_TLS_URL (rediss://host:port) and SSL_CERT_FILE to its CA, or run `cargo xtask test`, which starts one")
        });
        let mut settings = RedisSettings::for_test(SecretString::from(url));
        settings.key_prefix = unique_prefix();
        let store = connect(settings, ManualClock::default(), "TEST_REDIS_TLS_URL").await;
        store.ping().await.expect("PING over TLS");
        assert!(store.list_for_user(sesame_ports::UserId::random()).await.expect("a query over TLS").is_empty());
    }
}

/// What the contract cannot see: the keys' real expiry in Redis, and the index
/// entry of a session being created on a Cluster.
mod layout {
    use sesame_ports::{Clock, Session, UserId, testkit::SessionBuilder};
    use time::Duration;

    use super::*;

    struct Fixture {
        store: Arc<RedisSessionStore>,
        clock: ManualClock,
        prefix: String,
        admin: redis::aio::MultiplexedConnection,
    }

    async fn fixture() -> Fixture {
        let clock = ManualClock::default();
        let settings = standalone_settings();
        let prefix = settings.key_prefix.clone();
        let store = connect(settings, clock.clone(), "TEST_REDIS_URL").await;
        Fixture { store, clock, prefix, admin: admin().await }
    }

    impl Fixture {
        fn session(&self, user_id: UserId, byte: u8) -> Session {
            SessionBuilder::opened_at(self.clock.now()).user(user_id).token_byte(byte).build()
        }

        async fn pttl(&mut self, key: &str) -> Duration {
            let millis: i64 = redis::cmd("PTTL").arg(key).query_async(&mut self.admin).await.unwrap();
            Duration::milliseconds(millis)
        }

        fn keys(&self, session: &Session) -> (String, String) {
            (
                format!("{}session:{}", self.prefix, session.token_hash.to_hex()),
                format!("{}user:{}:sessions", self.prefix, session.user_id),
            )
        }
    }

    #[tokio::test]
    async fn the_session_expires_at_its_earlier_expiry_and_the_index_outlives_every_touch() {
        let mut f = fixture().await;
        let session = f.session(UserId::random(), 1);
        f.store.create(&session).await.unwrap();
        let (session_key, index_key) = f.keys(&session);
        let ttl = f.pttl(&session_key).await;
        assert!(ttl > Duration::minutes(29) && ttl <= Duration::minutes(30), "session TTL {ttl}");
        let ttl = f.pttl(&index_key).await;
        assert!(ttl > Duration::hours(11) && ttl <= Duration::hours(12), "index TTL {ttl}");

        // Used every 25 minutes, the session's TTL follows its idle window until
        // the absolute expiry caps it; the index's TTL (set from the absolute
        // expiry) always covers it.
        while f.clock.now() + Duration::minutes(25) < session.absolute_expires_at - Duration::minutes(15) {
            f.clock.advance(Duration::minutes(25));
            let now = f.clock.now();
            let idle = (now + Duration::minutes(30)).min(session.absolute_expires_at);
            assert!(f.store.touch(&session, now, idle).await.unwrap());
        }
        let left = session.absolute_expires_at - f.clock.now();
        assert!(left < Duration::minutes(30));
        let ttl = f.pttl(&session_key).await;
        assert!(ttl > left - Duration::seconds(5) && ttl <= left, "session TTL {ttl}, capped at {left}");
        assert!(f.pttl(&index_key).await > Duration::hours(11), "the index still covers the session");
    }

    #[tokio::test]
    async fn an_index_entry_whose_session_is_still_being_written_is_not_pruned() {
        let mut f = fixture().await;
        let session = f.session(UserId::random(), 2);
        let (_, index_key) = f.keys(&session);
        // A Cluster create that has written its index step and not yet its session step.
        let score = codec_micros(session.expires_at());
        let _: i64 = redis::cmd("ZADD")
            .arg(&index_key)
            .arg(score)
            .arg(session.token_hash.to_hex())
            .query_async(&mut f.admin)
            .await
            .unwrap();
        assert!(f.store.list_for_user(session.user_id).await.unwrap().is_empty());
        let kept: Option<f64> = redis::cmd("ZSCORE")
            .arg(&index_key)
            .arg(session.token_hash.to_hex())
            .query_async(&mut f.admin)
            .await
            .unwrap();
        assert!(kept.is_some(), "listing must not prune an entry whose score has not passed");

        // The session step lands; revoke-all reaches it.
        f.store.create(&session).await.unwrap();
        assert_eq!(f.store.revoke_all(session.user_id).await.unwrap().len(), 1);
        assert_eq!(f.store.get(&session.token_hash).await.unwrap(), None);
    }

    #[tokio::test]
    async fn an_ended_marker_lasts_until_the_session_would_have_expired() {
        let mut f = fixture().await;
        let session = f.session(UserId::random(), 3);
        f.store.create(&session).await.unwrap();
        f.clock.advance(Duration::minutes(10));
        assert!(f.store.delete(&session.token_hash).await.unwrap().is_some());
        let (session_key, _) = f.keys(&session);
        let ttl = f.pttl(&session_key).await;
        assert!(ttl > Duration::minutes(19) && ttl <= Duration::minutes(20), "marker TTL {ttl}");
        let fields: std::collections::HashMap<String, String> =
            redis::cmd("HGETALL").arg(&session_key).query_async(&mut f.admin).await.unwrap();
        assert_eq!(fields.keys().collect::<Vec<_>>(), ["ended"], "the marker keeps nothing of the session");
    }

    fn codec_micros(instant: time::OffsetDateTime) -> i64 {
        i64::try_from(instant.unix_timestamp_nanos() / 1_000).unwrap()
    }
}
