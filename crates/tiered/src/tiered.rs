//! [`TieredSessionStore`]: a session store over a durable tier and a cache tier.

use std::{collections::HashSet, sync::Arc};

use async_trait::async_trait;
use sesame_ports::{
    Cached, DurableSessionStore, PortError, Session, SessionCache, SessionId, SessionStore, SessionTokenHash, UserId,
};
use time::OffsetDateTime;

/// Sessions in a durable tier (the source of truth) behind a cache tier (the
/// fast path).
///
/// - **Writes** reach the durable tier first: a session the durable tier did not
///   take is not created. The cache write that follows is best effort; a session
///   the cache lacks is found in the durable tier and refilled.
/// - **Reads** hit the cache. A miss or a cache failure falls back to the
///   durable tier and refills the cache ([`SessionCache::fill`], which never
///   overwrites an ended marker, so a refill racing a logout cannot undo it).
///   An ended marker in the cache is an answer: the durable tier is not asked.
/// - **Ending** a session ends it in the durable tier (whose ended record keeps
///   a late copy from coming back), then in the cache (an ended marker). When
///   the cache cannot be told, the durable tier lists the session as
///   cache-pending ([`DurableSessionStore::mark_cache_pending`]).
/// - **Listing and revoke-all** answer from the durable tier, so an evicted or
///   lost cache entry can never hide a session from them; sessions that only the
///   cache holds (written before the tiered store was deployed) are added from
///   the cache's own listing.
/// - **Sessions only the cache holds** (not durable) are copied to the durable
///   tier at their first use: inserted if absent, then marked durable in the
///   cache; if the cache no longer holds them live (they ended meanwhile), the
///   copy is ended again, so the copy never outlives a logout. Until then the
///   cache's own listing reaches them; while the cache is down it cannot, and a
///   revocation answers for what the durable tier holds (docs/reliability.md).
pub struct TieredSessionStore {
    durable: Arc<dyn DurableSessionStore>,
    cache: Arc<dyn SessionCache>,
}

impl TieredSessionStore {
    /// A tiered store over these tiers.
    pub fn new(durable: Arc<dyn DurableSessionStore>, cache: Arc<dyn SessionCache>) -> Self {
        Self { durable, cache }
    }

    /// Looks in the durable tier for a session the cache lacks, and refills the
    /// cache with it.
    async fn get_from_durable(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        let Some(session) = self.durable.get(token_hash).await? else { return Ok(None) };
        if let Err(err) = self.cache.fill(&session).await {
            tracing::debug!(session = %token_hash.short(), error = %err, "cache refill failed");
        }
        Ok(Some(session))
    }

    /// Copies a session that only the cache holds to the durable tier. Failures
    /// leave it for its next use: the session keeps working from the cache.
    async fn copy_forward(&self, session: &Session) {
        let copied = async {
            self.durable.insert_if_absent(session).await?;
            if !self.cache.mark_durable(&session.token_hash).await? {
                // It ended in the cache after we read it: end the copy too.
                self.durable.delete(&session.token_hash).await?;
            }
            Ok::<_, PortError>(())
        };
        if let Err(err) = copied.await {
            tracing::debug!(session = %session.token_hash.short(), error = %err, "copying a session forward failed");
        }
    }

    /// Ends `sessions` in the cache; those it cannot end there are left on the
    /// durable tier's cache-pending list.
    async fn end_in_cache(&self, sessions: &[Session]) {
        if sessions.is_empty() {
            return;
        }
        let Err(err) = self.cache.end(sessions).await else { return };
        let hashes: Vec<SessionTokenHash> = sessions.iter().map(|session| session.token_hash).collect();
        match self.durable.mark_cache_pending(&hashes).await {
            Ok(()) => {
                tracing::warn!(sessions = hashes.len(), error = %err, "cache unavailable; ended sessions left pending");
            }
            Err(pending) => tracing::error!(
                sessions = hashes.len(),
                error = %err,
                pending_error = %pending,
                "neither tier could record ended sessions for the cache"
            ),
        }
    }
}

/// The answer of a cache call that looks for sessions only the cache holds; when
/// the cache fails, there are none it can reach, which is logged.
fn cache_only<T>(answer: Result<T, PortError>) -> Option<T> {
    answer
        .inspect_err(|err| tracing::debug!(error = %err, "cache unavailable; sessions only it holds were not reached"))
        .ok()
}

/// `ours` followed by the sessions of `theirs` it lacks, oldest first.
fn merged(mut ours: Vec<Session>, theirs: Vec<Session>) -> Vec<Session> {
    let known: HashSet<SessionTokenHash> = ours.iter().map(|session| session.token_hash).collect();
    ours.extend(theirs.into_iter().filter(|session| !known.contains(&session.token_hash)));
    ours.sort_by_key(|session| (session.created_at, *session.token_hash.as_bytes()));
    ours
}

#[async_trait]
impl SessionStore for TieredSessionStore {
    async fn create(&self, session: &Session) -> Result<(), PortError> {
        self.durable.create(session).await?;
        if let Err(err) = self.cache.put(session).await {
            tracing::debug!(session = %session.token_hash.short(), error = %err, "cache write failed");
        }
        Ok(())
    }

    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        match self.cache.lookup(token_hash).await {
            Ok(Cached::Live { session, durable: true }) => Ok(Some(session)),
            Ok(Cached::Live { session, durable: false }) => {
                self.copy_forward(&session).await;
                Ok(Some(session))
            }
            Ok(Cached::Ended) => Ok(None),
            Ok(Cached::Missing) => self.get_from_durable(token_hash).await,
            Err(err) => {
                tracing::debug!(session = %token_hash.short(), error = %err, "cache lookup failed; asking the durable tier");
                self.get_from_durable(token_hash).await
            }
        }
    }

    async fn touch(
        &self,
        session: &Session,
        last_seen_at: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        match self.cache.touch(session, last_seen_at, idle_expires_at).await {
            Ok(true) => {
                if let Err(err) = self.durable.touch(session, last_seen_at, idle_expires_at).await {
                    tracing::debug!(session = %session.token_hash.short(), error = %err, "durable touch failed");
                }
                Ok(true)
            }
            // The cache lacks it (a refill failed, or it is failing): the durable tier decides.
            Ok(false) | Err(_) => self.durable.touch(session, last_seen_at, idle_expires_at).await,
        }
    }

    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        match self.durable.delete(token_hash).await? {
            Some(session) => {
                self.end_in_cache(std::slice::from_ref(&session)).await;
                Ok(Some(session))
            }
            // Not live in the durable tier; the cache may still hold one it never copied.
            None => Ok(cache_only(self.cache.delete(token_hash).await).flatten()),
        }
    }

    async fn list_for_user(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let durable = self.durable.list_for_user(user_id).await?;
        let cached = cache_only(self.cache.list_for_user(user_id).await).unwrap_or_default();
        Ok(merged(durable, cached))
    }

    async fn revoke(&self, user_id: UserId, session_id: SessionId) -> Result<Option<Session>, PortError> {
        match self.durable.revoke(user_id, session_id).await? {
            Some(session) => {
                self.end_in_cache(std::slice::from_ref(&session)).await;
                Ok(Some(session))
            }
            None => Ok(cache_only(self.cache.revoke(user_id, session_id).await).flatten()),
        }
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let ended = self.durable.revoke_all(user_id).await?;
        self.end_in_cache(&ended).await;
        let cached = cache_only(self.cache.revoke_all(user_id).await).unwrap_or_default();
        Ok(merged(ended, cached))
    }

    async fn purge_expired(&self, limit: u32) -> Result<u64, PortError> {
        let durable = self.durable.purge_expired(limit).await?;
        Ok(durable + self.cache.purge_expired(limit).await?)
    }

    async fn ping(&self) -> Result<(), PortError> {
        self.durable.ping().await
    }
}
