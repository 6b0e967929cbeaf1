//! Two instances with the local session cache on, over one PostgreSQL schema
//! and one throw-away Redis: a logout on one is refused by the other as soon
//! as Redis's invalidation reaches it (the test allows 1 s on this shared
//! machine; it takes about one network hop), though the other had the
//! session in its cache.

use std::time::{Duration, Instant};

use crate::support::{isolated_store_vars, spawn_app_in};
use reqwest::StatusCode;
use sesame_factory::Environment;
use sesame_testbed::Redis;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_logout_on_one_instance_is_refused_on_the_other_that_cached_the_session() {
    let redis = Redis::start();
    let shared = isolated_store_vars();
    let vars = [
        ("DATABASE_URL", shared["DATABASE_URL"].as_str()),
        ("SESAME__POSTGRES__SCHEMA", shared["SESAME__POSTGRES__SCHEMA"].as_str()),
        ("SESAME__REDIS__KEY_PREFIX", shared["SESAME__REDIS__KEY_PREFIX"].as_str()),
        ("REDIS_URL", &redis.url()),
        ("SESAME__REDIS__LOCAL_CACHE_SESSIONS", "1000"),
    ];
    let (one, other) =
        (spawn_app_in(Environment::Development, &vars).await, spawn_app_in(Environment::Development, &vars).await);
    let (_, token) = one.signed_up("two-instances@example.com").await;

    // The other instance reads the session once (once its invalidation
    // connection is up); later reads are served from its cache.
    let started = Instant::now();
    loop {
        assert_eq!(other.me_with_token(&token).await.status(), StatusCode::OK);
        redis.cli(&["CONFIG", "RESETSTAT"]);
        assert_eq!(other.me_with_token(&token).await.status(), StatusCode::OK);
        if !redis.cli(&["INFO", "commandstats"]).contains("cmdstat_hmget") {
            break;
        }
        assert!(started.elapsed() < Duration::from_secs(5), "the other instance never answered from its cache");
        tokio::time::sleep(Duration::from_millis(20)).await;
    }

    let client = one.raw();
    let logout =
        client.post(one.url("/api/auth/logout")).header("cookie", format!("sessionId={token}")).send().await.unwrap();
    assert!(logout.status().is_success(), "{}", logout.status());
    let started = Instant::now();
    while other.me_with_token(&token).await.status() != StatusCode::UNAUTHORIZED {
        assert!(started.elapsed() < Duration::from_secs(1), "the other instance still accepts the ended session");
        tokio::time::sleep(Duration::from_millis(2)).await;
    }
}
