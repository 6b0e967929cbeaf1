//! Stores over stores: sesame's tiered session store, and the store a service
//! uses while it moves its sessions from one store to another
//! ([`MigratingSessionStore`]).
//!
//! The tiered store is a [`SessionStore`](sesame_ports::SessionStore)
//! over two others — a durable tier that is the source of truth (PostgreSQL) and
//! a cache tier in front of it (Redis) — in the manner of Django's `cached_db`
//! backend and Keycloak's persistent user sessions.
//!
//! Writes reach the durable tier first, then the cache; reads hit the cache and,
//! on a miss, the durable tier, refilling the cache (on a cache failure, the
//! durable tier alone, until the cache is reconciled). Listing
//! and revoke-all answer from the durable tier, so nothing the cache evicted or
//! lost can hide a session from them. How faults are survived is in
//! [`TieredSessionStore`]'s docs and docs/reliability.md.
//!
//! Depends on `sesame-ports` only: it sees its tiers through the
//! [`DurableSessionStore`](sesame_ports::DurableSessionStore) and
//! [`SessionCache`](sesame_ports::SessionCache) ports.

mod migrating;
mod misses;
mod outbox;
mod tiered;

pub use migrating::MigratingSessionStore;
pub use tiered::{TieredSessionStore, TieredSettings};

/// The backend name the tiered store reports in errors, metrics and readiness.
pub const BACKEND: &str = "tiered";
