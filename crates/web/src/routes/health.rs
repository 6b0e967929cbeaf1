//! Probes and metrics: `/healthz`, `/readyz`, `/metrics` (unless metrics have
//! their own listen address).
//!
//! `/readyz` answers from the stores' last background probe, at once whatever
//! the stores are doing: 503 while the service starts or drains, or when no one
//! can be authenticated (the sessions store is down); otherwise 200, `ready` or
//! `degraded`. Each store shows its kind and `up`, `degraded` or `down`.

use axum::{
    Json, Router,
    extract::State,
    http::{HeaderName, HeaderValue, StatusCode, header},
    routing::get,
};
use serde::Serialize;
use sesame_factory::{HealthReport, StoreHealth};

use crate::{AppState, lifecycle::Lifecycle};

pub(super) fn router(serve_metrics: bool) -> Router<AppState> {
    let router = Router::new().route("/healthz", get(healthz)).route("/readyz", get(ready));
    if serve_metrics { router.route("/metrics", get(|| async { crate::metrics::render() })) } else { router }
}

/// The routes a starting service answers: liveness, a 503 readiness, metrics.
pub(crate) fn starting(lifecycle: std::sync::Arc<Lifecycle>, serve_metrics: bool) -> Router {
    let router = Router::new().route("/healthz", get(healthz)).route(
        "/readyz",
        get(move || async move {
            let status = if lifecycle.is_draining() { "draining" } else { "starting" };
            (StatusCode::SERVICE_UNAVAILABLE, Json(Readiness { status, checks: None }))
        }),
    );
    if serve_metrics { router.route("/metrics", get(|| async { crate::metrics::render() })) } else { router }
}

/// `{"status":"ok"}`, written once: liveness is asked often and never changes.
#[utoipa::path(get, path = "/healthz", tag = "health",
    responses((status = 200, description = "The process answers: `{\"status\":\"ok\"}`.", content_type = "application/json")))]
pub(super) async fn healthz() -> ([(HeaderName, HeaderValue); 1], &'static str) {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], r#"{"status":"ok"}"#)
}

#[derive(Serialize)]
pub(super) struct Readiness {
    status: &'static str,
    #[serde(skip_serializing_if = "Option::is_none")]
    checks: Option<Checks>,
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

impl From<StoreHealth> for Check {
    fn from(store: StoreHealth) -> Self {
        Self { backend: store.backend, status: store.status.as_str() }
    }
}

impl From<HealthReport> for Checks {
    fn from(report: HealthReport) -> Self {
        Self { users: report.users.into(), sessions: report.sessions.into() }
    }
}

/// 200 `ready` or `degraded` while someone can be authenticated; 503 otherwise,
/// and while draining.
#[utoipa::path(get, path = "/readyz", tag = "health",
    responses(
        (status = 200, description = "`ready`, or `degraded` while one store is down but someone can still be authenticated.", content_type = "application/json"),
        (status = 503, description = "`starting`, `draining`, or no store answers.", content_type = "application/json")
    ))]
pub(super) async fn ready(State(state): State<AppState>) -> (StatusCode, Json<Readiness>) {
    let report = state.health.report();
    let (status, word) = if state.lifecycle.is_draining() {
        (StatusCode::SERVICE_UNAVAILABLE, "draining")
    } else if !report.can_authenticate() {
        (StatusCode::SERVICE_UNAVAILABLE, "unavailable")
    } else if report.all_up() {
        (StatusCode::OK, "ready")
    } else {
        (StatusCode::OK, "degraded")
    };
    (status, Json(Readiness { status: word, checks: Some(report.into()) }))
}
