//! [`TieredSessionStore`]: a session store over a durable tier and a cache tier.

use std::{
    collections::HashSet,
    sync::{
        Arc,
        atomic::{AtomicU64, Ordering},
    },
    time::Duration,
};

use async_trait::async_trait;
use sesame_ports::{
    Cached, Clock, DurableSessionStore, ExportCursor, ExportPage, Imported, PortError, Session, SessionCache,
    SessionId, SessionStore, SessionTokenHash, Touch, UserId,
};
use time::OffsetDateTime;

use crate::{
    BACKEND,
    misses::{MissBudget, NegativeCache},
    outbox::Outbox,
};

/// How a tiered store bounds its work.
#[derive(Debug, Clone)]
pub struct TieredSettings {
    /// Durable-tier lookups a second for tokens the cache does not hold (with a
    /// burst of five seconds' worth); past it such a request answers 503. Raised
    /// tenfold while the cache is known to have lost data.
    pub miss_lookups_per_second: u32,
    /// The most session uses, and as many ends, waiting to be written to the
    /// durable tier.
    pub outbox_capacity: usize,
    /// The longest a session lives (the absolute timeout): how long an ended
    /// marker left for a session the cache could not read must last.
    pub session_lifetime: Duration,
}

impl TieredSettings {
    /// The outbox's capacity: 100 000 waiting writes (a bound of the
    /// design, about 20 MiB, not a setting).
    pub const OUTBOX_CAPACITY: usize = 100_000;
}

/// Hashes the negative cache remembers at most.
const NEGATIVE_CAPACITY: usize = 100_000;

/// Sessions in a durable tier (the source of truth) behind a cache tier (the
/// fast path).
///
/// - **Writes** reach the durable tier first: a session the durable tier did not
///   take is not created. The cache write that follows is best effort; a session
///   the cache lacks is found in the durable tier and refilled.
/// - **Reads** hit the cache. A miss falls back to the durable tier (bounded:
///   see [`TieredSettings::miss_lookups_per_second`]) and refills the cache
///   ([`SessionCache::fill`], which never overwrites an ended marker, so a refill
///   racing a logout cannot undo it). An ended marker in the cache is an answer:
///   the durable tier is not asked.
/// - **Uses** (touches) are written to the cache at once and to the durable tier
///   behind, in batches, by [`upkeep`](Self::upkeep): a request never waits for
///   the durable tier to record a use. A crash loses at most the uses since the
///   last upkeep (about a second); they only matter if the cache then loses
///   those sessions too, which then end up to that much earlier.
/// - **Ending** a session ends it in the durable tier (whose ended record keeps
///   a late copy from coming back), then in the cache (an ended marker). When
///   the cache cannot be told, the durable tier lists the session as
///   cache-pending; when the durable tier cannot be told, the cache ends it at
///   once and the durable end waits in this instance's outbox.
/// - **After a cache failure**, the store does not trust the cache until
///   [`upkeep`](Self::upkeep) has ended in it every session the durable tier
///   lists as cache-pending (every end is listed, in the write that ends it,
///   until the cache has it): meanwhile it reads the durable tier. So a session
///   ended while the cache was unreachable is not accepted again once it
///   returns. When the cache went back to an older state (a restart or a
///   failover to a lagging replica), [`replay_ends`](Self::replay_ends) tells
///   it again what ended lately.
/// - **Listing and revoke-all** answer from the durable tier, so an evicted or
///   lost cache entry can never hide a session from them; sessions that only the
///   cache holds are added from the cache's own listing.
/// - **Sessions only the cache holds** (not durable: written by a Redis-only
///   deployment) are copied to the durable tier at their first use: inserted if
///   absent, then marked durable in the cache; if the cache no longer holds them
///   live (they ended meanwhile), the copy is ended again, so the copy never
///   outlives a logout. Until then the cache's own listing reaches them; while
///   the cache is down it cannot (docs/reliability.md).
pub struct TieredSessionStore {
    durable: Arc<dyn DurableSessionStore>,
    cache: Arc<dyn SessionCache>,
    clock: Arc<dyn Clock>,
    outbox: Outbox,
    negative: NegativeCache,
    budget: MissBudget,
    session_lifetime: Duration,
    /// Counts cache failures; the cache is suspect while this runs ahead of
    /// `reconciled`, the count an upkeep that reconciled the cache had seen when
    /// it began (so a failure during a reconciliation is never forgotten).
    cache_failures: AtomicU64,
    reconciled: AtomicU64,
}

impl TieredSessionStore {
    /// A tiered store over these tiers, reading time from `clock`.
    pub fn new(
        durable: Arc<dyn DurableSessionStore>,
        cache: Arc<dyn SessionCache>,
        clock: Arc<dyn Clock>,
        settings: &TieredSettings,
    ) -> Self {
        Self {
            durable,
            cache,
            clock,
            outbox: Outbox::new(settings.outbox_capacity),
            negative: NegativeCache::new(NEGATIVE_CAPACITY),
            budget: MissBudget::new(settings.miss_lookups_per_second),
            session_lifetime: settings.session_lifetime,
            cache_failures: AtomicU64::new(0),
            reconciled: AtomicU64::new(0),
        }
    }

    /// The periodic work, about once a second: writes queued uses and ends to
    /// the durable tier, and ends in the cache what the durable tier lists as
    /// cache-pending (after which a cache that failed is trusted again). Also
    /// what a graceful shutdown runs last.
    pub async fn upkeep(&self) {
        self.flush_touches().await;
        self.flush_ends().await;
        self.reconcile_cache().await;
        let (touches, ends) = self.outbox.depth();
        metrics::gauge!("sesame_tiered_outbox_touches").set(touches as f64);
        metrics::gauge!("sesame_tiered_outbox_ends").set(ends as f64);
    }

    /// Raises the miss budget tenfold for `period`: the cache lost its data, so
    /// every live session will miss once.
    pub fn lift_miss_budget(&self, period: Duration) {
        self.budget.lift_for(period);
    }

    /// Whether the cache failed and has not been reconciled since.
    pub fn cache_is_suspect(&self) -> bool {
        self.cache_failures.load(Ordering::Acquire) > self.reconciled.load(Ordering::Acquire)
    }

    fn distrust_cache(&self, err: &PortError) {
        if !self.cache_is_suspect() {
            tracing::debug!(error = %err, "cache failed; reading the durable tier until it is reconciled");
        }
        self.cache_failures.fetch_add(1, Ordering::AcqRel);
    }

    /// Ends in the cache, again, every session the durable tier ended in the
    /// last `window`: the cache went back to an older state (it restarted from
    /// a snapshot, or failed over to a replica that lagged) and may hold some of
    /// them live again.
    /// Returns whether the cache took them.
    pub async fn replay_ends(&self, window: Duration) -> bool {
        const MOST: u32 = 10_000;
        let since = self.clock.now() - window;
        let replayed = async {
            let ended = self.durable.ended_since(since, MOST).await?;
            self.cache.end(&ended).await?;
            Ok::<_, PortError>(ended.len())
        };
        match replayed.await {
            Ok(count) if count == MOST as usize => {
                tracing::warn!(
                    sessions = count,
                    "told the cache again what ended lately, up to the most a replay takes"
                );
                true
            }
            Ok(count) => {
                tracing::info!(sessions = count, "told the cache again what ended lately");
                true
            }
            Err(err) => {
                tracing::debug!(error = %err, "telling the cache again what ended lately failed; trying again");
                self.distrust_cache(&err);
                false
            }
        }
    }

    /// How many ends wait for the durable tier (they are lost if the process ends).
    pub fn ends_waiting(&self) -> usize {
        self.outbox.depth().1
    }

    /// Writes queued uses to the durable tier, in batches; puts back what fails.
    async fn flush_touches(&self) {
        const BATCH: usize = 1000;
        loop {
            let batch = self.outbox.take_touches(BATCH);
            if batch.is_empty() {
                return;
            }
            let full = batch.len() == BATCH;
            if let Err(err) = self.durable.touch_many(&batch).await {
                tracing::debug!(error = %err, queued = batch.len(), "writing session uses failed; keeping them");
                self.outbox.restore_touches(batch);
                return;
            }
            if !full {
                return;
            }
        }
    }

    /// Ends in the durable tier what the cache ended while it was down.
    async fn flush_ends(&self) {
        for token_hash in self.outbox.ends() {
            match self.durable.delete(&token_hash).await {
                Ok(ended) => {
                    self.outbox.ended(&token_hash);
                    if let Some(session) = ended {
                        self.end_in_cache(std::slice::from_ref(&session)).await;
                    }
                }
                Err(err) => {
                    tracing::debug!(error = %err, "ending sessions in the durable tier failed; keeping them");
                    return;
                }
            }
        }
    }

    /// Ends in the cache every session the durable tier lists as cache-pending;
    /// once none is left and the cache answers, the cache is trusted again.
    async fn reconcile_cache(&self) {
        const BATCH: u32 = 100;
        let failures_seen = self.cache_failures.load(Ordering::Acquire);
        let reconciled = async {
            self.cache.ping().await?;
            loop {
                let pending = self.durable.cache_pending(BATCH).await?;
                if pending.is_empty() {
                    return Ok::<_, PortError>(());
                }
                self.cache.end(&pending).await?;
                let hashes: Vec<SessionTokenHash> = pending.iter().map(|session| session.token_hash).collect();
                self.durable.clear_cache_pending(&hashes).await?;
                tracing::info!(
                    sessions = hashes.len(),
                    "ended in the cache sessions that ended while it was unreachable"
                );
            }
        };
        match reconciled.await {
            Ok(()) => {
                if self.reconciled.fetch_max(failures_seen, Ordering::AcqRel) < failures_seen {
                    tracing::debug!("cache reconciled; reading it again");
                }
            }
            Err(err) => tracing::debug!(error = %err, "cache not reconciled yet"),
        }
    }

    /// A session the cache does not hold, from the durable tier — within the
    /// miss budget, and not for a hash the durable tier recently did not hold.
    async fn get_missed(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        if self.negative.contains(token_hash) {
            return Ok(None);
        }
        if !self.budget.take() {
            metrics::counter!("sesame_tiered_misses_refused_total").increment(1);
            return Err(PortError::unavailable(BACKEND, "too many cache misses to look up at once"));
        }
        let found = self.get_from_durable(token_hash, true).await?;
        if found.is_none() {
            self.negative.insert(*token_hash);
        }
        Ok(found)
    }

    /// Looks in the durable tier for a session the cache lacks, and refills the
    /// cache with it when `refill`.
    async fn get_from_durable(
        &self,
        token_hash: &SessionTokenHash,
        refill: bool,
    ) -> Result<Option<Session>, PortError> {
        let Some(session) = self.durable.get(token_hash).await? else { return Ok(None) };
        if refill && let Err(err) = self.cache.fill(&session).await {
            self.distrust_cache(&err);
        }
        Ok(Some(session))
    }

    /// Copies a session that only the cache holds to the durable tier; whether
    /// it is still live. A failure leaves it for its next use: the session keeps
    /// working from the cache.
    async fn copy_forward(&self, session: &Session) -> bool {
        let hash = &session.token_hash;
        let copied = async {
            if !self.durable.insert_if_absent(session).await? && self.durable.get(hash).await?.is_none() {
                // The durable tier ended it (its cache end is pending): end it here too.
                self.cache.end(std::slice::from_ref(session)).await?;
                return Ok(false);
            }
            if !self.cache.mark_durable(hash).await? {
                // It ended in the cache after we read it: end the copy too, now or later.
                if self.durable.delete(hash).await.is_err() && !self.outbox.end(*hash) {
                    tracing::error!(session = %hash.short(), "a copied session could not be ended again");
                }
                return Ok(false);
            }
            Ok::<_, PortError>(true)
        };
        copied.await.unwrap_or_else(|err| {
            tracing::debug!(session = %hash.short(), error = %err, "copying a session forward failed");
            true
        })
    }

    /// Ends in the cache `sessions` the durable tier just ended, and takes them
    /// off its cache-pending list; those the cache cannot take stay on it.
    async fn end_in_cache(&self, sessions: &[Session]) {
        if sessions.is_empty() {
            return;
        }
        if let Err(err) = self.cache.end(sessions).await {
            self.distrust_cache(&err);
            return;
        }
        let hashes: Vec<SessionTokenHash> = sessions.iter().map(|session| session.token_hash).collect();
        if let Err(err) = self.durable.clear_cache_pending(&hashes).await {
            // Harmless: the upkeep ends them in the cache again, and clears them.
            tracing::debug!(error = %err, "clearing ended sessions off the cache-pending list failed");
        }
    }
}

/// The answer of a cache call that looks for sessions only the cache holds; when
/// the cache fails, there are none it can reach.
fn cache_only<T>(answer: Result<T, PortError>) -> Option<T> {
    answer
        .inspect_err(|err| tracing::debug!(error = %err, "cache unavailable; sessions only it holds were not reached"))
        .ok()
}

/// `ours` followed by the sessions of `theirs` it lacks, oldest first.
pub(crate) fn merged(mut ours: Vec<Session>, theirs: Vec<Session>) -> Vec<Session> {
    let known: HashSet<SessionTokenHash> = ours.iter().map(|session| session.token_hash).collect();
    ours.extend(theirs.into_iter().filter(|session| !known.contains(&session.token_hash)));
    ours.sort_by_key(|session| (session.created_at, *session.token_hash.as_bytes()));
    ours
}

#[async_trait]
impl SessionStore for TieredSessionStore {
    async fn create(&self, session: &Session) -> Result<(), PortError> {
        self.durable.create(session).await?;
        self.negative.remove(&session.token_hash);
        if let Err(err) = self.cache.put(session).await {
            self.distrust_cache(&err);
        }
        Ok(())
    }

    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        if self.outbox.is_ending(token_hash) {
            return Ok(None);
        }
        if self.cache_is_suspect() {
            return self.get_from_durable(token_hash, false).await;
        }
        match self.cache.lookup(token_hash).await {
            Ok(Cached::Live { session, durable: true }) => Ok(Some(session)),
            Ok(Cached::Live { session, durable: false }) => {
                let live = self.copy_forward(&session).await;
                Ok(live.then_some(session))
            }
            Ok(Cached::Ended) => Ok(None),
            Ok(Cached::Missing) => self.get_missed(token_hash).await,
            Err(err) => {
                self.distrust_cache(&err);
                self.get_from_durable(token_hash, false).await
            }
        }
    }

    async fn touch(
        &self,
        session: &Session,
        last_seen_at: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        if !self.cache_is_suspect() {
            match self.cache.touch(session, last_seen_at, idle_expires_at).await {
                Ok(true) => {
                    let touch = Touch { token_hash: session.token_hash, last_seen_at, idle_expires_at };
                    if !self.outbox.touch(touch) {
                        metrics::counter!("sesame_tiered_touches_dropped_total").increment(1);
                    }
                    return Ok(true);
                }
                // The cache lacks it (its refill failed): the durable tier decides.
                Ok(false) => {}
                Err(err) => self.distrust_cache(&err),
            }
        }
        self.durable.touch(session, last_seen_at, idle_expires_at).await
    }

    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        match self.durable.delete(token_hash).await {
            Ok(Some(session)) => {
                self.end_in_cache(std::slice::from_ref(&session)).await;
                Ok(Some(session))
            }
            // Not live in the durable tier; the cache may still hold one it never copied.
            Ok(None) => Ok(cache_only(self.cache.delete(token_hash).await).flatten()),
            // The durable tier is down: end it in the cache now (a marker even
            // where the cache held nothing: the durable tier may hold it live),
            // and in the durable tier later.
            Err(durable) => {
                let ended = match self.cache.delete(token_hash).await {
                    Ok(Some(session)) => Some(session),
                    Ok(None) if self.cache.end_by_hash(token_hash, self.session_lifetime).await.is_ok() => None,
                    Ok(None) | Err(_) => return Err(durable),
                };
                if self.outbox.end(*token_hash) { Ok(ended) } else { Err(durable) }
            }
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
        // The cache expires its keys by itself.
        self.durable.purge_expired(limit).await
    }

    async fn ping(&self) -> Result<(), PortError> {
        self.durable.ping().await
    }

    /// The durable tier's sessions. Sessions only the cache holds (written
    /// before the tiered store, not used since) are not in it: they are copied
    /// forward at their first use.
    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<Session>, PortError> {
        self.durable.export(cursor, limit).await
    }

    /// Into the durable tier, which decides (it remembers ends); then into the
    /// cache as [`create`](Self::create) writes, so that the cache does not
    /// serve an older copy.
    async fn import(&self, session: &Session) -> Result<Imported, PortError> {
        let imported = self.durable.import(session).await?;
        if imported != Imported::Skipped {
            self.negative.remove(&session.token_hash);
            if let Err(err) = self.cache.put(session).await {
                self.distrust_cache(&err);
            }
        }
        Ok(imported)
    }
}
