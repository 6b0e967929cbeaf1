//! Logging: tracing subscribers, a span per request that carries its request id,
//! and the access line, on its own target so operators can turn it off
//! (`SESAME__LOG__FILTER=info,sesame::access=off`).

use std::time::Duration;

use axum::{
    body::Body,
    http::{Request, Response},
    middleware::Next,
};
use sesame_factory::{LogFormat, LogSettings};
use tracing::Span;
use tracing_subscriber::{EnvFilter, fmt, prelude::*};

/// The header that carries the request id, set here when the client sent none.
pub const REQUEST_ID_HEADER: &str = "x-request-id";

/// Installs the global subscriber: `RUST_LOG` if set, else the configured filter;
/// JSON lines or text as configured. Calling it twice is harmless.
pub fn init(settings: &LogSettings) {
    let filter = EnvFilter::try_from_default_env().unwrap_or_else(|_| EnvFilter::new(&settings.filter));
    let registry = tracing_subscriber::registry().with(filter);
    let _ = match settings.format {
        LogFormat::Json => registry.with(fmt::layer().json().flatten_event(true)).try_init(),
        LogFormat::Text => registry.with(fmt::layer()).try_init(),
    };
}

/// The longest request id accepted from a client.
const REQUEST_ID_MAX_LEN: usize = 64;

/// Middleware: drops a client's `x-request-id` unless it is short and made of
/// letters, digits, `.`, `_` and `-`, so that a made-up id replaces it: a
/// client's id reaches every log line, and must not forge one.
pub async fn drop_unsafe_request_id(mut request: Request<Body>, next: Next) -> axum::response::Response {
    let headers = request.headers_mut();
    if headers.get_all(REQUEST_ID_HEADER).iter().count() > 1
        || headers.get(REQUEST_ID_HEADER).is_some_and(|value| !is_safe_request_id(value.as_bytes()))
    {
        headers.remove(REQUEST_ID_HEADER);
    }
    next.run(request).await
}

/// Whether a client's request id may be kept: 1 to 64 letters, digits, `.`,
/// `_` or `-`.
pub fn is_safe_request_id(value: &[u8]) -> bool {
    !value.is_empty()
        && value.len() <= REQUEST_ID_MAX_LEN
        && value.iter().all(|byte| byte.is_ascii_alphanumeric() || b"._-".contains(byte))
}

/// The log target of the one line per request.
pub const ACCESS_TARGET: &str = "sesame::access";

/// The access line of one request: its status and latency (method, path and
/// request id come from the request's span).
pub fn access_line<B>(response: &Response<B>, latency: Duration, _span: &Span) {
    tracing::info!(target: ACCESS_TARGET, status = response.status().as_u16(), latency_ms = latency.as_millis(), "served");
}

/// The span of one request: method, path and request id, never headers (they hold cookies).
pub fn request_span(request: &Request<Body>) -> Span {
    let request_id = request.headers().get(REQUEST_ID_HEADER).and_then(|value| value.to_str().ok()).unwrap_or("-");
    tracing::info_span!("request", method = %request.method(), path = %request.uri().path(), request_id = %request_id)
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn a_kept_request_id_can_forge_nothing(value in proptest::collection::vec(any::<u8>(), 0..100)) {
            if is_safe_request_id(&value) {
                prop_assert!((1..=REQUEST_ID_MAX_LEN).contains(&value.len()));
                let forging: &[u8] = b"\"\\=;:{} ";
                prop_assert!(value.iter().all(|b| b.is_ascii_graphic() && !forging.contains(b)));
            }
        }

        #[test]
        fn every_short_id_of_the_safe_alphabet_is_kept(value in "[A-Za-z0-9._-]{1,64}") {
            prop_assert!(is_safe_request_id(value.as_bytes()));
        }
    }
}
