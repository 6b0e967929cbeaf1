//! Turns configuration into adapters: sesame's only place that knows which store
//! backs which port in which environment.
//!
//! [`Environment`] comes from `SESSION_ENVIRONMENT` (mock when unset);
//! [`Settings`] are layered from built-in defaults, then `.env.{environment}`, then
//! the process environment; [`build`] returns the adapters as `Arc<dyn …>`.
//! Depends on `sesame-ports` and the adapter crates, never on the domain or the web
//! layer.

mod build;
mod catalog;
mod environment;
mod health;
mod located;
mod origin;
mod provenance;
mod settings;
mod upkeep;

pub use build::{Adapters, FactoryError, build, migrate, redact_url};
pub use catalog::{variable, variables};
pub use environment::{Environment, EnvironmentError};
pub use health::{Health, HealthReport, StoreHealth, StoreStatus};
pub use ipnet::IpNet;
pub use located::StoreLocation;
pub use origin::Origin;
pub use provenance::{SettingLine, Source, explain, explain_process_env};
/// The guard around every store the factory builds (timeout, breaker, retry,
/// per-call metrics), for ports composed elsewhere.
pub use sesame_guard::{Guard, GuardSettings};
pub use settings::{
    AccountSettings, CookieSettings, HttpSettings, LOGO_MAX_BYTES, LogFormat, LogSettings, PasswordSettings,
    PostgresTuning, RateLimitSettings, RedisTuning, SessionBackend, SessionSettings, Settings, SettingsError,
    StoreSettings, UserBackend, logo_content_type,
};
pub use upkeep::Upkeep;
