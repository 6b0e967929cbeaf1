//! What the contract kit cannot see: Redis losing its data, evicting keys, and
//! how the adapter tells the two apart. Every test breaks a throw-away server of
//! its own (`sesame-testbed`), never the shared one.

use std::sync::Arc;

use secrecy::SecretString;
use sesame_ports::{Clock, ManualClock, SessionMetadata, SessionStore, testkit::SessionBuilder};
use sesame_redis::{DataCheck, Durability, RedisSessionStore, RedisSettings};
use sesame_testbed::Redis;

async fn store_on(redis: &Redis, clock: &ManualClock) -> RedisSessionStore {
    let settings = RedisSettings::for_test(SecretString::from(redis.url()));
    RedisSessionStore::connect(&settings, Arc::new(clock.clone())).await.expect("the throw-away Redis answers")
}

#[tokio::test]
async fn flushall_is_reported_once_as_lost_data() {
    let redis = Redis::start();
    let store = store_on(&redis, &ManualClock::default()).await;
    assert_eq!(store.check_data().await.unwrap(), DataCheck::default(), "the first check writes the markers");
    assert_eq!(store.check_data().await.unwrap(), DataCheck::default(), "nothing happened");

    redis.cli(&["flushall"]);
    assert_eq!(store.check_data().await.unwrap(), DataCheck { lost: true, ..DataCheck::default() });
    assert_eq!(store.check_data().await.unwrap(), DataCheck::default(), "reported once; the markers are back");
}

#[tokio::test]
async fn a_restart_without_persistence_is_reported_as_lost_data() {
    let mut redis = Redis::start();
    let store = store_on(&redis, &ManualClock::default()).await;
    store.check_data().await.unwrap();
    redis.restart();
    // The connection reconnects on its own after one failed command.
    let check = match store.check_data().await {
        Ok(check) => check,
        Err(_) => store.check_data().await.expect("reconnected"),
    };
    assert_eq!(check, DataCheck { lost: true, evicting: false, went_back: true }, "a restart may go back in time");
}

#[tokio::test]
async fn eviction_under_allkeys_lru_is_not_a_false_alarm() {
    let redis = Redis::start_with(&["--maxmemory", "3mb", "--maxmemory-policy", "allkeys-lru"]);
    let clock = ManualClock::default();
    let store = store_on(&redis, &clock).await;
    let durability = store.durability().await.unwrap();
    assert_eq!(durability.eviction_policy.as_deref(), Some("allkeys-lru"));
    assert!(durability.may_evict() && durability.persistent == Some(false));
    store.check_data().await.unwrap();

    let agent = "x".repeat(SessionMetadata::USER_AGENT_MAX_CHARS);
    let mut evicted = false;
    for round in 0..40 {
        for _ in 0..250 {
            let session =
                SessionBuilder::opened_at(clock.now()).metadata(SessionMetadata::new(None, Some(&agent))).build();
            store.create(&session).await.unwrap();
        }
        let check = store.check_data().await.unwrap();
        assert!(!check.lost, "round {round}: eviction was taken for data loss");
        if check.evicting {
            evicted = true;
            break;
        }
    }
    assert!(evicted, "the server never evicted: the test did not test anything");
    let info = redis.cli(&["info", "stats"]);
    assert!(!info.contains("evicted_keys:0\r"), "{info}");
}

#[tokio::test]
async fn with_the_index_required_a_session_whose_index_was_evicted_does_not_count() {
    let redis = Redis::start();
    let clock = ManualClock::default();
    let store = store_on(&redis, &clock).await;
    let session = SessionBuilder::opened_at(clock.now()).build();
    store.create(&session).await.unwrap();
    let prefix = RedisSettings::for_test(SecretString::from(redis.url())).key_prefix;
    redis.cli(&["del", &format!("{prefix}user:{}:sessions", session.user_id)]);
    assert_eq!(store.get(&session.token_hash).await.unwrap(), Some(session.clone()), "not required yet");

    store.require_index();
    assert_eq!(store.get(&session.token_hash).await.unwrap(), None, "its index is gone, so it is");
    assert!(store.revoke_all(session.user_id).await.unwrap().is_empty());
    assert_eq!(store.get(&session.token_hash).await.unwrap(), None, "and it stays ended");
}

#[tokio::test]
async fn every_instance_notices_the_loss_not_only_the_first_to_look() {
    let redis = Redis::start();
    let clock = ManualClock::default();
    let (first, second) = (store_on(&redis, &clock).await, store_on(&redis, &clock).await);
    for store in [&first, &second] {
        store.check_data().await.unwrap();
    }
    redis.cli(&["flushall"]);
    assert!(first.check_data().await.unwrap().lost);
    assert!(second.check_data().await.unwrap().lost, "the first one's rewritten markers hide nothing from the second");
}

#[tokio::test]
async fn a_server_that_refuses_config_get_is_assumed_to_evict() {
    // As many managed services do.
    let redis = Redis::start_with(&["--rename-command", "CONFIG", ""]);
    let store = store_on(&redis, &ManualClock::default()).await;
    let durability = store.durability().await.expect("a refusal is an answer, not an error");
    assert_eq!(durability, Durability { eviction_policy: None, persistent: None });
    assert!(durability.may_evict(), "unknown counts as may evict");
}
