//! The service keeps serving when Redis drops its connections. The test kills
//! connections, so it does it to a throw-away Redis of its own
//! (`sesame-testbed`), never the shared one; it needs PostgreSQL at
//! `TEST_DATABASE_URL` (default: the local one).

use crate::support::{PASSWORD, spawn_app_in};
use reqwest::StatusCode;
use sesame_factory::Environment;
use sesame_testbed::Redis;

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn requests_succeed_after_redis_kills_the_services_connections() {
    let redis = Redis::start();
    let app = spawn_app_in(Environment::Development, &[("REDIS_URL", &redis.url())]).await;
    let (client, _) = app.signed_up("reconnect@example.com").await;
    assert_eq!(app.get(&client, "/api/auth/me").await.status(), StatusCode::OK);

    let mut admin = redis::Client::open(redis.url()).unwrap().get_multiplexed_async_connection().await.expect("Redis");
    let before = client_ids(&mut admin).await;
    let killed: i64 = redis::cmd("CLIENT")
        .arg(&["KILL", "TYPE", "normal", "SKIPME", "yes"][..])
        .query_async(&mut admin)
        .await
        .expect("CLIENT KILL");
    assert!(killed >= 1, "the service's connection was killed");

    for _ in 0..3 {
        assert_eq!(app.get(&client, "/api/auth/me").await.status(), StatusCode::OK, "served after the kill");
    }
    let laptop = app.browser();
    assert_eq!(app.login(&laptop, "reconnect@example.com", PASSWORD).await.status(), StatusCode::OK);
    assert_eq!(app.get(&laptop, "/api/auth/me").await.status(), StatusCode::OK);

    let after = client_ids(&mut admin).await;
    assert!(after.iter().any(|id| !before.contains(id)), "the service opened a new connection: {before:?} → {after:?}");
}

/// The ids of every client connection but `admin`'s own.
async fn client_ids(admin: &mut redis::aio::MultiplexedConnection) -> Vec<String> {
    let own: i64 = redis::cmd("CLIENT").arg("ID").query_async(admin).await.unwrap();
    let list: String = redis::cmd("CLIENT").arg("LIST").query_async(admin).await.unwrap();
    list.lines()
        .filter_map(|line| line.split(' ').find_map(|field| field.strip_prefix("id=")).map(str::to_owned))
        .filter(|id| *id != own.to_string())
        .collect()
}
