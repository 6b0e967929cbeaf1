//! The audit log: security events, one structured line each on the target
//! `sesame::audit`, so they can be routed, kept and filtered apart from the
//! rest (`SESAME__LOG__FILTER=info,sesame::audit=info`).
//!
//! Each event names what happened (`event`), and as far as known the user id,
//! the public session id, the client IP and the request id — never a token, a
//! password or a hash. Refusals (failed logins, rate limits, CSRF) are
//! warnings; the rest are info.

use axum::http::request::Parts;
use sesame_core::ports::{SessionId, UserId};
use tracing::field::display;

use crate::{client::Proxies, extract::Caller};

/// The log target of audit events.
pub const TARGET: &str = "sesame::audit";

/// What happened.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Event {
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

impl Event {
    /// The event's stable name in the log.
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

    fn is_refusal(self) -> bool {
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

/// Records `event` made by `caller`, with the user and session when known.
pub fn record(event: Event, caller: &Caller, user: Option<UserId>, session: Option<SessionId>) {
    let (user_id, session_id) = (user.map(display), session.map(display));
    let (ip, request_id) = (caller.ip.map(display), caller.request_id.as_deref());
    if let Event::RateLimited(limit) = event {
        tracing::warn!(target: TARGET, event = event.name(), limit, user_id, session_id, ip, request_id, "audit");
    } else if event.is_refusal() {
        tracing::warn!(target: TARGET, event = event.name(), user_id, session_id, ip, request_id, "audit");
    } else {
        tracing::info!(target: TARGET, event = event.name(), user_id, session_id, ip, request_id, "audit");
    }
}

/// Records `event`, done by an operator with the `sesame` command (`operator`
/// names them: the login name the command ran under), about `user` and, when
/// it was one, `session`; `sessions` is how many sessions it ended or removed.
pub fn record_operator(event: Event, operator: &str, user: Option<UserId>, session: Option<SessionId>, sessions: u64) {
    let (user_id, session_id) = (user.map(display), session.map(display));
    tracing::info!(target: TARGET, event = event.name(), actor = "operator", operator, user_id, session_id, sessions, "audit");
}

/// Records a CSRF rejection of the request `parts`.
pub(crate) fn csrf_rejected(proxies: &Proxies, parts: &Parts) {
    record(Event::CsrfRejected, &Caller::of(proxies, parts), None, None);
}
