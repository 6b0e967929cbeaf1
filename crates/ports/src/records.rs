//! The records that cross a port: users and sessions.

use std::{fmt, net::IpAddr};

use time::OffsetDateTime;

use crate::{Email, SessionId, SessionTokenHash, UserId};

/// A password hash in PHC string form (`$argon2id$v=19$…`).
///
/// It is secret material: `Debug` prints a placeholder, and it implements neither
/// `Display` nor `Serialize`, so it cannot slip into a log line or a response body.
#[derive(Clone, PartialEq, Eq)]
pub struct PasswordHash(String);

impl PasswordHash {
    /// Wraps a PHC string produced by the domain's hasher or read from a store.
    pub fn new(phc: impl Into<String>) -> Self {
        Self(phc.into())
    }

    /// The PHC string, for the hasher to verify against or a store to write.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for PasswordHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("PasswordHash([redacted])")
    }
}

/// A user as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct User {
    /// Stable identifier.
    pub id: UserId,
    /// Normalised email address, unique among users.
    pub email: Email,
    /// Argon2id hash of the password.
    pub password_hash: PasswordHash,
    /// Whether the user proved they own the address.
    pub is_verified: bool,
    /// Whether an operator disabled the account: it cannot log in.
    pub is_disabled: bool,
    /// When the user registered.
    pub created_at: OffsetDateTime,
}

impl User {
    /// What a session keeps of this user.
    pub fn snapshot(&self) -> UserSnapshot {
        UserSnapshot { email: self.email.clone(), is_verified: self.is_verified, created_at: self.created_at }
    }
}

/// What a session keeps of its user: the fields a request shows, so that
/// serving a request needs no user lookup. Never the password hash.
///
/// The domain keeps it true: a use case that changes a user ends or re-issues
/// that user's sessions.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct UserSnapshot {
    /// The user's normalised email address.
    pub email: Email,
    /// Whether the user proved they own the address.
    pub is_verified: bool,
    /// When the user registered.
    pub created_at: OffsetDateTime,
}

/// A user about to be stored; the domain picks the id and the time.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct NewUser {
    /// Identifier for the new user.
    pub id: UserId,
    /// Normalised email address.
    pub email: Email,
    /// Argon2id hash of the password.
    pub password_hash: PasswordHash,
    /// Registration time.
    pub created_at: OffsetDateTime,
}

impl From<NewUser> for User {
    fn from(new: NewUser) -> Self {
        Self {
            id: new.id,
            email: new.email,
            password_hash: new.password_hash,
            is_verified: false,
            is_disabled: false,
            created_at: new.created_at,
        }
    }
}

/// The fields of a user to change; `None` leaves a field as it is.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct UserChanges {
    /// A new email address; must not belong to another user.
    pub email: Option<Email>,
    /// A new password hash (a password change, or a re-hash with new parameters).
    pub password_hash: Option<PasswordHash>,
    /// A new verification state.
    pub is_verified: Option<bool>,
    /// Disables (`true`) or enables (`false`) the account.
    pub is_disabled: Option<bool>,
}

impl UserChanges {
    /// Applies these changes to `user`.
    pub fn apply_to(self, user: &mut User) {
        if let Some(email) = self.email {
            user.email = email;
        }
        if let Some(hash) = self.password_hash {
            user.password_hash = hash;
        }
        if let Some(verified) = self.is_verified {
            user.is_verified = verified;
        }
        if let Some(disabled) = self.is_disabled {
            user.is_disabled = disabled;
        }
    }
}

/// What is known of the client that opened a session.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct SessionMetadata {
    /// The client's IP address, as the service determined it.
    pub ip: Option<IpAddr>,
    /// The client's `User-Agent`, cut to [`SessionMetadata::USER_AGENT_MAX_CHARS`].
    pub user_agent: Option<String>,
}

impl SessionMetadata {
    /// The longest user agent kept, in characters; longer ones are cut.
    pub const USER_AGENT_MAX_CHARS: usize = 256;

    /// Metadata with the user agent cut to its cap.
    pub fn new(ip: Option<IpAddr>, user_agent: Option<&str>) -> Self {
        Self { ip, user_agent: user_agent.map(|ua| ua.chars().take(Self::USER_AGENT_MAX_CHARS).collect()) }
    }
}

/// A login session as stored.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Session {
    /// Public identifier for listing and revoking.
    pub id: SessionId,
    /// SHA-256 of the token the client holds; the store's lookup key.
    pub token_hash: SessionTokenHash,
    /// Whose session it is.
    pub user_id: UserId,
    /// When the session was opened.
    pub created_at: OffsetDateTime,
    /// When the session was last recorded as used.
    pub last_seen_at: OffsetDateTime,
    /// When the session ends unless it is used again (the sliding window).
    pub idle_expires_at: OffsetDateTime,
    /// When the session ends however much it is used.
    pub absolute_expires_at: OffsetDateTime,
    /// Who opened it.
    pub metadata: SessionMetadata,
    /// What the session keeps of its user; `None` in sessions written before
    /// sessions kept one (their user is looked up instead).
    pub user: Option<UserSnapshot>,
}

impl Session {
    /// The instant the session ends if nothing more happens: the earlier of its two expiries.
    pub fn expires_at(&self) -> OffsetDateTime {
        self.idle_expires_at.min(self.absolute_expires_at)
    }

    /// Whether the session is still valid at `now`; it is not at or after [`Session::expires_at`].
    pub fn is_live_at(&self, now: OffsetDateTime) -> bool {
        now < self.expires_at()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn password_hash_debug_is_redacted() {
        let hash = PasswordHash::new("$argon2id$v=19$m=19456,t=2,p=1$c2FsdA$aGFzaA");
        assert_eq!(format!("{hash:?}"), "PasswordHash([redacted])");
    }

    #[test]
    fn user_agent_is_cut_on_a_character_boundary() {
        let long = "é".repeat(SessionMetadata::USER_AGENT_MAX_CHARS + 10);
        let metadata = SessionMetadata::new(None, Some(&long));
        let kept = metadata.user_agent.unwrap();
        assert_eq!(kept.chars().count(), SessionMetadata::USER_AGENT_MAX_CHARS);
    }
}
