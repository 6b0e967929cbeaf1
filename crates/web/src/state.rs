//! What every handler shares.

use std::sync::Arc;

use sesame_core::{Application, AuthService};
use sesame_factory::Health;

use crate::{account::Branding, client::Proxies, cookies::SessionCookie, lifecycle::Lifecycle};

/// The state handed to every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The operations a client asks for: limits, use case, audit, metric.
    pub app: Arc<Application>,
    /// The use cases (the application's own), for what needs no decision
    /// beyond them: reading a session, listing sessions.
    pub auth: Arc<AuthService>,
    /// How the session cookie is read and written.
    pub cookie: Arc<SessionCookie>,
    /// The stores' readiness, from background probes.
    pub health: Arc<Health>,
    /// Serving or draining.
    pub lifecycle: Arc<Lifecycle>,
    /// The proxies believed about the client.
    pub proxies: Arc<Proxies>,
    /// What the account page says it belongs to.
    pub branding: Arc<Branding>,
}
