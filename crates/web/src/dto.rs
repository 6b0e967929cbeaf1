//! The JSON shapes of the API (camelCase), built from domain records.

use serde::{Deserialize, Serialize};
use sesame_core::ports::{Email, Session, SessionId, User, UserId, UserSnapshot};
use time::OffsetDateTime;
use utoipa::ToSchema;

/// `{email, password}`, the body of register and login. No `Debug`: it holds a password.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"email": "ada@example.com", "password": "correct horse battery staple"}))]
pub struct Credentials {
    /// As typed; the domain trims and validates it.
    #[schema(format = Email, max_length = 254)]
    pub email: String,
    /// As typed: 8 to 128 characters, not a common password.
    #[schema(min_length = 8, max_length = 128)]
    pub password: String,
}

/// `{currentPassword, newPassword}`, the body of a password change. No `Debug`.
#[derive(Deserialize, ToSchema)]
#[serde(rename_all = "camelCase")]
#[schema(example = json!({"currentPassword": "correct horse battery staple", "newPassword": "a new and longer passphrase"}))]
pub struct PasswordChange {
    /// The password now in force.
    pub current_password: String,
    /// The password to replace it: 8 to 128 characters, not a common password.
    #[schema(min_length = 8, max_length = 128)]
    pub new_password: String,
}

/// `{password}`, the body of an account deletion. No `Debug`.
#[derive(Deserialize, ToSchema)]
#[schema(example = json!({"password": "correct horse battery staple"}))]
pub struct PasswordConfirmation {
    /// The account's password.
    pub password: String,
}

/// `user` in a response.
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct UserBody {
    #[schema(value_type = String, format = "uuid")]
    id: UserId,
    #[schema(value_type = String, format = Email)]
    email: Email,
    is_verified: bool,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
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
#[derive(Debug, Serialize, ToSchema)]
#[serde(rename_all = "camelCase")]
pub struct SessionBody {
    /// The session's public id, for `DELETE /api/auth/sessions/{id}`.
    #[schema(value_type = String, format = "uuid")]
    id: SessionId,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    created_at: OffsetDateTime,
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    last_seen_at: OffsetDateTime,
    /// When it ends unless used again (at most its absolute expiry).
    #[serde(with = "time::serde::rfc3339")]
    #[schema(value_type = String, format = DateTime)]
    expires_at: OffsetDateTime,
    /// The client's address when the session opened.
    ip: Option<String>,
    /// The client's `User-Agent` when the session opened.
    user_agent: Option<String>,
    /// Whether it is the session making the request.
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
#[derive(Debug, Serialize, ToSchema)]
pub struct UserResponse {
    /// The user.
    pub user: UserBody,
}

/// `{user, session}`: who is asking, and with which session.
#[derive(Debug, Serialize, ToSchema)]
pub struct MeResponse {
    /// The user.
    pub user: UserBody,
    /// The session making the request.
    pub session: SessionBody,
}

/// `{sessions}`: the caller's live sessions.
#[derive(Debug, Serialize, ToSchema)]
pub struct SessionsResponse {
    /// Oldest first.
    pub sessions: Vec<SessionBody>,
}
