//! In-memory [`SessionStore`].

use std::{
    collections::{BTreeSet, HashMap},
    sync::{Arc, PoisonError, RwLock},
};

use async_trait::async_trait;
use sesame_ports::{
    Clock, ExportCursor, ExportPage, Imported, PortError, Session, SessionId, SessionStore, SessionTokenHash, UserId,
};
use time::{Duration, OffsetDateTime};

/// Sessions in a map keyed by token hash, with a per-user index for listing and
/// revoking. Validation takes a read lock only; expired sessions are hidden at once
/// and purged at most once per [`InMemorySessionStore::PURGE_INTERVAL`], on a write.
pub struct InMemorySessionStore {
    clock: Arc<dyn Clock>,
    state: RwLock<Sessions>,
}

#[derive(Default)]
struct Sessions {
    by_hash: HashMap<SessionTokenHash, Session>,
    /// Per user, the token hashes ordered by creation time (then hash, to break ties).
    by_user: HashMap<UserId, BTreeSet<(OffsetDateTime, [u8; 32])>>,
    /// Sessions ended before their time, until then: an import never brings
    /// one back.
    ended: HashMap<SessionTokenHash, OffsetDateTime>,
    next_purge: Option<OffsetDateTime>,
}

impl InMemorySessionStore {
    /// How often, at most, a write sweeps out every expired session.
    pub const PURGE_INTERVAL: Duration = Duration::minutes(1);

    /// An empty store that reads time from `clock`.
    pub fn new(clock: Arc<dyn Clock>) -> Self {
        Self { clock, state: RwLock::new(Sessions::default()) }
    }

    /// How many sessions the store holds, expired ones not yet purged included.
    pub fn len(&self) -> usize {
        self.state.read().unwrap_or_else(PoisonError::into_inner).by_hash.len()
    }

    /// Whether the store holds no session at all.
    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

impl Sessions {
    fn insert(&mut self, session: Session) {
        self.by_user.entry(session.user_id).or_default().insert((session.created_at, *session.token_hash.as_bytes()));
        self.by_hash.insert(session.token_hash, session);
    }

    fn remove(&mut self, token_hash: &SessionTokenHash) -> Option<Session> {
        let session = self.by_hash.remove(token_hash)?;
        if let Some(index) = self.by_user.get_mut(&session.user_id) {
            index.remove(&(session.created_at, *token_hash.as_bytes()));
            if index.is_empty() {
                self.by_user.remove(&session.user_id);
            }
        }
        Some(session)
    }

    /// Removes the session and remembers it ended; the session if it was live.
    fn end(&mut self, token_hash: &SessionTokenHash, now: OffsetDateTime) -> Option<Session> {
        let session = self.remove(token_hash)?;
        if session.is_live_at(now) {
            self.ended.insert(session.token_hash, session.absolute_expires_at);
            return Some(session);
        }
        None
    }

    fn live(&self, token_hash: &SessionTokenHash, now: OffsetDateTime) -> Option<&Session> {
        self.by_hash.get(token_hash).filter(|session| session.is_live_at(now))
    }

    fn live_of_user(&self, user_id: UserId, now: OffsetDateTime) -> impl Iterator<Item = &Session> {
        self.by_user
            .get(&user_id)
            .into_iter()
            .flatten()
            .filter_map(move |(_, hash)| self.live(&SessionTokenHash::from_bytes(*hash), now))
    }

    fn purge_if_due(&mut self, now: OffsetDateTime) {
        if self.next_purge.is_none_or(|due| now >= due) {
            self.purge(now, usize::MAX);
            self.next_purge = Some(now + InMemorySessionStore::PURGE_INTERVAL);
        }
    }

    /// Removes up to `limit` expired sessions; returns how many.
    fn purge(&mut self, now: OffsetDateTime, limit: usize) -> u64 {
        let expired: Vec<SessionTokenHash> = self
            .by_hash
            .values()
            .filter(|session| !session.is_live_at(now))
            .map(|session| session.token_hash)
            .take(limit)
            .collect();
        for hash in &expired {
            self.remove(hash);
        }
        self.ended.retain(|_, expires_at| now < *expires_at);
        u64::try_from(expired.len()).unwrap_or(u64::MAX)
    }
}

#[async_trait]
impl SessionStore for InMemorySessionStore {
    async fn create(&self, session: &Session) -> Result<(), PortError> {
        let now = self.clock.now();
        let mut sessions = self.state.write().unwrap_or_else(PoisonError::into_inner);
        sessions.purge_if_due(now);
        sessions.remove(&session.token_hash);
        sessions.ended.remove(&session.token_hash);
        sessions.insert(session.clone());
        Ok(())
    }

    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        let now = self.clock.now();
        let sessions = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Ok(sessions.live(token_hash, now).cloned())
    }

    async fn touch(
        &self,
        session: &Session,
        last_seen_at: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let now = self.clock.now();
        let mut sessions = self.state.write().unwrap_or_else(PoisonError::into_inner);
        match sessions.by_hash.get_mut(&session.token_hash).filter(|stored| stored.is_live_at(now)) {
            Some(stored) => {
                stored.last_seen_at = last_seen_at;
                stored.idle_expires_at = idle_expires_at;
                Ok(true)
            }
            None => Ok(false),
        }
    }

    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        let now = self.clock.now();
        let mut sessions = self.state.write().unwrap_or_else(PoisonError::into_inner);
        Ok(sessions.end(token_hash, now))
    }

    async fn list_for_user(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let now = self.clock.now();
        let sessions = self.state.read().unwrap_or_else(PoisonError::into_inner);
        Ok(sessions.live_of_user(user_id, now).cloned().collect())
    }

    async fn revoke(&self, user_id: UserId, session_id: SessionId) -> Result<Option<Session>, PortError> {
        let now = self.clock.now();
        let mut sessions = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let target = sessions.live_of_user(user_id, now).find(|session| session.id == session_id).map(|s| s.token_hash);
        Ok(target.and_then(|hash| sessions.end(&hash, now)))
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let now = self.clock.now();
        let mut sessions = self.state.write().unwrap_or_else(PoisonError::into_inner);
        let hashes: Vec<(OffsetDateTime, [u8; 32])> =
            sessions.by_user.get(&user_id).map(|index| index.iter().copied().collect()).unwrap_or_default();
        Ok(hashes.into_iter().filter_map(|(_, hash)| sessions.end(&SessionTokenHash::from_bytes(hash), now)).collect())
    }

    async fn purge_expired(&self, limit: u32) -> Result<u64, PortError> {
        let now = self.clock.now();
        let limit = usize::try_from(limit).unwrap_or(usize::MAX);
        Ok(self.state.write().unwrap_or_else(PoisonError::into_inner).purge(now, limit))
    }

    async fn ping(&self) -> Result<(), PortError> {
        Ok(())
    }

    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<Session>, PortError> {
        let after =
            crate::paging::after(&cursor, |text| SessionTokenHash::from_hex(text).map(|hash| *hash.as_bytes()))?;
        let now = self.clock.now();
        let sessions = self.state.read().unwrap_or_else(PoisonError::into_inner);
        let live = sessions.by_hash.values().filter(|session| session.is_live_at(now));
        let keyed = live.map(|session| (*session.token_hash.as_bytes(), session));
        let page = crate::paging::page(keyed, after, limit, |hash| SessionTokenHash::from_bytes(hash).to_hex());
        Ok(ExportPage { records: page.records.into_iter().cloned().collect(), next: page.next })
    }

    async fn import(&self, session: &Session) -> Result<Imported, PortError> {
        let now = self.clock.now();
        let mut sessions = self.state.write().unwrap_or_else(PoisonError::into_inner);
        if !session.is_live_at(now) || sessions.ended.contains_key(&session.token_hash) {
            return Ok(Imported::Skipped);
        }
        sessions.purge_if_due(now);
        match sessions.by_hash.get_mut(&session.token_hash).filter(|stored| stored.is_live_at(now)) {
            Some(stored) if stored.last_seen_at >= session.last_seen_at => Ok(Imported::Skipped),
            Some(stored) => {
                stored.last_seen_at = session.last_seen_at;
                stored.idle_expires_at = session.idle_expires_at;
                Ok(Imported::Updated)
            }
            None => {
                sessions.remove(&session.token_hash);
                sessions.insert(session.clone());
                Ok(Imported::Created)
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use sesame_ports::{ManualClock, testkit::SessionBuilder};

    use super::*;

    #[tokio::test]
    async fn expired_sessions_are_purged_on_a_later_write() {
        let clock = ManualClock::default();
        let store = InMemorySessionStore::new(Arc::new(clock.clone()));
        let session = || SessionBuilder::opened_at(clock.now()).build();
        store.create(&session()).await.unwrap();
        store.create(&session()).await.unwrap();
        assert_eq!(store.len(), 2);

        clock.advance(Duration::hours(1));
        store.create(&session()).await.unwrap();
        assert_eq!(store.len(), 1, "the two expired sessions were purged");
    }
}
