//! A session store named by URL alone, for tools that work on two stores at
//! once (`sesame sessions copy --from URL --to URL`): built the way [`build`]
//! builds the configured one, guard and all.

use std::{collections::HashMap, sync::Arc};

use secrecy::{ExposeSecret, SecretString};
use sesame_ports::{Clock, SessionStore};

use crate::{Environment, FactoryError, Settings, SettingsError, build, redact_url};

/// Where a session store is, as a tool is told it.
#[derive(Debug, Clone)]
pub struct StoreLocation {
    /// `postgres://…` or `postgresql://…` (its sessions table), `redis://…` or
    /// `rediss://…` (comma-separated nodes for a Cluster).
    pub url: SecretString,
    /// The Redis key prefix.
    pub key_prefix: String,
    /// The PostgreSQL schema; `None` for the connection's default.
    pub schema: Option<String>,
    /// Whether a single Redis URL names a Cluster node.
    pub cluster: bool,
}

impl StoreLocation {
    /// `text` as a URL, or the value of `VARIABLE` when it reads `env:VARIABLE`
    /// (so that a password stays off the command line and out of shell history).
    pub fn url_from(text: &str) -> Result<SecretString, SettingsError> {
        match text.strip_prefix("env:") {
            Some(variable) => std::env::var(variable)
                .map(SecretString::from)
                .map_err(|_| SettingsError::Refused(format!("{variable} is not set (named by {text})"))),
            None => Ok(SecretString::from(text.to_owned())),
        }
    }

    /// The URL with any password hidden, for messages.
    pub fn redacted(&self) -> String {
        redact_url(self.url.expose_secret())
    }

    /// The store, connected (no migration is run: it must be sesame's already).
    pub async fn open(&self, clock: Arc<dyn Clock>) -> Result<Arc<dyn SessionStore>, FactoryError> {
        let url = self.url.expose_secret();
        let mut vars = HashMap::from([
            ("SESAME__STORE__USERS".to_owned(), "memory".to_owned()),
            ("SESAME__POSTGRES__MIGRATE_ON_START".to_owned(), "false".to_owned()),
        ]);
        if url.starts_with("postgres://") || url.starts_with("postgresql://") {
            vars.insert("SESAME__STORE__SESSIONS".into(), "postgres".into());
            vars.insert("DATABASE_URL".into(), url.to_owned());
            if let Some(schema) = &self.schema {
                vars.insert("SESAME__POSTGRES__SCHEMA".into(), schema.clone());
            }
        } else if url.starts_with("redis://") || url.starts_with("rediss://") {
            vars.insert("SESAME__STORE__SESSIONS".into(), "redis".into());
            vars.insert("REDIS_URL".into(), url.to_owned());
            vars.insert("SESAME__REDIS__KEY_PREFIX".into(), self.key_prefix.clone());
            if self.cluster {
                vars.insert("SESAME__REDIS__CLUSTER".into(), "true".into());
            }
        } else {
            return Err(SettingsError::Refused(format!(
                "{} is neither a PostgreSQL (postgres://) nor a Redis (redis://, rediss://) URL",
                self.redacted()
            ))
            .into());
        }
        let settings = Settings::from_vars(Environment::Development, vars)?;
        // Boxed: `build` opens the store a live move leaves through here.
        Ok(Box::pin(build(&settings, clock)).await?.sessions)
    }
}
