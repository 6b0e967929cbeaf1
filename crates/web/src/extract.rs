//! Extractors that turn a request into what the use cases take, answering with an
//! [`ApiError`] when they cannot.

use std::net::IpAddr;

use axum::{
    extract::{FromRequest, FromRequestParts, Request},
    http::{HeaderName, header, request::Parts},
};
use serde::de::DeserializeOwned;
use sesame_core::{
    AuthError, Client, SessionToken,
    ports::{Session, SessionMetadata},
};

use crate::{AppState, client::Proxies, cookies::Reissue, error::ApiError, telemetry::REQUEST_ID_HEADER};

/// `axum::Json`, with its rejections turned into problem answers (400, 413, 415, 422).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// What is known of who made a request: the client's address (after trusted
/// proxies), its user agent and the request id.
#[derive(Debug, Clone, Default)]
pub struct Caller {
    /// The client's address; `None` only when the server did not record the peer.
    pub ip: Option<IpAddr>,
    /// The request id (the client's when it was safe, else ours).
    pub request_id: Option<String>,
    user_agent: Option<String>,
}

impl Caller {
    /// Reads `parts` through `proxies`.
    pub fn of(proxies: &Proxies, parts: &Parts) -> Self {
        let text = |name: HeaderName| parts.headers.get(name).and_then(|value| value.to_str().ok()).map(str::to_owned);
        Self {
            ip: Proxies::peer(parts).map(|peer| proxies.client_ip(peer, &parts.headers)),
            request_id: text(REQUEST_ID_HEADER),
            user_agent: text(header::USER_AGENT),
        }
    }

    /// The client as the rate limits and the audit trail know it.
    pub fn client(&self) -> Client<'_> {
        Client { ip: self.ip, request_id: self.request_id.as_deref() }
    }

    /// What a new session records of its client.
    pub fn metadata(&self) -> SessionMetadata {
        SessionMetadata::new(self.ip, self.user_agent.as_deref())
    }
}

impl FromRequestParts<AppState> for Caller {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self::of(&state.proxies, parts))
    }
}

/// The well-formed session tokens the request's cookies hold (usually one).
pub struct PresentedTokens(pub Vec<SessionToken>);

impl FromRequestParts<AppState> for PresentedTokens {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(state.cookie.candidates(&parts.headers).into_iter().map(|candidate| candidate.token).collect()))
    }
}

/// The caller's live session, opened by the first presented token that opens
/// one; 401 `unauthenticated` without one (429 `rate_limited`, without a
/// lookup, while the client is over its limit of tokens that open nothing).
pub struct CurrentSession(pub Session);

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let candidates = state.cookie.candidates(&parts.headers);
        if candidates.is_empty() {
            return Err(ApiError::Unauthenticated);
        }
        state
            .app
            .limits()
            .refuse_guesser(|| Proxies::peer(parts).map(|peer| state.proxies.client_ip(peer, &parts.headers)))?;
        for candidate in candidates {
            let authenticated = if candidate.legacy {
                // Rare (a migration's tokens): the client is worked out only here.
                let caller = Caller::of(&state.proxies, parts);
                state.app.authenticate_legacy(caller.client(), &candidate.token).await
            } else {
                state.auth.authenticate(&candidate.token).await.map(|session| (session, None))
            };
            match authenticated {
                Ok((session, rotated)) => {
                    if let Some(reissue) = parts.extensions.get::<Reissue>() {
                        match rotated {
                            Some(new_token) => reissue.rotated(new_token),
                            // A legacy token already rotated (its minute of grace) is
                            // never re-issued: the browser holds its successor.
                            None if candidate.renamed && !candidate.legacy => reissue.renamed(candidate.token),
                            None => {}
                        }
                    }
                    return Ok(Self(session));
                }
                Err(AuthError::Unauthenticated) => {}
                Err(other) => return Err(other.into()),
            }
        }
        // Tokens that open nothing: counted per client, so that guessing is slow.
        state.app.limits().invalid_cookie(Caller::of(&state.proxies, parts).client()).await?;
        Err(ApiError::Unauthenticated)
    }
}
