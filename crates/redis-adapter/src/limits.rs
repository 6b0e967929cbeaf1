//! Rate-limit counts in Redis, shared by every instance: the generic cell rate
//! algorithm in one script on one key (`{prefix}rate:{key}`), so a count is
//! atomic and Cluster-safe, timed by the Redis server's clock so that
//! instances whose clocks differ still share one count.

use std::{
    sync::{Arc, OnceLock},
    time::Duration,
};

use async_trait::async_trait;
use sesame_ports::{PortError, RateLimit, RateLimiter, Verdict};

use crate::{connection::Connection, store::store_error};

/// KEYS[1]: the count's key, holding the theoretical arrival time of the next
/// event (microseconds, server time). ARGV[1]: the interval between events
/// (µs); ARGV[2]: the period a burst spans (µs). Answers 0 when the event is
/// allowed (and counted), else the microseconds until one is.
const GCRA_SCRIPT: &str = r"
local time = redis.call('TIME')
local now = tonumber(time[1]) * 1000000 + tonumber(time[2])
local interval = tonumber(ARGV[1])
local period = tonumber(ARGV[2])
local arrival = tonumber(redis.call('GET', KEYS[1]) or now)
if arrival < now then arrival = now end
local next = arrival + interval
local allowed_from = next - period
if allowed_from > now then return allowed_from - now end
redis.call('SET', KEYS[1], next, 'PX', math.ceil((next - now) / 1000))
return 0
";

/// Rate-limit counts in the Redis a session store uses, over its connection.
pub struct RedisRateLimiter {
    connection: Arc<OnceLock<Connection>>,
    prefix: String,
}

impl RedisRateLimiter {
    pub(crate) fn new(connection: Arc<OnceLock<Connection>>, prefix: &str) -> Self {
        Self { connection, prefix: prefix.to_owned() }
    }

    fn connection(&self) -> Result<Connection, PortError> {
        self.connection.get().cloned().ok_or_else(|| PortError::unavailable(crate::BACKEND, "not connected yet"))
    }

    fn key(&self, key: &str) -> String {
        format!("{}rate:{key}", self.prefix)
    }
}

fn micros(duration: Duration) -> u64 {
    u64::try_from(duration.as_micros()).unwrap_or(u64::MAX).max(1)
}

#[async_trait]
impl RateLimiter for RedisRateLimiter {
    async fn hit(&self, key: &str, limit: RateLimit) -> Result<Verdict, PortError> {
        let mut command = redis::cmd("EVAL");
        command.arg(GCRA_SCRIPT).arg(1).arg(self.key(key)).arg(micros(limit.interval())).arg(micros(limit.period));
        let wait: u64 = command.query_async(&mut self.connection()?).await.map_err(store_error)?;
        Ok(match wait {
            0 => Verdict::Allowed,
            wait => Verdict::Limited { retry_after: Duration::from_micros(wait) },
        })
    }

    async fn reset(&self, key: &str) -> Result<(), PortError> {
        let mut command = redis::cmd("DEL");
        command.arg(self.key(key));
        let _: u64 = command.query_async(&mut self.connection()?).await.map_err(store_error)?;
        Ok(())
    }
}
