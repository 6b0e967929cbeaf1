//! [`SessionStore`] and [`DurableSessionStore`] on PostgreSQL: the `sessions`
//! table (see its migration), keyed by the SHA-256 of the token.

use std::{net::IpAddr, sync::Arc};

use async_trait::async_trait;
use sesame_ports::{
    Clock, DurableSessionStore, Email, ExportCursor, ExportPage, Imported, PortError, Session, SessionId,
    SessionMetadata, SessionStore, SessionTokenHash, Touch, UserId, UserSnapshot,
};
use sqlx::{AssertSqlSafe, PgPool, Row as _, postgres::PgRow};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{BACKEND, Database, database::port_error as store_error};

const COLUMNS: &str = "token_hash, id, user_id, created_at, last_seen_at, idle_expires_at, absolute_expires_at, \
                       ip, user_agent, user_email, user_verified, user_created_at";

/// Sessions in PostgreSQL. Time is read from the clock, never from the
/// server, so that every store of a deployment agrees on what has expired.
pub struct PostgresSessionStore {
    pool: PgPool,
    clock: Arc<dyn Clock>,
}

impl PostgresSessionStore {
    /// Sessions in `database`, reading time from `clock`.
    pub fn new(database: &Database, clock: Arc<dyn Clock>) -> Self {
        Self { pool: database.pool().clone(), clock }
    }

    /// Reads the sessions in `rows`. A row that cannot be decoded is deleted,
    /// logged with a short hash, and left out.
    async fn decode_all(&self, rows: Vec<PgRow>) -> Result<Vec<Session>, PortError> {
        let mut sessions = Vec::with_capacity(rows.len());
        for row in &rows {
            match decode(row)? {
                Ok(session) => sessions.push(session),
                Err(token_hash) => self.discard_corrupt(&token_hash).await?,
            }
        }
        Ok(sessions)
    }

    async fn discard_corrupt(&self, token_hash: &SessionTokenHash) -> Result<(), PortError> {
        tracing::warn!(session = %token_hash.short(), "deleting a session record that cannot be decoded");
        sqlx::query("DELETE FROM sessions WHERE token_hash = $1")
            .bind(&token_hash.as_bytes()[..])
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    /// Runs `query` and decodes the sessions it returns.
    async fn sessions<'q>(
        &self,
        query: sqlx::query::Query<'q, sqlx::Postgres, sqlx::postgres::PgArguments>,
    ) -> Result<Vec<Session>, PortError> {
        let rows = query.fetch_all(&self.pool).await.map_err(store_error)?;
        self.decode_all(rows).await
    }
}

fn hashes(token_hashes: &[SessionTokenHash]) -> Vec<Vec<u8>> {
    token_hashes.iter().map(|hash| hash.as_bytes().to_vec()).collect()
}

/// The session in `row`; `Err(hash)` when its fields do not make one (the
/// schema's types are trusted; what it cannot check — the IP, the email, a
/// snapshot present in part — is).
fn decode(row: &PgRow) -> Result<Result<Session, SessionTokenHash>, PortError> {
    let read = |err: sqlx::Error| PortError::unavailable(BACKEND, err);
    let bytes: Vec<u8> = row.try_get("token_hash").map_err(read)?;
    let Ok(bytes) = <[u8; 32]>::try_from(bytes.as_slice()) else {
        return Err(PortError::unavailable(BACKEND, "a stored token hash is not 32 bytes"));
    };
    let token_hash = SessionTokenHash::from_bytes(bytes);
    let ip = match row.try_get::<Option<String>, _>("ip").map_err(read)? {
        Some(ip) => match ip.parse::<IpAddr>() {
            Ok(ip) => Some(ip),
            Err(_) => return Ok(Err(token_hash)),
        },
        None => None,
    };
    let email: Option<String> = row.try_get("user_email").map_err(read)?;
    let verified: Option<bool> = row.try_get("user_verified").map_err(read)?;
    let joined: Option<OffsetDateTime> = row.try_get("user_created_at").map_err(read)?;
    let user = match (email, verified, joined) {
        (Some(email), Some(is_verified), Some(created_at)) => match Email::parse(&email) {
            Ok(email) => Some(UserSnapshot { email, is_verified, created_at }),
            Err(_) => return Ok(Err(token_hash)),
        },
        (None, None, None) => None,
        _ => return Ok(Err(token_hash)),
    };
    Ok(Ok(Session {
        id: SessionId::from_uuid(row.try_get::<Uuid, _>("id").map_err(read)?),
        token_hash,
        user_id: UserId::from_uuid(row.try_get::<Uuid, _>("user_id").map_err(read)?),
        created_at: row.try_get("created_at").map_err(read)?,
        last_seen_at: row.try_get("last_seen_at").map_err(read)?,
        idle_expires_at: row.try_get("idle_expires_at").map_err(read)?,
        absolute_expires_at: row.try_get("absolute_expires_at").map_err(read)?,
        metadata: SessionMetadata { ip, user_agent: row.try_get("user_agent").map_err(read)? },
        user,
    }))
}

/// `INSERT` of a session, with `on_conflict` deciding what happens to a row
/// already under its hash.
fn insert(
    session: &Session,
    on_conflict: &str,
) -> sqlx::query::Query<'static, sqlx::Postgres, sqlx::postgres::PgArguments> {
    sqlx::query(AssertSqlSafe(format!(
        "INSERT INTO sessions ({COLUMNS}) VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9, $10, $11, $12) \
         ON CONFLICT (token_hash) {on_conflict}"
    )))
    .bind(session.token_hash.as_bytes().to_vec())
    .bind(session.id.as_uuid())
    .bind(session.user_id.as_uuid())
    .bind(session.created_at)
    .bind(session.last_seen_at)
    .bind(session.idle_expires_at)
    .bind(session.absolute_expires_at)
    .bind(session.metadata.ip.map(|ip| ip.to_string()))
    .bind(session.metadata.user_agent.clone())
    .bind(session.user.as_ref().map(|user| user.email.as_str().to_owned()))
    .bind(session.user.as_ref().map(|user| user.is_verified))
    .bind(session.user.as_ref().map(|user| user.created_at))
}

#[async_trait]
impl SessionStore for PostgresSessionStore {
    async fn create(&self, session: &Session) -> Result<(), PortError> {
        insert(
            session,
            "DO UPDATE SET id = EXCLUDED.id, user_id = EXCLUDED.user_id, created_at = EXCLUDED.created_at, \
             last_seen_at = EXCLUDED.last_seen_at, idle_expires_at = EXCLUDED.idle_expires_at, \
             absolute_expires_at = EXCLUDED.absolute_expires_at, ip = EXCLUDED.ip, \
             user_agent = EXCLUDED.user_agent, user_email = EXCLUDED.user_email, \
             user_verified = EXCLUDED.user_verified, user_created_at = EXCLUDED.user_created_at, \
             ended_at = NULL, cache_pending = false",
        )
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }

    async fn get(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $2"
        )))
        .bind(&token_hash.as_bytes()[..])
        .bind(self.clock.now());
        Ok(self.sessions(query).await?.pop())
    }

    async fn touch(
        &self,
        session: &Session,
        last_seen_at: OffsetDateTime,
        idle_expires_at: OffsetDateTime,
    ) -> Result<bool, PortError> {
        let done = sqlx::query(
            "UPDATE sessions SET last_seen_at = $2, idle_expires_at = $3 \
             WHERE token_hash = $1 AND ended_at IS NULL AND expires_at > $4",
        )
        .bind(&session.token_hash.as_bytes()[..])
        .bind(last_seen_at)
        .bind(idle_expires_at)
        .bind(self.clock.now())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn delete(&self, token_hash: &SessionTokenHash) -> Result<Option<Session>, PortError> {
        let now = self.clock.now();
        let query = sqlx::query(AssertSqlSafe(format!(
            "UPDATE sessions SET ended_at = $2, cache_pending = true WHERE token_hash = $1 AND ended_at IS NULL \
             RETURNING {COLUMNS}"
        )))
        .bind(&token_hash.as_bytes()[..])
        .bind(now);
        Ok(self.sessions(query).await?.pop().filter(|session| session.is_live_at(now)))
    }

    async fn list_for_user(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE user_id = $1 AND ended_at IS NULL AND expires_at > $2 \
             ORDER BY created_at, token_hash"
        )))
        .bind(user_id.as_uuid())
        .bind(self.clock.now());
        self.sessions(query).await
    }

    async fn revoke(&self, user_id: UserId, session_id: SessionId) -> Result<Option<Session>, PortError> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "UPDATE sessions SET ended_at = $3, cache_pending = true \
             WHERE user_id = $1 AND id = $2 AND ended_at IS NULL AND expires_at > $3 RETURNING {COLUMNS}"
        )))
        .bind(user_id.as_uuid())
        .bind(session_id.as_uuid())
        .bind(self.clock.now());
        Ok(self.sessions(query).await?.pop())
    }

    async fn revoke_all(&self, user_id: UserId) -> Result<Vec<Session>, PortError> {
        let now = self.clock.now();
        let query = sqlx::query(AssertSqlSafe(format!(
            "UPDATE sessions SET ended_at = $2, cache_pending = true WHERE user_id = $1 AND ended_at IS NULL \
             RETURNING {COLUMNS}"
        )))
        .bind(user_id.as_uuid())
        .bind(now);
        Ok(self.sessions(query).await?.into_iter().filter(|session| session.is_live_at(now)).collect())
    }

    async fn purge_expired(&self, limit: u32) -> Result<u64, PortError> {
        // SKIP LOCKED: instances purging at once take disjoint batches instead of
        // waiting on each other's row locks.
        let done = sqlx::query(
            "DELETE FROM sessions WHERE token_hash IN (SELECT token_hash FROM sessions WHERE expires_at <= $1 \
             ORDER BY expires_at LIMIT $2 FOR UPDATE SKIP LOCKED)",
        )
        .bind(self.clock.now())
        .bind(i64::from(limit))
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(done.rows_affected())
    }

    async fn ping(&self) -> Result<(), PortError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(store_error)?;
        Ok(())
    }

    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<Session>, PortError> {
        let after = match cursor.position() {
            None => Vec::new(),
            Some(position) => SessionTokenHash::from_hex(position)
                .ok_or_else(|| {
                    PortError::Invalid(format!("{position:?} is not a cursor of the PostgreSQL session store"))
                })?
                .as_bytes()
                .to_vec(),
        };
        let limit = limit.max(1);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE token_hash > $1 AND ended_at IS NULL AND expires_at > $2 \
             ORDER BY token_hash LIMIT $3"
        )))
        .bind(after)
        .bind(self.clock.now())
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        // From the last row read, whether or not it decodes.
        let next = match rows.last().filter(|_| rows.len() == usize::try_from(limit).unwrap_or(usize::MAX)) {
            Some(last) => match decode(last)? {
                Ok(session) => Some(ExportCursor::at(session.token_hash.to_hex())),
                Err(token_hash) => Some(ExportCursor::at(token_hash.to_hex())),
            },
            None => None,
        };
        Ok(ExportPage { records: self.decode_all(rows).await?, next })
    }

    async fn import(&self, session: &Session) -> Result<Imported, PortError> {
        if !session.is_live_at(self.clock.now()) {
            return Ok(Imported::Skipped);
        }
        // A row comes back when one was inserted or updated; xmax is 0 only on
        // a row this statement inserted. An ended row is never updated.
        let row = insert(
            session,
            "DO UPDATE SET last_seen_at = EXCLUDED.last_seen_at, idle_expires_at = EXCLUDED.idle_expires_at \
             WHERE sessions.ended_at IS NULL AND sessions.last_seen_at < EXCLUDED.last_seen_at \
             RETURNING xmax = 0 AS inserted",
        )
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(match row {
            None => Imported::Skipped,
            Some(row) if row.try_get::<bool, _>("inserted").map_err(store_error)? => Imported::Created,
            Some(_) => Imported::Updated,
        })
    }
}

#[async_trait]
impl DurableSessionStore for PostgresSessionStore {
    async fn insert_if_absent(&self, session: &Session) -> Result<bool, PortError> {
        let done = insert(session, "DO NOTHING").execute(&self.pool).await.map_err(store_error)?;
        Ok(done.rows_affected() == 1)
    }

    async fn cache_pending(&self, limit: u32) -> Result<Vec<Session>, PortError> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE cache_pending ORDER BY ended_at LIMIT $1"
        )))
        .bind(i64::from(limit));
        self.sessions(query).await
    }

    async fn clear_cache_pending(&self, token_hashes: &[SessionTokenHash]) -> Result<(), PortError> {
        sqlx::query("UPDATE sessions SET cache_pending = false WHERE token_hash = ANY($1)")
            .bind(hashes(token_hashes))
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(())
    }

    async fn ended_since(&self, since: OffsetDateTime, limit: u32) -> Result<Vec<Session>, PortError> {
        let query = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM sessions WHERE ended_at >= $1 ORDER BY ended_at LIMIT $2"
        )))
        .bind(since)
        .bind(i64::from(limit));
        self.sessions(query).await
    }

    async fn touch_many(&self, touches: &[Touch]) -> Result<(), PortError> {
        if touches.is_empty() {
            return Ok(());
        }
        let seen: Vec<OffsetDateTime> = touches.iter().map(|touch| touch.last_seen_at).collect();
        let idle: Vec<OffsetDateTime> = touches.iter().map(|touch| touch.idle_expires_at).collect();
        let token_hashes: Vec<SessionTokenHash> = touches.iter().map(|touch| touch.token_hash).collect();
        sqlx::query(
            "UPDATE sessions AS s SET last_seen_at = t.seen, idle_expires_at = t.idle \
             FROM unnest($1::bytea[], $2::timestamptz[], $3::timestamptz[]) AS t(token_hash, seen, idle) \
             WHERE s.token_hash = t.token_hash AND s.ended_at IS NULL \
             AND LEAST(t.idle, s.absolute_expires_at) > $4 AND s.idle_expires_at < t.idle",
        )
        .bind(hashes(&token_hashes))
        .bind(seen)
        .bind(idle)
        .bind(self.clock.now())
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(())
    }
}
