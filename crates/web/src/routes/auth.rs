//! `/api/auth/*`: register, login, logout, logout everywhere, who am I, sessions.

use axum::{
    Json, Router,
    extract::{Path, State, rejection::PathRejection},
    http::{
        HeaderValue, StatusCode,
        header::{self, SET_COOKIE},
    },
    response::{IntoResponse, Response},
    routing::{delete, get, post},
};
use sesame_core::{
    AuthError, LoggedIn,
    ports::{Session, SessionId},
};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{
    AppState,
    audit::{self, Event},
    dto::{
        Credentials, MeResponse, PasswordChange, PasswordConfirmation, SessionBody, SessionsResponse, UserBody,
        UserResponse,
    },
    error::ApiError,
    extract::{ApiJson, Caller, CurrentSession, PresentedTokens},
    metrics::record_auth_outcome,
};

pub(super) fn router() -> Router<AppState> {
    Router::new()
        .route("/api/auth/register", post(register))
        .route("/api/auth/login", post(login))
        .route("/api/auth/logout", post(logout))
        .route("/api/auth/logout-all", post(logout_all))
        .route("/api/auth/me", get(me))
        .route("/api/auth/sessions", get(list_sessions))
        .route("/api/auth/sessions/{id}", delete(revoke_session))
        .route("/api/auth/password", post(change_password))
        .route("/api/auth/account", delete(delete_account))
        // Answers carry cookies and personal data: no cache may keep them.
        .layer(SetResponseHeaderLayer::overriding(header::CACHE_CONTROL, HeaderValue::from_static("no-store")))
}

/// 201 `{user}` and a new session cookie.
async fn register(
    State(state): State<AppState>,
    caller: Caller,
    PresentedTokens(presented): PresentedTokens,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    state.limits.register(&caller).await?;
    let result = state.auth.register(&body.email, &body.password, &presented, caller.metadata()).await;
    record_auth_outcome("register", &result);
    let logged_in = result?;
    audit::record(Event::Registered, &caller, Some(logged_in.user.id), Some(logged_in.session.id));
    Ok(issue_session(&state, StatusCode::CREATED, &logged_in))
}

/// 200 `{user}` and a new session cookie; the sessions presented, if any, are ended.
async fn login(
    State(state): State<AppState>,
    caller: Caller,
    PresentedTokens(presented): PresentedTokens,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    state.limits.login(&caller, &body.email).await?;
    let result = state.auth.login(&body.email, &body.password, &presented, caller.metadata()).await;
    record_auth_outcome("login", &result);
    match &result {
        Ok(logged_in) => {
            state.limits.login_succeeded(&body.email).await;
            audit::record(Event::LoginSucceeded, &caller, Some(logged_in.user.id), Some(logged_in.session.id));
        }
        Err(AuthError::InvalidCredentials) => audit::record(Event::LoginFailed, &caller, None, None),
        Err(AuthError::AccountDisabled) => audit::record(Event::LoginDisabled, &caller, None, None),
        Err(_) => {}
    }
    Ok(issue_session(&state, StatusCode::OK, &result?))
}

fn issue_session(state: &AppState, status: StatusCode, logged_in: &LoggedIn) -> Response {
    let cookie = state.cookie.issue(logged_in);
    (status, [(SET_COOKIE, cookie)], Json(UserResponse { user: UserBody::from(&logged_in.user) })).into_response()
}

/// 204 and an expired cookie, with or without a session: logout is idempotent.
async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    PresentedTokens(presented): PresentedTokens,
) -> Result<Response, ApiError> {
    for token in presented {
        if let Some(ended) = state.auth.logout(&token).await? {
            audit::record(Event::LoggedOut, &caller, Some(ended.user_id), Some(ended.id));
        }
    }
    Ok(signed_out(&state))
}

/// 204: every session of the caller ends, this one included.
async fn logout_all(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(session): CurrentSession,
) -> Result<Response, ApiError> {
    state.auth.logout_everywhere(session.user_id).await?;
    audit::record(Event::LoggedOutEverywhere, &caller, Some(session.user_id), Some(session.id));
    Ok(signed_out(&state))
}

fn signed_out(state: &AppState) -> Response {
    (StatusCode::NO_CONTENT, state.cookie.sign_out()).into_response()
}

/// 200 `{user, session}`.
async fn me(
    State(state): State<AppState>,
    CurrentSession(session): CurrentSession,
) -> Result<Json<MeResponse>, ApiError> {
    let user = state.auth.current_user(&session).await?;
    Ok(Json(MeResponse {
        user: UserBody::new(session.user_id, &user),
        session: SessionBody::new(&session, session.id),
    }))
}

/// 200 `{sessions}`, the caller's, with the current one marked.
async fn list_sessions(
    State(state): State<AppState>,
    CurrentSession(current): CurrentSession,
) -> Result<Json<SessionsResponse>, ApiError> {
    let sessions = state.auth.list_sessions(current.user_id).await?;
    Ok(Json(SessionsResponse { sessions: sessions.iter().map(|s| SessionBody::new(s, current.id)).collect() }))
}

/// 204; 404 when the id is not one of the caller's sessions (a malformed id is
/// not one either). Revoking the current session also expires its cookie.
async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(current): CurrentSession,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id.ok().and_then(|Path(id)| SessionId::parse(&id).ok()).ok_or(AuthError::SessionNotFound)?;
    state.auth.revoke_session(current.user_id, id).await?;
    audit::record(Event::SessionRevoked, &caller, Some(current.user_id), Some(id));
    if id == current.id { Ok(signed_out(&state)) } else { Ok(StatusCode::NO_CONTENT.into_response()) }
}

/// 200 `{user}` and a new session cookie: the password changed, every session
/// of the user ended, a new one opened for the caller.
async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    state.limits.confirmation(&caller, session.user_id).await?;
    let changed = state
        .auth
        .change_password(&session, &body.current_password, &body.new_password, caller.metadata())
        .await
        .map_err(|err| refused_confirmation(&caller, &session, err).for_field("newPassword"))?;
    state.limits.confirmation_succeeded(session.user_id).await;
    audit::record(Event::PasswordChanged, &caller, Some(changed.user.id), Some(changed.session.id));
    Ok(issue_session(&state, StatusCode::OK, &changed))
}

/// 204 and an expired cookie: the user is deleted and every session of theirs ended.
async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<PasswordConfirmation>,
) -> Result<Response, ApiError> {
    state.limits.confirmation(&caller, session.user_id).await?;
    state
        .auth
        .delete_account(&session, &body.password)
        .await
        .map_err(|err| refused_confirmation(&caller, &session, err))?;
    audit::record(Event::AccountDeleted, &caller, Some(session.user_id), Some(session.id));
    Ok(signed_out(&state))
}

/// A password change or account deletion refused; a wrong password is audited.
fn refused_confirmation(caller: &Caller, session: &Session, err: AuthError) -> ApiError {
    if matches!(err, AuthError::WrongPassword) {
        audit::record(Event::ConfirmationFailed, caller, Some(session.user_id), Some(session.id));
    }
    ApiError::from(err)
}
