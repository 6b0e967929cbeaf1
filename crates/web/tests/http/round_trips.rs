//! What an authenticated request costs the stores, counted where it lands:
//! Redis's own command statistics and PostgreSQL's statement log, on
//! throw-away servers of the test's own. In production's default (tiered)
//! mode, `GET /api/auth/me` is one Redis command (`HMGET`) and no PostgreSQL statement;
//! a request that records a use adds one Redis transaction (one round trip),
//! and the use reaches PostgreSQL later, in a batch (docs/performance.md).

use std::collections::HashMap;

use crate::support::spawn_app_in;
use reqwest::StatusCode;
use sesame_factory::Environment;
use sesame_testbed::{Postgres, Redis};

/// Redis commands that read or write sessions (the watch's markers, `INFO`
/// and `PING` are the upkeep's, not a request's).
const SESSION_COMMANDS: &[&str] = &[
    "hgetall", "hget", "hmget", "hset", "del", "pexpire", "zadd", "zrange", "zscore", "zrem", "eval", "evalsha",
    "multi", "exec",
];

/// Calls per session command so far.
fn commands(redis: &Redis) -> HashMap<String, u64> {
    redis
        .cli(&["INFO", "commandstats"])
        .lines()
        .filter_map(|line| {
            let (name, stats) = line.strip_prefix("cmdstat_")?.split_once(':')?;
            let calls = stats.strip_prefix("calls=")?.split(',').next()?.parse().ok()?;
            SESSION_COMMANDS.contains(&name).then(|| (name.to_owned(), calls))
        })
        .collect()
}

/// What changed between two counts, commands with no new call left out.
fn delta(before: &HashMap<String, u64>, after: &HashMap<String, u64>) -> HashMap<String, u64> {
    after
        .iter()
        .map(|(name, calls)| (name.clone(), calls - before.get(name).copied().unwrap_or(0)))
        .filter(|(_, calls)| *calls > 0)
        .collect()
}

/// Statements PostgreSQL has logged that read a session or a user, or record
/// one session's use: what a request must never wait for.
fn request_path_statements(postgres: &Postgres) -> Vec<String> {
    postgres
        .log()
        .lines()
        .filter(|line| {
            line.contains("FROM sessions WHERE token_hash")
                || line.contains("FROM users")
                || line.contains("UPDATE sessions SET last_seen_at")
        })
        .map(str::to_owned)
        .collect()
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn an_authenticated_request_is_one_redis_command_and_no_postgres_statement() {
    let postgres = Postgres::start();
    postgres.psql("ALTER SYSTEM SET log_statement = 'all'");
    postgres.psql("SELECT pg_reload_conf()");
    let redis = Redis::start();
    let app =
        spawn_app_in(Environment::Development, &[("DATABASE_URL", &postgres.url()), ("REDIS_URL", &redis.url())]).await;
    let (client, _) = app.signed_up("round-trips@example.com").await;
    let statements = request_path_statements(&postgres).len();
    assert!(statements > 0, "the statement log shows the registration's user lookup:\n{}", postgres.log());

    const REQUESTS: u64 = 50;
    let before = commands(&redis);
    for _ in 0..REQUESTS {
        assert_eq!(app.get(&client, "/api/auth/me").await.status(), StatusCode::OK);
    }
    let spent = delta(&before, &commands(&redis));
    assert_eq!(spent, HashMap::from([("hmget".to_owned(), REQUESTS)]), "one HMGET a request, nothing else");

    // Past the touch interval, the next request records the use: one more
    // Redis transaction, and nothing in PostgreSQL on the request path.
    app.clock.advance(time::Duration::seconds(61));
    let before = commands(&redis);
    assert_eq!(app.get(&client, "/api/auth/me").await.status(), StatusCode::OK);
    let spent = delta(&before, &commands(&redis));
    // Redis counts the commands a script runs too: the touch script's own
    // HMGET, HSET and PEXPIRE run inside the EVAL, in the same transaction.
    let read_then_touch =
        [("hmget", 2), ("multi", 1), ("zadd", 1), ("eval", 1), ("hset", 1), ("pexpire", 1), ("exec", 1)];
    let expected: HashMap<String, u64> =
        read_then_touch.into_iter().map(|(name, calls)| (name.to_owned(), calls)).collect();
    assert_eq!(spent, expected, "the read, then the use as one MULTI … EXEC transaction");

    // The use reaches PostgreSQL in the upkeep's next batch, within a second or so.
    tokio::time::sleep(std::time::Duration::from_millis(1_500)).await;
    let new: Vec<String> = request_path_statements(&postgres).split_off(statements);
    assert!(new.is_empty(), "PostgreSQL was asked on the request path:\n{}", new.join("\n"));
    assert!(postgres.log().contains("UPDATE sessions AS s SET last_seen_at"), "the use was written behind, in a batch");
}
