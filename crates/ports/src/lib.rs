//! sesame's ports: the boundary between the domain and the stores.
//!
//! This crate owns the data that crosses a port — validated value types such as
//! [`Email`], [`UserId`] and [`SessionId`], records such as [`User`] and
//! [`Session`] — and the traits every adapter implements: [`UserRepository`],
//! [`SessionStore`], [`RateLimiter`], [`AuditSink`] and [`Clock`], plus the two that a tiered session store needs
//! from its tiers, [`DurableSessionStore`] and [`SessionCache`]. It depends on no other
//! workspace crate, so an adapter team needs nothing but this crate. Every
//! store can also be read whole and written from another's export
//! ([`SessionStore::export`], [`SessionStore::import`] and the same on
//! [`UserRepository`]), in one portable format ([`PortableRecord`]: JSON Lines,
//! versioned).
//!
//! Features:
//! - `mock`: [`mockall`](https://docs.rs/mockall) mocks of every port
//!   (`MockUserRepository`, `MockSessionStore`, `MockClock`); only dev-dependencies
//!   turn it on, so mocks never reach a release build.
//! - `testkit`: the contract test kit ([`testkit`]) that every adapter runs
//!   against itself with [`user_repository_contract!`] and [`session_store_contract!`].

mod audit;
mod clock;
mod email;
mod error;
mod export;
mod ids;
mod portable;
mod rate_limiter;
mod records;
mod session_store;
mod tiers;
mod user_repository;

#[cfg(feature = "testkit")]
pub mod testkit;

pub use audit::{Actor, AuditEvent, AuditRecord, AuditSink};
pub use clock::{Clock, ManualClock, SystemClock};
pub use email::{Email, EmailError};
pub use error::{BoxError, PortError};
pub use export::{ExportCursor, ExportPage, Imported};
pub use ids::{ParseIdError, SessionId, SessionTokenHash, UserId};
pub use portable::{FORMAT_VERSION, PortableError, PortableRecord, PortableSession, PortableSnapshot, PortableUser};
pub use rate_limiter::{RateLimit, RateLimiter, Verdict};
pub use records::{NewUser, PasswordHash, Session, SessionMetadata, User, UserChanges, UserSnapshot};
pub use session_store::SessionStore;
pub use tiers::{Cached, DurableSessionStore, SessionCache, Touch};
pub use user_repository::UserRepository;

#[cfg(feature = "mock")]
pub use audit::MockAuditSink;
#[cfg(feature = "mock")]
pub use clock::MockClock;
#[cfg(feature = "mock")]
pub use rate_limiter::MockRateLimiter;
#[cfg(feature = "mock")]
pub use session_store::MockSessionStore;
#[cfg(feature = "mock")]
pub use user_repository::MockUserRepository;
