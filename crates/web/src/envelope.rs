//! What every request passes through before routing, in one middleware so that
//! it costs one layer: a body announced too large, or an `Expect` other than
//! `100-continue`, is refused unread; and every response carries the security
//! headers (no MIME sniffing, no referrer, no framing, HSTS when configured)
//! and, while the service drains, `Connection: close`.

use std::sync::Arc;

use axum::{
    extract::{Request, State},
    http::{HeaderValue, header},
    middleware::Next,
    response::{IntoResponse, Response},
};

use crate::{error::ApiError, lifecycle::Lifecycle, routes::MAX_BODY_BYTES};

/// What the envelope needs to know.
#[derive(Debug)]
pub struct Envelope {
    /// Whether the service drains.
    pub lifecycle: Arc<Lifecycle>,
    /// Every response carries `Strict-Transport-Security` (production, behind TLS).
    pub hsts: bool,
}

/// Middleware: see the module docs. A request with a `Content-Length` over
/// [`MAX_BODY_BYTES`] gets 413 (with `Expect: 100-continue` the client is never
/// told to go on), one that expects anything but `100-continue` gets 417;
/// bodies without a length are cut off at the limit as they are read.
pub async fn envelope(State(envelope): State<Arc<Envelope>>, request: Request, next: Next) -> Response {
    let mut response = match refusal(&request) {
        Some(refused) => refused.into_response(),
        None => next.run(request).await,
    };
    let headers = response.headers_mut();
    for (name, value) in [
        (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
        (header::REFERRER_POLICY, "no-referrer"),
        (header::X_FRAME_OPTIONS, "DENY"),
    ] {
        headers.entry(name).or_insert(HeaderValue::from_static(value));
    }
    if envelope.hsts {
        headers.entry(header::STRICT_TRANSPORT_SECURITY).or_insert(HeaderValue::from_static("max-age=31536000"));
    }
    if envelope.lifecycle.is_draining() {
        headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
    }
    response
}

/// Why `request` is refused before its body is read, if it is.
fn refusal(request: &Request) -> Option<ApiError> {
    let headers = request.headers();
    let length = headers.get(header::CONTENT_LENGTH).and_then(|value| value.to_str().ok()?.parse::<u64>().ok());
    if length.is_some_and(|length| length > MAX_BODY_BYTES as u64) {
        return Some(ApiError::PayloadTooLarge);
    }
    if headers.get(header::EXPECT).is_some_and(|expect| !expect.as_bytes().eq_ignore_ascii_case(b"100-continue")) {
        return Some(ApiError::ExpectationFailed);
    }
    None
}
