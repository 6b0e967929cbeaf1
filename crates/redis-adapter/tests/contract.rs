//! The ports' contract kit, run against a standalone Redis and a Redis Cluster;
//! each test under a key prefix of its own.
//!
//! Needs Redis at `TEST_REDIS_URL` (default `redis://127.0.0.1:6379`) and a
//! Cluster at `TEST_REDIS_CLUSTER_URLS` (comma-separated node URLs; `cargo xtask
//! test` starts a local one). Without them these tests fail, naming the variable;
//! they never pass by skipping.

use std::sync::Arc;

use secrecy::SecretString;
use sesame_ports::{ManualClock, SessionStore};
use sesame_redis::{RedisSessionStore, RedisSettings};

fn unique_prefix() -> String {
    format!("sesame-test:{}:", uuid::Uuid::new_v4().simple())
}

async fn connect(settings: RedisSettings, clock: ManualClock, variable: &str) -> Arc<dyn SessionStore> {
    let store = RedisSessionStore::connect(&settings, Arc::new(clock))
        .await
        .unwrap_or_else(|err| panic!("Redis is needed ({variable}): {err}. Start it, or set {variable}."));
    Arc::new(store)
}

mod standalone {
    use super::*;

    async fn fresh_store(clock: ManualClock) -> Arc<dyn SessionStore> {
        let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
        let mut settings = RedisSettings::new(SecretString::from(url));
        settings.key_prefix = unique_prefix();
        connect(settings, clock, "TEST_REDIS_URL").await
    }

    sesame_ports::session_store_contract!(fresh_store);
}

mod cluster {
    use super::*;

    async fn fresh_store(clock: ManualClock) -> Arc<dyn SessionStore> {
        let urls = std::env::var("TEST_REDIS_CLUSTER_URLS").unwrap_or_else(|_| {
            panic!("a Redis Cluster is needed: set TEST_REDIS_CLUSTER_URLS to its node URLs, or run `cargo xtask test`, which starts one")
        });
        let mut settings = RedisSettings::new(SecretString::from(String::new()));
        settings.urls = urls.split(',').map(|url| SecretString::from(url.trim().to_owned())).collect();
        settings.cluster = true;
        settings.key_prefix = unique_prefix();
        connect(settings, clock, "TEST_REDIS_CLUSTER_URLS").await
    }

    sesame_ports::session_store_contract!(fresh_store);
}

mod password {
    use sesame_ports::{Clock, SessionId, SessionMetadata, SessionTokenHash, UserId};

    use super::*;

    fn protected_url() -> String {
        std::env::var("TEST_REDIS_PASSWORD_URL").unwrap_or_else(|_| {
            panic!("a password-protected Redis is needed: set TEST_REDIS_PASSWORD_URL (redis://:password@host:port), or run `cargo xtask test`, which starts one")
        })
    }

    #[tokio::test]
    async fn a_password_url_connects_and_stores_sessions() {
        let clock = ManualClock::default();
        let mut settings = RedisSettings::new(SecretString::from(protected_url()));
        settings.key_prefix = unique_prefix();
        let store = connect(settings, clock.clone(), "TEST_REDIS_PASSWORD_URL").await;
        let now = clock.now();
        let session = sesame_ports::Session {
            id: SessionId::random(),
            token_hash: SessionTokenHash::from_bytes([3; 32]),
            user_id: UserId::random(),
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now + time::Duration::minutes(30),
            absolute_expires_at: now + time::Duration::hours(12),
            metadata: SessionMetadata::default(),
        };
        store.create(&session).await.unwrap();
        assert_eq!(store.get(&session.token_hash).await.unwrap(), Some(session));
    }

    #[tokio::test]
    async fn a_wrong_password_fails_without_printing_it() {
        let url = protected_url().replace("sesame-test-secret", "not-the-password");
        let settings = RedisSettings::new(SecretString::from(url));
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
        let mut settings = RedisSettings::new(SecretString::from(url));
        settings.key_prefix = unique_prefix();
        let store = connect(settings, ManualClock::default(), "TEST_REDIS_TLS_URL").await;
        store.ping().await.expect("PING over TLS");
        assert!(store.list_for_user(sesame_ports::UserId::random()).await.expect("a query over TLS").is_empty());
    }
}
