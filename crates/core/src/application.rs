//! The application layer: each operation a client asks for, decided whole
//! in one call — its rate limits ([`Limits`]), the use case
//! ([`AuthService`]), its audit event (the `AuditSink` port) and its outcome
//! metric — so that the JSON API, the account page and whatever comes next
//! cannot differ in what they allow or record. A driving adapter turns a
//! request into one of these calls and the outcome into its own answer.

use std::sync::Arc;

use sesame_ports::{AuditEvent, AuditRecord, AuditSink, Session, SessionId, SessionMetadata, UserId};

use crate::{Account, AuthError, AuthService, Client, Credentials, Limits, LoggedIn, SessionToken};

/// The operations of a client, over the use cases, the limits and the audit trail.
pub struct Application {
    auth: Arc<AuthService>,
    limits: Limits,
    audit: Arc<dyn AuditSink>,
}

impl Application {
    /// The operations over `auth`, limited by `limits`, recorded in `audit`.
    pub fn new(auth: Arc<AuthService>, limits: Limits, audit: Arc<dyn AuditSink>) -> Self {
        Self { auth, limits, audit }
    }

    /// The use cases, for what needs no decision beyond them (reading a
    /// session, listing sessions).
    pub fn auth(&self) -> &Arc<AuthService> {
        &self.auth
    }

    /// The rate limits, for the requests an adapter refuses before any use
    /// case (a cookie that opens nothing).
    pub fn limits(&self) -> &Limits {
        &self.limits
    }

    /// Where events are recorded.
    pub(crate) fn audit(&self) -> &dyn AuditSink {
        &*self.audit
    }

    /// Records `event` by `client` about `user` and `session`.
    fn record(&self, event: AuditEvent, client: Client<'_>, user: Option<UserId>, session: Option<SessionId>) {
        self.audit.record(AuditRecord { event, actor: client.actor(), user, session, sessions: None });
    }

    /// Opens the session of `token`, a token another system issued (read
    /// when `SESAME__COOKIE__LEGACY_TOKENS` is on), rotating it to a sesame
    /// token at its first use — recorded as `legacy_token_rotated` by
    /// `client`. The session, and the token now in its place when it rotated.
    ///
    /// Errors: as [`AuthService::authenticate_legacy`].
    pub async fn authenticate_legacy(
        &self,
        client: Client<'_>,
        token: &SessionToken,
    ) -> Result<(Session, Option<SessionToken>), AuthError> {
        let (session, rotated) = self.auth.authenticate_legacy(token).await?;
        if rotated.is_some() {
            self.record(AuditEvent::LegacyTokenRotated, client, Some(session.user_id), Some(session.id));
        }
        Ok((session, rotated))
    }

    /// Registers and opens a session for `client` (recording `metadata`);
    /// the sessions `presented` end.
    pub async fn register(
        &self,
        client: Client<'_>,
        metadata: SessionMetadata,
        presented: &[SessionToken],
        email: &str,
        password: &str,
    ) -> Result<LoggedIn, AuthError> {
        self.limits.register(client).await?;
        let result = self.auth.register(email, password, presented, metadata).await;
        record_outcome("register", &result);
        let logged_in = result?;
        self.record(AuditEvent::Registered, client, Some(logged_in.user.id), Some(logged_in.session.id));
        Ok(logged_in)
    }

    /// Logs in and opens a session for `client`; the sessions `presented` end.
    pub async fn login(
        &self,
        client: Client<'_>,
        metadata: SessionMetadata,
        presented: &[SessionToken],
        email: &str,
        password: &str,
    ) -> Result<LoggedIn, AuthError> {
        // Read once: the email parsed, the password normalised.
        let credentials = Credentials::read(email, password);
        let account = Account::of(&credentials);
        self.limits.login(client, &account).await?;
        let result = self.auth.login(&credentials, presented, metadata).await;
        record_outcome("login", &result);
        match &result {
            Ok(logged_in) => {
                self.limits.login_succeeded(&account).await;
                self.record(AuditEvent::LoginSucceeded, client, Some(logged_in.user.id), Some(logged_in.session.id));
            }
            Err(AuthError::InvalidCredentials) => self.record(AuditEvent::LoginFailed, client, None, None),
            Err(AuthError::AccountDisabled) => self.record(AuditEvent::LoginDisabled, client, None, None),
            Err(_) => {}
        }
        result
    }

    /// Ends the sessions `presented`, if they are live.
    pub async fn logout(&self, client: Client<'_>, presented: Vec<SessionToken>) -> Result<(), AuthError> {
        for token in presented {
            if let Some(ended) = self.auth.logout(&token).await? {
                self.record(AuditEvent::LoggedOut, client, Some(ended.user_id), Some(ended.id));
            }
        }
        Ok(())
    }

    /// Ends every session of `session`'s user.
    pub async fn logout_everywhere(&self, client: Client<'_>, session: &Session) -> Result<(), AuthError> {
        self.auth.logout_everywhere(session.user_id).await?;
        self.record(AuditEvent::LoggedOutEverywhere, client, Some(session.user_id), Some(session.id));
        Ok(())
    }

    /// Ends the session `id` of `current`'s user (`SessionNotFound` when it
    /// is not one of theirs).
    pub async fn revoke_session(&self, client: Client<'_>, current: &Session, id: SessionId) -> Result<(), AuthError> {
        self.auth.revoke_session(current.user_id, id).await?;
        self.record(AuditEvent::SessionRevoked, client, Some(current.user_id), Some(id));
        Ok(())
    }

    /// Changes the password of `session`'s user, confirmed by `current`:
    /// every session of theirs ends, a new one opens (recording `metadata`).
    pub async fn change_password(
        &self,
        client: Client<'_>,
        metadata: SessionMetadata,
        session: &Session,
        current: &str,
        new: &str,
    ) -> Result<LoggedIn, AuthError> {
        self.limits.confirmation(client, session.user_id).await?;
        let changed = self
            .auth
            .change_password(session, current, new, metadata)
            .await
            .map_err(|err| self.refused_confirmation(client, session, err))?;
        self.limits.confirmation_succeeded(session.user_id).await;
        self.record(AuditEvent::PasswordChanged, client, Some(changed.user.id), Some(changed.session.id));
        Ok(changed)
    }

    /// Deletes `session`'s user, confirmed by `password`; every session of theirs ends.
    pub async fn delete_account(&self, client: Client<'_>, session: &Session, password: &str) -> Result<(), AuthError> {
        self.limits.confirmation(client, session.user_id).await?;
        self.auth
            .delete_account(session, password)
            .await
            .map_err(|err| self.refused_confirmation(client, session, err))?;
        self.record(AuditEvent::AccountDeleted, client, Some(session.user_id), Some(session.id));
        Ok(())
    }

    /// A password change or account deletion refused; a wrong password is audited.
    fn refused_confirmation(&self, client: Client<'_>, session: &Session, err: AuthError) -> AuthError {
        if matches!(err, AuthError::WrongPassword) {
            self.record(AuditEvent::ConfirmationFailed, client, Some(session.user_id), Some(session.id));
        }
        err
    }
}

/// Counts the outcome of a register or login (`sesame_auth_outcomes_total`).
fn record_outcome<T>(action: &'static str, result: &Result<T, AuthError>) {
    let outcome = match result {
        Ok(_) => "success",
        Err(AuthError::InvalidCredentials) => "invalid_credentials",
        Err(AuthError::EmailTaken) => "email_taken",
        Err(AuthError::AccountDisabled) => "account_disabled",
        Err(AuthError::InvalidEmail(_) | AuthError::WeakPassword(_) | AuthError::InvalidEmailAndPassword(..)) => {
            "invalid_input"
        }
        Err(_) => "error",
    };
    metrics::counter!("sesame_auth_outcomes_total", "action" => action, "outcome" => outcome).increment(1);
}
