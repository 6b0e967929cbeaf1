//! The router: every route of the API, and what answers when none matches.

mod auth;
mod health;

use axum::{Router, extract::DefaultBodyLimit};

use crate::{AppState, error::ApiError};

/// The largest request body accepted; larger ones get 413.
pub const MAX_BODY_BYTES: usize = 16 * 1024;

/// Every route, with problem answers for unknown routes and methods.
pub fn router(state: AppState) -> Router {
    Router::new()
        .merge(auth::router())
        .merge(health::router())
        .fallback(|| async { ApiError::NotFound })
        .method_not_allowed_fallback(|| async { ApiError::MethodNotAllowed })
        .layer(DefaultBodyLimit::max(MAX_BODY_BYTES))
        .with_state(state)
}
