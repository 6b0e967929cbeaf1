//! What every request passes through before routing, as one hand-written
//! layer so that it costs one boxed future and nothing cloned per request: its
//! request id, span and log lines ([`Observed`]); a body announced too large,
//! or an `Expect` other than `100-continue`, refused unread (with a page under
//! `/account`); and on every
//! response the security headers (no MIME sniffing, no referrer, no framing,
//! HSTS when configured) and, while the service drains, `Connection: close`.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
};

use axum::{
    extract::Request,
    http::{HeaderValue, header},
    response::{IntoResponse, Response},
};
use tower::Service;
use tracing::Instrument as _;

use crate::{error::ApiError, lifecycle::Lifecycle, routes::MAX_BODY_BYTES, telemetry::Observed};

/// What the envelope needs to know.
#[derive(Debug)]
pub struct Envelope {
    /// Whether the service drains.
    pub lifecycle: Arc<Lifecycle>,
    /// Every response carries `Strict-Transport-Security` (production, behind TLS).
    pub hsts: bool,
    /// The account page's branding, for its refusal pages.
    pub branding: Arc<crate::account::Branding>,
}

impl Envelope {
    /// `inner` behind the envelope.
    pub fn around<S>(self: &Arc<Self>, inner: S) -> Enveloped<S> {
        Enveloped { inner, envelope: Arc::clone(self) }
    }
}

/// A service behind the [`Envelope`].
#[derive(Clone)]
pub struct Enveloped<S> {
    inner: S,
    envelope: Arc<Envelope>,
}

impl<S> Service<Request> for Enveloped<S>
where
    S: Service<Request, Response = Response, Error = Infallible>,
    S::Future: Send + 'static,
{
    type Response = Response;
    type Error = Infallible;
    type Future = Pin<Box<dyn Future<Output = Result<Response, Infallible>> + Send>>;

    fn poll_ready(&mut self, cx: &mut Context<'_>) -> Poll<Result<(), Infallible>> {
        self.inner.poll_ready(cx)
    }

    /// A request with a `Content-Length` over [`MAX_BODY_BYTES`] gets 413 (with
    /// `Expect: 100-continue` the client is never told to go on), one that
    /// expects anything but `100-continue` gets 417; bodies without a length
    /// are cut off at the limit as they are read (see `server`).
    fn call(&mut self, mut request: Request) -> Self::Future {
        let (observed, span) = Observed::start(&mut request);
        let envelope = Arc::clone(&self.envelope);
        let answer = match refusal(&request) {
            Some(refused) => Err((refused, crate::account::is_page(request.uri().path()))),
            None => Ok(self.inner.call(request)),
        };
        Box::pin(
            async move {
                let mut response = match answer {
                    Ok(answer) => answer.await?,
                    Err((refused, true)) => crate::account::refused(&refused, &envelope.branding),
                    Err((refused, false)) => refused.into_response(),
                };
                envelope.seal(&mut response);
                observed.finish(&mut response);
                Ok(response)
            }
            .instrument(span),
        )
    }
}

impl Envelope {
    /// Adds the security headers and, while draining, `Connection: close`.
    fn seal(&self, response: &mut Response) {
        let headers = response.headers_mut();
        for (name, value) in [
            (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            (header::REFERRER_POLICY, "no-referrer"),
            (header::X_FRAME_OPTIONS, "DENY"),
        ] {
            headers.entry(name).or_insert(HeaderValue::from_static(value));
        }
        if self.hsts {
            headers.entry(header::STRICT_TRANSPORT_SECURITY).or_insert(HeaderValue::from_static("max-age=31536000"));
        }
        if self.lifecycle.is_draining() {
            headers.insert(header::CONNECTION, HeaderValue::from_static("close"));
        }
    }
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
