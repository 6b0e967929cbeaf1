//! The router: every route of the API, and what answers when none matches.

mod auth;
mod health;

use std::sync::Arc;

use axum::{
    Router,
    extract::{DefaultBodyLimit, Request},
    http::header,
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{AppState, error::ApiError, lifecycle::Lifecycle};

/// The largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Every route, with problem answers for unknown routes and methods;
/// `/metrics` only when `serve_metrics`.
pub fn router(state: AppState, serve_metrics: bool) -> Router {
    Router::new()
        .merge(auth::router())
        .merge(health::router(serve_metrics))
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
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

/// Middleware: refuses, before any body is read, a request whose
/// `Content-Length` is over [`MAX_BODY_BYTES`] (413; with `Expect:
/// 100-continue` the client is never told to go on) and one that expects
/// anything but `100-continue` (417). Bodies without a length are cut off at
/// the limit as they are read.
pub async fn refuse_oversize_bodies(request: Request, next: Next) -> Response {
    let headers = request.headers();
    let length = headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if length.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return ApiError::PayloadTooLarge.into_response();
    }
    if headers.get(header::EXPECT).is_some_and(|expect| !expect.as_bytes().eq_ignore_ascii_case(b"100-continue")) {
        return ApiError::ExpectationFailed.into_response();
    }
    next.run(request).await
}
