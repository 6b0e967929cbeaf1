//! The guard every store call goes through: a timeout, a circuit breaker, one
//! more try of an idempotent call whose connection broke, per-call metrics, and
//! one log line per failure episode — one mechanism around any port, composed
//! once in the factory, instead of a copy in each adapter.
//!
//! The breaker opens after a few consecutive failures; while open, calls fail
//! at once (no waiting on a store that is down) for a back-off that doubles up
//! to a cap; then one call is let through as a probe, and its success closes
//! the breaker.
//!
//! [`Guarded`] is any port seen through a [`Guard`]: it implements the port
//! it wraps, so everything that takes a store takes it, and the ports'
//! contract kits run on it unchanged. Depends on `sesame-ports` only.

use std::{
    collections::HashMap,
    fmt,
    future::Future,
    sync::{
        Arc, Mutex, PoisonError, RwLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use metrics::{Counter, Histogram};
use sesame_ports::{
    Cached, DurableSessionStore, Email, ExportCursor, ExportPage, Imported, NewUser, PortError, RateLimit, RateLimiter,
    Session, SessionCache, SessionId, SessionStore, SessionTokenHash, Touch, User, UserChanges, UserId, UserRepository,
    Verdict,
};
use time::OffsetDateTime;
use tokio::time::Instant;

/// How a guard treats the calls to one store.
#[derive(Debug, Clone)]
pub struct GuardSettings {
    /// The store's name in logs and metrics (`postgres`, `redis`).
    pub backend: &'static str,
    /// The longest one call may take, retry included.
    pub timeout: Duration,
    /// Consecutive failures that open the breaker.
    pub failures_to_open: u32,
    /// How long the breaker first stays open; it doubles on every failed probe.
    pub open_for: Duration,
    /// The longest the breaker stays open before probing.
    pub max_open_for: Duration,
}

impl GuardSettings {
    /// Settings for `backend` with this per-call timeout; the breaker opens after
    /// 3 consecutive failures, for 1 s doubling up to 8 s.
    pub fn new(backend: &'static str, timeout: Duration) -> Self {
        Self {
            backend,
            timeout,
            failures_to_open: 3,
            open_for: Duration::from_secs(1),
            max_open_for: Duration::from_secs(8),
        }
    }
}

/// The breaker's state, as readiness and metrics report it.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum BreakerState {
    /// Calls go through.
    Closed,
    /// Calls fail at once.
    Open,
    /// One probe call is in flight; the others fail at once.
    HalfOpen,
}

/// Whether a call may be tried once more after its connection broke.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Retry {
    /// Idempotent: trying twice changes nothing more than trying once.
    Once,
    /// A second try could undo something done in between (a create after a delete).
    Never,
}

#[derive(Debug)]
enum State {
    Closed,
    Open {
        until: Instant,
        open_for: Duration,
    },
    /// A probe is in flight since `since`. A probe whose caller went away (its
    /// future dropped) never reports; after a call's timeout another may probe.
    HalfOpen {
        open_for: Duration,
        since: Instant,
    },
}

/// A run of failures, logged once when the breaker opens and once when it ends.
#[derive(Debug)]
struct Episode {
    started: Instant,
    failures: u64,
    cause: String,
    opened: bool,
}

#[derive(Debug)]
struct Breaker {
    state: State,
    consecutive_failures: u32,
    episode: Option<Episode>,
}

/// One operation's metrics, registered once: a call then records them
/// without building or hashing labels.
#[derive(Clone)]
struct OperationMetrics {
    duration: Histogram,
    errors: Counter,
}

/// The breaker and settings of one store, shared by every [`Guarded`] view of it.
pub struct Guard {
    settings: GuardSettings,
    breaker: Mutex<Breaker>,
    /// The breaker is closed, with no failure since the last success: calls
    /// need not take the lock (the common case).
    clean: AtomicBool,
    operations: RwLock<HashMap<&'static str, OperationMetrics>>,
}

impl fmt::Debug for Guard {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("Guard")
            .field("settings", &self.settings)
            .field("breaker", &self.breaker)
            .finish_non_exhaustive()
    }
}

/// The error of a call the guard refused or cut short.
#[derive(Debug)]
struct Refused(&'static str);

impl fmt::Display for Refused {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(self.0)
    }
}

impl std::error::Error for Refused {}

impl Guard {
    /// A guard with these settings, its breaker closed.
    pub fn new(settings: GuardSettings) -> Arc<Self> {
        let breaker = Breaker { state: State::Closed, consecutive_failures: 0, episode: None };
        Arc::new(Self {
            settings,
            breaker: Mutex::new(breaker),
            clean: AtomicBool::new(true),
            operations: RwLock::default(),
        })
    }

    /// The store's name in logs and metrics.
    pub fn backend(&self) -> &'static str {
        self.settings.backend
    }

    /// The breaker's state now.
    pub fn state(&self) -> BreakerState {
        match self.lock().state {
            State::Closed => BreakerState::Closed,
            State::Open { until, .. } if Instant::now() >= until => BreakerState::HalfOpen,
            State::Open { .. } => BreakerState::Open,
            State::HalfOpen { .. } => BreakerState::HalfOpen,
        }
    }

    /// Whether a call may probe now: the back-off is over, or the probe in
    /// flight has outlived a call's timeout (its caller gave up on it).
    fn may_probe(&self, state: &State, now: Instant) -> Option<Duration> {
        match *state {
            State::Open { until, open_for } if now >= until => Some(open_for),
            State::HalfOpen { open_for, since } if now >= since + self.settings.timeout => Some(open_for),
            _ => None,
        }
    }

    /// `inner` seen through this guard.
    pub fn wrap<T: ?Sized>(self: &Arc<Self>, inner: Arc<T>) -> Guarded<T> {
        Guarded { inner, guard: Arc::clone(self) }
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Breaker> {
        self.breaker.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Lets a call through, or refuses it while the breaker is open (or while
    /// another call probes).
    fn admit(&self) -> Result<(), PortError> {
        if self.clean.load(Ordering::Acquire) {
            return Ok(());
        }
        let mut breaker = self.lock();
        let now = Instant::now();
        if let Some(open_for) = self.may_probe(&breaker.state, now) {
            breaker.state = State::HalfOpen { open_for, since: now };
            return Ok(());
        }
        match breaker.state {
            State::Closed => Ok(()),
            State::Open { .. } | State::HalfOpen { .. } => {
                metrics::counter!("sesame_store_calls_refused_total", "backend" => self.settings.backend).increment(1);
                Err(PortError::unavailable(self.settings.backend, Refused("circuit breaker open: failing fast")))
            }
        }
    }

    fn succeeded(&self) {
        if self.clean.load(Ordering::Acquire) {
            return;
        }
        let mut breaker = self.lock();
        breaker.consecutive_failures = 0;
        if !matches!(breaker.state, State::Closed) {
            breaker.state = State::Closed;
            metrics::gauge!("sesame_store_breaker_open", "backend" => self.settings.backend).set(0.0);
        }
        if let Some(episode) = breaker.episode.take() {
            let backend = self.settings.backend;
            let lasted = episode.started.elapsed();
            if episode.opened {
                tracing::info!(
                    backend,
                    failures = episode.failures,
                    ?lasted,
                    "{backend} answers again; breaker closed"
                );
            } else {
                tracing::warn!(
                    backend,
                    failures = episode.failures,
                    cause = %episode.cause,
                    ?lasted,
                    "{backend} calls failed, then it answered again"
                );
            }
        }
        self.clean.store(true, Ordering::Release);
    }

    fn failed(&self, err: &PortError) {
        let mut breaker = self.lock();
        self.clean.store(false, Ordering::Release);
        breaker.consecutive_failures += 1;
        let failures = breaker.consecutive_failures;
        let episode = breaker.episode.get_or_insert_with(|| Episode {
            started: Instant::now(),
            failures: 0,
            cause: err.cause_chain(),
            opened: false,
        });
        episode.failures += 1;
        let reopen = match breaker.state {
            State::HalfOpen { open_for, .. } => Some((open_for * 2).min(self.settings.max_open_for)),
            State::Closed if failures >= self.settings.failures_to_open => Some(self.settings.open_for),
            State::Closed | State::Open { .. } => None,
        };
        if let Some(open_for) = reopen {
            breaker.state = State::Open { until: Instant::now() + open_for, open_for };
            metrics::gauge!("sesame_store_breaker_open", "backend" => self.settings.backend).set(1.0);
            let episode = breaker.episode.as_mut().expect("an episode is under way");
            if !episode.opened {
                episode.opened = true;
                let backend = self.settings.backend;
                tracing::error!(
                    backend,
                    failures = episode.failures,
                    cause = %episode.cause,
                    "{backend} unavailable; breaker open, calls fail fast until it answers a probe"
                );
            }
        }
    }

    /// The metrics of `operation`, registered on its first call.
    fn metrics_of(&self, operation: &'static str) -> OperationMetrics {
        let known = self.operations.read().unwrap_or_else(PoisonError::into_inner).get(operation).cloned();
        known.unwrap_or_else(|| {
            let backend = self.settings.backend;
            let metrics = OperationMetrics {
                duration: metrics::histogram!(
                    "sesame_store_call_duration_seconds", "backend" => backend, "operation" => operation
                ),
                errors: metrics::counter!("sesame_store_errors_total", "backend" => backend, "operation" => operation),
            };
            self.operations.write().unwrap_or_else(PoisonError::into_inner).insert(operation, metrics.clone());
            metrics
        })
    }

    /// Runs `call` under the guard: refused at once while the breaker is open,
    /// cut off after the timeout, tried once more after a broken connection when
    /// `retry` allows, and counted.
    async fn call<T, F, Fut>(&self, operation: &'static str, retry: Retry, call: F) -> Result<T, PortError>
    where
        F: Fn() -> Fut + Send,
        Fut: Future<Output = Result<T, PortError>> + Send,
    {
        self.admit()?;
        let backend = self.settings.backend;
        let started = Instant::now();
        let attempts = async {
            match call().await {
                Err(PortError::ConnectionLost { .. }) if retry == Retry::Once => call().await,
                result => result,
            }
        };
        let result = match tokio::time::timeout(self.settings.timeout, attempts).await {
            Ok(result) => result,
            Err(_) => Err(PortError::unavailable(backend, Refused("no answer within the store timeout"))),
        };
        let metrics = self.metrics_of(operation);
        metrics.duration.record(started.elapsed().as_secs_f64());
        match &result {
            Err(err) if err.is_outage() => {
                metrics.errors.increment(1);
                self.failed(err);
            }
            _ => self.succeeded(),
        }
        result
    }
}

/// A port seen through a [`Guard`]. It implements every port its inner store
/// does, so it stands wherever the store would.
pub struct Guarded<T: ?Sized> {
    inner: Arc<T>,
    guard: Arc<Guard>,
}

impl<T: ?Sized> Guarded<T> {
    /// The guard, for its breaker's state.
    pub fn guard(&self) -> &Arc<Guard> {
        &self.guard
    }
}

#[async_trait]
impl<T: SessionStore + ?Sized> SessionStore for Guarded<T> {
    async fn create(&self, session: &Session) -> Result<(), PortError> {
        self.guard.call("create", Retry::Never, || self.inner.create(session)).await
    }

    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        self.guard.call("get", Retry::Once, || self.inner.get(token_hash)).await
    }

    async fn touch(
        &self,
        session: &Session,
        last_seen_at: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        self.guard.call("touch", Retry::Once, || self.inner.touch(session, last_seen_at, idle_expires_at)).await
    }

    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        self.guard.call("delete", Retry::Once, || self.inner.delete(token_hash)).await
    }

    async fn list_for_user(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        self.guard.call("list_for_user", Retry::Once, || self.inner.list_for_user(user_id)).await
    }

    async fn revoke(&self, user_id: UserId, session_id: SessionId) -> Result<Option<Session>, PortError> {
        self.guard.call("revoke", Retry::Never, || self.inner.revoke(user_id, session_id)).await
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        // Never retried: a second try would not return what the first one ended.
        self.guard.call("revoke_all", Retry::Never, || self.inner.revoke_all(user_id)).await
    }

    async fn purge_expired(&self, limit: u32) -> Result<u64, PortError> {
        self.guard.call("purge_expired", Retry::Once, || self.inner.purge_expired(limit)).await
    }

    async fn ping(&self) -> Result<(), PortError> {
        self.guard.call("ping", Retry::Once, || self.inner.ping()).await
    }

    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<Session>, PortError> {
        self.guard.call("export", Retry::Once, || self.inner.export(cursor.clone(), limit)).await
    }

    async fn import(&self, session: &Session) -> Result<Imported, PortError> {
        // Idempotent: a second try finds what the first wrote and skips it.
        self.guard.call("import", Retry::Once, || self.inner.import(session)).await
    }
}

#[async_trait]
impl<T: SessionCache + ?Sized> SessionCache for Guarded<T> {
    async fn lookup(&self, token_hash: &SessionTokenHash) -> Result<Cached, PortError> {
        self.guard.call("lookup", Retry::Once, || self.inner.lookup(token_hash)).await
    }

    async fn put(&self, session: &Session) -> Result<(), PortError> {
        self.guard.call("put", Retry::Never, || self.inner.put(session)).await
    }

    async fn fill(&self, session: &Session) -> Result<bool, PortError> {
        self.guard.call("fill", Retry::Once, || self.inner.fill(session)).await
    }

    async fn mark_durable(&self, token_hash: &SessionTokenHash) -> Result<bool, PortError> {
        self.guard.call("mark_durable", Retry::Once, || self.inner.mark_durable(token_hash)).await
    }

    async fn end(&self, sessions: &[Session]) -> Result<(), PortError> {
        self.guard.call("end", Retry::Once, || self.inner.end(sessions)).await
    }

    async fn end_by_hash(&self, token_hash: &SessionTokenHash, lifetime: Duration) -> Result<(), PortError> {
        self.guard.call("end_by_hash", Retry::Once, || self.inner.end_by_hash(token_hash, lifetime)).await
    }
}

#[async_trait]
impl<T: DurableSessionStore + ?Sized> DurableSessionStore for Guarded<T> {
    async fn insert_if_absent(&self, session: &Session) -> Result<bool, PortError> {
        self.guard.call("insert_if_absent", Retry::Once, || self.inner.insert_if_absent(session)).await
    }

    async fn cache_pending(&self, limit: u32) -> Result<Vec<Session>, PortError> {
        self.guard.call("cache_pending", Retry::Once, || self.inner.cache_pending(limit)).await
    }

    async fn clear_cache_pending(&self, token_hashes: &[SessionTokenHash]) -> Result<(), PortError> {
        self.guard.call("clear_cache_pending", Retry::Once, || self.inner.clear_cache_pending(token_hashes)).await
    }

    async fn ended_since(&self, since: OffsetDateTime, limit: u32) -> Result<Vec<Session>, PortError> {
        self.guard.call("ended_since", Retry::Once, || self.inner.ended_since(since, limit)).await
    }

    async fn touch_many(&self, touches: &[Touch]) -> Result<(), PortError> {
        self.guard.call("touch_many", Retry::Once, || self.inner.touch_many(touches)).await
    }
}

#[async_trait]
impl<T: RateLimiter + ?Sized> RateLimiter for Guarded<T> {
    async fn hit(&self, key: &str, limit: RateLimit) -> Result<Verdict, PortError> {
        // Never retried: a hit that landed would count twice.
        self.guard.call("rate_limit_hit", Retry::Never, || self.inner.hit(key, limit)).await
    }

    async fn reset(&self, key: &str) -> Result<(), PortError> {
        self.guard.call("rate_limit_reset", Retry::Once, || self.inner.reset(key)).await
    }
}

#[async_trait]
impl<T: UserRepository + ?Sized> UserRepository for Guarded<T> {
    async fn create(&self, user: NewUser) -> Result<User, PortError> {
        // Never retried: a create that landed would come back as EmailTaken.
        self.guard.call("create_user", Retry::Never, || self.inner.create(user.clone())).await
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError> {
        self.guard.call("find_user_by_id", Retry::Once, || self.inner.find_by_id(id)).await
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, PortError> {
        self.guard.call("find_user_by_email", Retry::Once, || self.inner.find_by_email(email)).await
    }

    async fn update(&self, id: UserId, changes: UserChanges) -> Result<User, PortError> {
        self.guard.call("update_user", Retry::Never, || self.inner.update(id, changes.clone())).await
    }

    async fn delete(&self, id: UserId) -> Result<bool, PortError> {
        self.guard.call("delete_user", Retry::Once, || self.inner.delete(id)).await
    }

    async fn ping(&self) -> Result<(), PortError> {
        self.guard.call("ping", Retry::Once, || self.inner.ping()).await
    }

    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<User>, PortError> {
        self.guard.call("export_users", Retry::Once, || self.inner.export(cursor.clone(), limit)).await
    }

    async fn import(&self, user: &User) -> Result<Imported, PortError> {
        self.guard.call("import_user", Retry::Once, || self.inner.import(user)).await
    }
}
