//! The service against real PostgreSQL and Redis: what the stores hold, and
//! registration races. Needs the servers at `TEST_DATABASE_URL` and
//! `TEST_REDIS_URL` (defaults: the local ones); fails, naming them, without.

use std::collections::HashMap;

use crate::support::{PASSWORD, TestApp, session_token, spawn_app_in};
use reqwest::StatusCode;
use sesame_core::{
    SessionToken,
    ports::{Clock, Email},
};
use sesame_factory::Environment;
use sqlx::{AssertSqlSafe, PgPool};

async fn redis(app: &TestApp) -> redis::aio::MultiplexedConnection {
    let url = sesame_testbed::test_redis_url();
    let _ = app;
    redis::Client::open(url).unwrap().get_multiplexed_async_connection().await.expect("Redis at TEST_REDIS_URL")
}

async fn postgres() -> PgPool {
    let url = sesame_testbed::test_database_url();
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
            // The markers that tell when Redis lost its data.
            "string" => redis::cmd("GET").arg(&key).query_async::<String>(&mut connection).await.unwrap(),
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

    let sessions: Vec<String> =
        sqlx::query_scalar(AssertSqlSafe(format!("SELECT row_to_json(s)::text FROM {}.sessions s", schema(&app))))
            .fetch_all(&pool)
            .await
            .unwrap();
    let sessions = sessions.join("\n");
    for token in [&first, &second] {
        assert!(!sessions.contains(token.as_str()), "PostgreSQL holds a token: {sessions}");
        let hash = SessionToken::parse(token).expect("a token").hash().to_hex();
        assert!(
            sessions.contains(&format!("\\\\x{hash}")),
            "PostgreSQL lacks the session keyed by SHA-256(token): {sessions}"
        );
    }
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
    // Every registration may wait for its hash: this is about races, not the queue's bound.
    let app = spawn_app_in(
        Environment::Development,
        &[("SESAME__PASSWORD__MAX_WAITING_HASHES", "1000"), ("SESAME__PASSWORD__MAX_CONCURRENT_HASHES", "2")],
    )
    .await;
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
}

/// A rolling upgrade logs nobody out: a session in the Redis record format of
/// the release before tiered stores (no version, no durable mark, not in
/// PostgreSQL) authenticates after the change, is copied forward, and ends with
/// logout-all.
#[tokio::test]
async fn a_session_in_the_previous_releases_format_authenticates_and_ends_with_logout_all() {
    let app = spawn_app_in(Environment::Development, &[]).await;
    let (_, _) = app.signed_up("upgrade@example.com").await;
    let user = app.users.find_by_email(&Email::parse("upgrade@example.com").unwrap()).await.unwrap().unwrap();

    let token = SessionToken::generate().unwrap();
    let hash = token.hash().to_hex();
    let micros = |at: time::OffsetDateTime| (at.unix_timestamp_nanos() / 1_000).to_string();
    let now = app.clock.now();
    let key = format!("{}session:{hash}", app.settings.redis.key_prefix);
    let fields = [
        ("id", uuid::Uuid::new_v4().to_string()),
        ("user", user.id.to_string()),
        ("created", micros(now)),
        ("seen", micros(now)),
        ("idle", micros(now + time::Duration::minutes(30))),
        ("absolute", micros(now + time::Duration::hours(12))),
        ("ip", "203.0.113.9".to_owned()),
        ("ua", "the previous release".to_owned()),
    ];
    let mut redis = redis(&app).await;
    let index = format!("{}user:{}:sessions", app.settings.redis.key_prefix, user.id);
    let _: () = redis::pipe()
        .cmd("HSET")
        .arg(&key)
        .arg(&fields[..])
        .cmd("PEXPIRE")
        .arg(&key)
        .arg(1_800_000)
        .cmd("ZADD")
        .arg(&index)
        .arg(micros(now + time::Duration::minutes(30)))
        .arg(&hash)
        .query_async(&mut redis)
        .await
        .unwrap();

    let me = app.me_with_token(token.expose()).await;
    assert_eq!(me.status(), StatusCode::OK, "the old record authenticates");
    let body: serde_json::Value = me.json().await.unwrap();
    assert_eq!(body["session"]["userAgent"], "the previous release");

    let pool = postgres().await;
    let copied: i64 = sqlx::query_scalar(AssertSqlSafe(format!(
        "SELECT count(*) FROM {}.sessions WHERE token_hash = decode('{hash}', 'hex') AND ended_at IS NULL",
        schema(&app)
    )))
    .fetch_one(&pool)
    .await
    .unwrap();
    assert_eq!(copied, 1, "its first use copied it to PostgreSQL");

    let logout_all = app
        .raw()
        .post(app.url("/api/auth/logout-all"))
        .header(reqwest::header::COOKIE, format!("sessionId={}", token.expose()))
        .send()
        .await
        .unwrap();
    assert_eq!(logout_all.status(), StatusCode::NO_CONTENT);
    assert_eq!(app.me_with_token(token.expose()).await.status(), StatusCode::UNAUTHORIZED);
}

#[tokio::test]
async fn two_instances_share_one_rate_limit_count_through_redis() {
    let limit = [("SESAME__RATE_LIMIT__LOGIN_PER_EMAIL", "4/10m")];
    let first = spawn_app_in(Environment::Development, &limit).await;
    let shared = [
        limit[0],
        ("SESAME__POSTGRES__SCHEMA", schema(&first)),
        ("SESAME__REDIS__KEY_PREFIX", first.settings.redis.key_prefix.as_str()),
    ];
    let second = spawn_app_in(Environment::Development, &shared).await;
    first.signed_up("shared-count@example.com").await;
    // Four wrong passwords, spread over both instances, spend the one count.
    for app in [&first, &second, &first, &second] {
        let response = app.login(&app.raw(), "shared-count@example.com", "wrong password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    for app in [&first, &second] {
        let response = app.login(&app.raw(), "shared-count@example.com", PASSWORD).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS, "the count is shared");
        assert!(response.headers().contains_key("retry-after"));
    }
}
