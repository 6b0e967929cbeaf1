//! CSRF defence beyond `SameSite`: a state-changing request (POST, PUT, PATCH,
//! DELETE) from a browser on a foreign origin is refused with 403
//! `csrf_rejected`, and the CORS answers that let allowed origins call the API.
//!
//! The origin a request comes from is its `Origin` header; without one, a
//! `Sec-Fetch-Site` of `cross-site` or `same-site` is foreign, and otherwise
//! `Referer` names it. `Origin: null` (sandboxed frames, some redirects) is
//! refused. A request with none of these headers is not from a browser page
//! (browsers send `Origin` on every cross-origin POST and DELETE) and is
//! allowed, as OWASP's CSRF cheat sheet recommends for header-based checks —
//! except on the account page's forms, which only browsers send: there a
//! request must say where it comes from.
//! Allowed are the configured origins, or, when none is configured, the
//! origin the browser used to reach sesame.

use std::{sync::Arc, time::Duration};

use axum::{
    extract::Request,
    http::{HeaderName, HeaderValue, Method, header, request::Parts},
};
use sesame_factory::Origin;
use tower_http::cors::{AllowOrigin, CorsLayer};

use sesame_core::ports::{AuditEvent, AuditRecord, AuditSink};

use crate::{client::Proxies, error::ApiError, extract::Caller, telemetry::REQUEST_ID_HEADER};

/// Which origins may change state.
#[derive(Clone)]
pub struct OriginPolicy {
    allowed: Vec<Origin>,
    proxies: Arc<Proxies>,
    /// Where a refusal is recorded.
    audit: Arc<dyn AuditSink>,
    /// The scheme browsers use to reach us when no trusted proxy says.
    scheme: &'static str,
}

impl std::fmt::Debug for OriginPolicy {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("OriginPolicy")
            .field("allowed", &self.allowed)
            .field("scheme", &self.scheme)
            .finish_non_exhaustive()
    }
}

impl OriginPolicy {
    /// Allows `allowed`, or the served origin when it is empty; `secure` says
    /// browsers reach us over https (the cookie is `Secure`); refusals are
    /// recorded in `audit`.
    pub fn new(allowed: Vec<Origin>, proxies: Arc<Proxies>, secure: bool, audit: Arc<dyn AuditSink>) -> Self {
        Self { allowed, proxies, audit, scheme: if secure { "https" } else { "http" } }
    }

    /// Whether `parts` may change state; `from_browser`: only a browser
    /// sends it, so one that names no origin is refused.
    fn allows(&self, parts: &Parts, from_browser: bool) -> bool {
        let headers = &parts.headers;
        let text = |name: HeaderName| headers.get(name).map(|value| value.to_str().unwrap_or(""));
        let origin = if let Some(origin) = text(header::ORIGIN) {
            Origin::parse(origin)
        } else if matches!(text(HeaderName::from_static("sec-fetch-site")), Some("cross-site" | "same-site")) {
            None
        } else if let Some(referer) = text(header::REFERER) {
            Origin::of_url(referer)
        } else {
            return !from_browser;
        };
        origin.is_some_and(|origin| self.accepts(&origin, parts))
    }

    fn accepts(&self, origin: &Origin, parts: &Parts) -> bool {
        if self.allowed.is_empty() {
            self.proxies.served_origin(Proxies::peer(parts), &parts.headers, self.scheme).as_ref() == Some(origin)
        } else {
            self.allowed.contains(origin)
        }
    }

    /// CORS for the allowed origins, with credentials; `None` when no origin
    /// is configured (then only same-origin pages call the API).
    pub fn cors(&self) -> Option<CorsLayer> {
        if self.allowed.is_empty() {
            return None;
        }
        let origins = self
            .allowed
            .iter()
            .map(|origin| HeaderValue::from_str(origin.as_str()).expect("an origin is a valid header value"));
        Some(
            CorsLayer::new()
                .allow_origin(AllowOrigin::list(origins))
                .allow_credentials(true)
                .allow_methods([Method::GET, Method::POST, Method::DELETE])
                .allow_headers([header::CONTENT_TYPE, REQUEST_ID_HEADER])
                .expose_headers([REQUEST_ID_HEADER, header::RETRY_AFTER])
                .max_age(Duration::from_secs(600)),
        )
    }
}

impl OriginPolicy {
    /// `request` back, or the refusal of a state-changing request from a
    /// foreign origin (audited); `from_browser` for routes only browsers use
    /// (the account page's forms), where a request naming no origin is refused too.
    pub fn check(&self, request: Request, from_browser: bool) -> Result<Request, ApiError> {
        if !matches!(*request.method(), Method::POST | Method::PUT | Method::PATCH | Method::DELETE) {
            return Ok(request);
        }
        let (parts, body) = request.into_parts();
        if !self.allows(&parts, from_browser) {
            let actor = Caller::of(&self.proxies, &parts).client().actor();
            self.audit.record(AuditRecord {
                event: AuditEvent::CsrfRejected,
                actor,
                user: None,
                session: None,
                sessions: None,
            });
            return Err(ApiError::CsrfRejected);
        }
        Ok(Request::from_parts(parts, body))
    }
}
