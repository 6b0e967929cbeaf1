//! A process-local cache of the sessions this instance reads from Redis, kept
//! true by Redis itself: a connection of its own asks for server-assisted
//! invalidation (RESP3 `CLIENT TRACKING ON BCAST PREFIX <prefix>session:`), so
//! Redis pushes the name of every session key that any client changes, ends,
//! deletes, expires or evicts, and a `FLUSHALL`, to every instance.
//!
//! Why a cached session is never served after Redis has told anyone it ended:
//!
//! - The cache answers only while tracking is on. When the invalidation
//!   connection drops (the library reports it at once), or misses a heartbeat,
//!   the cache empties itself and stops answering until a new connection has
//!   tracking on again: nothing learnt before the gap is trusted after it.
//! - Every invalidation, flush, start and stop of tracking bumps a version,
//!   under the same lock as the map. A session read from Redis is stored only
//!   if the version is still the one taken before the read was sent: a change
//!   that Redis reported while the read was in flight keeps the (possibly
//!   older) answer out of the cache.
//! - What is left is the delivery time of an invalidation: a change made on
//!   another instance is refused here once its invalidation has arrived,
//!   about one network hop after the change (the two-instance test bounds it).
//!   A stalled but open connection cannot stretch that beyond the heartbeat's
//!   timeout, and no entry is served more than [`MAX_AGE`] after it was read.
//!
//! Only live sessions that a tiered store wrote (durable) are cached; ended
//! markers and misses always go to Redis.

use std::{
    collections::HashMap,
    sync::{
        Arc, Mutex, PoisonError, Weak,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use metrics::Counter;
use redis::{
    AsyncConnectionConfig, IntoConnectionInfo, ProtocolVersion, PushInfo, PushKind, Value, aio::AsyncPushSender,
};
use secrecy::{ExposeSecret, SecretString};
use sesame_ports::{Session, SessionTokenHash};
use tokio::time::Instant;

use crate::BACKEND;

/// The longest an entry is served after it was read, whatever Redis says.
pub const MAX_AGE: Duration = Duration::from_secs(10);

/// How often the invalidation connection is checked.
const HEARTBEAT: Duration = Duration::from_secs(1);

/// The client name of the invalidation connection, as `CLIENT LIST` shows it.
pub const CONNECTION_NAME: &str = "sesame-invalidations";

struct Entry {
    session: Session,
    read_at: Instant,
}

struct Entries {
    map: HashMap<SessionTokenHash, Entry>,
    /// Bumped by every invalidation, flush, and start or stop of tracking.
    version: u64,
}

/// The cache; see the module docs.
pub struct LocalCache {
    entries: Mutex<Entries>,
    capacity: usize,
    tracking: AtomicBool,
    /// The prefix of session keys (`<key prefix>session:`).
    key_prefix: String,
    /// Registered once: a lookup then records without building a key.
    hits: Counter,
    misses: Counter,
}

impl LocalCache {
    /// An empty cache of at most `capacity` sessions, not answering until
    /// [`track`] has tracking on.
    pub(crate) fn new(capacity: usize, key_prefix: &str) -> Arc<Self> {
        Arc::new(Self {
            entries: Mutex::new(Entries { map: HashMap::new(), version: 0 }),
            capacity: capacity.max(1),
            tracking: AtomicBool::new(false),
            key_prefix: format!("{key_prefix}session:"),
            hits: metrics::counter!("sesame_local_cache_hits_total"),
            misses: metrics::counter!("sesame_local_cache_misses_total"),
        })
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, Entries> {
        self.entries.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// The session cached for `token_hash`, while tracking is on.
    pub(crate) fn get(&self, token_hash: &SessionTokenHash) -> Option<Session> {
        if !self.tracking.load(Ordering::Acquire) {
            return None;
        }
        let mut entries = self.lock();
        let entry = entries.map.get(token_hash)?;
        if entry.read_at.elapsed() < MAX_AGE {
            self.hits.increment(1);
            return Some(entry.session.clone());
        }
        entries.map.remove(token_hash);
        None
    }

    /// The version to hand to [`put`](Self::put) after a read sent now;
    /// `None` while tracking is off (nothing read now may be cached).
    pub(crate) fn version(&self) -> Option<u64> {
        self.misses.increment(1);
        self.tracking.load(Ordering::Acquire).then(|| self.lock().version)
    }

    /// Caches `session`, read after [`version`](Self::version) answered
    /// `version`, unless anything was invalidated since.
    pub(crate) fn put(&self, session: &Session, version: u64) {
        let mut entries = self.lock();
        if entries.version != version || !self.tracking.load(Ordering::Acquire) {
            return;
        }
        if entries.map.len() >= self.capacity && !entries.map.contains_key(&session.token_hash) {
            // Full: make room by dropping an arbitrary entry (reads refill it).
            if let Some(victim) = entries.map.keys().next().copied() {
                entries.map.remove(&victim);
            }
        }
        entries.map.insert(session.token_hash, Entry { session: session.clone(), read_at: Instant::now() });
    }

    /// Drops the entries of these session keys (`None`: every entry).
    fn invalidate(&self, keys: Option<&[Value]>) {
        let Some(keys) = keys else {
            let mut entries = self.lock();
            entries.version += 1;
            entries.map.clear();
            return;
        };
        let hashes: Vec<SessionTokenHash> = keys
            .iter()
            .filter_map(|key| match key {
                Value::BulkString(bytes) => std::str::from_utf8(bytes).ok(),
                Value::SimpleString(text) => Some(text.as_str()),
                _ => None,
            })
            .filter_map(|key| SessionTokenHash::from_hex(key.strip_prefix(&self.key_prefix)?))
            .collect();
        self.forget(&hashes);
    }

    /// Drops these sessions: this instance just changed them in Redis, or
    /// Redis said someone did.
    pub(crate) fn forget<'a>(&self, token_hashes: impl IntoIterator<Item = &'a SessionTokenHash>) {
        let mut entries = self.lock();
        entries.version += 1;
        for token_hash in token_hashes {
            entries.map.remove(token_hash);
        }
    }

    /// Tracking is on (`true`) or off: either way the cache starts empty.
    fn set_tracking(&self, on: bool) {
        let mut entries = self.lock();
        entries.version += 1;
        entries.map.clear();
        self.tracking.store(on, Ordering::Release);
        metrics::gauge!("sesame_local_cache_tracking").set(if on { 1.0 } else { 0.0 });
    }

    /// Whether the cache answers now (tracking is on).
    pub fn is_tracking(&self) -> bool {
        self.tracking.load(Ordering::Acquire)
    }

    /// How many sessions it holds.
    pub fn len(&self) -> usize {
        self.lock().map.len()
    }

    /// Whether it holds none.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Hands Redis's pushes to the cache, on the connection's own task. It holds
/// the cache weakly: the connection must not keep alive the cache whose
/// owners' going away ends [`track`].
struct Invalidations(Weak<LocalCache>);

impl AsyncPushSender for Invalidations {
    fn send(&self, info: PushInfo) -> Result<(), redis::aio::SendError> {
        let Some(cache) = self.0.upgrade() else { return Ok(()) };
        match info.kind {
            PushKind::Invalidate => match info.data.first() {
                Some(Value::Array(keys)) => cache.invalidate(Some(keys)),
                // Redis sends a null after FLUSHALL / FLUSHDB.
                _ => cache.invalidate(None),
            },
            PushKind::Disconnection => cache.set_tracking(false),
            _ => {}
        }
        Ok(())
    }
}

/// Keeps an invalidation connection to `url` with tracking on, for as long as
/// `cache` is held elsewhere: reconnects (pausing up to 10 s between
/// attempts) whenever it drops, and empties the cache meanwhile.
pub(crate) async fn track(cache: Arc<LocalCache>, url: SecretString, timeout: Duration) {
    let mut pause = Duration::from_millis(250);
    while Arc::strong_count(&cache) > 1 {
        match tracked_connection(&cache, &url, timeout).await {
            Ok(mut connection) => {
                pause = Duration::from_millis(250);
                cache.set_tracking(true);
                tracing::debug!(backend = BACKEND, "local session cache: invalidations on");
                while Arc::strong_count(&cache) > 1 && cache.is_tracking() {
                    tokio::time::sleep(HEARTBEAT).await;
                    let ping = redis::cmd("PING");
                    if !matches!(
                        tokio::time::timeout(timeout, ping.query_async::<String>(&mut connection)).await,
                        Ok(Ok(_))
                    ) {
                        break;
                    }
                }
                cache.set_tracking(false);
                tracing::debug!(backend = BACKEND, "local session cache: invalidations lost; emptied");
            }
            Err(err) => {
                tracing::debug!(backend = BACKEND, error = %err, "local session cache: no invalidation connection yet");
                tokio::time::sleep(pause).await;
                pause = (pause * 2).min(Duration::from_secs(10));
            }
        }
    }
}

/// A RESP3 connection that receives the invalidations of every session key.
async fn tracked_connection(
    cache: &Arc<LocalCache>,
    url: &SecretString,
    timeout: Duration,
) -> redis::RedisResult<redis::aio::MultiplexedConnection> {
    let info = url.expose_secret().into_connection_info()?;
    let resp3 = info.redis_settings().clone().set_protocol(ProtocolVersion::RESP3);
    let client = redis::Client::open(info.set_redis_settings(resp3))?;
    let config = AsyncConnectionConfig::new()
        .set_connection_timeout(Some(timeout))
        .set_response_timeout(Some(timeout))
        .set_push_sender(Invalidations(Arc::downgrade(cache)));
    let mut connection = client.get_multiplexed_async_connection_with_config(&config).await?;
    redis::cmd("CLIENT").arg("SETNAME").arg(CONNECTION_NAME).query_async::<()>(&mut connection).await?;
    redis::cmd("CLIENT")
        .arg("TRACKING")
        .arg("ON")
        .arg("BCAST")
        .arg("PREFIX")
        .arg(&cache.key_prefix)
        .query_async::<()>(&mut connection)
        .await?;
    Ok(connection)
}
