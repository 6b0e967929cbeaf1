//! sesame's PostgreSQL adapter: users in a `users` table and durable sessions in
//! a `sessions` table, through sqlx.
//!
//! [`PostgresUserRepository`] implements `UserRepository`: the email's
//! case-insensitive unique index turns a duplicate into `PortError::EmailTaken`
//! here, in the adapter. [`PostgresSessionStore`] implements `SessionStore` and
//! `DurableSessionStore`, the durable tier of a tiered store. Both share one
//! [`Database`] pool; migrations are embedded ([`Database::migrate`]). Queries
//! are checked at run time, not compile time (docs/architecture.md says why).
//! Depends on `sesame-ports` only.

mod database;
mod sessions;
mod settings;
mod users;

pub use database::Database;
pub use sessions::PostgresSessionStore;
pub use settings::{PostgresError, PostgresSettings};
pub use users::PostgresUserRepository;

/// The backend name this adapter reports in errors and metrics.
pub const BACKEND: &str = "postgres";
