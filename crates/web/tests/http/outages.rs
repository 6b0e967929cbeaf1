//! The service while a store is down, paused or restarted — on throw-away
//! servers of the test's own (`sesame-testbed`), never the shared ones.

use std::time::{Duration, Instant};

use crate::support::{PASSWORD, TestApp, session_token, spawn_app_in};
use reqwest::{Client, StatusCode, header};
use sesame_factory::Environment;
use sesame_testbed::{Postgres, Redis};

async fn app_on(postgres: &str, redis: &str) -> TestApp {
    spawn_app_in(Environment::Development, &[("DATABASE_URL", postgres), ("REDIS_URL", redis)]).await
}

fn shared_postgres() -> String {
    sesame_testbed::test_database_url()
}

async fn me(app: &TestApp, client: &Client) -> StatusCode {
    app.get(client, "/api/auth/me").await.status()
}

/// Waits until `done` holds, or fails after `deadline` naming `what`.
async fn eventually(what: &str, deadline: Duration, mut done: impl AsyncFnMut() -> bool) {
    let started = Instant::now();
    while !done().await {
        assert!(started.elapsed() < deadline, "{what} did not happen within {deadline:?}");
        tokio::time::sleep(Duration::from_millis(100)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_postgres_is_down_sessions_authenticate_and_logins_fail_fast_with_retry_after() {
    let mut postgres = Postgres::start();
    let redis = Redis::start();
    let app = app_on(&postgres.url(), &redis.url()).await;
    let (client, _) = app.signed_up("pg-down@example.com").await;
    postgres.stop();

    for _ in 0..20 {
        assert_eq!(me(&app, &client).await, StatusCode::OK, "an existing session needs no PostgreSQL");
    }
    let body: serde_json::Value = app.get(&client, "/api/auth/me").await.json().await.unwrap();
    assert_eq!(body["user"]["email"], "pg-down@example.com", "the user comes from the session's snapshot");
    eventually("readiness to see PostgreSQL down", Duration::from_secs(10), async || {
        let started = Instant::now();
        let response = app.get(&app.raw(), "/readyz").await;
        assert!(started.elapsed() < Duration::from_secs(1), "readiness answers at once, whatever the stores do");
        let status = response.status();
        let body: serde_json::Value = response.json().await.unwrap();
        status == StatusCode::OK
            && body["status"] == "degraded"
            && body["checks"]["users"]["status"] == "down"
            && body["checks"]["sessions"]["status"] == "degraded"
    })
    .await;

    let mut fast = false;
    for _ in 0..10 {
        let started = Instant::now();
        let response = app.login(&app.browser(), "pg-down@example.com", PASSWORD).await;
        let took = started.elapsed();
        assert_eq!(response.status(), StatusCode::SERVICE_UNAVAILABLE);
        assert_eq!(response.headers().get(header::RETRY_AFTER).map(|v| v.to_str().unwrap()), Some("1"));
        let problem: serde_json::Value = response.json().await.unwrap();
        assert_eq!(problem["code"], "store_unavailable");
        if took < Duration::from_millis(100) {
            fast = true;
            break;
        }
    }
    assert!(fast, "once the breaker is open, a login fails within 100 ms");
    let started = Instant::now();
    let register = app.register(&app.browser(), "late@example.com", PASSWORD).await;
    assert_eq!(register.status(), StatusCode::SERVICE_UNAVAILABLE);
    assert!(started.elapsed() < Duration::from_millis(100), "so does a registration");
    assert_eq!(app.get(&client, "/api/auth/sessions").await.status(), StatusCode::SERVICE_UNAVAILABLE);

    postgres.start_again();
    eventually("a login after PostgreSQL is back", Duration::from_secs(20), async || {
        app.login(&app.browser(), "pg-down@example.com", PASSWORD).await.status() == StatusCode::OK
    })
    .await;
    assert_eq!(me(&app, &client).await, StatusCode::OK);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_redis_crash_logs_nobody_out_and_what_ends_meanwhile_stays_ended() {
    let mut redis = Redis::start();
    let app = app_on(&shared_postgres(), &redis.url()).await;
    let (laptop, _) = app.signed_up("redis-crash@example.com").await;
    let phone = app.browser();
    let login = app.login(&phone, "redis-crash@example.com", PASSWORD).await;
    let phone_token = session_token(&login).expect("a session");

    redis.kill();
    for client in [&laptop, &phone] {
        assert_eq!(me(&app, client).await, StatusCode::OK, "served from PostgreSQL while Redis is down");
    }
    assert_eq!(app.post(&phone, "/api/auth/logout").await.status(), StatusCode::NO_CONTENT);
    let (tablet, _) = app.signed_up("while-down@example.com").await;

    redis.start_again();
    for client in [&laptop, &tablet] {
        assert_eq!(me(&app, client).await, StatusCode::OK, "no logout after a restart without persistence");
    }
    assert_eq!(app.me_with_token(&phone_token).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_session_ended_while_redis_was_paused_is_not_accepted_when_it_answers_again() {
    let redis = Redis::start();
    let app = app_on(&shared_postgres(), &redis.url()).await;
    let (laptop, _) = app.signed_up("redis-pause@example.com").await;
    let phone = app.browser();
    let login = app.login(&phone, "redis-pause@example.com", PASSWORD).await;
    let phone_token = session_token(&login).expect("a session");

    redis.cli(&["client", "pause", "3000", "ALL"]);
    let started = Instant::now();
    assert_eq!(app.post(&phone, "/api/auth/logout").await.status(), StatusCode::NO_CONTENT);
    assert_eq!(me(&app, &laptop).await, StatusCode::OK);
    assert!(started.elapsed() < Duration::from_millis(2900), "the pause outlasted the requests: nothing was tested");

    // Redis answers again and still holds the phone's session as it was.
    tokio::time::sleep(Duration::from_millis(3000).saturating_sub(started.elapsed())).await;
    eventually("the phone's session refused", Duration::from_secs(10), async || {
        app.me_with_token(&phone_token).await.status() == StatusCode::UNAUTHORIZED
    })
    .await;
    for _ in 0..10 {
        assert_eq!(app.me_with_token(&phone_token).await.status(), StatusCode::UNAUTHORIZED, "and it stays refused");
        assert_eq!(me(&app, &laptop).await, StatusCode::OK);
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn while_redis_is_down_rate_limits_fail_open_and_say_so() {
    let mut redis = Redis::start();
    let app = spawn_app_in(
        Environment::Development,
        &[
            ("DATABASE_URL", &shared_postgres()),
            ("REDIS_URL", &redis.url()),
            ("SESAME__RATE_LIMIT__LOGIN_PER_EMAIL", "2/10m"),
        ],
    )
    .await;
    let (_, _) = app.signed_up("open@example.com").await;
    redis.kill();
    // Past the limit, yet every attempt is answered on its merits.
    for _ in 0..4 {
        let response = app.login(&app.raw(), "open@example.com", "wrong password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_eq!(app.login(&app.raw(), "open@example.com", PASSWORD).await.status(), StatusCode::OK);
    let metrics = app.get(&app.raw(), "/metrics").await.text().await.unwrap();
    let failures = metrics
        .lines()
        .find_map(|line| line.strip_prefix("sesame_rate_limiter_failures_total "))
        .and_then(|value| value.trim().parse::<f64>().ok())
        .expect("the failures are counted");
    assert!(failures >= 5.0, "{failures}");
}
