//! What a request does once its input is read — rate limits, the use case,
//! metrics and the audit trail — shared by the JSON API (`/api/auth/*`) and
//! the account page's forms (`/account/*`), so that the two cannot differ in
//! what they allow or record. Each caller turns the outcome into its own
//! answer (JSON and cookies, or a redirect and a page).

use sesame_core::{
    AuthError, LoggedIn, SessionToken,
    ports::{AuditEvent, Session, SessionId},
};

use crate::{
    AppState, audit,
    dto::{Credentials, PasswordChange},
    error::ApiError,
    extract::Caller,
    metrics::record_auth_outcome,
};

/// Registers and opens a session; the sessions `presented` end.
pub async fn register(
    state: &AppState,
    caller: &Caller,
    presented: &[SessionToken],
    body: &Credentials,
) -> Result<LoggedIn, ApiError> {
    state.limits.register(caller.client()).await?;
    let result = state.auth.register(&body.email, &body.password, presented, caller.metadata()).await;
    record_auth_outcome("register", &result);
    let logged_in = result?;
    audit::record(&*state.audit, AuditEvent::Registered, caller, Some(logged_in.user.id), Some(logged_in.session.id));
    Ok(logged_in)
}

/// Logs in and opens a session; the sessions `presented` end.
pub async fn login(
    state: &AppState,
    caller: &Caller,
    presented: &[SessionToken],
    body: &Credentials,
) -> Result<LoggedIn, ApiError> {
    state.limits.login(caller.client(), &body.email).await?;
    let result = state.auth.login(&body.email, &body.password, presented, caller.metadata()).await;
    record_auth_outcome("login", &result);
    match &result {
        Ok(logged_in) => {
            state.limits.login_succeeded(&body.email).await;
            audit::record(
                &*state.audit,
                AuditEvent::LoginSucceeded,
                caller,
                Some(logged_in.user.id),
                Some(logged_in.session.id),
            );
        }
        Err(AuthError::InvalidCredentials) => audit::record(&*state.audit, AuditEvent::LoginFailed, caller, None, None),
        Err(AuthError::AccountDisabled) => audit::record(&*state.audit, AuditEvent::LoginDisabled, caller, None, None),
        Err(_) => {}
    }
    Ok(result?)
}

/// Ends the sessions `presented`, if they are live.
pub async fn logout(state: &AppState, caller: &Caller, presented: Vec<SessionToken>) -> Result<(), ApiError> {
    for token in presented {
        if let Some(ended) = state.auth.logout(&token).await? {
            audit::record(&*state.audit, AuditEvent::LoggedOut, caller, Some(ended.user_id), Some(ended.id));
        }
    }
    Ok(())
}

/// Ends every session of `session`'s user.
pub async fn logout_everywhere(state: &AppState, caller: &Caller, session: &Session) -> Result<(), ApiError> {
    state.auth.logout_everywhere(session.user_id).await?;
    audit::record(&*state.audit, AuditEvent::LoggedOutEverywhere, caller, Some(session.user_id), Some(session.id));
    Ok(())
}

/// Ends the session `id` of `current`'s user (404 when it is not one of theirs).
pub async fn revoke_session(
    state: &AppState,
    caller: &Caller,
    current: &Session,
    id: SessionId,
) -> Result<(), ApiError> {
    state.auth.revoke_session(current.user_id, id).await?;
    audit::record(&*state.audit, AuditEvent::SessionRevoked, caller, Some(current.user_id), Some(id));
    Ok(())
}

/// Changes the password: every session of the user ends, a new one opens.
pub async fn change_password(
    state: &AppState,
    caller: &Caller,
    session: &Session,
    body: &PasswordChange,
) -> Result<LoggedIn, ApiError> {
    state.limits.confirmation(caller.client(), session.user_id).await?;
    let changed = state
        .auth
        .change_password(session, &body.current_password, &body.new_password, caller.metadata())
        .await
        .map_err(|err| refused_confirmation(state, caller, session, err).for_field("newPassword"))?;
    state.limits.confirmation_succeeded(session.user_id).await;
    audit::record(&*state.audit, AuditEvent::PasswordChanged, caller, Some(changed.user.id), Some(changed.session.id));
    Ok(changed)
}

/// Deletes the user, confirmed by `password`; every session of theirs ends.
pub async fn delete_account(
    state: &AppState,
    caller: &Caller,
    session: &Session,
    password: &str,
) -> Result<(), ApiError> {
    state.limits.confirmation(caller.client(), session.user_id).await?;
    state
        .auth
        .delete_account(session, password)
        .await
        .map_err(|err| refused_confirmation(state, caller, session, err))?;
    audit::record(&*state.audit, AuditEvent::AccountDeleted, caller, Some(session.user_id), Some(session.id));
    Ok(())
}

/// A password change or account deletion refused; a wrong password is audited.
fn refused_confirmation(state: &AppState, caller: &Caller, session: &Session, err: AuthError) -> ApiError {
    if matches!(err, AuthError::WrongPassword) {
        audit::record(&*state.audit, AuditEvent::ConfirmationFailed, caller, Some(session.user_id), Some(session.id));
    }
    ApiError::from(err)
}
