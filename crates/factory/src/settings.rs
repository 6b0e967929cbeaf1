//! Settings: built-in defaults, then `.env.{environment}`, then the process
//! environment. docs/configuration.md lists every one.
//!
//! The seed's names are kept as they are (`DATABASE_URL`, `REDIS_URL`,
//! `SESSION_MAX_AGE_SECONDS`); every other setting is `SESAME__SECTION__KEY`, for
//! example `SESAME__HTTP__ADDR`.

use std::{collections::HashMap, net::SocketAddr, path::Path};

use config::{Config, ConfigError};
use ipnet::IpNet;
use secrecy::SecretString;
use serde::{Deserialize, Deserializer, de::Error as _};
use sesame_ports::RateLimit;

use crate::{Environment, Origin, catalog};

impl From<ConfigError> for SettingsError {
    fn from(err: ConfigError) -> Self {
        Self::Invalid(catalog::in_variables(&err.to_string()))
    }
}

/// Everything the service reads at start-up.
#[derive(Debug, Deserialize)]
pub struct Settings {
    /// The environment these settings were loaded for.
    #[serde(skip)]
    pub environment: Environment,
    /// `DATABASE_URL`: the PostgreSQL users store. Secret: it may hold a password.
    pub database_url: Option<SecretString>,
    /// `REDIS_URL`: the Redis sessions store. Secret: it may hold a password.
    pub redis_url: Option<SecretString>,
    /// `SESAME__HTTP__*`.
    pub http: HttpSettings,
    /// `SESSION_MAX_AGE_SECONDS` and `SESAME__SESSION__*`.
    pub session: SessionSettings,
    /// `SESAME__COOKIE__*`.
    pub cookie: CookieSettings,
    /// `SESAME__PASSWORD__*`.
    pub password: PasswordSettings,
    /// `SESAME__STORE__*`.
    pub store: StoreSettings,
    /// `SESAME__POSTGRES__*`.
    pub postgres: PostgresTuning,
    /// `SESAME__REDIS__*`.
    pub redis: RedisTuning,
    /// `SESAME__LOG__*`.
    pub log: LogSettings,
    /// `SESAME__RATE_LIMIT__*`.
    pub rate_limit: RateLimitSettings,
    /// `SESAME__MIGRATE_FROM__*`.
    pub migrate_from: MigrateFromSettings,
    /// `SESAME__ACCOUNT__*`.
    pub account: AccountSettings,
    /// What the loader noticed and went on past: `SESAME__…` variables that
    /// are no setting (a misspelling names the closest one). For the caller
    /// to log once logging is set up.
    #[serde(skip)]
    pub warnings: Vec<String>,
}

/// Rate limits, each written `BURST/PERIOD` — `10/10m`: ten at once, then one
/// a minute (`s`, `m` or `h`) — or `off`. Counts are shared by every instance
/// through Redis whenever sessions use Redis.
#[derive(Debug, Clone, Copy, Deserialize)]
pub struct RateLimitSettings {
    /// `SESAME__RATE_LIMIT__LOGIN_PER_IP`: login attempts per client IP,
    /// default `30/1m`. Also password confirmations (password change, account
    /// deletion).
    #[serde(deserialize_with = "rate_limit")]
    pub login_per_ip: Option<RateLimit>,
    /// `SESAME__RATE_LIMIT__LOGIN_PER_EMAIL`: login attempts per normalised
    /// email since its last successful login, default `10/10m`. Also password
    /// confirmations per user.
    #[serde(deserialize_with = "rate_limit")]
    pub login_per_email: Option<RateLimit>,
    /// `SESAME__RATE_LIMIT__REGISTER_PER_IP`: registrations per client IP,
    /// default `20/1h`.
    #[serde(deserialize_with = "rate_limit")]
    pub register_per_ip: Option<RateLimit>,
    /// `SESAME__RATE_LIMIT__INVALID_COOKIE_PER_IP`: requests per client IP
    /// whose session cookie opens no live session, default `60/1m`.
    #[serde(deserialize_with = "rate_limit")]
    pub invalid_cookie_per_ip: Option<RateLimit>,
}

/// The HTTP listener.
#[derive(Debug, Deserialize)]
pub struct HttpSettings {
    /// `SESAME__HTTP__ADDR`, default `127.0.0.1:3000`.
    pub addr: SocketAddr,
    /// `SESAME__HTTP__DRAIN_SECONDS`: after a shutdown signal, how long
    /// readiness answers 503 (and responses close their connections) before the
    /// listener closes; default 5 in production, 0 elsewhere.
    pub drain_seconds: u32,
    /// `SESAME__HTTP__TRUSTED_PROXIES`: comma-separated CIDRs (`10.0.0.0/8,
    /// 127.0.0.1/32`) of the proxies in front. Only a peer in this list is
    /// believed about the client (`X-Forwarded-For`) and the origin the browser
    /// used (`X-Forwarded-Proto`, `X-Forwarded-Host`); default none.
    #[serde(deserialize_with = "comma_separated")]
    pub trusted_proxies: Vec<IpNet>,
    /// `SESAME__HTTP__ALLOWED_ORIGINS`: comma-separated origins
    /// (`https://app.example.com`) that may send state-changing requests and
    /// call the API from a browser (CORS); default none, which allows only the
    /// origin the browser used to reach sesame itself.
    #[serde(deserialize_with = "comma_separated")]
    pub allowed_origins: Vec<Origin>,
    /// `SESAME__HTTP__HEADER_TIMEOUT_SECONDS`: the longest a connection may
    /// take to send a request head, or stay idle between requests; default 10.
    pub header_timeout_seconds: u32,
    /// `SESAME__HTTP__BODY_TIMEOUT_SECONDS`: the longest a request body may
    /// take to arrive; default 10.
    pub body_timeout_seconds: u32,
    /// `SESAME__HTTP__MAX_CONNECTIONS`: connections open at once, default 1024
    /// (lowered at start-up to fit the descriptor limit).
    pub max_connections: usize,
    /// `SESAME__HTTP__METRICS_ADDR`: serve `/metrics` on this address only
    /// (not on `SESAME__HTTP__ADDR`), so it need not be public; default unset.
    pub metrics_addr: Option<SocketAddr>,
    /// `SESAME__HTTP__TLS_IN_FRONT`: TLS terminates in front of sesame; in
    /// production every response then carries HSTS; default false.
    pub tls_in_front: bool,
    /// `SESAME__HTTP__CLEAR_SITE_DATA`: logout, logout-all and account
    /// deletion answer `Clear-Site-Data: "cookies"` (it clears every cookie of
    /// the site, the application's own included); default false.
    pub clear_site_data: bool,
}

/// Session lifetimes, in seconds.
#[derive(Debug, Deserialize)]
pub struct SessionSettings {
    /// `SESSION_MAX_AGE_SECONDS`: the idle (sliding) timeout, default 1800.
    pub max_age_seconds: u32,
    /// `SESAME__SESSION__ABSOLUTE_TIMEOUT_SECONDS`, default 43200.
    pub absolute_timeout_seconds: u32,
    /// `SESAME__SESSION__TOUCH_INTERVAL_SECONDS`: the least time between two
    /// recorded uses of a session, default 60.
    pub touch_interval_seconds: u32,
}

/// The session cookie.
#[derive(Debug, Deserialize)]
pub struct CookieSettings {
    /// `SESAME__COOKIE__NAME`, default `sessionId`; a `__Host-` or `__Secure-`
    /// prefix is allowed and then requires `Secure`.
    pub name: String,
    /// `SESAME__COOKIE__SECURE`; defaults to true in production, false elsewhere.
    pub secure: bool,
    /// `SESAME__COOKIE__PERSISTENT`: give the cookie a `Max-Age` (the session's
    /// absolute lifetime) so it outlives the browser; default false.
    pub persistent: bool,
    /// `SESAME__COOKIE__PREVIOUS_NAMES`: comma-separated names the cookie had
    /// before; still read, and re-issued under the current name; default none.
    #[serde(deserialize_with = "comma_separated")]
    pub previous_names: Vec<String>,
    /// `SESAME__COOKIE__LEGACY_TOKENS`: also read tokens another system issued
    /// (printable ASCII, 16 to 256 characters), which open only the sessions
    /// `sesame users import --legacy` brought from it, and are rotated to a
    /// sesame token at their first use; default false.
    pub legacy_tokens: bool,
}

/// Password hashing.
#[derive(Debug, Deserialize)]
pub struct PasswordSettings {
    /// `SESAME__PASSWORD__MAX_CONCURRENT_HASHES`: hashes run at once (each needs
    /// ~19 MiB and a core), default half the cores, at least 1.
    pub max_concurrent_hashes: usize,
    /// `SESAME__PASSWORD__MAX_WAITING_HASHES`: hashes that may wait for a turn;
    /// beyond, login and register answer 503 with `Retry-After`; default 256.
    pub max_waiting_hashes: usize,
}

/// Which store backs each port.
#[derive(Debug, Deserialize)]
pub struct StoreSettings {
    /// `SESAME__STORE__USERS`: `memory` or `postgres`; by default `memory` in mock,
    /// `postgres` elsewhere.
    pub users: UserBackend,
    /// `SESAME__STORE__SESSIONS`: `memory`, `redis`, `postgres` or `tiered`; by
    /// default `memory` in mock, `tiered` elsewhere.
    pub sessions: SessionBackend,
    /// `SESAME__STORE__CONNECT_ATTEMPTS`: how often start-up tries an unreachable
    /// store, with doubling pauses from 200 ms up to 5 s, before giving up; default
    /// 4 (with the default 2 s connection timeouts, a silent store fails start-up
    /// within about 10 s).
    pub connect_attempts: u32,
    /// `SESAME__STORE__PURGE_INTERVAL_SECONDS`: how often expired sessions are
    /// removed from stores that do not expire them by themselves, default 300.
    pub purge_interval_seconds: u32,
    /// `SESAME__STORE__MISS_LOOKUPS_PER_SECOND`: in tiered mode, PostgreSQL
    /// lookups a second for tokens Redis does not hold, default 200.
    pub miss_lookups_per_second: u32,
    /// `SESAME__STORE__MEMORY_SNAPSHOT_DIR`: where the in-memory stores write
    /// `users.jsonl` and `sessions.jsonl` when the service stops, and read them
    /// back when it starts; unset (the default), they keep nothing.
    pub memory_snapshot_dir: Option<std::path::PathBuf>,
}

/// PostgreSQL pool and migration settings (the URL is `DATABASE_URL`).
#[derive(Debug, Deserialize)]
pub struct PostgresTuning {
    /// `SESAME__POSTGRES__MAX_CONNECTIONS`, default 10.
    pub max_connections: u32,
    /// `SESAME__POSTGRES__ACQUIRE_TIMEOUT_MS`: wait for a free connection, default 2000.
    pub acquire_timeout_ms: u64,
    /// `SESAME__POSTGRES__STATEMENT_TIMEOUT_MS`: server-side limit per statement, default 5000.
    pub statement_timeout_ms: u64,
    /// `SESAME__POSTGRES__SCHEMA`: work in this schema instead of `public` (tests use one each).
    pub schema: Option<String>,
    /// `SESAME__POSTGRES__MIGRATE_ON_START`: run pending migrations at start-up;
    /// default true, except in production, where `sesame migrate` runs them.
    pub migrate_on_start: bool,
}

/// Redis settings (the URL is `REDIS_URL`).
#[derive(Debug, Deserialize)]
pub struct RedisTuning {
    /// `SESAME__REDIS__CLUSTER`: `REDIS_URL` names Cluster nodes (comma-separated);
    /// default false, true when `REDIS_URL` lists several URLs.
    pub cluster: bool,
    /// `SESAME__REDIS__KEY_PREFIX`, default `sesame:`.
    pub key_prefix: String,
    /// `SESAME__REDIS__CONNECTION_TIMEOUT_MS`, default 2000.
    pub connection_timeout_ms: u64,
    /// `SESAME__REDIS__RESPONSE_TIMEOUT_MS`, default 500.
    pub response_timeout_ms: u64,
    /// `SESAME__REDIS__ACCEPT_EVICTION`: in redis-only mode, production starts
    /// with a Redis that may evict sessions; default false.
    pub accept_eviction: bool,
    /// `SESAME__REDIS__LOCAL_CACHE_SESSIONS`: sessions each instance keeps in
    /// a local cache that Redis's invalidations keep true; default 0 (off).
    pub local_cache_sessions: usize,
}

/// The session store a live move leaves: while its URL is set, sessions the
/// configured store misses are looked up there and carried forward, new ones
/// are written to both, and ends reach both (docs/operations.md, "Moving a live
/// system").
#[derive(Debug, Deserialize)]
pub struct MigrateFromSettings {
    /// `SESAME__MIGRATE_FROM__URL`: the old store, `postgres://…` (its sessions
    /// table) or `redis://…`/`rediss://…` (comma-separated nodes for a
    /// Cluster); unset, the default, when nothing moves. Secret: it may hold a
    /// password.
    pub url: Option<SecretString>,
    /// `SESAME__MIGRATE_FROM__KEY_PREFIX`: the old Redis's key prefix, default `sesame:`.
    pub key_prefix: String,
    /// `SESAME__MIGRATE_FROM__SCHEMA`: the old PostgreSQL's schema, default the connection's.
    pub schema: Option<String>,
    /// `SESAME__MIGRATE_FROM__CLUSTER`: the old Redis URL names Cluster nodes;
    /// default true when it lists several URLs.
    pub cluster: bool,
}

/// What the account page (`/account`) says it belongs to: the product's
/// name, links to its help and privacy pages, its logo. Every value is
/// escaped where it is shown.
#[derive(Debug, Deserialize)]
pub struct AccountSettings {
    /// `SESAME__ACCOUNT__PRODUCT_NAME`: the product the page (and the mail
    /// sesame sends) names, at most 64 characters; default `sesame`.
    pub product_name: String,
    /// `SESAME__ACCOUNT__HELP_URL`: a link to the product's help, `https://`
    /// (or `http://` outside production); default none.
    pub help_url: Option<String>,
    /// `SESAME__ACCOUNT__PRIVACY_URL`: a link to the product's privacy
    /// notice, as `SESAME__ACCOUNT__HELP_URL`; default none.
    pub privacy_url: Option<String>,
    /// `SESAME__ACCOUNT__LOGO_FILE`: an image (`.png`, `.jpg`, `.gif`,
    /// `.webp`, `.svg` or `.ico`, at most 64 KiB) shown on the page and served
    /// at `/account/logo` (the page's Content-Security-Policy allows images
    /// from its own origin only); default none.
    pub logo_file: Option<std::path::PathBuf>,
}

/// The largest logo `SESAME__ACCOUNT__LOGO_FILE` may name.
pub const LOGO_MAX_BYTES: u64 = 64 * 1024;

/// The content type of a logo file, by its extension; `None` for one that is not an image the page serves.
pub fn logo_content_type(file: &Path) -> Option<&'static str> {
    let extension = file.extension()?.to_str()?.to_ascii_lowercase();
    Some(match extension.as_str() {
        "png" => "image/png",
        "jpg" | "jpeg" => "image/jpeg",
        "gif" => "image/gif",
        "webp" => "image/webp",
        "svg" => "image/svg+xml",
        "ico" => "image/x-icon",
        _ => return None,
    })
}

impl AccountSettings {
    fn check(&self, production: bool) -> Result<(), SettingsError> {
        let refuse = |message: String| Err(SettingsError::Refused(message));
        let name = &self.product_name;
        if name.trim().is_empty() || name.chars().count() > 64 || name.chars().any(char::is_control) {
            return refuse(format!(
                "SESAME__ACCOUNT__PRODUCT_NAME={name:?} must be 1 to 64 characters, none of them control characters"
            ));
        }
        for (variable, url) in
            [("SESAME__ACCOUNT__HELP_URL", &self.help_url), ("SESAME__ACCOUNT__PRIVACY_URL", &self.privacy_url)]
        {
            let Some(url) = url else { continue };
            let schemes: &[&str] = if production { &["https://"] } else { &["https://", "http://"] };
            let host = schemes
                .iter()
                .find_map(|scheme| url.strip_prefix(scheme))
                .map(|rest| rest.split(['/', '?', '#']).next());
            let well_formed = url.len() <= 2048 && !url.chars().any(|c| c.is_whitespace() || c.is_control());
            if !well_formed || host.flatten().is_none_or(str::is_empty) {
                let wanted = if production { "an https:// URL (production)" } else { "an https:// or http:// URL" };
                return refuse(format!("{variable}={url:?} is not {wanted}"));
            }
        }
        if let Some(file) = &self.logo_file {
            let shown = file.display();
            if logo_content_type(file).is_none() {
                return refuse(format!(
                    "SESAME__ACCOUNT__LOGO_FILE={shown} is not a .png, .jpg, .gif, .webp, .svg or .ico file"
                ));
            }
            match std::fs::metadata(file) {
                Ok(meta) if meta.is_file() && meta.len() <= LOGO_MAX_BYTES => {}
                Ok(meta) if meta.is_file() => {
                    return refuse(format!(
                        "SESAME__ACCOUNT__LOGO_FILE={shown} is {} bytes; at most {LOGO_MAX_BYTES} are served",
                        meta.len()
                    ));
                }
                Ok(_) => return refuse(format!("SESAME__ACCOUNT__LOGO_FILE={shown} is not a file")),
                Err(err) => return refuse(format!("SESAME__ACCOUNT__LOGO_FILE={shown} cannot be read: {err}")),
            }
        }
        Ok(())
    }
}

/// Where users live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum UserBackend {
    /// In process memory.
    Memory,
    /// PostgreSQL at `DATABASE_URL`.
    Postgres,
}

/// Where sessions live.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum SessionBackend {
    /// In process memory.
    Memory,
    /// Redis at `REDIS_URL` alone.
    Redis,
    /// PostgreSQL at `DATABASE_URL` alone.
    Postgres,
    /// PostgreSQL at `DATABASE_URL`, the durable source of truth, behind Redis at
    /// `REDIS_URL`, the fast path.
    Tiered,
}

impl SessionBackend {
    /// Whether sessions live (also) in PostgreSQL.
    pub fn uses_postgres(self) -> bool {
        matches!(self, Self::Postgres | Self::Tiered)
    }
}

/// Logging.
#[derive(Debug, Deserialize)]
pub struct LogSettings {
    /// `SESAME__LOG__FORMAT`: `text` or `json`; `json` by default in production.
    pub format: LogFormat,
    /// `SESAME__LOG__FILTER`: a tracing filter, default `info` (in production
    /// `info,sesame::access=off`: no access log); `RUST_LOG` wins when set.
    pub filter: String,
}

/// How log lines are written.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum LogFormat {
    /// Human-readable lines.
    Text,
    /// One JSON object a line.
    Json,
}

/// Settings that cannot be loaded, or that the environment refuses.
#[derive(Debug, thiserror::Error)]
pub enum SettingsError {
    /// `.env.{environment}` exists but cannot be read.
    #[error("cannot read {file}: {reason}")]
    EnvFile {
        /// The file's path.
        file: String,
        /// Why, without the offending line: it may hold a password.
        reason: String,
    },
    /// A value has the wrong shape; the message names the variable.
    #[error("invalid setting: {0}")]
    Invalid(String),
    /// A value is well-formed but not acceptable; the message names the variable.
    #[error("{0}")]
    Refused(String),
}

/// The seed's variable names and the keys they set.
pub(crate) const SEED_NAMES: [(&str, &str); 3] = [
    ("DATABASE_URL", "database_url"),
    ("REDIS_URL", "redis_url"),
    ("SESSION_MAX_AGE_SECONDS", "session.max_age_seconds"),
];

impl Settings {
    /// Loads the settings for the environment `SESSION_ENVIRONMENT` names, reading
    /// `.env.{environment}` from `dir` (or the nearest directory above it that
    /// has one) and the process environment.
    pub fn from_process_env(dir: &Path) -> Result<Self, crate::FactoryError> {
        let environment = Environment::from_variable(std::env::var(Environment::VARIABLE).ok().as_deref())?;
        Ok(Self::load(environment, dir, std::env::vars().collect())?)
    }

    /// Loads the settings for `environment` from `.env.{environment}` in `dir`
    /// or the nearest directory above it that has one (so that a command run
    /// from a crate's directory finds the workspace's file), if any, overridden
    /// by `vars` (the process environment, or a test's map).
    pub fn load(environment: Environment, dir: &Path, vars: HashMap<String, String>) -> Result<Self, SettingsError> {
        let (_, mut merged) = env_file(environment, dir)?;
        merged.extend(vars);
        Self::from_vars(environment, merged)
    }

    /// Builds settings from defaults overridden by `vars`, then checks them.
    pub fn from_vars(environment: Environment, mut vars: HashMap<String, String>) -> Result<Self, SettingsError> {
        read_secret_files(&mut vars)?;
        catalog::normalize_choices(&mut vars);
        if let Some(refusal) = catalog::refused_value(&vars) {
            return Err(SettingsError::Refused(refusal));
        }
        let warnings = catalog::unknown(&vars);
        let mut builder = Config::builder();
        for (key, default) in catalog::catalog(environment, &vars) {
            if let Some(default) = default {
                builder = builder.set_default(key, default)?;
            }
        }
        // Overrides win over every source, whatever the order they are set in.
        for (name, key) in SEED_NAMES {
            builder = builder.set_override_option(key, vars.get(name).filter(|value| !value.is_empty()).cloned())?;
        }
        let builder = builder.add_source(
            config::Environment::with_prefix("SESAME")
                .prefix_separator("__")
                .separator("__")
                .try_parsing(true)
                .source(Some(vars)),
        );
        let mut settings: Self = builder.build()?.try_deserialize()?;
        settings.environment = environment;
        settings.warnings = warnings;
        settings.check()?;
        Ok(settings)
    }

    fn check(&self) -> Result<(), SettingsError> {
        let refuse = |message: String| Err(SettingsError::Refused(message));
        let session = &self.session;
        if session.max_age_seconds == 0 {
            return refuse("SESSION_MAX_AGE_SECONDS must be greater than 0".into());
        }
        if session.absolute_timeout_seconds < session.max_age_seconds {
            return refuse(format!(
                "SESAME__SESSION__ABSOLUTE_TIMEOUT_SECONDS ({}) must be at least SESSION_MAX_AGE_SECONDS ({})",
                session.absolute_timeout_seconds, session.max_age_seconds
            ));
        }
        if session.touch_interval_seconds >= session.max_age_seconds {
            return refuse(format!(
                "SESAME__SESSION__TOUCH_INTERVAL_SECONDS ({}) must be less than SESSION_MAX_AGE_SECONDS ({})",
                session.touch_interval_seconds, session.max_age_seconds
            ));
        }
        let http = &self.http;
        if http.header_timeout_seconds == 0 || http.body_timeout_seconds == 0 || http.max_connections == 0 {
            return refuse(
                "SESAME__HTTP__HEADER_TIMEOUT_SECONDS, SESAME__HTTP__BODY_TIMEOUT_SECONDS and \
                 SESAME__HTTP__MAX_CONNECTIONS must be at least 1"
                    .into(),
            );
        }
        if self.store.connect_attempts == 0 {
            return refuse("SESAME__STORE__CONNECT_ATTEMPTS must be at least 1".into());
        }
        let in_memory = self.store.users == UserBackend::Memory || self.store.sessions == SessionBackend::Memory;
        if self.store.memory_snapshot_dir.is_some() && !in_memory {
            return refuse(
                "SESAME__STORE__MEMORY_SNAPSHOT_DIR is set, but no store is in memory: unset it, or use \
                 `sesame users|sessions export` to move the stores' data"
                    .into(),
            );
        }
        if self.store.purge_interval_seconds == 0 {
            return refuse("SESAME__STORE__PURGE_INTERVAL_SECONDS must be at least 1".into());
        }
        if self.password.max_concurrent_hashes == 0 {
            return refuse("SESAME__PASSWORD__MAX_CONCURRENT_HASHES must be at least 1".into());
        }
        let name = &self.cookie.name;
        let valid = |name: &str| {
            !name.is_empty() && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"!#$%&'*+-.^_`|~".contains(&b))
        };
        if !valid(name) {
            return refuse(format!("SESAME__COOKIE__NAME={name:?} is not a valid cookie name"));
        }
        if let Some(old) = self.cookie.previous_names.iter().find(|old| !valid(old) || *old == name) {
            return refuse(format!(
                "SESAME__COOKIE__PREVIOUS_NAMES: {old:?} is not a valid cookie name other than SESAME__COOKIE__NAME"
            ));
        }
        let prefix = ["__Host-", "__Secure-"].into_iter().find(|prefix| name.starts_with(prefix));
        if let Some(prefix) = prefix.filter(|_| !self.cookie.secure) {
            return refuse(format!(
                "SESAME__COOKIE__NAME={name:?} has the {prefix} prefix, which needs SESAME__COOKIE__SECURE=true"
            ));
        }
        self.account.check(self.environment == Environment::Production)?;
        if self.environment == Environment::Production {
            self.check_production()?;
        }
        Ok(())
    }

    /// Production refuses to start with a setting that is missing or unsafe.
    fn check_production(&self) -> Result<(), SettingsError> {
        let refuse = |message: &str| Err(SettingsError::Refused(format!("production refuses to start: {message}")));
        if self.database_url.is_none() {
            return refuse("DATABASE_URL is not set");
        }
        if self.redis_url.is_none() {
            return refuse("REDIS_URL is not set");
        }
        if !self.cookie.secure {
            return refuse("SESAME__COOKIE__SECURE must be true (session cookies must be Secure)");
        }
        if self.store.users == UserBackend::Memory {
            return refuse("SESAME__STORE__USERS=memory selects the mock adapter");
        }
        if self.store.sessions == SessionBackend::Memory {
            return refuse("SESAME__STORE__SESSIONS=memory selects the mock adapter");
        }
        Ok(())
    }
}

/// Half the cores this process may use, at least one: the default number of
/// argon2 hashes at once, leaving the other half to the requests that
/// validate sessions.
/// A list written as one comma-separated value; blanks are skipped.
fn comma_separated<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: std::str::FromStr<Err: std::fmt::Display>,
{
    let text = String::deserialize(deserializer)?;
    text.split(',')
        .map(str::trim)
        .filter(|item| !item.is_empty())
        .map(|item| item.parse().map_err(|err| D::Error::custom(format!("{item:?}: {err}"))))
        .collect()
}

/// `BURST/PERIOD` (`10/10m`) or `off`.
fn rate_limit<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Option<RateLimit>, D::Error> {
    let text = String::deserialize(deserializer)?;
    if text.trim().eq_ignore_ascii_case("off") {
        return Ok(None);
    }
    let refuse = || D::Error::custom(format!("{text:?} is not BURST/PERIOD (like 10/10m) or off"));
    let (burst, period) = text.trim().split_once('/').ok_or_else(refuse)?;
    let burst: u32 = burst.trim().parse().map_err(|_| refuse())?;
    let period = period.trim();
    let (amount, unit) = [("s", 1), ("m", 60), ("h", 3600)]
        .into_iter()
        .find_map(|(suffix, unit)| period.strip_suffix(suffix).map(|amount| (amount, unit)))
        .ok_or_else(refuse)?;
    let amount: u64 = amount.parse().map_err(|_| refuse())?;
    let seconds = amount.checked_mul(unit).ok_or_else(refuse)?;
    if burst == 0 || seconds == 0 {
        return Err(refuse());
    }
    Ok(Some(RateLimit { burst, period: std::time::Duration::from_secs(seconds) }))
}

/// The settings that hold a password, each of which may instead be read
/// from the file its `…_FILE` variable names (Docker and Kubernetes secrets).
pub(crate) const SECRET_VARIABLES: [&str; 3] = ["DATABASE_URL", "REDIS_URL", "SESAME__MIGRATE_FROM__URL"];

/// Replaces each `NAME_FILE` of [`SECRET_VARIABLES`] by `NAME`, set to the
/// file's contents without the trailing newline. Setting both is refused, as
/// is a file that cannot be read (named; its contents never are).
pub(crate) fn read_secret_files(vars: &mut HashMap<String, String>) -> Result<(), SettingsError> {
    for name in SECRET_VARIABLES {
        let file_variable = format!("{name}_FILE");
        let Some(file) = vars.remove(&file_variable).filter(|file| !file.is_empty()) else { continue };
        if vars.get(name).is_some_and(|value| !value.is_empty()) {
            return Err(SettingsError::Refused(format!("both {name} and {file_variable} are set; set one")));
        }
        let value = std::fs::read_to_string(&file)
            .map_err(|err| SettingsError::Refused(format!("{file_variable}: cannot read {file}: {err}")))?;
        vars.insert(name.to_owned(), value.trim_end_matches(['\r', '\n']).to_owned());
    }
    Ok(())
}

/// `.env.{environment}` in `dir` or the nearest directory above it that has
/// one: its name and its variables (none when there is no such file).
pub(crate) fn env_file(
    environment: Environment,
    dir: &Path,
) -> Result<(String, HashMap<String, String>), SettingsError> {
    let name = format!(".env.{environment}");
    let vars = match dir.ancestors().map(|dir| dir.join(&name)).find(|file| file.exists()) {
        Some(file) => read_env_file(&file)?,
        None => HashMap::new(),
    };
    Ok((name, vars))
}

/// The variables of a dotenv file, or none when it does not exist.
fn read_env_file(path: &Path) -> Result<HashMap<String, String>, SettingsError> {
    let file_error = |err: dotenvy::Error| {
        let reason = match err {
            dotenvy::Error::LineParse(_, index) => format!("it cannot be parsed at character {index}"),
            dotenvy::Error::Io(err) => err.to_string(),
            _ => "it cannot be read".to_owned(),
        };
        SettingsError::EnvFile { file: path.display().to_string(), reason }
    };
    match dotenvy::from_path_iter(path) {
        Ok(iter) => iter.collect::<Result<_, _>>().map_err(file_error),
        Err(err) if err.not_found() => Ok(HashMap::new()),
        Err(err) => Err(file_error(err)),
    }
}

#[cfg(test)]
mod tests {
    use secrecy::ExposeSecret;

    use super::*;

    fn vars(pairs: &[(&str, &str)]) -> HashMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn refusal(environment: Environment, pairs: &[(&str, &str)]) -> String {
        match Settings::from_vars(environment, vars(pairs)) {
            Err(err) => err.to_string(),
            Ok(settings) => panic!("expected a refusal, got {settings:?}"),
        }
    }

    const PRODUCTION_OK: [(&str, &str); 2] =
        [("DATABASE_URL", "postgres://sesame:hunter2@db/sesame"), ("REDIS_URL", "redis://:hunter2@cache:6379")];

    #[test]
    fn mock_needs_no_configuration() {
        let settings = Settings::from_vars(Environment::Mock, HashMap::new()).unwrap();
        assert_eq!(settings.http.addr, "127.0.0.1:3000".parse().unwrap());
        assert_eq!(settings.session.max_age_seconds, 1800);
        assert_eq!(settings.session.absolute_timeout_seconds, 43_200);
        assert_eq!(settings.cookie.name, "sessionId");
        assert!(!settings.cookie.secure);
        assert_eq!((settings.store.users, settings.store.sessions), (UserBackend::Memory, SessionBackend::Memory));
        assert_eq!(settings.log.format, LogFormat::Text);
    }

    #[test]
    fn seed_names_and_prefixed_names_override_defaults() {
        let settings = Settings::from_vars(
            Environment::Mock,
            vars(&[
                ("SESSION_MAX_AGE_SECONDS", "600"),
                ("SESAME__HTTP__ADDR", "0.0.0.0:8080"),
                ("SESAME__COOKIE__NAME", "__Host-sid"),
                ("SESAME__COOKIE__SECURE", "true"),
                ("DATABASE_URL", "postgres://localhost/sesame"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.session.max_age_seconds, 600);
        assert_eq!(settings.http.addr.port(), 8080);
        assert_eq!(settings.cookie.name, "__Host-sid");
        assert_eq!(settings.database_url.unwrap().expose_secret(), "postgres://localhost/sesame");
    }

    #[test]
    fn proxies_and_origins_are_comma_separated_lists_checked_at_start() {
        let settings = Settings::from_vars(
            Environment::Mock,
            vars(&[
                ("SESAME__HTTP__TRUSTED_PROXIES", "10.0.0.0/8, 127.0.0.1/32,"),
                ("SESAME__HTTP__ALLOWED_ORIGINS", "https://App.example.com:443,http://localhost:5173"),
            ]),
        )
        .unwrap();
        assert_eq!(settings.http.trusted_proxies, ["10.0.0.0/8".parse().unwrap(), "127.0.0.1/32".parse().unwrap()]);
        let origins: Vec<_> = settings.http.allowed_origins.iter().map(Origin::as_str).collect();
        assert_eq!(origins, ["https://app.example.com", "http://localhost:5173"]);
        let defaults = Settings::from_vars(Environment::Mock, HashMap::new()).unwrap();
        assert!(defaults.http.trusted_proxies.is_empty() && defaults.http.allowed_origins.is_empty());

        let err = refusal(Environment::Mock, &[("SESAME__HTTP__TRUSTED_PROXIES", "10.0.0.0/33")]);
        assert!(err.contains("SESAME__HTTP__TRUSTED_PROXIES") && err.contains("10.0.0.0/33"), "{err}");
        let err = refusal(Environment::Mock, &[("SESAME__HTTP__ALLOWED_ORIGINS", "https://app.example.com/")]);
        assert!(err.contains("SESAME__HTTP__ALLOWED_ORIGINS") && err.contains("not an origin"), "{err}");
    }

    #[test]
    fn rate_limits_read_burst_and_period_or_off() {
        let defaults = Settings::from_vars(Environment::Mock, HashMap::new()).unwrap().rate_limit;
        let ten_per_ten_minutes = RateLimit { burst: 10, period: std::time::Duration::from_secs(600) };
        assert_eq!(defaults.login_per_email, Some(ten_per_ten_minutes));
        let settings = Settings::from_vars(
            Environment::Mock,
            vars(&[("SESAME__RATE_LIMIT__LOGIN_PER_IP", "off"), ("SESAME__RATE_LIMIT__REGISTER_PER_IP", "5/30s")]),
        )
        .unwrap();
        assert_eq!(settings.rate_limit.login_per_ip, None);
        let five = RateLimit { burst: 5, period: std::time::Duration::from_secs(30) };
        assert_eq!(settings.rate_limit.register_per_ip, Some(five));
        for bad in ["10", "0/1m", "10/0m", "10/1d", "ten/1m", "10/m", "10/1é", "10/99999999999999999999h"] {
            let err = refusal(Environment::Mock, &[("SESAME__RATE_LIMIT__LOGIN_PER_IP", bad)]);
            assert!(err.contains("SESAME__RATE_LIMIT__LOGIN_PER_IP") && err.contains("BURST/PERIOD"), "{bad}: {err}");
        }
    }

    #[test]
    fn the_env_file_is_overridden_by_process_variables() {
        let dir = std::env::temp_dir().join(format!("sesame-settings-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".env.mock"), "SESSION_MAX_AGE_SECONDS=900\nSESAME__HTTP__ADDR=127.0.0.1:4000\n")
            .unwrap();
        let settings =
            Settings::load(Environment::Mock, &dir, vars(&[("SESAME__HTTP__ADDR", "127.0.0.1:5000")])).unwrap();
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(settings.session.max_age_seconds, 900, "from the file");
        assert_eq!(settings.http.addr.port(), 5000, "the process variable wins");
    }

    #[test]
    fn a_snapshot_directory_needs_a_store_in_memory() {
        let dir = ("SESAME__STORE__MEMORY_SNAPSHOT_DIR", "/var/lib/sesame");
        let settings = Settings::from_vars(Environment::Mock, vars(&[dir])).unwrap();
        assert_eq!(settings.store.memory_snapshot_dir.as_deref(), Some(std::path::Path::new("/var/lib/sesame")));
        assert!(Settings::from_vars(Environment::Mock, vars(&[])).unwrap().store.memory_snapshot_dir.is_none());
        let refused = refusal(Environment::Development, &[dir]);
        assert!(refused.contains("SESAME__STORE__MEMORY_SNAPSHOT_DIR") && refused.contains("no store is in memory"));
    }

    #[test]
    fn the_env_file_is_found_from_a_directory_below_it() {
        let dir = std::env::temp_dir().join(format!("sesame-settings-above-{}", std::process::id()));
        let below = dir.join("crates").join("web");
        std::fs::create_dir_all(&below).unwrap();
        std::fs::write(dir.join(".env.mock"), "SESSION_MAX_AGE_SECONDS=900\n").unwrap();
        let settings = Settings::load(Environment::Mock, &below, HashMap::new());
        std::fs::remove_dir_all(&dir).unwrap();
        assert_eq!(settings.unwrap().session.max_age_seconds, 900);
    }

    #[test]
    fn a_malformed_env_file_is_refused_without_printing_its_lines() {
        let dir = std::env::temp_dir().join(format!("sesame-bad-env-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        std::fs::write(dir.join(".env.development"), "DATABASE_URL=\"postgres://u:hunter2@db/sesame\n").unwrap();
        let err = Settings::load(Environment::Development, &dir, HashMap::new()).unwrap_err().to_string();
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(err.contains(".env.development") && err.contains("cannot be parsed"), "{err}");
        assert!(!err.contains("hunter2"), "{err}");
    }

    #[test]
    fn a_malformed_value_is_refused_naming_its_variable() {
        let message = refusal(Environment::Mock, &[("SESSION_MAX_AGE_SECONDS", "soon")]);
        assert!(message.contains("SESAME__SESSION__MAX_AGE_SECONDS"), "{message}");
        let message = refusal(Environment::Mock, &[("SESAME__HTTP__ADDR", "nowhere")]);
        assert!(message.contains("SESAME__HTTP__ADDR") && !message.contains("http.addr"), "{message}");
        let message = refusal(Environment::Mock, &[("SESAME__STORE__USERS", "mysql")]);
        assert!(message.contains("SESAME__STORE__USERS") && message.contains("memory, postgres"), "{message}");
        assert!(!message.contains("UserBackend"), "no internal type names: {message}");
        let shouted = vars(&[("SESAME__STORE__USERS", "Memory"), ("SESAME__LOG__FORMAT", " JSON ")]);
        let settings = Settings::from_vars(Environment::Mock, shouted).expect("any case is read");
        assert_eq!((settings.store.users, settings.log.format), (UserBackend::Memory, LogFormat::Json));
    }

    #[test]
    fn the_account_pages_branding_is_checked_at_start() {
        let settings = Settings::from_vars(Environment::Mock, HashMap::new()).unwrap().account;
        assert_eq!((settings.product_name.as_str(), settings.help_url, settings.logo_file), ("sesame", None, None));
        let help = ("SESAME__ACCOUNT__HELP_URL", "http://help.example.com/sesame");
        assert!(Settings::from_vars(Environment::Mock, vars(&[help])).is_ok(), "http outside production");
        let mut production = PRODUCTION_OK.to_vec();
        production.push(help);
        let refused = refusal(Environment::Production, &production);
        assert!(refused.contains("SESAME__ACCOUNT__HELP_URL") && refused.contains("https://"), "{refused}");
        for bad in ["javascript:alert(1)", "https://", "help.example.com", "https://a b"] {
            let refused = refusal(Environment::Mock, &[("SESAME__ACCOUNT__PRIVACY_URL", bad)]);
            assert!(refused.contains("SESAME__ACCOUNT__PRIVACY_URL"), "{bad}: {refused}");
        }
        let refused = refusal(Environment::Mock, &[("SESAME__ACCOUNT__PRODUCT_NAME", &"x".repeat(65))]);
        assert!(refused.contains("SESAME__ACCOUNT__PRODUCT_NAME"), "{refused}");

        let dir = std::env::temp_dir().join(format!("sesame-logo-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let (small, large, text) = (dir.join("logo.png"), dir.join("large.png"), dir.join("logo.txt"));
        std::fs::write(&small, [0u8; 100]).unwrap();
        std::fs::write(&large, vec![0u8; 64 * 1024 + 1]).unwrap();
        std::fs::write(&text, "not an image").unwrap();
        let logo = |file: &std::path::Path| {
            Settings::from_vars(Environment::Mock, vars(&[("SESAME__ACCOUNT__LOGO_FILE", &file.display().to_string())]))
        };
        let (small, large, text, missing) = (logo(&small), logo(&large), logo(&text), logo(&dir.join("gone.png")));
        std::fs::remove_dir_all(&dir).unwrap();
        assert!(small.is_ok());
        assert!(large.unwrap_err().to_string().contains("at most 65536"));
        assert!(text.unwrap_err().to_string().contains("is not a .png"));
        assert!(missing.unwrap_err().to_string().contains("cannot be read"));
    }

    #[test]
    fn a_misspelt_variable_is_kept_as_a_warning() {
        let settings = Settings::from_vars(Environment::Mock, vars(&[("SESAME__HTTP__ADRR", "0.0.0.0:80")])).unwrap();
        assert_eq!(settings.warnings.len(), 1);
        assert!(settings.warnings[0].contains("did you mean SESAME__HTTP__ADDR?"), "{:?}", settings.warnings);
    }

    #[test]
    fn inconsistent_lifetimes_are_refused() {
        let message = refusal(Environment::Mock, &[("SESSION_MAX_AGE_SECONDS", "0")]);
        assert!(message.contains("SESSION_MAX_AGE_SECONDS"), "{message}");
        let message = refusal(Environment::Mock, &[("SESAME__SESSION__ABSOLUTE_TIMEOUT_SECONDS", "60")]);
        assert!(message.contains("SESAME__SESSION__ABSOLUTE_TIMEOUT_SECONDS"), "{message}");
        for name in ["__Host-sid", "__Secure-sid"] {
            let message = refusal(Environment::Mock, &[("SESAME__COOKIE__NAME", name)]);
            assert!(message.contains("SESAME__COOKIE__SECURE"), "{message}");
        }
    }

    #[test]
    fn sessions_are_tiered_outside_mock_with_the_outage_timeouts() {
        let settings = Settings::from_vars(Environment::Development, vars(&PRODUCTION_OK)).unwrap();
        assert_eq!(settings.store.sessions, SessionBackend::Tiered);
        assert_eq!((settings.redis.response_timeout_ms, settings.postgres.acquire_timeout_ms), (500, 2000));
        let settings = Settings::from_vars(Environment::Production, vars(&PRODUCTION_OK)).unwrap();
        assert_eq!(settings.store.sessions, SessionBackend::Tiered);
        for backend in ["redis", "postgres", "tiered"] {
            let mut pairs = PRODUCTION_OK.to_vec();
            pairs.push(("SESAME__STORE__SESSIONS", backend));
            assert!(Settings::from_vars(Environment::Production, vars(&pairs)).is_ok(), "{backend}");
            pairs.retain(|(name, _)| *name != "REDIS_URL");
            let message = refusal(Environment::Production, &pairs);
            assert!(message.contains("REDIS_URL is not set"), "production needs Redis with {backend}: {message}");
        }
    }

    #[test]
    fn production_names_each_missing_or_unsafe_setting() {
        assert!(refusal(Environment::Production, &[PRODUCTION_OK[1]]).contains("DATABASE_URL is not set"));
        assert!(refusal(Environment::Production, &[PRODUCTION_OK[0]]).contains("REDIS_URL is not set"));
        let mut unsafe_cookie = PRODUCTION_OK.to_vec();
        unsafe_cookie.push(("SESAME__COOKIE__SECURE", "false"));
        assert!(refusal(Environment::Production, &unsafe_cookie).contains("SESAME__COOKIE__SECURE"));
        let mut mock_store = PRODUCTION_OK.to_vec();
        mock_store.push(("SESAME__STORE__SESSIONS", "memory"));
        assert!(refusal(Environment::Production, &mock_store).contains("SESAME__STORE__SESSIONS=memory"));

        let settings = Settings::from_vars(Environment::Production, vars(&PRODUCTION_OK)).unwrap();
        assert!(settings.cookie.secure, "cookies are Secure by default in production");
        assert_eq!(settings.log.format, LogFormat::Json);
    }

    #[test]
    fn docs_configuration_lists_the_seed_variables() {
        // The SESAME__ ones are checked against the catalog (catalog.rs).
        let doc = include_str!("../../../docs/configuration.md");
        for variable in ["SESSION_ENVIRONMENT", "DATABASE_URL", "REDIS_URL", "SESSION_MAX_AGE_SECONDS"] {
            assert!(doc.contains(&format!("| `{variable}` |")), "docs/configuration.md lacks {variable}");
        }
    }

    #[test]
    fn a_secret_may_come_from_the_file_its_file_variable_names() {
        let dir = std::env::temp_dir().join(format!("sesame-secret-{}", std::process::id()));
        std::fs::create_dir_all(&dir).unwrap();
        let file = dir.join("database_url");
        std::fs::write(&file, "postgres://sesame:hunter2@db/sesame\n").unwrap();
        let file = file.display().to_string();

        let read = Settings::from_vars(Environment::Development, vars(&[("DATABASE_URL_FILE", &file)])).unwrap();
        assert_eq!(read.database_url.unwrap().expose_secret(), "postgres://sesame:hunter2@db/sesame");
        assert!(read.warnings.is_empty(), "{:?}", read.warnings);

        let both = refusal(Environment::Development, &[("DATABASE_URL_FILE", &file), ("DATABASE_URL", "postgres://x")]);
        assert!(both.contains("both DATABASE_URL and DATABASE_URL_FILE are set"), "{both}");
        let missing = refusal(Environment::Development, &[("REDIS_URL_FILE", "/nonexistent/redis_url")]);
        assert!(missing.contains("REDIS_URL_FILE: cannot read /nonexistent/redis_url"), "{missing}");
        std::fs::remove_dir_all(&dir).unwrap();
    }

    #[test]
    fn debug_output_never_shows_a_secret() {
        let mut pairs = PRODUCTION_OK.to_vec();
        pairs.push(("SESAME__MIGRATE_FROM__URL", "redis://:hunter2@old-a:6379,redis://:hunter2@old-b:6379"));
        let settings = Settings::from_vars(Environment::Production, vars(&pairs)).unwrap();
        assert!(settings.migrate_from.cluster, "several old URLs name a Cluster");
        let printed = format!("{settings:?}");
        assert!(!printed.contains("hunter2"), "{printed}");
    }
}
