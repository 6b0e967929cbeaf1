//! The service against real PostgreSQL and Redis: what the stores hold, and
//! registration races. Needs the servers at `TEST_DATABASE_URL` and
//! `TEST_REDIS_URL` (defaults: the local ones); fails, naming them, without.

#[allow(dead_code)]
#[path = "../api/helpers.rs"]
mod helpers;

use std::collections::HashMap;

use helpers::{PASSWORD, TestApp, session_token, spawn_app_in};
use reqwest::StatusCode;
use sesame_core::SessionToken;
use sesame_factory::Environment;
use sqlx::{AssertSqlSafe, PgPool};

async fn redis(app: &TestApp) -> redis::aio::MultiplexedConnection {
    let url = std::env::var("TEST_REDIS_URL").unwrap_or_else(|_| "redis://127.0.0.1:6379".into());
    let _ = app;
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.expect("Redis at TEST_REDIS_URL")
}

async fn postgres() -> PgPool {
    let url = std::env::var("TEST_DATABASE_URL").unwrap_or_else(|_| "postgres://postgres@127.0.0.1:5432/test".into());
    PgPool::connect(&url).await.expect("PostgreSQL at TEST_DATABASE_URL")
}

fn schema(app: &TestApp) -> &str {
    app.settings.postgres.schema.as_deref().expect("isolated schema")
}

/// Every key under the app's prefix with everything it holds, as one text.
async fn redis_dump(app: &TestApp) -> String {
    let mut connection = redis(app).await;
    let pattern = format!("{}*", app.settings.redis.key_prefix);
    let keys: Vec<String> = redis::cmd("KEYS").arg(&pattern).query_async(&mut connection).await.unwrap();
    assert!(!keys.is_empty(), "the app wrote under {pattern}");
    let mut dump = String::new();
    for key in keys {
        let kind: String = redis::cmd("TYPE").arg(&key).query_async(&mut connection).await.unwrap();
        let content = match kind.as_str() {
            "hash" => {
                let fields: HashMap<String, String> =
                    redis::cmd("HGETALL").arg(&key).query_async(&mut connection).await.unwrap();
                format!("{fields:?}")
            }
            "zset" => {
                let members: Vec<(String, f64)> = redis::cmd("ZRANGE")
                    .arg(&key)
                    .arg(0)
                    .arg(-1)
                    .arg("WITHSCORES")
                    .query_async(&mut connection)
                    .await
                    .unwrap();
                format!("{members:?}")
            }
            other => panic!("unexpected {other} at {key}"),
        };
        dump.push_str(&format!("{key} => {content}\n"));
    }
    dump
}

#[tokio::test]
async fn the_stores_keep_only_the_sha256_of_session_tokens() {
    let app = spawn_app_in(Environment::Development, &[]).await;
    let (_, first) = app.signed_up("hashed@example.com").await;
    let login = app.login(&app.browser(), "hashed@example.com", PASSWORD).await;
    let second = session_token(&login).expect("a second session");

    let dump = redis_dump(&app).await;
    for token in [&first, &second] {
        assert!(!dump.contains(token.as_str()), "Redis holds a token:\n{dump}");
        let hash = SessionToken::parse(token).expect("a token").hash().to_hex();
        assert!(dump.contains(&hash), "Redis lacks the session keyed by SHA-256(token):\n{dump}");
    }

    let pool = postgres().await;
    let rows: Vec<String> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT row_to_json(u)::text FROM {}.users u", schema(&app))))
            .fetch_all(&pool)
            .await
            .unwrap();
    assert_eq!(rows.len(), 1);
    let row = &rows[0];
    assert!(!row.contains(first.as_str()) && !row.contains(second.as_str()), "PostgreSQL holds a token: {row}");
    assert!(!row.contains(PASSWORD), "PostgreSQL holds the password: {row}");
    assert!(row.contains("$argon2id$"), "the password is stored as an argon2id hash: {row}");
}

/// "racer" with the letters whose bit is set in `variant` upper-cased.
fn case_variant(i: usize, variant: usize) -> String {
    let local: String = "racer"
        .chars()
        .enumerate()
        .map(|(bit, c)| if variant & (1 << bit) != 0 { c.to_ascii_uppercase() } else { c })
        .collect();
    format!("{local}{i}@Example.com")
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn a_thousand_concurrent_registrations_of_a_hundred_emails_make_a_hundred_users() {
    let app = spawn_app_in(Environment::Development, &[]).await;
    let client = app.raw();
    let mut requests = tokio::task::JoinSet::new();
    // Variants of one email are spread across the batch so that they race.
    for variant in 0..10 {
        for i in 0..100 {
            let (client, url) = (client.clone(), app.url("/api/auth/register"));
            let body = serde_json::json!({"email": case_variant(i, variant), "password": PASSWORD});
            requests.spawn(async move { client.post(url).json(&body).send().await.map(|r| r.status()) });
        }
    }
    let mut statuses: HashMap<StatusCode, usize> = HashMap::new();
    while let Some(answer) = requests.join_next().await {
        let status = answer.expect("task").expect("an answer, not a transport error");
        *statuses.entry(status).or_default() += 1;
    }
    assert_eq!(statuses.get(&StatusCode::CREATED), Some(&100), "{statuses:?}");
    assert_eq!(statuses.get(&StatusCode::CONFLICT), Some(&900), "{statuses:?}");
    assert_eq!(statuses.len(), 2, "nothing but 201 and 409, no 5xx: {statuses:?}");

    let pool = postgres().await;
    let users: i64 = sqlx::query_scalar(AssertSqlSafe(format!("SELECT count(*) FROM {}.users", schema(&app))))
        .fetch_one(&pool)
        .await
        .unwrap();
    assert_eq!(users, 100);
    assert_eq!(app.users_created(), 100);
}
