//! The connection pool both PostgreSQL stores share, and the embedded migrations.

use sesame_ports::PortError;
use sqlx::{AssertSqlSafe, Connection as _, PgConnection, PgPool, migrate::Migrator, postgres::PgPoolOptions};

use crate::{BACKEND, PostgresError, PostgresSettings, settings::is_identifier};

/// The name of the unique index on `lower(email)`.
const EMAIL_INDEX: &str = "users_email_lower_key";

/// sqlx's error as the ports see it: a duplicate email is
/// [`PortError::EmailTaken`]; a connection that broke under the query (reset, or
/// its backend terminated by an administrator) is [`PortError::ConnectionLost`];
/// anything else is [`PortError::Unavailable`].
pub(crate) fn port_error(err: sqlx::Error) -> PortError {
    let database = err.as_database_error();
    if database.is_some_and(|db| db.is_unique_violation() && db.constraint() == Some(EMAIL_INDEX)) {
        return PortError::EmailTaken;
    }
    // 57P01 admin_shutdown, 57P02 crash_shutdown: the backend went away under us.
    let terminated = database.and_then(|db| db.code()).is_some_and(|code| code == "57P01" || code == "57P02");
    if terminated || matches!(err, sqlx::Error::Io(_)) {
        PortError::connection_lost(BACKEND, err)
    } else {
        PortError::unavailable(BACKEND, err)
    }
}

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
            .map_err(|err| match err.as_database_error().and_then(|err| err.code()).as_deref() {
                // invalid_catalog_name: the server answers, the database is not there.
                Some("3D000") => PostgresError::MissingDatabase(options.get_database().unwrap_or("?").to_owned()),
                _ => PostgresError::Connect(err),
            })?;
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

    /// A database at `url` migrated in a schema of its own (`sesame_test_…`,
    /// which `cargo xtask test` drops), and the schema's name: for tests.
    /// Panics, naming `TEST_DATABASE_URL`, when the server cannot be reached.
    #[cfg(feature = "testkit")]
    pub async fn migrated_for_test(url: &str) -> (Self, String) {
        use secrecy::SecretString;
        let schema = format!("sesame_test_{}", uuid::Uuid::new_v4().simple());
        let mut settings = PostgresSettings::for_test(SecretString::from(url.to_owned()));
        settings.schema = Some(schema.clone());
        let database = Self::connect(&settings)
            .await
            .unwrap_or_else(|err| panic!("PostgreSQL is needed: {err}. Start it, or set TEST_DATABASE_URL."));
        database.migrate().await.expect("migrations");
        (database, schema)
    }

    /// The pool, for the stores, tooling and tests.
    pub fn pool(&self) -> &PgPool {
        &self.pool
    }
}
