//! [`SessionStore`] on Redis.

use std::{
    collections::HashMap,
    sync::{
        Arc, OnceLock,
        atomic::{AtomicBool, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use redis::{FromRedisValue, Pipeline, Value};
use sesame_ports::{
    Cached, Clock, ExportCursor, ExportPage, Imported, PortError, Session, SessionCache, SessionId, SessionStore,
    SessionTokenHash, UserId,
};
use time::OffsetDateTime;

use crate::{
    BACKEND, RedisError, RedisRateLimiter, RedisSettings,
    codec::{self, Record, micros},
    connection::Connection,
    local_cache::{self, LocalCache},
    watch::Watch,
};

/// Extends a live session: checks liveness against the caller's clock and writes
/// the new last use and idle expiry, atomically on the session's key.
/// Answers 1 when extended, 0 when absent or expired, -1 when the record is corrupt.
const TOUCH_SCRIPT: &str = r"
local expiry = redis.call('HMGET', KEYS[1], 'idle', 'absolute')
if not expiry[1] or not expiry[2] then return 0 end
local idle, absolute, now = tonumber(expiry[1]), tonumber(expiry[2]), tonumber(ARGV[1])
if not idle or not absolute then return -1 end
if now >= idle or now >= absolute then return 0 end
redis.call('HSET', KEYS[1], 'seen', ARGV[2], 'idle', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
";

/// Writes a session's fields unless its key holds anything (a session or an
/// ended marker). ARGV: the TTL in milliseconds, then field, value pairs.
/// Answers 1 when it wrote, 0 otherwise.
const FILL_SCRIPT: &str = r"
if redis.call('EXISTS', KEYS[1]) == 1 then return 0 end
redis.call('HSET', KEYS[1], unpack(ARGV, 2))
redis.call('PEXPIRE', KEYS[1], ARGV[1])
return 1
";

/// Marks a live session durable. ARGV: now. Answers 1 when marked, 0 when the
/// key holds no live session.
const MARK_DURABLE_SCRIPT: &str = r"
local expiry = redis.call('HMGET', KEYS[1], 'idle', 'absolute')
local idle, absolute, now = tonumber(expiry[1]), tonumber(expiry[2]), tonumber(ARGV[1])
if not idle or not absolute or now >= idle or now >= absolute then return 0 end
redis.call('HSET', KEYS[1], 'd', '1')
return 1
";

/// Imports a session exported elsewhere, unless the key holds an ended marker
/// or the session used as late or later. ARGV: now, the session's last use,
/// idle expiry, TTL in milliseconds, then field, value pairs of its whole
/// record. Answers 1 when it wrote the record, 2 when it took the later use
/// into a live record, 0 when it changed nothing.
const IMPORT_SCRIPT: &str = r"
local stored = redis.call('HMGET', KEYS[1], 'ended', 'seen', 'idle', 'absolute')
if stored[1] then return 0 end
local seen, idle, absolute, now = tonumber(stored[2]), tonumber(stored[3]), tonumber(stored[4]), tonumber(ARGV[1])
if seen and idle and absolute and now < idle and now < absolute then
  if seen >= tonumber(ARGV[2]) then return 0 end
  redis.call('HSET', KEYS[1], 'seen', ARGV[2], 'idle', ARGV[3])
  redis.call('PEXPIRE', KEYS[1], ARGV[4])
  return 2
end
redis.call('DEL', KEYS[1])
redis.call('HSET', KEYS[1], unpack(ARGV, 5))
redis.call('PEXPIRE', KEYS[1], ARGV[4])
return 1
";

/// Sessions in Redis; see the crate docs for the key layout.
pub struct RedisSessionStore {
    /// Set once connected: at once by [`connect`](Self::connect), in the
    /// background by [`connect_lazily`](Self::connect_lazily).
    connection: Arc<OnceLock<Connection>>,
    cluster: bool,
    prefix: String,
    clock: Arc<dyn Clock>,
    watch: Watch,
    /// A session counts only while its user's index lists it (see
    /// [`RedisSessionStore::require_index`]).
    index_required: AtomicBool,
    /// Sessions read lately, when the local cache is on.
    local: Option<Arc<LocalCache>>,
}

/// redis's error as the ports see it: a connection that broke under the
/// command is [`PortError::ConnectionLost`], anything else (a timeout included)
/// [`PortError::Unavailable`].
pub(crate) fn store_error(err: redis::RedisError) -> PortError {
    if !err.is_timeout() && (err.is_connection_dropped() || err.is_io_error()) {
        PortError::connection_lost(BACKEND, err)
    } else {
        PortError::unavailable(BACKEND, err)
    }
}

/// Milliseconds from `now` until `until`, at least 1 (Redis refuses 0).
fn ttl_millis(now: OffsetDateTime, until: OffsetDateTime) -> i64 {
    i64::try_from((until - now).whole_milliseconds()).unwrap_or(i64::MAX).max(1)
}

impl RedisSessionStore {
    /// Connects to the deployment `settings` names; time is read from `clock`.
    pub async fn connect(settings: &RedisSettings, clock: Arc<dyn Clock>) -> Result<Self, RedisError> {
        let connection = Connection::open(settings).await?;
        let store = Self::unconnected(settings, clock)?;
        let _ = store.connection.set(connection);
        Ok(store)
    }

    /// Returns at once and connects in the background, trying again (with
    /// pauses doubling up to 10 s) until Redis answers; until then every call
    /// fails with `PortError::Unavailable`. For a tiered store, whose sessions
    /// are served from its durable tier meanwhile. Errors only for a malformed URL,
    /// or a local cache asked for over a Cluster.
    pub fn connect_lazily(settings: &RedisSettings, clock: Arc<dyn Clock>) -> Result<Self, RedisError> {
        Connection::check_urls(settings)?;
        let store = Self::unconnected(settings, clock)?;
        let (cell, settings) = (Arc::clone(&store.connection), settings.clone());
        tokio::spawn(async move {
            let mut pause = Duration::from_millis(250);
            let mut said = false;
            loop {
                match Connection::open(&settings).await {
                    Ok(connection) => {
                        let _ = cell.set(connection);
                        if said {
                            tracing::info!(backend = BACKEND, "redis answers; connected");
                        }
                        return;
                    }
                    Err(err) if !err.is_transient() => {
                        tracing::error!(backend = BACKEND, error = %err, "redis cannot be connected to; giving up");
                        return;
                    }
                    Err(err) => {
                        if !said {
                            said = true;
                            tracing::warn!(
                                backend = BACKEND,
                                error = %err,
                                "redis does not answer yet; trying again in the background"
                            );
                        }
                        tokio::time::sleep(pause).await;
                        pause = (pause * 2).min(Duration::from_secs(10));
                    }
                }
            }
        });
        Ok(store)
    }

    /// The store before its connection is set; with the local cache on, its
    /// invalidation connection is kept in the background from now on.
    fn unconnected(settings: &RedisSettings, clock: Arc<dyn Clock>) -> Result<Self, RedisError> {
        let local = match (settings.local_cache_sessions, settings.urls.as_slice()) {
            (0, _) => None,
            (_, _) if settings.cluster => return Err(RedisError::LocalCacheOnCluster),
            (capacity, [url]) => {
                let cache = LocalCache::new(capacity, &settings.key_prefix);
                tokio::spawn(local_cache::track(Arc::clone(&cache), url.clone(), settings.response_timeout));
                Some(cache)
            }
            _ => return Err(RedisError::InvalidUrl),
        };
        Ok(Self {
            connection: Arc::default(),
            cluster: settings.cluster,
            prefix: settings.key_prefix.clone(),
            clock,
            watch: Watch::new(&settings.key_prefix, settings.cluster),
            index_required: AtomicBool::new(false),
            local,
        })
    }

    /// The local cache, when it is on.
    pub fn local_cache(&self) -> Option<&Arc<LocalCache>> {
        self.local.as_ref()
    }

    /// Drops these sessions from the local cache: this instance just changed
    /// them (other instances hear of it from Redis).
    fn forget<'a>(&self, token_hashes: impl IntoIterator<Item = &'a SessionTokenHash>) {
        if let Some(local) = &self.local {
            local.forget(token_hashes);
        }
    }

    /// A rate limiter over this store's connection (and key prefix): one Redis
    /// handle for both.
    pub fn rate_limiter(&self) -> RedisRateLimiter {
        RedisRateLimiter::new(Arc::clone(&self.connection), &self.prefix)
    }

    /// Waits until connected, at most `within`; whether it is.
    pub async fn wait_connected(&self, within: Duration) -> bool {
        let deadline = tokio::time::Instant::now() + within;
        while self.connection.get().is_none() && tokio::time::Instant::now() < deadline {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        self.connection.get().is_some()
    }

    /// The connection, once there is one.
    fn connection(&self) -> Result<Connection, PortError> {
        self.connection.get().cloned().ok_or_else(|| PortError::unavailable(BACKEND, "not connected yet"))
    }

    fn session_key(&self, token_hash: &SessionTokenHash) -> String {
        format!("{}session:{}", self.prefix, token_hash.to_hex())
    }

    fn index_key(&self, user_id: UserId) -> String {
        format!("{}user:{user_id}:sessions", self.prefix)
    }

    /// From now on a session counts only while its user's index lists it.
    ///
    /// For a server that may evict keys with sessions kept in Redis alone: if
    /// eviction took a user's index, revoke-all could not reach their sessions,
    /// so they must not count either — an eviction may log a user out, but never
    /// leaves a session alive that logout-all reported ended. Costs a second
    /// command per validation.
    pub fn require_index(&self) {
        self.index_required.store(true, Ordering::Relaxed);
    }

    pub(crate) fn watch(&self) -> &Watch {
        &self.watch
    }

    /// Runs one command. A command on a broken connection fails with
    /// [`PortError::ConnectionLost`]; the guard every store call goes through
    /// tries idempotent calls once more (docs/reliability.md).
    pub(crate) async fn query<T: FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, PortError> {
        command.query_async(&mut self.connection()?).await.map_err(store_error)
    }

    /// Runs `steps` — each a pipeline on one key — as one `MULTI` transaction on a
    /// standalone server, or in order, each atomic, on a Cluster. Returns the
    /// answer of the last command.
    async fn write(&self, steps: Vec<Pipeline>) -> Result<Value, PortError> {
        let mut connection = self.connection()?;
        let batches = if self.cluster {
            steps
        } else {
            let mut all = redis::pipe();
            steps.iter().flat_map(Pipeline::cmd_iter).for_each(|command| {
                all.add_command(command.clone());
            });
            vec![all]
        };
        let mut last = Value::Nil;
        for mut batch in batches {
            let answers: Vec<Value> = batch.atomic().query_async(&mut connection).await.map_err(store_error)?;
            last = answers.into_iter().last().unwrap_or(Value::Nil);
        }
        Ok(last)
    }

    /// What the key of `token_hash` holds, its session live or not. A record
    /// that cannot be decoded is deleted, logged with a short hash, and treated as
    /// absent ([`Cached::Missing`]).
    async fn read(&self, token_hash: &SessionTokenHash) -> Result<Cached, PortError> {
        let values: Vec<Value> = self.query(&self.read_command(token_hash)).await?;
        self.decoded(token_hash, &values).await
    }

    /// `HMGET` of the fields a session record may hold ([`codec::READ`]): half
    /// the answer `HGETALL` gives (no field names), decoded without a map.
    fn read_command(&self, token_hash: &SessionTokenHash) -> redis::Cmd {
        let mut command = redis::cmd("HMGET");
        command.arg(self.session_key(token_hash)).arg(&codec::READ[..]);
        command
    }

    /// What the keys of `token_hashes` hold, in their order, read in one round
    /// trip: one pipeline on a standalone server; on a Cluster, where the keys
    /// live in different slots (a pipeline must stay in one), all at once over
    /// the multiplexed connection.
    async fn read_many(&self, token_hashes: &[SessionTokenHash]) -> Result<Vec<Cached>, PortError> {
        if token_hashes.is_empty() {
            return Ok(Vec::new());
        }
        let all_values: Vec<Vec<Value>> = if self.cluster {
            let mut reads = tokio::task::JoinSet::new();
            for (index, token_hash) in token_hashes.iter().enumerate() {
                let (mut connection, command) = (self.connection()?, self.read_command(token_hash));
                reads.spawn(async move { (index, command.query_async(&mut connection).await.map_err(store_error)) });
            }
            let mut read = vec![Vec::new(); token_hashes.len()];
            while let Some(done) = reads.join_next().await {
                let (index, values) = done.map_err(|err| PortError::unavailable(BACKEND, err))?;
                read[index] = values?;
            }
            read
        } else {
            let mut pipeline = redis::pipe();
            for token_hash in token_hashes {
                pipeline.add_command(self.read_command(token_hash));
            }
            pipeline.query_async(&mut self.connection()?).await.map_err(store_error)?
        };
        let mut records = Vec::with_capacity(token_hashes.len());
        for (token_hash, values) in token_hashes.iter().zip(&all_values) {
            records.push(self.decoded(token_hash, values).await?);
        }
        Ok(records)
    }

    /// The record an `HMGET` of [`codec::READ`] answered; see [`read`](Self::read).
    async fn decoded(&self, token_hash: &SessionTokenHash, values: &[Value]) -> Result<Cached, PortError> {
        let mut read = codec::Read([None; codec::READ.len()]);
        for (slot, value) in read.0.iter_mut().zip(values) {
            *slot = match value {
                Value::BulkString(bytes) => Some(std::str::from_utf8(bytes).unwrap_or("\u{fffd}")),
                Value::SimpleString(text) => Some(text.as_str()),
                _ => None,
            };
        }
        if read.is_empty() {
            return Ok(Cached::Missing);
        }
        match codec::decode(*token_hash, &read) {
            Record::Session { session, durable } => Ok(Cached::Live { session, durable }),
            Record::Ended => Ok(Cached::Ended),
            Record::Corrupt => {
                self.discard_corrupt(token_hash).await?;
                Ok(Cached::Missing)
            }
        }
    }

    /// The session of `token_hash` if it is live now (and, when the index is
    /// required, listed in its user's index; one that is not is ended).
    async fn read_live(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        let now = self.clock.now();
        let Cached::Live { session, .. } = self.read(token_hash).await? else { return Ok(None) };
        if !session.is_live_at(now) {
            return Ok(None);
        }
        if self.index_required.load(Ordering::Relaxed) {
            let score: Option<f64> =
                self.query(redis::cmd("ZSCORE").arg(self.index_key(session.user_id)).arg(token_hash.to_hex())).await?;
            if score.is_none() {
                tracing::debug!(session = %token_hash.short(), "session missing from its evicted index; ending it");
                self.end_sessions(std::slice::from_ref(&session)).await?;
                return Ok(None);
            }
        }
        Ok(Some(session))
    }

    async fn discard_corrupt(&self, token_hash: &SessionTokenHash) -> Result<(), PortError> {
        tracing::warn!(session = %token_hash.short(), "deleting a session record that cannot be decoded");
        self.query::<()>(redis::cmd("DEL").arg(self.session_key(token_hash))).await?;
        self.forget([token_hash]);
        Ok(())
    }

    /// Replaces each session by an ended marker that lasts until the session
    /// would have expired, then takes it off its user's index; the order keeps
    /// every live session reachable from the index if a step fails.
    async fn end_sessions(&self, sessions: &[Session]) -> Result<(), PortError> {
        let now = self.clock.now();
        let mut steps: Vec<Pipeline> = sessions
            .iter()
            .map(|session| {
                let key = self.session_key(&session.token_hash);
                let mut step = redis::pipe();
                step.cmd("DEL").arg(&key).cmd("HSET").arg(&key).arg(codec::ENDED).arg(1);
                step.cmd("PEXPIRE").arg(&key).arg(ttl_millis(now, session.expires_at()));
                step
            })
            .collect();
        let mut by_user: HashMap<UserId, Vec<String>> = HashMap::new();
        for session in sessions {
            by_user.entry(session.user_id).or_default().push(session.token_hash.to_hex());
        }
        for (user_id, members) in by_user {
            let mut unindex = redis::pipe();
            unindex.cmd("ZREM").arg(self.index_key(user_id)).arg(members);
            steps.push(unindex);
        }
        if steps.is_empty() {
            return Ok(());
        }
        self.write(steps).await?;
        self.forget(sessions.iter().map(|session| &session.token_hash));
        Ok(())
    }

    /// The step that lists `session` in its user's index; it is written before
    /// the session (see the crate docs).
    fn index_step(&self, session: &Session) -> Pipeline {
        let now = self.clock.now();
        // The index must outlive every session it lists, however often they are
        // touched: it lives until the latest absolute expiry among them.
        let index_ttl = ttl_millis(now, session.absolute_expires_at);
        let index = self.index_key(session.user_id);
        let mut index_step = redis::pipe();
        index_step
            .cmd("ZREMRANGEBYSCORE")
            .arg(&index)
            .arg("-inf")
            .arg(format!("({}", micros(now)))
            .cmd("ZADD")
            .arg(&index)
            .arg("GT")
            .arg(micros(session.expires_at()))
            .arg(session.token_hash.to_hex())
            .cmd("PEXPIRE")
            .arg(&index)
            .arg(index_ttl)
            .arg("NX")
            .cmd("PEXPIRE")
            .arg(&index)
            .arg(index_ttl)
            .arg("GT");
        index_step
    }

    /// Stores `session`, marked durable or not, replacing whatever its key held.
    async fn store(&self, session: &Session, durable: bool) -> Result<(), PortError> {
        let now = self.clock.now();
        let key = self.session_key(&session.token_hash);
        let mut session_step = redis::pipe();
        session_step
            .cmd("DEL")
            .arg(&key)
            .cmd("HSET")
            .arg(&key)
            .arg(codec::encode(session, durable))
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ttl_millis(now, session.expires_at()));
        self.write(vec![self.index_step(session), session_step]).await?;
        self.forget([&session.token_hash]);
        Ok(())
    }

    /// The user's indexed sessions, live or not: two round trips (the index,
    /// then every session at once), whatever their number.
    ///
    /// An entry whose session is missing is pruned only once its score (never
    /// earlier than the session's expiry) has passed: before that, the session may
    /// be a Cluster `create` between its index step and its session step. An
    /// entry whose session ended, or belongs to someone else, is pruned at once.
    async fn indexed(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let now = micros(self.clock.now());
        let index = self.index_key(user_id);
        let entries: Vec<(String, f64)> =
            self.query(redis::cmd("ZRANGE").arg(&index).arg(0).arg(-1).arg("WITHSCORES")).await?;
        let mut stale = Vec::new();
        let mut listed = Vec::with_capacity(entries.len());
        for (member, score) in entries {
            match SessionTokenHash::from_hex(&member) {
                Some(hash) => listed.push((hash, member, score)),
                None => stale.push(member),
            }
        }
        let hashes: Vec<SessionTokenHash> = listed.iter().map(|(hash, ..)| *hash).collect();
        let records = self.read_many(&hashes).await?;
        let mut sessions = Vec::with_capacity(records.len());
        for ((_, member, score), record) in listed.into_iter().zip(records) {
            match record {
                Cached::Live { session, .. } if session.user_id == user_id => sessions.push(session),
                Cached::Live { .. } | Cached::Ended => stale.push(member),
                Cached::Missing if score < now as f64 => stale.push(member),
                Cached::Missing => {}
            }
        }
        if !stale.is_empty() {
            self.query::<()>(redis::cmd("ZREM").arg(&index).arg(stale)).await?;
        }
        Ok(sessions)
    }
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, session: &Session) -> Result<(), PortError> {
        self.store(session, false).await
    }

    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        self.read_live(token_hash).await
    }

    async fn touch(
        &self,
        session: &Session,
        last_seen_at: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let now = self.clock.now();
        let token_hash = &session.token_hash;
        let key = self.session_key(token_hash);
        // The index's score is raised first: it may run ahead of the session, never behind.
        let mut index_step = redis::pipe();
        index_step
            .cmd("ZADD")
            .arg(self.index_key(session.user_id))
            .arg("XX")
            .arg("GT")
            .arg(micros(idle_expires_at))
            .arg(token_hash.to_hex());
        let mut session_step = redis::pipe();
        session_step
            .cmd("EVAL")
            .arg(TOUCH_SCRIPT)
            .arg(1)
            .arg(&key)
            .arg(micros(now))
            .arg(micros(last_seen_at))
            .arg(micros(idle_expires_at))
            .arg(ttl_millis(now, idle_expires_at));
        let answer: i64 = redis::from_redis_value(self.write(vec![index_step, session_step]).await?)
            .map_err(|err| PortError::unavailable(BACKEND, err))?;
        self.forget([token_hash]);
        if answer < 0 {
            self.discard_corrupt(token_hash).await?;
        }
        Ok(answer == 1)
    }

    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        let now = self.clock.now();
        let Cached::Live { session, .. } = self.read(token_hash).await? else { return Ok(None) };
        self.end_sessions(std::slice::from_ref(&session)).await?;
        Ok(Some(session).filter(|session| session.is_live_at(now)))
    }

    async fn list_for_user(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let now = self.clock.now();
        let mut sessions: Vec<Session> =
            self.indexed(user_id).await?.into_iter().filter(|session| session.is_live_at(now)).collect();
        sessions.sort_by_key(|session| (session.created_at, *session.token_hash.as_bytes()));
        Ok(sessions)
    }

    async fn revoke(&self, user_id: UserId, session_id: SessionId) -> Result<Option<Session>, PortError> {
        let target = self.list_for_user(user_id).await?.into_iter().find(|session| session.id == session_id);
        let Some(session) = target else { return Ok(None) };
        self.end_sessions(std::slice::from_ref(&session)).await?;
        Ok(Some(session))
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let now = self.clock.now();
        let sessions = self.indexed(user_id).await?;
        self.end_sessions(&sessions).await?;
        Ok(sessions.into_iter().filter(|session| session.is_live_at(now)).collect())
    }

    async fn purge_expired(&self, _limit: u32) -> Result<u64, PortError> {
        // Every key carries a TTL: Redis removes expired sessions by itself.
        Ok(0)
    }

    async fn ping(&self) -> Result<(), PortError> {
        self.query::<String>(&redis::cmd("PING")).await.map(drop)
    }

    /// `SCAN` of the session keys, node after node on a Cluster; the cursor is
    /// `node:scan-cursor`. `SCAN` may return a key twice (while Redis resizes
    /// its table): importing is idempotent, so a repeat does no harm.
    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<Session>, PortError> {
        let invalid = |position: &str| PortError::Invalid(format!("{position:?} is not a cursor of this Redis store"));
        let (node, scan_cursor) = match cursor.position() {
            None => (0, 0),
            Some(position) => position
                .split_once(':')
                .and_then(|(node, cursor)| Some((node.parse::<usize>().ok()?, cursor.parse::<u64>().ok()?)))
                .ok_or_else(|| invalid(position))?,
        };
        let mut connection = self.connection()?;
        let nodes = connection.scan_nodes().await.map_err(store_error)?;
        let scanned = nodes.get(node).ok_or_else(|| invalid(cursor.position().unwrap_or_default()))?;
        let keys_of = format!("{}session:", self.prefix);
        let (next_cursor, keys) = connection
            .scan(scanned, scan_cursor, &format!("{}*", glob_escape(&keys_of)), limit.max(1))
            .await
            .map_err(store_error)?;
        let hashes: Vec<SessionTokenHash> =
            keys.iter().filter_map(|key| SessionTokenHash::from_hex(key.strip_prefix(&keys_of)?)).collect();
        let now = self.clock.now();
        let records = self
            .read_many(&hashes)
            .await?
            .into_iter()
            .filter_map(|record| match record {
                Cached::Live { session, .. } if session.is_live_at(now) => Some(session),
                _ => None,
            })
            .collect();
        let next = match (next_cursor, node + 1 < nodes.len()) {
            (0, false) => None,
            (0, true) => Some(ExportCursor::at(format!("{}:0", node + 1))),
            (next, _) => Some(ExportCursor::at(format!("{node}:{next}"))),
        };
        Ok(ExportPage { records, next })
    }

    async fn import(&self, session: &Session) -> Result<Imported, PortError> {
        let now = self.clock.now();
        if !session.is_live_at(now) {
            return Ok(Imported::Skipped);
        }
        let mut session_step = redis::pipe();
        session_step
            .cmd("EVAL")
            .arg(IMPORT_SCRIPT)
            .arg(1)
            .arg(self.session_key(&session.token_hash))
            .arg(micros(now))
            .arg(micros(session.last_seen_at))
            .arg(micros(session.idle_expires_at))
            .arg(ttl_millis(now, session.expires_at()));
        for (field, value) in codec::encode(session, false) {
            session_step.arg(field).arg(value);
        }
        // Indexed first, as for every write (a skipped import's entry is pruned
        // at the next listing).
        let answer: i64 = redis::from_redis_value(self.write(vec![self.index_step(session), session_step]).await?)
            .map_err(|err| PortError::unavailable(BACKEND, err))?;
        self.forget([&session.token_hash]);
        Ok(match answer {
            1 => Imported::Created,
            2 => Imported::Updated,
            _ => Imported::Skipped,
        })
    }
}

/// `text` with the characters `SCAN`'s `MATCH` treats as a pattern escaped.
fn glob_escape(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for character in text.chars() {
        if matches!(character, '*' | '?' | '[' | ']' | '\\') {
            escaped.push('\\');
        }
        escaped.push(character);
    }
    escaped
}

#[async_trait]
impl SessionCache for RedisSessionStore {
    async fn lookup(&self, token_hash: &SessionTokenHash) -> Result<Cached, PortError> {
        let now = self.clock.now();
        if let Some(session) = self.local.as_ref().and_then(|local| local.get(token_hash))
            && session.is_live_at(now)
        {
            return Ok(Cached::Live { session, durable: true });
        }
        let version = self.local.as_ref().and_then(|local| local.version());
        Ok(match self.read(token_hash).await? {
            Cached::Live { session, .. } if !session.is_live_at(now) => Cached::Missing,
            Cached::Live { session, durable: true } => {
                if let (Some(local), Some(version)) = (&self.local, version) {
                    local.put(&session, version);
                }
                Cached::Live { session, durable: true }
            }
            other => other,
        })
    }

    async fn put(&self, session: &Session) -> Result<(), PortError> {
        self.store(session, true).await
    }

    async fn fill(&self, session: &Session) -> Result<bool, PortError> {
        let now = self.clock.now();
        let index_step = self.index_step(session);
        let mut session_step = redis::pipe();
        session_step
            .cmd("EVAL")
            .arg(FILL_SCRIPT)
            .arg(1)
            .arg(self.session_key(&session.token_hash))
            .arg(ttl_millis(now, session.expires_at()))
            .arg(codec::encode(session, true));
        let answer: i64 = redis::from_redis_value(self.write(vec![index_step, session_step]).await?)
            .map_err(|err| PortError::unavailable(BACKEND, err))?;
        self.forget([&session.token_hash]);
        Ok(answer == 1)
    }

    async fn mark_durable(&self, token_hash: &SessionTokenHash) -> Result<bool, PortError> {
        let now = micros(self.clock.now());
        let mut command = redis::cmd("EVAL");
        command.arg(MARK_DURABLE_SCRIPT).arg(1).arg(self.session_key(token_hash)).arg(now);
        let answer: i64 = self.query(&command).await?;
        self.forget([token_hash]);
        Ok(answer == 1)
    }

    async fn end(&self, sessions: &[Session]) -> Result<(), PortError> {
        self.end_sessions(sessions).await
    }

    async fn end_by_hash(&self, token_hash: &SessionTokenHash, lifetime: std::time::Duration) -> Result<(), PortError> {
        let key = self.session_key(token_hash);
        let millis = i64::try_from(lifetime.as_millis()).unwrap_or(i64::MAX).max(1);
        let mut step = redis::pipe();
        step.cmd("DEL").arg(&key).cmd("HSET").arg(&key).arg(codec::ENDED).arg(1).cmd("PEXPIRE").arg(&key).arg(millis);
        self.write(vec![step]).await?;
        self.forget([token_hash]);
        Ok(())
    }
}
