//! [`UserRepository`] on PostgreSQL.

use async_trait::async_trait;
use sesame_ports::{
    Email, ExportCursor, ExportPage, Imported, NewUser, PasswordHash, PortError, User, UserChanges, UserId,
    UserRepository,
};
use sqlx::{AssertSqlSafe, PgPool, postgres::PgRow};
use time::OffsetDateTime;
use uuid::Uuid;

use crate::{BACKEND, Database, database::port_error as store_error};

const COLUMNS: &str = "id, email, password_hash, is_verified, is_disabled, created_at";

/// Users in PostgreSQL.
#[derive(Debug, Clone)]
pub struct PostgresUserRepository {
    pool: PgPool,
}

impl PostgresUserRepository {
    /// Users in `database`.
    pub fn new(database: &Database) -> Self {
        Self { pool: database.pool().clone() }
    }
}

fn user_from_row(row: &PgRow) -> Result<User, PortError> {
    use sqlx::Row as _;
    let read = |err: sqlx::Error| PortError::unavailable(BACKEND, err);
    let email: String = row.try_get("email").map_err(read)?;
    Ok(User {
        id: UserId::from_uuid(row.try_get::<Uuid, _>("id").map_err(read)?),
        email: Email::parse(&email).map_err(|err| PortError::unavailable(BACKEND, format!("stored email: {err}")))?,
        password_hash: PasswordHash::new(row.try_get::<String, _>("password_hash").map_err(read)?),
        is_verified: row.try_get("is_verified").map_err(read)?,
        is_disabled: row.try_get("is_disabled").map_err(read)?,
        created_at: row.try_get::<OffsetDateTime, _>("created_at").map_err(read)?,
    })
}

#[async_trait]
impl UserRepository for PostgresUserRepository {
    async fn create(&self, user: NewUser) -> Result<User, PortError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "INSERT INTO users (id, email, password_hash, created_at) VALUES ($1, $2, $3, $4) RETURNING {COLUMNS}"
        )))
        .bind(user.id.as_uuid())
        .bind(user.email.as_str())
        .bind(user.password_hash.expose())
        .bind(user.created_at)
        .fetch_one(&self.pool)
        .await
        .map_err(store_error)?;
        user_from_row(&row)
    }

    async fn find_by_id(&self, id: UserId) -> Result<Option<User>, PortError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE id = $1")))
            .bind(id.as_uuid())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn find_by_email(&self, email: &Email) -> Result<Option<User>, PortError> {
        let row = sqlx::query(AssertSqlSafe(format!("SELECT {COLUMNS} FROM users WHERE lower(email) = lower($1)")))
            .bind(email.as_str())
            .fetch_optional(&self.pool)
            .await
            .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()
    }

    async fn update(&self, id: UserId, changes: UserChanges) -> Result<User, PortError> {
        let row = sqlx::query(AssertSqlSafe(format!(
            "UPDATE users SET email = COALESCE($2, email), password_hash = COALESCE($3, password_hash), \
             is_verified = COALESCE($4, is_verified), is_disabled = COALESCE($5, is_disabled), updated_at = now() \
             WHERE id = $1 RETURNING {COLUMNS}"
        )))
        .bind(id.as_uuid())
        .bind(changes.email.as_ref().map(Email::as_str))
        .bind(changes.password_hash.as_ref().map(PasswordHash::expose))
        .bind(changes.is_verified)
        .bind(changes.is_disabled)
        .fetch_optional(&self.pool)
        .await
        .map_err(store_error)?;
        row.as_ref().map(user_from_row).transpose()?.ok_or(PortError::NotFound)
    }

    async fn delete(&self, id: UserId) -> Result<bool, PortError> {
        let deleted = sqlx::query("DELETE FROM users WHERE id = $1")
            .bind(id.as_uuid())
            .execute(&self.pool)
            .await
            .map_err(store_error)?;
        Ok(deleted.rows_affected() > 0)
    }

    async fn ping(&self) -> Result<(), PortError> {
        sqlx::query("SELECT 1").execute(&self.pool).await.map_err(store_error)?;
        Ok(())
    }

    async fn export(&self, cursor: ExportCursor, limit: u32) -> Result<ExportPage<User>, PortError> {
        let after = match cursor.position() {
            None => None,
            Some(position) => Some(UserId::parse(position).map_err(|_| {
                PortError::Invalid(format!("{position:?} is not a cursor of the PostgreSQL user store"))
            })?),
        };
        let limit = limit.max(1);
        let rows = sqlx::query(AssertSqlSafe(format!(
            "SELECT {COLUMNS} FROM users WHERE $1::uuid IS NULL OR id > $1 ORDER BY id LIMIT $2"
        )))
        .bind(after.map(|id| id.as_uuid()))
        .bind(i64::from(limit))
        .fetch_all(&self.pool)
        .await
        .map_err(store_error)?;
        let records = rows.iter().map(user_from_row).collect::<Result<Vec<_>, _>>()?;
        let full = records.len() == usize::try_from(limit).unwrap_or(usize::MAX);
        let next = records.last().filter(|_| full).map(|user| ExportCursor::at(user.id.to_string()));
        Ok(ExportPage { records, next })
    }

    async fn import(&self, user: &User) -> Result<Imported, PortError> {
        let done = sqlx::query(
            "INSERT INTO users (id, email, password_hash, is_verified, is_disabled, created_at) \
             VALUES ($1, $2, $3, $4, $5, $6) ON CONFLICT (id) DO NOTHING",
        )
        .bind(user.id.as_uuid())
        .bind(user.email.as_str())
        .bind(user.password_hash.expose())
        .bind(user.is_verified)
        .bind(user.is_disabled)
        .bind(user.created_at)
        .execute(&self.pool)
        .await
        .map_err(store_error)?;
        Ok(if done.rows_affected() == 1 { Imported::Created } else { Imported::Skipped })
    }
}
