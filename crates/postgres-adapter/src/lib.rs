//! sesame's PostgreSQL adapter: users in a `users` table, through sqlx.
//!
//! [`PostgresUserRepository`] implements `UserRepository`. Migrations are embedded
//! ([`PostgresUserRepository::migrate`]); the email's case-insensitive unique
//! index turns a duplicate into `PortError::EmailTaken` here, in the adapter.
//! Queries are checked at run time, not compile time (docs/architecture.md says
//! why). Depends on `sesame-ports` only.

mod settings;
mod users;

pub use settings::{PostgresError, PostgresSettings};
pub use users::PostgresUserRepository;

/// The backend name this adapter reports in errors and metrics.
pub const BACKEND: &str = "postgres";
