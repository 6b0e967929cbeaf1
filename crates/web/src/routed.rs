//! What every matched route passes through, as one hand-written layer (a
//! route layer runs once per route, so it must be cheap: no service stack is
//! cloned and one future is boxed per request): the Origin check of
//! state-changing requests (stricter, and refused with a page, under `/account`), the re-issue of a cookie found under a previous
//! name, and the request's metrics under its route pattern.

use std::{
    convert::Infallible,
    future::Future,
    pin::Pin,
    sync::Arc,
    task::{Context, Poll},
    time::Instant,
};

use axum::{
    extract::{MatchedPath, Request},
    response::{IntoResponse as _, Response},
};
use tower::{Layer, Service};

use crate::{account, cookies::SessionCookie, csrf::OriginPolicy, metrics};

/// The layer; see the module docs.
#[derive(Clone)]
pub struct Routed {
    /// Which origins may change state.
    pub origins: Arc<OriginPolicy>,
    /// The session cookie, for renamed cookies.
    pub cookie: Arc<SessionCookie>,
    /// The account page's branding, for its refusal pages.
    pub branding: Arc<account::Branding>,
}

impl<S> Layer<S> for Routed {
    type Service = RoutedService<S>;

    fn layer(&self, inner: S) -> Self::Service {
        RoutedService { inner, routed: self.clone() }
    }
}

/// A route behind [`Routed`].
#[derive(Clone)]
pub struct RoutedService<S> {
    inner: S,
    routed: Routed,
}

impl<S> Service<Request> for RoutedService<S>
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

    fn call(&mut self, request: Request) -> Self::Future {
        let started = Instant::now();
        let method = metrics::method_label(request.method());
        let route = request.extensions().get::<MatchedPath>().cloned();
        let record = move |response: &Response| {
            let route = route.as_ref().map_or("unmatched", MatchedPath::as_str);
            metrics::record_request(route, method, response.status(), started);
        };
        let page = account::is_page(request.uri().path());
        let mut request = match self.routed.origins.check(request, page) {
            Ok(request) => request,
            Err(refused) => {
                let refused =
                    if page { account::refused(&refused, &self.routed.branding) } else { refused.into_response() };
                record(&refused);
                return Box::pin(std::future::ready(Ok(refused)));
            }
        };
        let cookie = &self.routed.cookie;
        let reissue = cookie.watch_reissue(&mut request).map(|reissue| (reissue, Arc::clone(cookie)));
        let answer = self.inner.call(request);
        Box::pin(async move {
            let mut response = answer.await?;
            if let Some((reissue, cookie)) = reissue {
                cookie.carry_over(&reissue, &mut response);
            }
            record(&response);
            Ok(response)
        })
    }
}
