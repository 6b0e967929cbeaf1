//! The portable record format: users and sessions as one JSON object per line
//! (JSON Lines), the same whichever store wrote them, so that any store's
//! export is any store's import.
//!
//! Each line says what it is (`"kind": "user"` or `"session"`) and which
//! version of the format it follows (`"version": 1`); a reader takes lines of
//! any version up to its own and ignores fields it does not know, so a newer
//! writer may add fields without breaking an older reader.
//!
//! A session line carries its token's SHA-256 (hex), never a token: an export
//! gives nobody a usable session. A user line carries the password hash: an
//! export of users is as secret as the database it came from.
//!
//! ```json
//! {"kind":"session","version":1,"tokenHash":"9f86…","id":"…","userId":"…","createdAt":"2026-11-30T16:42:24Z","lastSeenAt":"…","idleExpiresAt":"…","absoluteExpiresAt":"…","ip":"203.0.113.7","userAgent":"…","user":{"email":"ada@example.com","isVerified":false,"createdAt":"…"}}
//! {"kind":"user","version":1,"id":"…","email":"ada@example.com","passwordHash":"$argon2id$…","isVerified":false,"isDisabled":false,"createdAt":"…"}
//! ```

use std::{fmt, net::IpAddr};

use serde::{Deserialize, Serialize};
use time::OffsetDateTime;

use crate::{Email, PasswordHash, Session, SessionId, SessionMetadata, SessionTokenHash, User, UserId, UserSnapshot};

/// The format version this build writes, and the newest it reads.
pub const FORMAT_VERSION: u32 = 1;

/// One line of an export.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(tag = "kind", rename_all = "lowercase")]
pub enum PortableRecord {
    /// A user.
    User(PortableUser),
    /// A session.
    Session(PortableSession),
}

/// A user as the portable format writes it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortableUser {
    /// The format version the line follows.
    pub version: u32,
    /// The user's id.
    pub id: UserId,
    /// The normalised email address.
    pub email: String,
    /// The password hash, a PHC string.
    pub password_hash: String,
    /// Whether the user proved they own the address.
    pub is_verified: bool,
    /// Whether an operator disabled the account; `false` when absent.
    #[serde(default)]
    pub is_disabled: bool,
    /// When the user registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// A session as the portable format writes it.
#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortableSession {
    /// The format version the line follows.
    pub version: u32,
    /// SHA-256 of the session's token, 64 hex digits.
    pub token_hash: String,
    /// The session's public id.
    pub id: SessionId,
    /// Whose session it is.
    pub user_id: UserId,
    /// When it was opened.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
    /// When it was last recorded as used.
    #[serde(with = "time::serde::rfc3339")]
    pub last_seen_at: OffsetDateTime,
    /// When it ends unless it is used again.
    #[serde(with = "time::serde::rfc3339")]
    pub idle_expires_at: OffsetDateTime,
    /// When it ends however much it is used.
    #[serde(with = "time::serde::rfc3339")]
    pub absolute_expires_at: OffsetDateTime,
    /// The client's address when the session was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<IpAddr>,
    /// The client's user agent when the session was opened.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user_agent: Option<String>,
    /// What the session keeps of its user.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub user: Option<PortableSnapshot>,
}

/// What a session keeps of its user, as the portable format writes it.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PortableSnapshot {
    /// The user's normalised email address.
    pub email: String,
    /// Whether the user proved they own the address.
    pub is_verified: bool,
    /// When the user registered.
    #[serde(with = "time::serde::rfc3339")]
    pub created_at: OffsetDateTime,
}

/// Why a portable record cannot be read into a store's record.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
pub enum PortableError {
    /// The line follows a newer version of the format than this build reads.
    #[error("format version {0} is newer than this sesame reads ({FORMAT_VERSION}); upgrade sesame to import it")]
    NewerVersion(u32),
    /// A field holds a value the store's records cannot hold.
    #[error("{field} is not valid: {reason}")]
    Invalid {
        /// The field, as the format names it.
        field: &'static str,
        /// Why.
        reason: String,
    },
}

fn check_version(version: u32) -> Result<(), PortableError> {
    if version > FORMAT_VERSION { Err(PortableError::NewerVersion(version)) } else { Ok(()) }
}

fn email(field: &'static str, text: &str) -> Result<Email, PortableError> {
    Email::parse(text).map_err(|err| PortableError::Invalid { field, reason: err.to_string() })
}

impl From<&User> for PortableUser {
    fn from(user: &User) -> Self {
        Self {
            version: FORMAT_VERSION,
            id: user.id,
            email: user.email.as_ref().to_owned(),
            password_hash: user.password_hash.expose().to_owned(),
            is_verified: user.is_verified,
            is_disabled: user.is_disabled,
            created_at: user.created_at,
        }
    }
}

impl TryFrom<PortableUser> for User {
    type Error = PortableError;

    fn try_from(user: PortableUser) -> Result<Self, PortableError> {
        check_version(user.version)?;
        if user.password_hash.is_empty() {
            return Err(PortableError::Invalid { field: "passwordHash", reason: "it is empty".into() });
        }
        Ok(Self {
            id: user.id,
            email: email("email", &user.email)?,
            password_hash: PasswordHash::new(user.password_hash),
            is_verified: user.is_verified,
            is_disabled: user.is_disabled,
            created_at: user.created_at,
        })
    }
}

impl From<&Session> for PortableSession {
    fn from(session: &Session) -> Self {
        Self {
            version: FORMAT_VERSION,
            token_hash: session.token_hash.to_hex(),
            id: session.id,
            user_id: session.user_id,
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            idle_expires_at: session.idle_expires_at,
            absolute_expires_at: session.absolute_expires_at,
            ip: session.metadata.ip,
            user_agent: session.metadata.user_agent.clone(),
            user: session.user.as_ref().map(|user| PortableSnapshot {
                email: user.email.as_ref().to_owned(),
                is_verified: user.is_verified,
                created_at: user.created_at,
            }),
        }
    }
}

impl TryFrom<PortableSession> for Session {
    type Error = PortableError;

    fn try_from(session: PortableSession) -> Result<Self, PortableError> {
        check_version(session.version)?;
        let token_hash = SessionTokenHash::from_hex(&session.token_hash)
            .ok_or(PortableError::Invalid { field: "tokenHash", reason: "it is not 64 hex digits".into() })?;
        let user = match session.user {
            Some(user) => Some(UserSnapshot {
                email: email("user.email", &user.email)?,
                is_verified: user.is_verified,
                created_at: user.created_at,
            }),
            None => None,
        };
        Ok(Self {
            id: session.id,
            token_hash,
            user_id: session.user_id,
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            idle_expires_at: session.idle_expires_at,
            absolute_expires_at: session.absolute_expires_at,
            metadata: SessionMetadata::new(session.ip, session.user_agent.as_deref()),
            user,
        })
    }
}

impl fmt::Debug for PortableUser {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortableUser")
            .field("version", &self.version)
            .field("id", &self.id)
            .field("password_hash", &"[redacted]")
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PortableSession {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("PortableSession")
            .field("version", &self.version)
            .field("id", &self.id)
            .field("user_id", &self.user_id)
            .finish_non_exhaustive()
    }
}

impl fmt::Debug for PortableRecord {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        match self {
            Self::User(user) => user.fmt(f),
            Self::Session(session) => session.fmt(f),
        }
    }
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn session() -> Session {
        let at = datetime!(2026-11-30 16:42:24.123456 UTC);
        Session {
            id: SessionId::random(),
            token_hash: SessionTokenHash::from_bytes([7; 32]),
            user_id: UserId::random(),
            created_at: at,
            last_seen_at: at,
            idle_expires_at: at + time::Duration::minutes(30),
            absolute_expires_at: at + time::Duration::hours(12),
            metadata: SessionMetadata::new(Some("203.0.113.7".parse().unwrap()), Some("Firefox")),
            user: Some(UserSnapshot {
                email: Email::parse("ada@example.com").unwrap(),
                is_verified: false,
                created_at: at - time::Duration::days(1),
            }),
        }
    }

    fn line(record: &PortableRecord) -> String {
        serde_json::to_string(record).unwrap()
    }

    fn read(line: &str) -> PortableRecord {
        serde_json::from_str(line).unwrap()
    }

    #[test]
    fn a_session_goes_through_a_line_unchanged_and_without_a_token() {
        let session = session();
        let text = line(&PortableRecord::Session(PortableSession::from(&session)));
        assert!(text.starts_with(r#"{"kind":"session","version":1,"tokenHash":""#), "{text}");
        assert!(text.contains(&session.token_hash.to_hex()));
        let PortableRecord::Session(read) = read(&text) else { panic!("a session: {text}") };
        assert_eq!(Session::try_from(read).unwrap(), session);
    }

    #[test]
    fn a_user_goes_through_a_line_unchanged() {
        let user = User {
            id: UserId::random(),
            email: Email::parse("ada@example.com").unwrap(),
            password_hash: PasswordHash::new("$2b$12$abcdefghijklmnopqrstuuABCDEFGHIJKLMNOPQRSTUVWXYZ01234"),
            is_verified: true,
            is_disabled: false,
            created_at: datetime!(2026-11-29 10:00 UTC),
        };
        let text = line(&PortableRecord::User(PortableUser::from(&user)));
        let PortableRecord::User(read) = read(&text) else { panic!("a user: {text}") };
        assert!(!format!("{read:?}").contains("$2b$"), "Debug hides the hash");
        assert_eq!(User::try_from(read).unwrap(), user);
    }

    #[test]
    fn unknown_fields_are_ignored_and_newer_versions_refused() {
        let session = session();
        let mut value = serde_json::to_value(PortableRecord::Session(PortableSession::from(&session))).unwrap();
        value["addedLater"] = serde_json::json!({"any": "thing"});
        let PortableRecord::Session(read) = serde_json::from_value(value.clone()).unwrap() else { panic!() };
        assert_eq!(Session::try_from(read).unwrap(), session);

        value["version"] = serde_json::json!(FORMAT_VERSION + 1);
        let PortableRecord::Session(newer) = serde_json::from_value(value).unwrap() else { panic!() };
        let err = Session::try_from(newer).unwrap_err();
        assert_eq!(err, PortableError::NewerVersion(FORMAT_VERSION + 1));
        assert!(err.to_string().contains("upgrade sesame"), "{err}");
    }

    #[test]
    fn a_malformed_hash_or_email_is_named() {
        let session = session();
        let mut portable = PortableSession::from(&session);
        portable.token_hash = "abc".into();
        assert!(matches!(Session::try_from(portable), Err(PortableError::Invalid { field: "tokenHash", .. })));
        let mut portable = PortableSession::from(&session);
        portable.user.as_mut().unwrap().email = "not an email".into();
        assert!(matches!(Session::try_from(portable), Err(PortableError::Invalid { field: "user.email", .. })));
    }
}
