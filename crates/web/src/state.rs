//! What every handler shares.

use std::sync::Arc;

use sesame_core::AuthService;

use crate::cookies::SessionCookie;

/// The state handed to every handler; cheap to clone.
#[derive(Clone)]
pub struct AppState {
    /// The use cases.
    pub auth: Arc<AuthService>,
    /// How the session cookie is read and written.
    pub cookie: Arc<SessionCookie>,
    /// Backend names for readiness and metrics: `(users, sessions)`.
    pub backends: (&'static str, &'static str),
}
