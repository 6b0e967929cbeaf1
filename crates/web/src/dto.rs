//! The JSON shapes of the API (camelCase), built from domain records.

use serde::{Deserialize, Serialize};
use sesame_core::ports::{Email, Session, SessionId, User, UserId, UserSnapshot};
use time::OffsetDateTime;

/// `{email, password}`, the body of register and login. No `Debug`: it holds a password.
#[derive(Deserialize)]
pub struct Credentials {
    /// As typed; the domain trims and validates it.
    pub email: String,
    /// As typed.
    pub password: String,
}

/// `{currentPassword, newPassword}`, the body of a password change. No `Debug`.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct PasswordChange {
    /// The password now in force.
    pub current_password: String,
    /// The password to replace it.
    pub new_password: String,
}

/// `{password}`, the body of an account deletion. No `Debug`.
#[derive(Deserialize)]
pub struct PasswordConfirmation {
    /// The account's password.
    pub password: String,
}

/// `user` in a response.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    id: UserId,
    email: Email,
    is_verified: bool,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
}

impl UserBody {
    /// The user `id`, as its snapshot shows it.
    pub fn new(id: UserId, user: &UserSnapshot) -> Self {
        Self { id, email: user.email.clone(), is_verified: user.is_verified, created_at: user.created_at }
    }
}

impl From<&User> for UserBody {
    fn from(user: &User) -> Self {
        Self::new(user.id, &user.snapshot())
    }
}

/// A session in a response: never its token, never its hash.
#[derive(Debug, Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SessionBody {
    id: SessionId,
    #[serde(with = "time::serde::rfc3339")]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    last_seen_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    expires_at: OffsetDateTime,
    ip: Option<String>,
    user_agent: Option<String>,
    current: bool,
}

impl SessionBody {
    /// `session` as shown to its owner; `current` when it is the one making the request.
    pub fn new(session: &Session, current: SessionId) -> Self {
        Self {
            id: session.id,
            created_at: session.created_at,
            last_seen_at: session.last_seen_at,
            expires_at: session.expires_at(),
            ip: session.metadata.ip.map(|ip| ip.to_string()),
            user_agent: session.metadata.user_agent.clone(),
            current: session.id == current,
        }
    }
}

/// `{user}`: register and login.
#[derive(Debug, Serialize)]
pub struct UserResponse {
    /// The user.
    pub user: UserBody,
}

/// `{user, session}`: who is asking, and with which session.
#[derive(Debug, Serialize)]
pub struct MeResponse {
    /// The user.
    pub user: UserBody,
    /// The session making the request.
    pub session: SessionBody,
}

/// `{sessions}`: the caller's live sessions.
#[derive(Debug, Serialize)]
pub struct SessionsResponse {
    /// Oldest first.
    pub sessions: Vec<SessionBody>,
}
