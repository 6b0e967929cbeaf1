//! sesame's Redis adapter: sessions on a standalone Redis or a Redis Cluster.
//!
//! [`RedisSessionStore`] implements `SessionStore`; [`RedisRateLimiter`], over
//! the same connection, implements `RateLimiter`. A session is a hash at
//! `{prefix}session:{sha256-hex}` whose TTL is the time left until the earlier of
//! its two expiries; each user has a sorted set `{prefix}user:{id}:sessions` of
//! their token hashes scored by expiry, which serves listing and revoke-all.
//! [`RedisSessionStore::check_data`] notices when Redis lost its data (and tells
//! it from eviction). With [`RedisSettings::local_cache_sessions`] set, a
//! [`LocalCache`] keeps sessions this instance read, kept true by Redis's
//! invalidations. Depends on `sesame-ports` only.
//!
//! Writes that touch both keys are one `MULTI` transaction on a standalone server.
//! On a Cluster the two keys live in different slots, so the same writes are an
//! ordered series of single-key steps: the user's index is written before a
//! session is created or extended and cleaned after it is deleted, so a failure
//! half-way leaves at worst a stale index entry (pruned later), never a live
//! session that revoke-all cannot reach.

mod codec;
mod connection;
mod limits;
mod local_cache;
mod store;
mod watch;

pub use connection::{RedisError, RedisSettings};
pub use limits::RedisRateLimiter;
pub use local_cache::{CONNECTION_NAME as LOCAL_CACHE_CONNECTION_NAME, LocalCache, MAX_AGE as LOCAL_CACHE_MAX_AGE};
pub use store::RedisSessionStore;
pub use watch::{DataCheck, Durability};

/// The backend name this adapter reports in errors and metrics.
pub const BACKEND: &str = "redis";
