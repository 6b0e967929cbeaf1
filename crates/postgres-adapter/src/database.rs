//! The connection pool both PostgreSQL stores share, and the embedded migrations.

use sqlx::{AssertSqlSafe, Connection as _, PgConnection, PgPool, migrate::Migrator, postgres::PgPoolOptions};

use crate::{PostgresError, PostgresSettings, settings::is_identifier};

static MIGRATOR: Migrator = sqlx::migrate!("./migrations");

/// A pool of connections to one database (and schema), shared by the users and
/// the sessions store.
#[derive(Debug, Clone)]
pub struct Database {
    pool: PgPool,
    schema: Option<String>,
}

impl Database {
    /// Connects once, so that a failure names its cause (a database that does
    /// not exist, a refused password, a refused connection) rather than a pool
    /// timeout, then opens the pool.
    pub async fn connect(settings: &PostgresSettings) -> Result<Self, PostgresError> {
        let options = settings.connect_options()?;
        let first = tokio::time::timeout(settings.acquire_timeout, PgConnection::connect_with(&options))
            .await
            .map_err(|_| PostgresError::TimedOut(settings.acquire_timeout))?
            .map_err(PostgresError::Connect)?;
        let _ = first.close().await;
        let pool = PgPoolOptions::new()
            .max_connections(settings.max_connections)
            .acquire_timeout(settings.acquire_timeout)
            .connect_lazy_with(options);
        Ok(Self { pool, schema: settings.schema.clone() })
    }

    /// Applies the embedded migrations that have not run yet (and creates the
    /// configured schema first, if there is one).
    pub async fn migrate(&self) -> Result<(), PostgresError> {
        if let Some(schema) = self.schema.as_deref().filter(|schema| is_identifier(schema)) {
            sqlx::query(AssertSqlSafe(format!("CREATE SCHEMA IF NOT EXISTS \"{schema}\"")))
                .execute(&self.pool)
                .await
                .map_err(PostgresError::Connect)?;
        }
        MIGRATOR.run(&self.pool).await?;
        Ok(())
    }

    /// The pool, for the stores, tooling and tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
