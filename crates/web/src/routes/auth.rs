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
use sesame_core::{AuthError, LoggedIn, ports::SessionId};
use tower_http::set_header::SetResponseHeaderLayer;

use crate::{
    AppState,
    dto::{
        Credentials, MeResponse, PasswordChange, PasswordConfirmation, SessionBody, SessionsResponse, UserBody,
        UserResponse,
    },
    error::ApiError,
    extract::{ApiJson, Caller, CurrentSession, PresentedTokens},
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
#[utoipa::path(
    post,
    path = "/api/auth/register",
    tag = "auth",
    request_body(content = Credentials, content_type = "application/json"),
    responses(
        (status = 201, description = "Registered and logged in.", body = UserResponse, headers(("set-cookie" = String, description = "The new session cookie (HttpOnly, SameSite=Lax; Secure in production)."))),
        (status = 403, description = "`csrf_rejected`: from an origin that is not allowed.", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 409, description = "`email_taken`.", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (invalid email, weak or common password; `errors` lists each field), `invalid_body`.", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: registrations from this client (Retry-After).", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::BodyProblems,
        super::openapi::HashingProblems
    )
)]
pub(super) async fn register(
    State(state): State<AppState>,
    caller: Caller,
    PresentedTokens(presented): PresentedTokens,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let logged_in =
        state.app.register(caller.client(), caller.metadata(), &presented, &body.email, &body.password).await?;
    Ok(issue_session(&state, StatusCode::CREATED, &logged_in))
}

/// 200 `{user}` and a new session cookie; the sessions presented, if any, are ended.
#[utoipa::path(
    post,
    path = "/api/auth/login",
    tag = "auth",
    request_body(content = Credentials, content_type = "application/json"),
    responses(
        (status = 200, description = "Logged in; the sessions presented, if any, ended.", body = UserResponse, headers(("set-cookie" = String, description = "The new session cookie (HttpOnly, SameSite=Lax; Secure in production)."))),
        (status = 401, description = "`invalid_credentials`: unknown email or wrong password, one answer for both.", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 403, description = "`account_disabled` (right password, disabled account), `csrf_rejected`.", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`.", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 429, description = "`rate_limited`: logins from this client or for this email (Retry-After).", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::BodyProblems,
        super::openapi::HashingProblems
    )
)]
pub(super) async fn login(
    State(state): State<AppState>,
    caller: Caller,
    PresentedTokens(presented): PresentedTokens,
    ApiJson(body): ApiJson<Credentials>,
) -> Result<Response, ApiError> {
    let logged_in =
        state.app.login(caller.client(), caller.metadata(), &presented, &body.email, &body.password).await?;
    Ok(issue_session(&state, StatusCode::OK, &logged_in))
}

fn issue_session(state: &AppState, status: StatusCode, logged_in: &LoggedIn) -> Response {
    let cookie = state.cookie.issue(logged_in);
    (status, [(SET_COOKIE, cookie)], Json(UserResponse { user: UserBody::from(&logged_in.user) })).into_response()
}

/// 204 and an expired cookie, with or without a session: logout is idempotent.
#[utoipa::path(
    post,
    path = "/api/auth/logout",
    tag = "auth",
    responses(
        (status = 204, description = "Logged out (also without a session: idempotent).", headers(("set-cookie" = String, description = "The session cookie, expired."))),
        (status = 403, description = "`csrf_rejected`.", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::ServerProblems
    )
)]
pub(super) async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    PresentedTokens(presented): PresentedTokens,
) -> Result<Response, ApiError> {
    state.app.logout(caller.client(), presented).await?;
    Ok(signed_out(&state))
}

/// 204: every session of the caller ends, this one included.
#[utoipa::path(
    post,
    path = "/api/auth/logout-all",
    tag = "sessions",
    responses(
        (status = 204, description = "Every session of the caller ended, this one included.", headers(("set-cookie" = String, description = "The session cookie, expired."))),
        (status = 403, description = "`csrf_rejected`.", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::SessionProblems,
        super::openapi::ServerProblems
    ),
    security(("sessionCookie" = []))
)]
pub(super) async fn logout_all(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(session): CurrentSession,
) -> Result<Response, ApiError> {
    state.app.logout_everywhere(caller.client(), &session).await?;
    Ok(signed_out(&state))
}

fn signed_out(state: &AppState) -> Response {
    (StatusCode::NO_CONTENT, state.cookie.sign_out()).into_response()
}

/// 200 `{user, session}`.
#[utoipa::path(
    get,
    path = "/api/auth/me",
    tag = "auth",
    responses(
        (status = 200, description = "The caller and the session making the request.", body = MeResponse),
        super::openapi::SessionProblems,
        super::openapi::ServerProblems
    ),
    security(("sessionCookie" = []))
)]
pub(super) async fn me(
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
#[utoipa::path(
    get,
    path = "/api/auth/sessions",
    tag = "sessions",
    responses(
        (status = 200, description = "The caller's live sessions, oldest first, the current one marked.", body = SessionsResponse),
        super::openapi::SessionProblems,
        super::openapi::ServerProblems
    ),
    security(("sessionCookie" = []))
)]
pub(super) async fn list_sessions(
    State(state): State<AppState>,
    CurrentSession(current): CurrentSession,
) -> Result<Json<SessionsResponse>, ApiError> {
    let sessions = state.auth.list_sessions(current.user_id).await?;
    Ok(Json(SessionsResponse { sessions: sessions.iter().map(|s| SessionBody::new(s, current.id)).collect() }))
}

/// 204; 404 when the id is not one of the caller's sessions (a malformed id is
/// not one either). Revoking the current session also expires its cookie.
#[utoipa::path(
    delete,
    path = "/api/auth/sessions/{id}",
    tag = "sessions",
    params(("id" = String, Path, description = "The session's public id.")),
    responses(
        (status = 204, description = "The session ended; when it was the current one, its cookie expired too."),
        (status = 403, description = "`csrf_rejected`.", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 404, description = "`session_not_found`: not one of the caller's sessions (a malformed id is not one either).", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::SessionProblems,
        super::openapi::ServerProblems
    ),
    security(("sessionCookie" = []))
)]
pub(super) async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(current): CurrentSession,
    id: Result<Path<String>, PathRejection>,
) -> Result<Response, ApiError> {
    let id = id.ok().and_then(|Path(id)| SessionId::parse(&id).ok()).ok_or(AuthError::SessionNotFound)?;
    state.app.revoke_session(caller.client(), &current, id).await?;
    if id == current.id { Ok(signed_out(&state)) } else { Ok(StatusCode::NO_CONTENT.into_response()) }
}

/// 200 `{user}` and a new session cookie: the password changed, every session
/// of the user ended, a new one opened for the caller.
#[utoipa::path(
    post,
    path = "/api/auth/password",
    tag = "account",
    request_body(content = PasswordChange, content_type = "application/json"),
    responses(
        (status = 200, description = "Password changed: every session of the user ended, a new one opened for the caller.", body = UserResponse, headers(("set-cookie" = String, description = "The new session cookie (HttpOnly, SameSite=Lax; Secure in production)."))),
        (status = 403, description = "`wrong_password`: `currentPassword` is not the user's; `csrf_rejected`.", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`validation_failed` (weak or common `newPassword`), `invalid_body`.", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::BodyProblems,
        super::openapi::SessionProblems,
        super::openapi::HashingProblems
    ),
    security(("sessionCookie" = []))
)]
pub(super) async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<PasswordChange>,
) -> Result<Response, ApiError> {
    let changed = state
        .app
        .change_password(caller.client(), caller.metadata(), &session, &body.current_password, &body.new_password)
        .await
        .map_err(|err| ApiError::from(err).for_field("newPassword"))?;
    Ok(issue_session(&state, StatusCode::OK, &changed))
}

/// 204 and an expired cookie: the user is deleted and every session of theirs ended.
#[utoipa::path(
    delete,
    path = "/api/auth/account",
    tag = "account",
    request_body(content = PasswordConfirmation, content_type = "application/json"),
    responses(
        (status = 204, description = "The user deleted and every session of theirs ended.", headers(("set-cookie" = String, description = "The session cookie, expired."))),
        (status = 403, description = "`wrong_password`, `csrf_rejected`.", body = super::openapi::Problem, content_type = "application/problem+json"),
        (status = 422, description = "`invalid_body`.", body = super::openapi::Problem, content_type = "application/problem+json"),
        super::openapi::BodyProblems,
        super::openapi::SessionProblems,
        super::openapi::HashingProblems
    ),
    security(("sessionCookie" = []))
)]
pub(super) async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    CurrentSession(session): CurrentSession,
    ApiJson(body): ApiJson<PasswordConfirmation>,
) -> Result<Response, ApiError> {
    state.app.delete_account(caller.client(), &session, &body.password).await?;
    Ok(signed_out(&state))
}
