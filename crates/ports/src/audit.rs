//! The audit trail's port: the security events the service records — who
//! signed in, who failed to, what an operator ended — leave through
//! [`AuditSink`], so that where they go (a log line today; mail and webhooks
//! later) is an adapter's business.

use std::net::IpAddr;

use crate::{SessionId, UserId};

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum AuditEvent {
    /// A user registered (and was logged in).
    Registered,
    /// Correct credentials; a session opened.
    LoginSucceeded,
    /// Wrong credentials.
    LoginFailed,
    /// A session ended at its owner's request.
    LoggedOut,
    /// Every session of a user ended.
    LoggedOutEverywhere,
    /// One session ended from another.
    SessionRevoked,
    /// A password changed.
    PasswordChanged,
    /// A wrong password given to confirm a password change or an account deletion.
    ConfirmationFailed,
    /// A user deleted their account.
    AccountDeleted,
    /// A request refused by a rate limit (named).
    RateLimited(&'static str),
    /// A state-changing request from a foreign origin.
    CsrfRejected,
    /// Right credentials for an account an operator disabled.
    LoginDisabled,
    /// An operator disabled a user (and so ended their sessions).
    UserDisabled,
    /// An operator enabled a user.
    UserEnabled,
    /// An operator deleted a user (and their sessions).
    UserDeleted,
    /// An operator ended one session, or every session, of a user.
    SessionsEndedByOperator,
    /// An operator removed expired sessions.
    SessionsPurged,
    /// A session imported from another system was used for the first time:
    /// its legacy token now has a sesame token in its place (the session id
    /// is the new one).
    LegacyTokenRotated,
}

impl AuditEvent {
    /// The event's stable name in the trail.
    pub fn name(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::LoginSucceeded => "login_succeeded",
            Self::LoginFailed => "login_failed",
            Self::LoggedOut => "logged_out",
            Self::LoggedOutEverywhere => "logged_out_everywhere",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::ConfirmationFailed => "password_confirmation_failed",
            Self::AccountDeleted => "account_deleted",
            Self::RateLimited(_) => "rate_limited",
            Self::CsrfRejected => "csrf_rejected",
            Self::LoginDisabled => "login_disabled",
            Self::UserDisabled => "user_disabled",
            Self::UserEnabled => "user_enabled",
            Self::UserDeleted => "user_deleted",
            Self::SessionsEndedByOperator => "sessions_ended_by_operator",
            Self::SessionsPurged => "sessions_purged",
            Self::LegacyTokenRotated => "legacy_token_rotated",
        }
    }

    /// Whether it records a refusal (a failed login, a rate limit, a foreign
    /// origin), which an operator watches more closely than the rest.
    pub fn is_refusal(self) -> bool {
        matches!(
            self,
            Self::LoginFailed
                | Self::ConfirmationFailed
                | Self::RateLimited(_)
                | Self::CsrfRejected
                | Self::LoginDisabled
        )
    }
}

/// Who did it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Actor {
    /// A client of the service, as far as it is known.
    Client {
        /// Its address.
        ip: Option<IpAddr>,
        /// The request's id.
        request_id: Option<String>,
    },
    /// An operator, with the `sesame` command.
    Operator {
        /// Their login name (or uid) on the machine the command ran on.
        name: String,
    },
}

/// One event in the trail: never a token, a password or a hash.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct AuditRecord {
    /// What happened.
    pub event: AuditEvent,
    /// Who did it.
    pub actor: Actor,
    /// The user it concerns, when known.
    pub user: Option<UserId>,
    /// The session it concerns (its public id), when there is one.
    pub session: Option<SessionId>,
    /// For an operator's command: how many sessions it ended or removed.
    pub sessions: Option<u64>,
}

/// Where audit events go. Unlike the stores' ports it is not async:
/// recording an event never waits, so that it can be done from anywhere a
/// request is refused — an adapter that must write somewhere slow queues the
/// record and returns.
#[cfg_attr(feature = "mock", mockall::automock)]
pub trait AuditSink: Send + Sync + 'static {
    /// Keeps `record`. It cannot fail the operation it records: a sink that
    /// cannot keep a record says so its own way (a log line, a metric).
    fn record(&self, record: AuditRecord);
}
