//! Probes and metrics: `/healthz`, `/readyz`, `/metrics`.

use axum::{Json, Router, extract::State, http::StatusCode, routing::get};
use serde::Serialize;
use sesame_core::AuthError;

use crate::AppState;

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/healthz", get(|| async { Json(Status { status: "ok" }) }))
        .route("/readyz", get(ready))
        .route("/metrics", get(|| async { crate::metrics::render() }))
}

#[derive(Serialize)]
struct Status {
    status: &'static str,
}

#[derive(Serialize)]
struct Readiness {
    status: &'static str,
    checks: Checks,
}

#[derive(Serialize)]
struct Checks {
    users: Check,
    sessions: Check,
}

#[derive(Serialize)]
struct Check {
    backend: &'static str,
    status: &'static str,
}

impl Check {
    fn new(backend: &'static str, result: &Result<(), AuthError>) -> Self {
        if let Err(err) = result {
            tracing::warn!(backend, error = %err, "readiness check failed");
        }
        Self { backend, status: if result.is_ok() { "up" } else { "down" } }
    }
}

/// 200 when every store answers; 503 with the status of each otherwise.
async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let (users, sessions) = state.auth.check_stores().await;
    let ready = users.is_ok() && sessions.is_ok();
    let checks =
        Checks { users: Check::new(state.backends.0, &users), sessions: Check::new(state.backends.1, &sessions) };
    let (status, word) =
        if ready { (StatusCode::OK, "ready") } else { (StatusCode::SERVICE_UNAVAILABLE, "unavailable") };
    (status, Json(Readiness { status: word, checks }))
}
