//! sesame's domain: its rules and use cases, and nothing that does I/O.
//!
//! Rules: what an email and a password must be ([`Password`]), how session tokens
//! are made and hashed ([`SessionToken`]), how long sessions live
//! ([`SessionPolicy`]), and how passwords are hashed ([`PasswordHasher`];
//! imported bcrypt, scrypt and PBKDF2 hashes verify too, and are replaced by
//! argon2id at the next login). Use
//! cases: [`AuthService`] — register, login, authenticate, logout, logout
//! everywhere, list sessions, revoke one. Policy over them: the rate limits
//! ([`Limits`], counted through the `RateLimiter` port, refusals recorded
//! through the `AuditSink` port). The application layer ([`Application`])
//! decides each operation a client asks for whole — limits, use case, audit
//! event, outcome metric — for every driving adapter alike.
//!
//! This crate depends on `sesame-ports` only: no sqlx, redis, axum or network I/O.
//! tokio is used for `spawn_blocking` and a semaphore, nothing else.

mod application;
mod error;
mod legacy_hash;
mod limits;
mod operator;
mod password;
mod policy;
mod service;
mod token;

pub use application::Application;
pub use error::AuthError;
pub use limits::{Account, Client, Limit, Limits, RateLimits};
pub use password::{Candidate, Credentials, HashError, HasherStats, Password, PasswordError, PasswordHasher};
pub use policy::{Expiry, SessionPolicy};
pub use service::{AuthService, LoggedIn};
pub use token::SessionToken;

/// The ports, re-exported so that the web layer needs no direct dependency on them.
pub use sesame_ports as ports;
