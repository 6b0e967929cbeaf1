//! How to reach PostgreSQL, and what can go wrong doing so.

use std::{str::FromStr, time::Duration};

use secrecy::{ExposeSecret, SecretString};
use sqlx::postgres::PgConnectOptions;

/// Connection settings; `url` may hold a password and is never printed.
#[derive(Debug, Clone)]
pub struct PostgresSettings {
    /// `postgres://user:password@host:port/database`.
    pub url: SecretString,
    /// Most connections in the pool.
    pub max_connections: u32,
    /// How long a query waits for a free connection before failing.
    pub acquire_timeout: Duration,
    /// How long one statement may run before the server cancels it.
    pub statement_timeout: Duration,
    /// A schema to work in instead of `public` (tests give each run its own);
    /// created by [`migrate`](crate::Database::migrate) if missing.
    pub schema: Option<String>,
}

impl PostgresSettings {
    /// Settings for `url`, for tests (the service's come from the settings
    /// catalog, through the factory): 10 connections, 5 s to acquire one, 5 s
    /// a statement, the connection's schema.
    #[cfg(any(test, feature = "testkit"))]
    pub fn for_test(url: SecretString) -> Self {
        Self {
            url,
            max_connections: 10,
            acquire_timeout: Duration::from_secs(5),
            statement_timeout: Duration::from_secs(5),
            schema: None,
        }
    }

    pub(crate) fn connect_options(&self) -> Result<PgConnectOptions, PostgresError> {
        let mut options = PgConnectOptions::from_str(self.url.expose_secret())
            .map_err(|_| PostgresError::InvalidUrl)?
            .application_name("sesame");
        let mut parameters = vec![("statement_timeout", format!("{}", self.statement_timeout.as_millis()))];
        if let Some(schema) = &self.schema {
            if !is_identifier(schema) {
                return Err(PostgresError::InvalidSchema(schema.clone()));
            }
            parameters.push(("search_path", format!("\"{schema}\"")));
        }
        options = options.options(parameters);
        Ok(options)
    }
}

/// A lower-case SQL identifier: safe to put in a statement unquoted.
pub(crate) fn is_identifier(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 63
        && name.starts_with(|c: char| c.is_ascii_lowercase() || c == '_')
        && name.chars().all(|c| c.is_ascii_lowercase() || c.is_ascii_digit() || c == '_')
}

impl PostgresError {
    /// Whether trying again later may succeed: a server that does not answer yet,
    /// as opposed to a malformed URL or schema.
    pub fn is_transient(&self) -> bool {
        matches!(self, Self::Connect(_) | Self::TimedOut(_))
    }
}

/// Why the adapter cannot start. Messages never contain the URL: it may hold a password.
#[derive(Debug, thiserror::Error)]
pub enum PostgresError {
    /// `DATABASE_URL` is not a PostgreSQL URL.
    #[error("DATABASE_URL is not a valid PostgreSQL URL")]
    InvalidUrl,
    /// The schema name is not a plain lower-case identifier.
    #[error("schema {0:?} is not a lower-case SQL identifier")]
    InvalidSchema(String),
    /// The server cannot be reached or refused the connection.
    #[error("cannot connect: {0}")]
    Connect(#[source] sqlx::Error),
    /// The server answers, but the database named in the URL does not exist:
    /// not worth retrying.
    #[error(
        "the server answers, but database \"{0}\" does not exist: create it (`createdb {0}`; \
         for the development database, `cargo xtask setup`)"
    )]
    MissingDatabase(String),
    /// The server did not answer in time.
    #[error("cannot connect: no answer within {0:?}")]
    TimedOut(std::time::Duration),
    /// A migration failed.
    #[error("migration failed: {0}")]
    Migrate(#[from] sqlx::migrate::MigrateError),
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn schema_names_must_be_plain_identifiers() {
        assert!(is_identifier("sesame_test_0a1b"));
        assert!(!is_identifier("public; drop table users"));
        assert!(!is_identifier("Upper"));
        assert!(!is_identifier("1abc"));
    }

    #[test]
    fn a_bad_url_is_refused_without_echoing_it() {
        let settings = PostgresSettings::for_test(SecretString::from("postgres://root:hunter2@[db"));
        let err = settings.connect_options().unwrap_err();
        assert!(!err.to_string().contains("hunter2"));
    }
}
