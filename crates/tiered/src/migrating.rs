//! Moving a live system's sessions from one store to another: the store a
//! service uses while `SESAME__MIGRATE_FROM__URL` names the store it leaves.
//!
//! Reads that miss the new store fall back to the old one and copy the session
//! forward; writes go to the new store (a new session is also written to the
//! old one, so that an instance still on the old settings during the rollout
//! accepts it); ends reach both, so that nothing ended comes back from the old
//! store. `sesame sessions copy` run meanwhile moves the sessions no request
//! asked for; docs/operations.md gives the procedure.

use std::sync::Arc;

use async_trait::async_trait;
use sesame_ports::{
    ExportCursor, ExportPage, Imported, PortError, Session, SessionId, SessionStore, SessionTokenHash, UserId,
};
use time::OffsetDateTime;

use crate::tiered::merged;

/// A session store on its way from `old` to `new`.
pub struct MigratingSessionStore {
    new: Arc<dyn SessionStore>,
    old: Arc<dyn SessionStore>,
}

impl MigratingSessionStore {
    /// The store that moves sessions from `old` to `new` as they are used.
    pub fn new(new: Arc<dyn SessionStore>, old: Arc<dyn SessionStore>) -> Self {
        Self { new, old }
    }

    /// Copies `session`, just read from the old store, into the new one; the
    /// session as the new store then holds it (`None` when it ended there).
    async fn carry_forward(&self, session: Session) -> Result<Option<Session>, PortError> {
        match self.new.import(&session).await? {
            Imported::Created | Imported::Updated => {
                metrics::counter!("sesame_sessions_carried_forward_total").increment(1);
                Ok(Some(session))
            }
            // Ended in the new store (by an instance that no longer reads the
            // old one), or held there as used later: the new store decides.
            Imported::Skipped => self.new.get(&session.token_hash).await,
        }
    }
}

#[async_trait]
impl SessionStore for MigratingSessionStore {
    async fn create(&self, session: &Session) -> Result<(), PortError> {
        self.new.create(session).await?;
        // Instances on the old settings read the old store only; the session
        // works on this one whatever the old store answers.
        if let Err(err) = self.old.create(session).await {
            tracing::warn!(
                error = %err,
                "could not write a new session to the store being left: instances still on the old settings will not accept it"
            );
        }
        Ok(())
    }

    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        if let Some(session) = self.new.get(token_hash).await? {
            return Ok(Some(session));
        }
        match self.old.get(token_hash).await? {
            Some(session) => self.carry_forward(session).await,
            None => Ok(None),
        }
    }

    async fn touch(
        &self,
        session: &Session,
        last_seen_at: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        self.new.touch(session, last_seen_at, idle_expires_at).await
    }

    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        let (new, old) = tokio::join!(self.new.delete(token_hash), self.old.delete(token_hash));
        // Both must take it: a session left live in the old store would be
        // carried forward again by the next read.
        let (new, old) = (new?, old?);
        Ok(new.or(old))
    }

    async fn list_for_user(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let (new, old) = tokio::join!(self.new.list_for_user(user_id), self.old.list_for_user(user_id));
        Ok(merged(new?, old?))
    }

    async fn revoke(&self, user_id: UserId, session_id: SessionId) -> Result<Option<Session>, PortError> {
        let (new, old) = tokio::join!(self.new.revoke(user_id, session_id), self.old.revoke(user_id, session_id));
        let (new, old) = (new?, old?);
        Ok(new.or(old))
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let (new, old) = tokio::join!(self.new.revoke_all(user_id), self.old.revoke_all(user_id));
        Ok(merged(new?, old?))
    }

    async fn purge_expired(&self, limit: u32) -> Result<u64, PortError> {
        self.new.purge_expired(limit).await
    }

    /// The new store's: an old store that is down fails the reads that miss
    /// the new one, not every request.
    async fn ping(&self) -> Result<(), PortError> {
        self.new.ping().await
    }

    /// The new store's sessions: `sesame sessions copy` reads the old one.
    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<Session>, PortError> {
        self.new.export(cursor, limit).await
    }

    async fn import(&self, session: &Session) -> Result<Imported, PortError> {
        self.new.import(session).await
    }
}
