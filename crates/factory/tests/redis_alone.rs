//! Sessions in Redis alone: start-up checks how Redis keeps its data, on
//! throw-away servers configured each way. Needs PostgreSQL at
//! `TEST_DATABASE_URL` for the users store.

use std::{collections::HashMap, sync::Arc};

use sesame_factory::{Environment, Settings, build};
use sesame_ports::SystemClock;
use sesame_testbed::Redis;

fn production_with_redis_alone(redis: &Redis, extra: &[(&str, &str)]) -> Settings {
    let database = sesame_testbed::test_database_url();
    let mut vars: HashMap<String, String> = [
        ("DATABASE_URL", database.as_str()),
        ("REDIS_URL", redis.url().as_str()),
        ("SESAME__STORE__SESSIONS", "redis"),
        ("SESAME__STORE__CONNECT_ATTEMPTS", "1"),
    ]
    .into_iter()
    .map(|(k, v)| (k.to_owned(), v.to_owned()))
    .collect();
    vars.extend(extra.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())));
    Settings::from_vars(Environment::Production, vars).expect("valid settings")
}

#[tokio::test]
async fn production_refuses_redis_alone_when_it_may_evict_sessions_unless_told_the_risk_is_known() {
    let redis = Redis::start_with(&["--maxmemory-policy", "allkeys-lru"]);
    let err = build(&production_with_redis_alone(&redis, &[]), Arc::new(SystemClock)).await.expect_err("refused");
    let message = err.to_string();
    assert!(message.contains("maxmemory-policy allkeys-lru"), "names the policy: {message}");
    assert!(message.contains("SESAME__REDIS__ACCEPT_EVICTION"), "names the setting: {message}");

    let accepted = production_with_redis_alone(&redis, &[("SESAME__REDIS__ACCEPT_EVICTION", "true")]);
    build(&accepted, Arc::new(SystemClock)).await.expect("the risk is acknowledged");
}

#[tokio::test]
async fn production_starts_on_redis_alone_that_never_evicts() {
    let redis = Redis::start_with(&["--maxmemory-policy", "noeviction", "--appendonly", "yes"]);
    build(&production_with_redis_alone(&redis, &[]), Arc::new(SystemClock)).await.expect("noeviction is safe");
}
