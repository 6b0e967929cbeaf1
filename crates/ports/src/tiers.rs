//! The two extra ports a tiered session store needs from its tiers: a durable
//! tier that keeps every session (PostgreSQL) and a fast cache tier in front of
//! it (Redis).
//!
//! A tiered store writes the durable tier first and reads the cache first. What
//! makes that safe under faults is spelled out here, in the ports, so that any
//! pair of adapters that honour these contracts can be tiered:
//!
//! - The durable tier *ends* a session rather than forgetting it: the ended
//!   record stays until the session would have expired, so a late copy of the
//!   session (`insert_if_absent`) cannot bring it back.
//! - The cache tier likewise leaves an *ended* marker where a session was, so a
//!   late refill from the durable tier (`fill`) cannot bring it back, and a
//!   lookup can tell "ended here" from "never here" (only the second is worth
//!   asking the durable tier about).
//! - A cache record says whether the durable tier is known to hold it too:
//!   sessions written before the tiered store existed (Redis-only deployments)
//!   are not, and are copied forward at their first use.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{PortError, Session, SessionStore, SessionTokenHash};

/// One recorded use of a session, as [`SessionStore::touch`] would write it,
/// queued to be written to the durable tier later and in a batch.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Touch {
    /// The session used.
    pub token_hash: SessionTokenHash,
    /// When it was used.
    pub last_seen_at: OffsetDateTime,
    /// Its new idle expiry.
    pub idle_expires_at: OffsetDateTime,
}

/// What a cache tier holds under a token hash.
// Returned by value once per lookup and never stored in bulk: boxing the
// session would add an allocation to every request to save a few bytes.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Cached {
    /// A live session.
    Live {
        /// The session.
        session: Session,
        /// Whether it was stored through a tiered store ([`SessionCache::put`] or
        /// [`SessionCache::fill`], or marked by [`SessionCache::mark_durable`]), so
        /// that the durable tier holds it too.
        durable: bool,
    },
    /// The session was ended here (or the cache was told it ended elsewhere); it
    /// must not be looked for in another tier.
    Ended,
    /// Nothing: never stored, expired, evicted, or lost with the cache's data.
    Missing,
}

/// The fast tier of a tiered store: a [`SessionStore`] that also remembers ended
/// sessions and which records the durable tier holds.
///
/// Every method may fail with [`PortError::Unavailable`]; a failed call changes
/// nothing a later call could observe as half done.
#[async_trait]
pub trait SessionCache: SessionStore {
    /// What the cache holds under `token_hash`. An expired session is
    /// [`Cached::Missing`]; a record that cannot be decoded is deleted and is
    /// `Missing` too.
    async fn lookup(&self, token_hash: &SessionTokenHash) -> Result<Cached, PortError>;

    /// Stores `session`, marked durable, replacing whatever the cache holds under
    /// its hash (an ended marker included).
    async fn put(&self, session: &Session) -> Result<(), PortError>;

    /// Stores `session`, marked durable, unless the cache holds a live session or
    /// an ended marker under its hash. Returns whether it stored it. Used to
    /// refill the cache from the durable tier: a session ended meanwhile stays
    /// ended.
    async fn fill(&self, session: &Session) -> Result<bool, PortError>;

    /// Marks the live session under `token_hash` durable, changing nothing else.
    /// Returns `false`, changing nothing, when the cache holds no live session there.
    async fn mark_durable(&self, token_hash: &SessionTokenHash) -> Result<bool, PortError>;

    /// Ends `sessions`: each is replaced by an ended marker that lasts until the
    /// session would have expired, and leaves its user's listing.
    async fn end(&self, sessions: &[Session]) -> Result<(), PortError>;

    /// Leaves an ended marker under `token_hash` for `lifetime`, whatever the
    /// cache holds there: for ending a session the caller cannot read (its
    /// record is missing here and its durable tier is down).
    async fn end_by_hash(&self, token_hash: &SessionTokenHash, lifetime: std::time::Duration) -> Result<(), PortError>;
}

/// The durable tier of a tiered store: a [`SessionStore`] whose deletions end a
/// session's record rather than forget it (until it would have expired, when
/// [`purge_expired`](SessionStore::purge_expired) removes it), and which keeps a
/// list of ended sessions the cache may still hold: every deletion (`delete`,
/// `revoke`, `revoke_all`) puts the sessions it ends on that list, in the same
/// write, and they stay there until [`clear_cache_pending`](Self::clear_cache_pending)
/// — so no crash between ending a session here and in the cache can lose the end.
///
/// Every method may fail with [`PortError::Unavailable`]; a failed call changes
/// nothing a later call could observe as half done.
#[async_trait]
pub trait DurableSessionStore: SessionStore {
    /// Stores `session` unless a record, live or ended, exists under its hash.
    /// Returns whether it stored it. Used to copy a session forward from the
    /// cache: a session ended meanwhile stays ended.
    async fn insert_if_absent(&self, session: &Session) -> Result<bool, PortError>;

    /// Up to `limit` ended sessions that the cache may still hold, oldest end first.
    async fn cache_pending(&self, limit: u32) -> Result<Vec<Session>, PortError>;

    /// Takes these hashes off the [`cache_pending`](Self::cache_pending) list.
    async fn clear_cache_pending(&self, token_hashes: &[SessionTokenHash]) -> Result<(), PortError>;

    /// Up to `limit` sessions ended at or after `since`, whether or not they are
    /// still cache-pending, oldest end first: what a cache that went back to an
    /// older state (a failover to a lagging replica, a restore) must be told again.
    async fn ended_since(&self, since: OffsetDateTime, limit: u32) -> Result<Vec<Session>, PortError>;

    /// Records these uses, in one write. Each is applied as
    /// [`touch`](SessionStore::touch) would, except that it is skipped, changing
    /// nothing, when the session is absent, ended or not live, or when its stored
    /// idle expiry is already as late: a late batch never shortens a session.
    async fn touch_many(&self, touches: &[Touch]) -> Result<(), PortError>;
}
