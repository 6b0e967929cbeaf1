//! Prometheus metrics: request latency per route, auth outcomes.

use std::{sync::OnceLock, time::Instant};

use axum::{
    extract::{MatchedPath, Request},
    http::{Method, header},
    middleware::Next,
    response::{IntoResponse, Response},
};
use metrics_exporter_prometheus::{PrometheusBuilder, PrometheusHandle};
use sesame_core::AuthError;

/// The process-wide recorder, installed on first use.
fn handle() -> &'static PrometheusHandle {
    static HANDLE: OnceLock<PrometheusHandle> = OnceLock::new();
    HANDLE.get_or_init(|| {
        let recorder = PrometheusBuilder::new()
            .set_buckets(&[0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0])
            .expect("the bucket list is not empty")
            .build_recorder();
        let handle = recorder.handle();
        // Fails only if another recorder was installed first, e.g. by an embedding
        // application; its metrics then go there and /metrics shows ours as empty.
        let _ = metrics::set_global_recorder(recorder);
        handle
    })
}

/// Installs the recorder; call once at start-up so the first request is not slower.
pub fn install() {
    handle();
}

/// `GET /metrics`: the Prometheus text format.
pub(crate) fn render() -> Response {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4")], handle().render()).into_response()
}

/// Middleware: counts requests and records their latency per route pattern
/// (`/api/auth/sessions/{id}`, never the concrete path) and status.
pub async fn track(request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", MatchedPath::as_str).to_owned();
    // Bounded labels: a made-up method must not make a new time series.
    let method = match *request.method() {
        Method::GET => "GET",
        Method::POST => "POST",
        Method::PUT => "PUT",
        Method::PATCH => "PATCH",
        Method::DELETE => "DELETE",
        Method::HEAD => "HEAD",
        Method::OPTIONS => "OPTIONS",
        _ => "other",
    };
    let started = Instant::now();
    let response = next.run(request).await;
    let labels = [("method", method.to_owned()), ("route", route), ("status", response.status().as_u16().to_string())];
    metrics::counter!("sesame_http_requests_total", &labels).increment(1);
    metrics::histogram!("sesame_http_request_duration_seconds", &labels).record(started.elapsed().as_secs_f64());
    response
}

/// Counts the outcome of a register or login.
pub(crate) fn record_auth_outcome<T>(action: &'static str, result: &Result<T, AuthError>) {
    let outcome = match result {
        Ok(_) => "success",
        Err(AuthError::InvalidCredentials) => "invalid_credentials",
        Err(AuthError::EmailTaken) => "email_taken",
        Err(AuthError::InvalidEmail(_) | AuthError::WeakPassword(_)) => "invalid_input",
        Err(_) => "error",
    };
    metrics::counter!("sesame_auth_outcomes_total", "action" => action, "outcome" => outcome).increment(1);
}
