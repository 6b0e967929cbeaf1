//! From settings to adapters: connecting (with bounded retries), migrating, and
//! handing the adapters out as `Arc<dyn …>`, with the stores' periodic work
//! ([`Upkeep`]) for the runtime to schedule.

use std::{fmt, future::Future, sync::Arc, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use sesame_guard::{Guard, GuardSettings};
use sesame_mock::{InMemoryRateLimiter, InMemorySessionStore, InMemoryUserRepository};
use sesame_ports::{Clock, RateLimiter, SessionStore, UserRepository};
use sesame_postgres::{Database, PostgresError, PostgresSessionStore, PostgresSettings, PostgresUserRepository};
use sesame_redis::{RedisError, RedisSessionStore, RedisSettings};
use sesame_tiered::{MigratingSessionStore, TieredSessionStore, TieredSettings};

use crate::{
    EnvironmentError, SessionBackend, Settings, SettingsError, StoreLocation, Upkeep, UserBackend,
    health::{Health, SessionParts},
};

/// The adapters behind every port, ready to hand to the domain.
#[derive(Clone)]
pub struct Adapters {
    /// Where users live.
    pub users: Arc<dyn UserRepository>,
    /// Where sessions live.
    pub sessions: Arc<dyn SessionStore>,
    /// The clock every time-dependent rule reads.
    pub clock: Arc<dyn Clock>,
    /// Backend names, for logs, metrics and readiness: `(users, sessions)`.
    pub backends: (&'static str, &'static str),
    /// The stores' periodic work.
    pub upkeep: Upkeep,
    /// The stores' readiness, as the upkeep's probes last found it.
    pub health: Arc<Health>,
    /// Rate-limit counts: in Redis (shared by every instance) whenever
    /// sessions use Redis, else in memory (this instance's own).
    pub limiter: Arc<dyn RateLimiter>,
}

impl fmt::Debug for Adapters {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Adapters").field("backends", &self.backends).finish_non_exhaustive()
    }
}

/// Why the service cannot start. Messages name the store and its URL with any
/// password replaced by `***`.
#[derive(Debug, thiserror::Error)]
pub enum FactoryError {
    /// `SESSION_ENVIRONMENT` is not an environment.
    #[error(transparent)]
    Environment(#[from] EnvironmentError),
    /// The settings are malformed or refused.
    #[error(transparent)]
    Settings(#[from] SettingsError),
    /// A store's URL setting is missing.
    #[error("{setting} is not set; the {backend} store needs it")]
    Missing {
        /// The store.
        backend: &'static str,
        /// The variable to set.
        setting: &'static str,
    },
    /// A store could not be reached, after every attempt.
    #[error("cannot reach {backend} at {url} after {attempts} attempt(s): {reason}")]
    Unreachable {
        /// The store.
        backend: &'static str,
        /// Its URL, password redacted.
        url: String,
        /// How many times start-up tried.
        attempts: u32,
        /// The last error.
        reason: String,
    },
    /// A store answered with an error that trying again would not mend (a
    /// database that does not exist, a malformed URL).
    #[error("cannot use {backend} at {url}: {reason}")]
    Refused {
        /// The store.
        backend: &'static str,
        /// Its URL, password redacted.
        url: String,
        /// Why.
        reason: String,
    },
    /// A store's configuration is unsafe for the mode it serves.
    #[error("{0}")]
    Unsafe(String),
    /// A migration failed.
    #[error("migrating {url} failed: {reason}")]
    Migration {
        /// The database URL, password redacted.
        url: String,
        /// Why.
        reason: String,
    },
}

/// Builds the adapters the settings select. Every adapter that reads time reads `clock`,
/// so a test can pass a [`ManualClock`](sesame_ports::ManualClock) and move time.
/// An unreachable store is retried with doubling pauses, `store.connect_attempts` times.
pub async fn build(settings: &Settings, clock: Arc<dyn Clock>) -> Result<Adapters, FactoryError> {
    let backends = &settings.store;
    let database = if backends.users == UserBackend::Postgres || backends.sessions.uses_postgres() {
        let database = connect_postgres(settings).await?;
        if settings.postgres.migrate_on_start {
            run_migrations(settings, &database).await?;
        }
        Some(database)
    } else {
        None
    };
    // One guard per server: every call to it shares one timeout and one breaker.
    let postgres_guard = Guard::new(GuardSettings::new(
        sesame_postgres::BACKEND,
        Duration::from_millis(settings.postgres.acquire_timeout_ms),
    ));
    let redis_guard = Guard::new(GuardSettings::new(
        sesame_redis::BACKEND,
        Duration::from_millis(settings.redis.response_timeout_ms),
    ));
    let postgres = || database.as_ref().expect("connected above when a store uses PostgreSQL");
    let (users, users_backend, users_probe): (Arc<dyn UserRepository>, _, _) = match backends.users {
        UserBackend::Memory => (Arc::new(InMemoryUserRepository::new()), sesame_mock::BACKEND, None),
        UserBackend::Postgres => {
            let users: Arc<dyn UserRepository> =
                Arc::new(postgres_guard.wrap(Arc::new(PostgresUserRepository::new(postgres()))));
            (Arc::clone(&users), sesame_postgres::BACKEND, Some(users))
        }
    };
    let durable = || Arc::new(postgres_guard.wrap(Arc::new(PostgresSessionStore::new(postgres(), Arc::clone(&clock)))));
    let (mut tiered, mut watched, mut cache_probe) = (None, None, None);
    let shared_limiter = |redis: &RedisSessionStore| -> Arc<dyn RateLimiter> {
        Arc::new(redis_guard.wrap(Arc::new(redis.rate_limiter())))
    };
    let mut limiter: Arc<dyn RateLimiter> = Arc::new(InMemoryRateLimiter::new());
    let (sessions, sessions_backend): (Arc<dyn SessionStore>, _) = match backends.sessions {
        SessionBackend::Memory => (Arc::new(InMemorySessionStore::new(Arc::clone(&clock))), sesame_mock::BACKEND),
        SessionBackend::Redis => {
            let redis = Arc::new(connect_redis(settings, Arc::clone(&clock)).await?);
            check_redis_alone(settings, &redis).await?;
            limiter = shared_limiter(&redis);
            watched = Some(Arc::clone(&redis));
            (Arc::new(redis_guard.wrap(redis)), sesame_redis::BACKEND)
        }
        SessionBackend::Postgres => {
            tracing::warn!("sessions in PostgreSQL alone: rate limits are counted per instance, not shared");
            (durable(), sesame_postgres::BACKEND)
        }
        SessionBackend::Tiered => {
            let redis = Arc::new(connect_redis_lazily(settings, Arc::clone(&clock))?);
            // A Redis that answers at once is there from the first request.
            redis.wait_connected(Duration::from_millis(settings.redis.connection_timeout_ms)).await;
            limiter = shared_limiter(&redis);
            watched = Some(Arc::clone(&redis));
            let cache = Arc::new(redis_guard.wrap(redis));
            cache_probe = Some(Arc::clone(&cache) as Arc<dyn SessionStore>);
            let tuning = TieredSettings {
                miss_lookups_per_second: settings.store.miss_lookups_per_second,
                session_lifetime: Duration::from_secs(settings.session.absolute_timeout_seconds.into()),
                outbox_capacity: TieredSettings::OUTBOX_CAPACITY,
            };
            let store = Arc::new(TieredSessionStore::new(durable(), cache, Arc::clone(&clock), &tuning));
            tiered = Some(Arc::clone(&store));
            (store, sesame_tiered::BACKEND)
        }
    };
    let sessions = match migrating_from(settings) {
        Some(old) => {
            tracing::warn!(
                from = old.redacted(),
                "moving sessions: those the configured store misses are looked up in the old one and carried forward; \
                 unset SESAME__MIGRATE_FROM__URL once `sesame sessions copy` has run"
            );
            let old = old.open(Arc::clone(&clock)).await?;
            Arc::new(MigratingSessionStore::new(sessions, old)) as Arc<dyn SessionStore>
        }
        None => sessions,
    };
    // A tiered store's ping asks its durable tier only: probe the tiers apart.
    let parts: SessionParts = match (&tiered, cache_probe) {
        (Some(_), Some(cache)) => (durable() as Arc<dyn SessionStore>, Some(cache)),
        _ => (Arc::clone(&sessions), None),
    };
    let backends_names = (users_backend, sessions_backend);
    let places = (
        (backends.users == UserBackend::Postgres)
            .then(|| place(sesame_postgres::BACKEND, settings.database_url.as_ref())),
        match backends.sessions {
            SessionBackend::Memory => (sesame_mock::BACKEND.to_owned(), None),
            SessionBackend::Redis => (place(sesame_redis::BACKEND, settings.redis_url.as_ref()), None),
            SessionBackend::Postgres => (place(sesame_postgres::BACKEND, settings.database_url.as_ref()), None),
            SessionBackend::Tiered => (
                place(sesame_postgres::BACKEND, settings.database_url.as_ref()),
                Some(place(sesame_redis::BACKEND, settings.redis_url.as_ref())),
            ),
        },
    );
    let health = Arc::new(Health::new(users_probe, parts, backends_names, places));
    health.probe().await;
    let upkeep = Upkeep {
        health: Arc::clone(&health),
        replay_due: Arc::default(),
        sessions: Arc::clone(&sessions),
        tiered,
        redis: watched,
        purge_every: Duration::from_secs(backends.purge_interval_seconds.into()),
        idle_timeout: Duration::from_secs(settings.session.max_age_seconds.into()),
    };
    Ok(Adapters { users, sessions, clock, backends: backends_names, upkeep, health, limiter })
}

/// The store a live move leaves, when `SESAME__MIGRATE_FROM__URL` names one.
fn migrating_from(settings: &Settings) -> Option<StoreLocation> {
    let old = &settings.migrate_from;
    Some(StoreLocation {
        url: old.url.clone()?,
        key_prefix: old.key_prefix.clone(),
        schema: old.schema.clone(),
        cluster: old.cluster,
    })
}

/// Redis alone must keep sessions: start-up warns, naming the risk, when it
/// keeps nothing on disk or may evict them, and production refuses an evicting
/// policy unless `SESAME__REDIS__ACCEPT_EVICTION` says the risk is known. A
/// server that may evict gets its index required, so that eviction can log a
/// user out but never leave a session that logout-all reported ended.
async fn check_redis_alone(settings: &Settings, redis: &RedisSessionStore) -> Result<(), FactoryError> {
    let durability = redis.durability().await.map_err(|err| FactoryError::Unreachable {
        backend: sesame_redis::BACKEND,
        url: redact_url(settings.redis_url.as_ref().map_or("", |url| url.expose_secret())),
        attempts: 1,
        reason: err.cause_chain(),
    })?;
    let policy = durability.eviction_policy.as_deref();
    if policy.is_none() {
        tracing::warn!(
            "redis refused CONFIG GET: its eviction policy and persistence cannot be checked; assuming it may evict"
        );
    }
    if durability.persistent == Some(false) {
        tracing::warn!(
            "redis keeps nothing on disk (no appendonly, no save): a redis restart logs every user out in redis-only mode; \
             enable appendonly, or use SESAME__STORE__SESSIONS=tiered"
        );
    }
    if durability.may_evict() {
        if settings.environment == crate::Environment::Production && !settings.redis.accept_eviction {
            return Err(FactoryError::Unsafe(format!(
                "production refuses to start: SESAME__STORE__SESSIONS=redis with maxmemory-policy {} lets redis evict \
                 sessions (logging users out); set maxmemory-policy noeviction, use SESAME__STORE__SESSIONS=tiered, or \
                 acknowledge the risk with SESAME__REDIS__ACCEPT_EVICTION=true",
                policy.unwrap_or("unknown (CONFIG GET refused)")
            )));
        }
        tracing::warn!(
            policy = policy.unwrap_or("unknown"),
            "redis may evict sessions in redis-only mode: evicted users are logged out; use maxmemory-policy noeviction \
             or SESAME__STORE__SESSIONS=tiered"
        );
        redis.require_index();
    }
    Ok(())
}

/// Applies pending migrations to PostgreSQL (`sesame migrate`).
pub async fn migrate(settings: &Settings) -> Result<(), FactoryError> {
    let database = connect_postgres(settings).await?;
    run_migrations(settings, &database).await
}

async fn run_migrations(settings: &Settings, database: &Database) -> Result<(), FactoryError> {
    let url = redact_url(database_url(settings)?.expose_secret());
    database.migrate().await.map_err(|err| FactoryError::Migration { url, reason: err.to_string() })
}

fn database_url(settings: &Settings) -> Result<&SecretString, FactoryError> {
    settings.database_url.as_ref().ok_or(FactoryError::Missing { backend: "postgres", setting: "DATABASE_URL" })
}

async fn connect_postgres(settings: &Settings) -> Result<Database, FactoryError> {
    let url = database_url(settings)?;
    let tuning = &settings.postgres;
    let postgres = PostgresSettings {
        url: url.clone(),
        max_connections: tuning.max_connections,
        acquire_timeout: Duration::from_millis(tuning.acquire_timeout_ms),
        statement_timeout: Duration::from_millis(tuning.statement_timeout_ms),
        schema: tuning.schema.clone(),
    };
    tracing::info!(store = place(sesame_postgres::BACKEND, Some(url)), "connecting");
    retry(sesame_postgres::BACKEND, url, settings.store.connect_attempts, PostgresError::is_transient, || {
        Database::connect(&postgres)
    })
    .await
}

/// `backend at URL`, the password hidden: how the log names a store.
fn place(backend: &str, url: Option<&SecretString>) -> String {
    format!("{backend} at {}", redact_url(url.map_or("", |url| url.expose_secret())))
}

/// `REDIS_URL` and the Redis tuning, as the adapter takes them.
fn redis_settings(settings: &Settings) -> Result<(&SecretString, RedisSettings), FactoryError> {
    let url = settings.redis_url.as_ref().ok_or(FactoryError::Missing { backend: "redis", setting: "REDIS_URL" })?;
    let tuning = &settings.redis;
    let redis = RedisSettings {
        urls: url.expose_secret().split(',').map(|node| SecretString::from(node.trim().to_owned())).collect(),
        cluster: tuning.cluster,
        key_prefix: tuning.key_prefix.clone(),
        connection_timeout: Duration::from_millis(tuning.connection_timeout_ms),
        response_timeout: Duration::from_millis(tuning.response_timeout_ms),
        local_cache_sessions: tuning.local_cache_sessions,
    };
    Ok((url, redis))
}

/// Connects to Redis now, retrying `store.connect_attempts` times: for Redis alone.
async fn connect_redis(settings: &Settings, clock: Arc<dyn Clock>) -> Result<RedisSessionStore, FactoryError> {
    let (url, redis) = redis_settings(settings)?;
    tracing::info!(store = place(sesame_redis::BACKEND, Some(url)), "connecting");
    retry(sesame_redis::BACKEND, url, settings.store.connect_attempts, RedisError::is_transient, || {
        RedisSessionStore::connect(&redis, Arc::clone(&clock))
    })
    .await
}

/// Redis as a cache tier: it joins when it answers, so start-up needs
/// PostgreSQL only and an instance restarted during a Redis outage serves.
fn connect_redis_lazily(settings: &Settings, clock: Arc<dyn Clock>) -> Result<RedisSessionStore, FactoryError> {
    let (url, redis) = redis_settings(settings)?;
    tracing::info!(store = place(sesame_redis::BACKEND, Some(url)), "connecting");
    RedisSessionStore::connect_lazily(&redis, clock).map_err(|err| FactoryError::Unreachable {
        backend: sesame_redis::BACKEND,
        url: redact_url(url.expose_secret()),
        attempts: 0,
        reason: err.to_string(),
    })
}

/// Calls `connect` up to `attempts` times, pausing 200 ms, 400 ms, … (at most 5 s)
/// between; an error that `is_transient` calls permanent (a malformed URL) is not retried.
async fn retry<T, E, F>(
    backend: &'static str,
    url: &SecretString,
    attempts: u32,
    is_transient: fn(&E) -> bool,
    mut connect: impl FnMut() -> F,
) -> Result<T, FactoryError>
where
    E: fmt::Display,
    F: Future<Output = Result<T, E>>,
{
    let mut pause = Duration::from_millis(200);
    for attempt in 1..=attempts {
        match connect().await {
            Ok(connected) => return Ok(connected),
            Err(err) if !is_transient(&err) => {
                return Err(FactoryError::Refused {
                    backend,
                    url: redact_url(url.expose_secret()),
                    reason: err.to_string(),
                });
            }
            Err(err) if attempt == attempts => {
                return Err(FactoryError::Unreachable {
                    backend,
                    url: redact_url(url.expose_secret()),
                    attempts: attempt,
                    reason: err.to_string(),
                });
            }
            Err(err) => {
                let store = place(backend, Some(url));
                tracing::warn!(store, attempt, error = %err, "store unreachable; retrying in {pause:?}");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(5));
            }
        }
    }
    unreachable!("attempts is at least 1, so the loop returns")
}

/// `url` (or a comma-separated list of URLs) with any password replaced by `***`.
///
/// Everything before the *last* `@` is taken as user information, so a password
/// holding `/`, `#`, `?` or `@` is still hidden; an `@` later in the URL only
/// makes it hide more. A URL without `://` is hidden whole.
pub fn redact_url(url: &str) -> String {
    url.split(',')
        .map(|one| {
            let one = one.trim();
            let Some((scheme, rest)) = one.split_once("://") else { return "***".to_owned() };
            let redacted = match rest.rsplit_once('@') {
                Some((user_info, host)) => {
                    let user = user_info.split_once(':').map_or(user_info, |(user, _)| user);
                    let user = if user.contains(['/', '?', '#']) { "***" } else { user };
                    format!("{scheme}://{user}:***@{host}")
                }
                None => one.to_owned(),
            };
            redact_query(&redacted)
        })
        .collect::<Vec<_>>()
        .join(",")
}

/// `url` with the value of any query parameter that may carry a secret
/// (`password`, `sslpassword`, `pass`, …) replaced by `***`.
fn redact_query(url: &str) -> String {
    let Some((base, query)) = url.split_once('?') else { return url.to_owned() };
    let parameters: Vec<String> = query
        .split('&')
        .map(|pair| match pair.split_once('=') {
            Some((name, _)) if name.to_ascii_lowercase().contains("pass") => format!("{name}=***"),
            _ => pair.to_owned(),
        })
        .collect();
    format!("{base}?{}", parameters.join("&"))
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use sesame_ports::SystemClock;

    use super::*;
    use crate::Environment;

    #[tokio::test]
    async fn mock_builds_in_memory_adapters() {
        let settings = Settings::from_vars(Environment::Mock, HashMap::new()).unwrap();
        let adapters = build(&settings, Arc::new(SystemClock)).await.unwrap();
        assert_eq!(adapters.backends, ("memory", "memory"));
        adapters.users.ping().await.unwrap();
    }

    #[test]
    fn passwords_are_redacted_from_urls() {
        assert_eq!(redact_url("postgres://sesame:hunter2@db:5432/sesame"), "postgres://sesame:***@db:5432/sesame");
        assert_eq!(redact_url("redis://:hunter2@cache:6379/0"), "redis://:***@cache:6379/0");
        assert_eq!(
            redact_url("rediss://default:p%40ss@a:1,rediss://default:p%40ss@b:2"),
            "rediss://default:***@a:1,rediss://default:***@b:2"
        );
        assert_eq!(redact_url("postgres://postgres@127.0.0.1/test"), "postgres://postgres:***@127.0.0.1/test");
        for tricky in ["postgres://u:p#ss@db/x", "postgres://u:p/ss@db/x", "postgres://u:p?s@db/x", "redis://:p@ss@h:1"]
        {
            let redacted = redact_url(tricky);
            assert!(
                !redacted.contains("p#ss") && !redacted.contains("p/ss") && !redacted.contains("p?s"),
                "{redacted}"
            );
            assert!(!redacted.contains(":p@") && !redacted.contains("p@ss"), "{redacted}");
        }
        assert_eq!(redact_url("not a url with hunter2"), "***");
        assert_eq!(
            redact_url("postgres://db/sesame?user=app&password=hunter2&sslmode=require"),
            "postgres://db/sesame?user=app&password=***&sslmode=require"
        );
        assert_eq!(redact_url("redis://127.0.0.1:6379"), "redis://127.0.0.1:6379");
    }

    #[tokio::test]
    async fn an_unreachable_store_fails_after_its_attempts_naming_it_without_the_password() {
        let vars = HashMap::from([
            ("DATABASE_URL".to_owned(), "postgres://sesame:hunter2@127.0.0.1:1/sesame".to_owned()),
            ("REDIS_URL".to_owned(), "redis://127.0.0.1:6379".to_owned()),
            ("SESAME__STORE__CONNECT_ATTEMPTS".to_owned(), "2".to_owned()),
            ("SESAME__POSTGRES__ACQUIRE_TIMEOUT_MS".to_owned(), "300".to_owned()),
        ]);
        let settings = Settings::from_vars(Environment::Development, vars).unwrap();
        let err = build(&settings, Arc::new(SystemClock)).await.unwrap_err().to_string();
        assert!(
            err.contains("cannot reach postgres at postgres://sesame:***@127.0.0.1:1/sesame after 2 attempt(s)"),
            "{err}"
        );
        assert!(!err.contains("hunter2"), "{err}");
    }
}
