//! The port to where sessions live.

use async_trait::async_trait;
use time::OffsetDateTime;

use crate::{ExportCursor, ExportPage, Imported, PortError, Session, SessionId, SessionTokenHash, UserId};

/// Stores sessions, keyed by the SHA-256 of their token.
///
/// A session is *live* while the store's clock reads earlier than
/// [`Session::expires_at`]. A store must never return, list or extend a session
/// that is not live, whether or not it has purged it yet. A record that cannot be
/// decoded is deleted and treated as absent.
///
/// Every method may also fail with [`PortError::Unavailable`] when the store cannot
/// be reached; a failed call changes nothing a later call could observe as half
/// done.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait SessionStore: Send + Sync + 'static {
    /// Stores a new session. Its token hash is fresh (256 random bits), so a
    /// collision is not a case to handle; a session with the same hash is replaced.
    async fn create(&self, session: &Session) -> Result<(), PortError>;

    /// The live session with this token hash, or `None` when there is none or it has expired.
    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError>;

    /// Records use of `session` — as [`get`](Self::get) returned it moments ago,
    /// found again by its token hash — setting `last_seen_at` and
    /// `idle_expires_at` (the caller keeps the latter at or before the absolute
    /// expiry). Taking the record spares a store a second read on the
    /// validation path.
    ///
    /// Returns `false`, changing nothing, when the session is absent or not live.
    async fn touch(
        &self,
        session: &Session,
        last_seen_at: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<bool, PortError>;

    /// Deletes the session with this token hash. Returns the session if it was
    /// live; `None` when there was none, or only an expired one (which is
    /// deleted all the same).
    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError>;

    /// The live sessions of `user_id`, oldest first.
    async fn list_for_user(&self, user_id: UserId) -> Result<Vec<Session>, PortError>;

    /// Deletes the live session with public id `session_id` if, and only if, it
    /// belongs to `user_id`, and returns it; `None` both when there is no such
    /// session and when it is someone else's, so callers cannot probe ids.
    async fn revoke(&self, user_id: UserId, session_id: SessionId) -> Result<Option<Session>, PortError>;

    /// Deletes every session of `user_id` and no one else's. Returns the live
    /// sessions it deleted, in no particular order.
    async fn revoke_all(&self, user_id: UserId) -> Result<Vec<Session>, PortError>;

    /// Removes up to `limit` sessions that are no longer live, and returns how
    /// many it removed. Never removes a live session. Safe to run from several
    /// instances at once. A store whose records expire by themselves (Redis)
    /// has nothing to do and returns 0.
    async fn purge_expired(&self, limit: u32) -> Result<u64, PortError>;

    /// Answers `Ok` when the store is reachable; used by readiness checks.
    async fn ping(&self) -> Result<(), PortError>;

    /// Up to about `limit` live sessions from where `cursor` left off
    /// ([`ExportCursor::start`] first), in an order of the store's choosing,
    /// and where the next page starts (`None` when every session was read). A
    /// session live throughout an export is in exactly one page; one created,
    /// ended or expiring meanwhile may or may not be. Reads only: an export
    /// never extends or ends a session. A cursor from another store, or a
    /// malformed one, is [`PortError::Invalid`].
    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<Session>, PortError>;

    /// Stores `session` as another store exported it — keeping its token
    /// hash, id, timestamps and expiries, so it lives exactly as long as it
    /// would have there — unless that would lose something:
    /// [`Imported::Skipped`], changing nothing, when the session is not live,
    /// when this store holds it last used as late or later, or when this store
    /// ended it; [`Imported::Updated`] when it held it last used earlier (its
    /// use and idle expiry are taken); [`Imported::Created`] otherwise.
    /// Importing the same session twice changes nothing the second time.
    async fn import(&self, session: &Session) -> Result<Imported, PortError>;
}
