//! The router: every route of the API, and what answers when none matches.

mod auth;
mod health;
pub mod openapi;

use std::sync::Arc;

use axum::Router;

use crate::{AppState, error::ApiError, lifecycle::Lifecycle};

/// The largest request body accepted; larger ones get 413 (the envelope
/// refuses a larger `Content-Length`, the server cuts off a body without one).
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Every route, with problem answers for unknown routes and methods;
/// `/metrics` only when `serve_metrics`.
pub fn router(state: AppState, serve_metrics: bool) -> Router {
    Router::new()
        .merge(auth::router())
        .merge(crate::account::router())
        .merge(health::router(serve_metrics))
        .route("/api/openapi.json", axum::routing::get(openapi::openapi_json))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .with_state(state)
}

/// What a starting service answers: liveness, a 503 readiness, metrics, and
/// 503 `service_starting` for every other route.
pub fn starting(lifecycle: Arc<Lifecycle>, serve_metrics: bool) -> Router {
    health::starting(lifecycle, serve_metrics).fallback(|| async { ApiError::Starting })
}

/// `/metrics` alone, for its own listen address.
pub fn metrics_only() -> Router {
    Router::new().route("/metrics", axum::routing::get(|| async { crate::metrics::render() }))
}
