//! Extractors that turn a request into what the use cases take, answering with an
//! [`ApiError`] when they cannot.

use std::net::SocketAddr;

use axum::{
    extract::{ConnectInfo, FromRequest, FromRequestParts, Request},
    http::{header, request::Parts},
};
use serde::de::DeserializeOwned;
use sesame_core::{SessionToken, ports::Session, ports::SessionMetadata};

use crate::{AppState, error::ApiError};

/// `axum::Json`, with its rejections turned into problem answers (400, 413, 415, 422).
pub struct ApiJson<T>(pub T);

impl<T: DeserializeOwned, S: Send + Sync> FromRequest<S> for ApiJson<T> {
    type Rejection = ApiError;

    async fn from_request(request: Request, state: &S) -> Result<Self, Self::Rejection> {
        let axum::Json(value) = axum::Json::<T>::from_request(request, state).await?;
        Ok(Self(value))
    }
}

/// What is known of the client: its address (from the socket) and user agent.
pub struct Client(pub SessionMetadata);

impl<S: Send + Sync> FromRequestParts<S> for Client {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, _: &S) -> Result<Self, Self::Rejection> {
        let ip = parts.extensions.get::<ConnectInfo<SocketAddr>>().map(|ConnectInfo(addr)| addr.ip());
        let user_agent = parts.headers.get(header::USER_AGENT).and_then(|value| value.to_str().ok());
        Ok(Self(SessionMetadata::new(ip, user_agent)))
    }
}

/// The session token in the request's cookie, if it holds a well-formed one.
pub struct PresentedToken(pub Option<SessionToken>);

impl FromRequestParts<AppState> for PresentedToken {
    type Rejection = std::convert::Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        Ok(Self(state.cookie.presented(&parts.headers)))
    }
}

/// The caller's live session; 401 `unauthenticated` without one.
pub struct CurrentSession(pub Session);

impl FromRequestParts<AppState> for CurrentSession {
    type Rejection = ApiError;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        let token = state.cookie.presented(&parts.headers).ok_or(ApiError::Unauthenticated)?;
        Ok(Self(state.auth.authenticate(&token).await?))
    }
}
