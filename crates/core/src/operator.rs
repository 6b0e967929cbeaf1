//! The operator's commands (`sesame users disable|enable|delete`, `sesame
//! sessions revoke|purge`) as application calls: each change is made and
//! recorded in the audit trail (actor: the operator) here, as a client's
//! operations are in [`Application`]'s other calls.

use sesame_ports::{Actor, AuditEvent, AuditRecord, Email, SessionId, User, UserId};

use crate::{Application, AuthError};

/// Expired sessions removed in one store call.
const PURGE_BATCH: u32 = 1000;

impl Application {
    /// Disables (`disabled`) or enables the user with `email`, for
    /// `operator`; disabling ends every session of theirs. The user as
    /// stored, and how many sessions ended.
    ///
    /// Errors: `UserNotFound`.
    pub async fn set_disabled(&self, operator: &str, email: &Email, disabled: bool) -> Result<(User, u64), AuthError> {
        let (user, ended) = self.auth().set_disabled(email, disabled).await?;
        let event = if disabled { AuditEvent::UserDisabled } else { AuditEvent::UserEnabled };
        self.record_operator(event, operator, Some(user.id), None, ended);
        Ok((user, ended))
    }

    /// Deletes the user with `email`, for `operator`, and every session of
    /// theirs; the user, and how many sessions ended.
    ///
    /// Errors: `UserNotFound`.
    pub async fn delete_user(&self, operator: &str, email: &Email) -> Result<(User, u64), AuthError> {
        let (user, ended) = self.auth().delete_user(email).await?;
        self.record_operator(AuditEvent::UserDeleted, operator, Some(user.id), None, ended);
        Ok((user, ended))
    }

    /// Ends the session `session` of the user with `email`, or every session
    /// of theirs when it is `None`, for `operator`; the user, and how many ended.
    ///
    /// Errors: `UserNotFound`; `SessionNotFound` when the session is not one of theirs.
    pub async fn end_sessions(
        &self,
        operator: &str,
        email: &Email,
        session: Option<SessionId>,
    ) -> Result<(User, u64), AuthError> {
        let owner = self.auth().find_user(email).await?;
        let ended = match session {
            Some(session) => self.auth().revoke_session(owner.id, session).await.map(|()| 1)?,
            None => self.auth().logout_everywhere(owner.id).await?,
        };
        self.record_operator(AuditEvent::SessionsEndedByOperator, operator, Some(owner.id), session, ended);
        Ok((owner, ended))
    }

    /// Removes every expired session now, in batches, for `operator`; how many.
    pub async fn purge_expired(&self, operator: &str) -> Result<u64, AuthError> {
        let mut purged = 0;
        loop {
            match self.auth().purge_expired(PURGE_BATCH).await? {
                0 => break,
                batch => purged += batch,
            }
        }
        self.record_operator(AuditEvent::SessionsPurged, operator, None, None, purged);
        Ok(purged)
    }

    fn record_operator(
        &self,
        event: AuditEvent,
        operator: &str,
        user: Option<UserId>,
        session: Option<SessionId>,
        sessions: u64,
    ) {
        let actor = Actor::Operator { name: operator.to_owned() };
        self.audit().record(AuditRecord { event, actor, user, session, sessions: Some(sessions) });
    }
}
