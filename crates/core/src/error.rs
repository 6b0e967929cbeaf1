//! What the use cases answer when they cannot do what was asked.

use sesame_ports::{EmailError, PortError};

use crate::password::{HashError, PasswordError};

/// The outcome of a use case that did not succeed.
///
/// The first variants are the client's doing and carry no internal detail; the
/// last two are faults of ours, whose causes are for logs only.
#[derive(Debug, thiserror::Error)]
pub enum AuthError {
    /// The email is not a valid address.
    #[error(transparent)]
    InvalidEmail(#[from] EmailError),
    /// The password breaks a rule.
    #[error(transparent)]
    WeakPassword(#[from] PasswordError),
    /// Both the email and the password of a registration break the rules.
    #[error("{0}; {1}")]
    InvalidEmailAndPassword(EmailError, PasswordError),
    /// Registration with an address that already has a user.
    #[error("email address is already taken")]
    EmailTaken,
    /// Unknown email or wrong password; which one is never said.
    #[error("invalid email or password")]
    InvalidCredentials,
    /// The credentials are right, but an operator disabled the account.
    #[error("the account is disabled")]
    AccountDisabled,
    /// No user has the email an operator named.
    #[error("no such user")]
    UserNotFound,
    /// The password given to confirm a change is not the user's.
    #[error("the password is not correct")]
    WrongPassword,
    /// No live session was presented.
    #[error("no valid session")]
    Unauthenticated,
    /// The session id is not one of the caller's live sessions.
    #[error("session not found")]
    SessionNotFound,
    /// Too many attempts of this kind from this client or for this account:
    /// a rate limit refused it; the next is allowed after the wait.
    #[error("too many attempts; the next is allowed in {0:?}")]
    RateLimited(std::time::Duration),
    /// Too many password hashes wait already; try again shortly.
    #[error("too many password hashes are waiting")]
    Busy,
    /// A store failed.
    #[error("store failure")]
    Store(#[source] PortError),
    /// Hashing or the random number generator failed.
    #[error("internal failure: {0}")]
    Internal(String),
}

impl From<PortError> for AuthError {
    fn from(err: PortError) -> Self {
        match err {
            PortError::EmailTaken => Self::EmailTaken,
            other => Self::Store(other),
        }
    }
}

impl From<HashError> for AuthError {
    fn from(err: HashError) -> Self {
        match err {
            HashError::Busy => Self::Busy,
            other => Self::Internal(other.to_string()),
        }
    }
}

impl From<getrandom::Error> for AuthError {
    fn from(err: getrandom::Error) -> Self {
        Self::Internal(format!("OS random number generator failed: {err}"))
    }
}
