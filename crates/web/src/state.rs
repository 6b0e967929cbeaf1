//! What every handler shares.

use std::sync::Arc;

use sesame_core::{AuthService, Limits, ports::AuditSink};
use sesame_factory::Health;

use crate::{account::Branding, client::Proxies, cookies::SessionCookie, lifecycle::Lifecycle};

/// The state handed to every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub auth: Arc<AuthService>,
    /// How the session cookie is read and written.
    pub cookie: Arc<SessionCookie>,
    /// The stores' readiness, from background probes.
    pub health: Arc<Health>,
    /// Serving or draining.
    pub lifecycle: Arc<Lifecycle>,
    /// The proxies believed about the client.
    pub proxies: Arc<Proxies>,
    /// Rate limits.
    pub limits: Arc<Limits>,
    /// What the account page says it belongs to.
    pub branding: Arc<Branding>,
    /// Where security events are recorded.
    pub audit: Arc<dyn AuditSink>,
}
