//! The port to where users live.

use async_trait::async_trait;

use crate::{Email, ExportCursor, ExportPage, Imported, NewUser, PortError, User, UserChanges, UserId};

/// Stores users. Emails are unique: two users never share a normalised [`Email`].
///
/// Every method may also fail with [`PortError::Unavailable`] when the store cannot
/// be reached; a failed call changes nothing.
#[cfg_attr(feature = "mock", mockall::automock)]
#[async_trait]
pub trait UserRepository: Send + Sync + 'static {
    /// Stores `user` (unverified) and returns it as stored.
    ///
    /// Errors: [`PortError::EmailTaken`] when a user with this email exists. When
    /// several calls race for one email, exactly one succeeds and every other gets
    /// `EmailTaken`.
    async fn create(&self, user: NewUser) -> Result<User, PortError>;

    /// The user with this id, or `None`.
    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError>;

    /// The user with this email, or `None`.
    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, PortError>;

    /// Applies `changes` to the user with this id and returns the user as stored.
    ///
    /// Errors: [`PortError::NotFound`] when there is no such user;
    /// [`PortError::EmailTaken`] when the new email belongs to another user.
    async fn update(&self, id: UserId, changes: UserChanges) -> Result<User, PortError>;

    /// Removes the user with this id; `true` when there was one. Its email is
    /// free again at once. Idempotent.
    async fn delete(&self, id: UserId) -> Result<bool, PortError>;

    /// Answers `Ok` when the store is reachable; used by readiness checks.
    async fn ping(&self) -> Result<(), PortError>;

    /// Up to about `limit` users from where `cursor` left off
    /// ([`ExportCursor::start`] first), in an order of the store's choosing,
    /// and where the next page starts (`None` when every user was read). A
    /// user present throughout an export is in exactly one page. A cursor from
    /// another store, or a malformed one, is [`PortError::Invalid`].
    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<User>, PortError>;

    /// Stores `user` as another store exported it — id, email, password hash,
    /// verification and registration time kept — and answers
    /// [`Imported::Created`]; [`Imported::Skipped`], changing nothing, when a
    /// user with this id exists (users carry no time of change to tell which
    /// is newer, so the one here wins). Importing the same user twice changes
    /// nothing the second time.
    ///
    /// Errors: [`PortError::EmailTaken`] when another user has this email.
    async fn import(&self, user: &User) -> Result<Imported, PortError>;
}
