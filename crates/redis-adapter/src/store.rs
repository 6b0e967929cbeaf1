//! [`SessionStore`] on Redis.

use std::{collections::HashMap, sync::Arc};

use async_trait::async_trait;
use redis::{FromRedisValue, Pipeline, Value};
use sesame_ports::{Clock, PortError, Session, SessionId, SessionStore, SessionTokenHash, UserId};
use time::OffsetDateTime;

use crate::{
    BACKEND, RedisError, RedisSettings,
    codec::{self, micros},
    connection::Connection,
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

/// Sessions in Redis; see the crate docs for the key layout.
pub struct RedisSessionStore {
    connection: Connection,
    prefix: String,
    clock: Arc<dyn Clock>,
}

fn store_error(err: redis::RedisError) -> PortError {
    PortError::unavailable(BACKEND, err)
}

/// Milliseconds from `now` until `until`, at least 1 (Redis refuses 0).
fn ttl_millis(now: OffsetDateTime, until: OffsetDateTime) -> i64 {
    i64::try_from((until - now).whole_milliseconds()).unwrap_or(i64::MAX).max(1)
}

impl RedisSessionStore {
    /// Connects to the deployment `settings` names; time is read from `clock`.
    pub async fn connect(settings: &RedisSettings, clock: Arc<dyn Clock>) -> Result<Self, RedisError> {
        let connection = Connection::open(settings).await?;
        Ok(Self { connection, prefix: settings.key_prefix.clone(), clock })
    }

    fn session_key(&self, token_hash: &SessionTokenHash) -> String {
        format!("{}session:{}", self.prefix, token_hash.to_hex())
    }

    fn index_key(&self, user_id: UserId) -> String {
        format!("{}user:{user_id}:sessions", self.prefix)
    }

    /// Runs a read. A read that failed on a broken connection (the server restarted
    /// or dropped it) is tried once more while the connection reconnects: reading
    /// twice changes nothing.
    async fn read_query<T: FromRedisValue>(&self, command: &redis::Cmd) -> Result<T, PortError> {
        let mut connection = self.connection.clone();
        match command.query_async(&mut connection).await {
            Err(err) if err.is_connection_dropped() || err.is_io_error() => {
                tracing::warn!(error = %err, "redis connection broke under a read; reading once more");
                command.query_async(&mut connection).await.map_err(store_error)
            }
            result => result.map_err(store_error),
        }
    }

    /// Runs a single-key write, once: a write whose answer was lost may have
    /// landed, and repeating it could undo a concurrent delete.
    async fn write_one(&self, command: &redis::Cmd) -> Result<(), PortError> {
        command.query_async(&mut self.connection.clone()).await.map_err(store_error)
    }

    /// Runs `steps` — each a pipeline on one key — as one `MULTI` transaction on a
    /// standalone server, or in order, each atomic, on a Cluster. Returns the
    /// answer of the last command.
    async fn write(&self, steps: Vec<Pipeline>) -> Result<Value, PortError> {
        let mut connection = self.connection.clone();
        let batches = if self.connection.is_cluster() {
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

    /// Reads the session at `token_hash`, live or not. A record that cannot be
    /// decoded is deleted, logged with a short hash, and treated as absent.
    async fn read(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        let key = self.session_key(token_hash);
        let fields: HashMap<String, String> = self.read_query(redis::cmd("HGETALL").arg(&key)).await?;
        if fields.is_empty() {
            return Ok(None);
        }
        match codec::decode(*token_hash, &fields) {
            Some(session) => Ok(Some(session)),
            None => {
                self.discard_corrupt(token_hash).await?;
                Ok(None)
            }
        }
    }

    async fn discard_corrupt(&self, token_hash: &SessionTokenHash) -> Result<(), PortError> {
        tracing::warn!(session = %token_hash.short(), "deleting a session record that cannot be decoded");
        self.write_one(redis::cmd("DEL").arg(self.session_key(token_hash))).await
    }

    /// Deletes sessions and then their index entries; the deletion order keeps
    /// every live session reachable from the index if a step fails.
    async fn remove(&self, user_id: UserId, hashes: &[SessionTokenHash]) -> Result<(), PortError> {
        if hashes.is_empty() {
            return Ok(());
        }
        let mut steps: Vec<Pipeline> = hashes
            .iter()
            .map(|hash| {
                let mut step = redis::pipe();
                step.cmd("DEL").arg(self.session_key(hash));
                step
            })
            .collect();
        let mut unindex = redis::pipe();
        unindex
            .cmd("ZREM")
            .arg(self.index_key(user_id))
            .arg(hashes.iter().map(SessionTokenHash::to_hex).collect::<Vec<_>>());
        steps.push(unindex);
        self.write(steps).await.map(drop)
    }

    /// The user's indexed sessions, live or not.
    ///
    /// An entry whose session is missing is pruned only once its score (never
    /// earlier than the session's expiry) has passed: before that, the session may
    /// be a Cluster `create` between its index step and its session step.
    async fn indexed(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let now = micros(self.clock.now());
        let index = self.index_key(user_id);
        let entries: Vec<(String, f64)> =
            self.read_query(redis::cmd("ZRANGE").arg(&index).arg(0).arg(-1).arg("WITHSCORES")).await?;
        let mut sessions = Vec::with_capacity(entries.len());
        let mut stale = Vec::new();
        for (member, score) in entries {
            let hash = parse_hex(&member);
            let session = match &hash {
                Some(hash) => self.read(hash).await?,
                None => None,
            };
            match session {
                Some(session) if session.user_id == user_id => sessions.push(session),
                Some(_) => stale.push(member),
                None if hash.is_none() || score < now as f64 => stale.push(member),
                None => {}
            }
        }
        if !stale.is_empty() {
            self.write_one(redis::cmd("ZREM").arg(&index).arg(stale)).await?;
        }
        Ok(sessions)
    }
}

fn parse_hex(hex: &str) -> Option<SessionTokenHash> {
    if hex.len() != 64 {
        return None;
    }
    let mut bytes = [0u8; 32];
    for (byte, pair) in bytes.iter_mut().zip(hex.as_bytes().chunks(2)) {
        *byte = u8::from_str_radix(std::str::from_utf8(pair).ok()?, 16).ok()?;
    }
    Some(SessionTokenHash::from_bytes(bytes))
}

#[async_trait]
impl SessionStore for RedisSessionStore {
    async fn create(&self, session: &Session) -> Result<(), PortError> {
        let now = self.clock.now();
        let expires_at = session.expires_at();
        let ttl = ttl_millis(now, expires_at);
        // The index must outlive every session it lists, however often they are
        // touched: it lives until the latest absolute expiry among them.
        let index_ttl = ttl_millis(now, session.absolute_expires_at);
        let index = self.index_key(session.user_id);
        let key = self.session_key(&session.token_hash);

        let mut index_step = redis::pipe();
        index_step
            .cmd("ZREMRANGEBYSCORE")
            .arg(&index)
            .arg("-inf")
            .arg(format!("({}", micros(now)))
            .cmd("ZADD")
            .arg(&index)
            .arg(micros(expires_at))
            .arg(session.token_hash.to_hex())
            .cmd("PEXPIRE")
            .arg(&index)
            .arg(index_ttl)
            .arg("NX")
            .cmd("PEXPIRE")
            .arg(&index)
            .arg(index_ttl)
            .arg("GT");
        let mut session_step = redis::pipe();
        session_step
            .cmd("DEL")
            .arg(&key)
            .cmd("HSET")
            .arg(&key)
            .arg(codec::encode(session))
            .cmd("PEXPIRE")
            .arg(&key)
            .arg(ttl);
        self.write(vec![index_step, session_step]).await.map(drop)
    }

    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        let now = self.clock.now();
        Ok(self.read(token_hash).await?.filter(|session| session.is_live_at(now)))
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
        if answer < 0 {
            self.discard_corrupt(token_hash).await?;
        }
        Ok(answer == 1)
    }

    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<bool, PortError> {
        let now = self.clock.now();
        let Some(session) = self.read(token_hash).await? else { return Ok(false) };
        self.remove(session.user_id, &[session.token_hash]).await?;
        Ok(session.is_live_at(now))
    }

    async fn list_for_user(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let now = self.clock.now();
        let mut sessions: Vec<Session> =
            self.indexed(user_id).await?.into_iter().filter(|session| session.is_live_at(now)).collect();
        sessions.sort_by_key(|session| (session.created_at, *session.token_hash.as_bytes()));
        Ok(sessions)
    }

    async fn revoke(&self, user_id: UserId, session_id: SessionId) -> Result<bool, PortError> {
        let target = self.list_for_user(user_id).await?.into_iter().find(|session| session.id == session_id);
        match target {
            Some(session) => self.delete(&session.token_hash).await,
            None => Ok(false),
        }
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<u64, PortError> {
        let now = self.clock.now();
        let sessions = self.indexed(user_id).await?;
        let live = sessions.iter().filter(|session| session.is_live_at(now)).count();
        let hashes: Vec<SessionTokenHash> = sessions.iter().map(|session| session.token_hash).collect();
        self.remove(user_id, &hashes).await?;
        Ok(u64::try_from(live).unwrap_or(u64::MAX))
    }

    async fn ping(&self) -> Result<(), PortError> {
        self.read_query::<String>(&redis::cmd("PING")).await.map(drop)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_round_trip_through_hex() {
        let hash = SessionTokenHash::from_bytes([0xa5; 32]);
        assert_eq!(parse_hex(&hash.to_hex()), Some(hash));
        assert_eq!(parse_hex("zz"), None);
        assert_eq!(parse_hex(&"g".repeat(64)), None);
    }
}
