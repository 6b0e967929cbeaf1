//! In-memory users, sessions and rate-limit counts: sesame's zero-configuration default.
//!
//! Both stores are thread-safe and lose everything when the process ends, which is
//! what a demo, a test or a single developer wants and what production must never
//! use (the factory refuses it there). Depends on `sesame-ports` only.

mod limits;
mod paging;
mod sessions;
mod users;

pub use limits::InMemoryRateLimiter;
pub use sessions::InMemorySessionStore;
pub use users::InMemoryUserRepository;

/// The backend name this adapter reports in errors and metrics.
pub const BACKEND: &str = "memory";
