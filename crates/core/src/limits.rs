//! Rate limits on what an attacker repeats: logins per client IP and per
//! email, registrations per IP, password confirmations per IP and per user,
//! and requests whose session cookie opens nothing, per IP.
//!
//! Counts live behind the `RateLimiter` port (Redis, shared by every
//! instance, whenever sessions use Redis). Over a limit the answer is
//! [`AuthError::RateLimited`] with the wait (429 `rate_limited` with
//! `Retry-After` over HTTP), an audit event through the `AuditSink` port and
//! a metric. When the
//! limiter's store fails the request is let through (fail open: a Redis
//! outage must not lock everyone out), counted in
//! `sesame_rate_limiter_failures_total`, and logged once per episode.
//!
//! IPv6 clients are counted per /64, the block one subscriber usually holds.
//! Emails are keyed by their SHA-256, so the store holds no addresses.

use std::{
    collections::HashMap,
    net::IpAddr,
    sync::{
        Arc, Mutex, PoisonError,
        atomic::{AtomicBool, Ordering},
    },
    time::Instant,
};

use sesame_ports::{Actor, AuditEvent, AuditRecord, AuditSink, PortError, RateLimit, RateLimiter, UserId, Verdict};
use sha2::{Digest, Sha256};

use crate::{AuthError, Credentials};

/// What the rate limits and the audit trail know of the client asking.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct Client<'a> {
    /// Its address; `None` only when the server did not record the peer.
    pub ip: Option<IpAddr>,
    /// The request's id.
    pub request_id: Option<&'a str>,
}

impl Client<'_> {
    /// The client as the audit trail names an actor.
    pub fn actor(&self) -> Actor {
        Actor::Client { ip: self.ip, request_id: self.request_id.map(str::to_owned) }
    }
}

/// Each limit, or `None` where it is off.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct RateLimits {
    /// Logins and password confirmations per client IP.
    pub login_per_ip: Option<RateLimit>,
    /// Logins per email since its last success; password confirmations per user.
    pub login_per_email: Option<RateLimit>,
    /// Registrations per client IP.
    pub register_per_ip: Option<RateLimit>,
    /// Requests per client IP whose session cookie opens no live session.
    pub invalid_cookie_per_ip: Option<RateLimit>,
}

/// Which limit a count is for: its key prefix and metrics label.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Limit {
    /// Logins and password confirmations per client IP.
    LoginPerIp,
    /// Logins per email, password confirmations per user.
    LoginPerAccount,
    /// Registrations per client IP.
    RegisterPerIp,
    /// Requests with a session cookie that opens nothing, per client IP.
    InvalidCookiePerIp,
}

impl Limit {
    /// The limit's stable name, in keys, metrics and the audit log.
    pub fn name(self) -> &'static str {
        match self {
            Self::LoginPerIp => "login_per_ip",
            Self::LoginPerAccount => "login_per_account",
            Self::RegisterPerIp => "register_per_ip",
            Self::InvalidCookiePerIp => "invalid_cookie_per_ip",
        }
    }
}

/// The limits in force, over one limiter.
pub struct Limits {
    limiter: Arc<dyn RateLimiter>,
    /// Where a refusal is recorded.
    audit: Arc<dyn AuditSink>,
    settings: RateLimits,
    /// The limiter's store is failing (for one log line per episode).
    failing: AtomicBool,
    /// Clients over the invalid-cookie limit, until when: their cookies are
    /// refused before any lookup (this instance's memory of the shared count).
    guessing: Mutex<HashMap<String, Instant>>,
}

/// Past this many clients remembered as guessing, the expired ones are dropped.
const GUESSERS_PRUNED_AT: usize = 10_000;

impl Limits {
    /// `settings` counted by `limiter`, refusals recorded in `audit`.
    pub fn new(limiter: Arc<dyn RateLimiter>, settings: RateLimits, audit: Arc<dyn AuditSink>) -> Self {
        Self { limiter, audit, settings, failing: AtomicBool::new(false), guessing: Mutex::default() }
    }

    fn limit(&self, limit: Limit) -> Option<RateLimit> {
        match limit {
            Limit::LoginPerIp => self.settings.login_per_ip,
            Limit::LoginPerAccount => self.settings.login_per_email,
            Limit::RegisterPerIp => self.settings.register_per_ip,
            Limit::InvalidCookiePerIp => self.settings.invalid_cookie_per_ip,
        }
    }

    /// A login attempt for `email` from `client`: counted per IP first, and
    /// per account only when the IP is within its limit, so that an address
    /// already refused cannot go on spending other accounts' budgets.
    pub async fn login(&self, client: Client<'_>, account: &Account) -> Result<(), AuthError> {
        self.per_ip(Limit::LoginPerIp, client).await?;
        self.hit(Limit::LoginPerAccount, client, &account.0, None).await
    }

    /// A successful login for `email`: its count starts again.
    pub async fn login_succeeded(&self, account: &Account) {
        self.reset(Limit::LoginPerAccount, &account.0).await;
    }

    /// A password confirmation (password change, account deletion) by `user`.
    pub async fn confirmation(&self, client: Client<'_>, user: UserId) -> Result<(), AuthError> {
        self.per_ip(Limit::LoginPerIp, client).await?;
        self.hit(Limit::LoginPerAccount, client, &format!("user:{user}"), Some(user)).await
    }

    /// A successful password confirmation by `user`.
    pub async fn confirmation_succeeded(&self, user: UserId) {
        self.reset(Limit::LoginPerAccount, &format!("user:{user}")).await;
    }

    /// A registration from `client`.
    pub async fn register(&self, client: Client<'_>) -> Result<(), AuthError> {
        self.per_ip(Limit::RegisterPerIp, client).await
    }

    /// A request from `client` whose session cookie opened nothing. Over the
    /// limit, the client is remembered until it may try again.
    pub async fn invalid_cookie(&self, client: Client<'_>) -> Result<(), AuthError> {
        let counted = self.per_ip(Limit::InvalidCookiePerIp, client).await;
        if let (Err(AuthError::RateLimited(wait)), Some(ip)) = (&counted, client.ip) {
            let mut guessing = self.guessing.lock().unwrap_or_else(PoisonError::into_inner);
            if guessing.len() >= GUESSERS_PRUNED_AT {
                let now = Instant::now();
                guessing.retain(|_, until| *until > now);
            }
            guessing.insert(ip_key(ip), Instant::now() + *wait);
        }
        counted
    }

    /// 429 for a client over the invalid-cookie limit, before its cookies are
    /// looked up: guessing tokens costs the stores nothing while it waits.
    /// On the validation path: `ip` is worked out only when some client is
    /// remembered as guessing, and nothing is locked when the limit is off.
    pub fn refuse_guesser(&self, ip: impl FnOnce() -> Option<IpAddr>) -> Result<(), AuthError> {
        if self.settings.invalid_cookie_per_ip.is_none() {
            return Ok(());
        }
        let guessing = self.guessing.lock().unwrap_or_else(PoisonError::into_inner);
        if guessing.is_empty() {
            return Ok(());
        }
        let Some(ip) = ip() else { return Ok(()) };
        match guessing.get(&ip_key(ip)).map(|until| until.saturating_duration_since(Instant::now())) {
            Some(wait) if !wait.is_zero() => Err(AuthError::RateLimited(wait)),
            _ => Ok(()),
        }
    }

    async fn per_ip(&self, limit: Limit, client: Client<'_>) -> Result<(), AuthError> {
        match client.ip {
            Some(ip) => self.hit(limit, client, &ip_key(ip), None).await,
            None => Ok(()),
        }
    }

    async fn hit(
        &self,
        limit: Limit,
        client: Client<'_>,
        subject: &str,
        user: Option<UserId>,
    ) -> Result<(), AuthError> {
        let Some(rate) = self.limit(limit) else { return Ok(()) };
        match self.limiter.hit(&format!("{}:{subject}", limit.name()), rate).await {
            Ok(verdict) => {
                self.answered();
                match verdict {
                    Verdict::Allowed => Ok(()),
                    Verdict::Limited { retry_after } => {
                        metrics::counter!("sesame_rate_limited_total", "limit" => limit.name()).increment(1);
                        let event = AuditEvent::RateLimited(limit.name());
                        let record = AuditRecord { event, actor: client.actor(), user, session: None, sessions: None };
                        self.audit.record(record);
                        Err(AuthError::RateLimited(retry_after))
                    }
                }
            }
            Err(err) => {
                self.failed(&err);
                Ok(())
            }
        }
    }

    async fn reset(&self, limit: Limit, subject: &str) {
        if self.limit(limit).is_none() {
            return;
        }
        match self.limiter.reset(&format!("{}:{subject}", limit.name())).await {
            Ok(()) => self.answered(),
            Err(err) => self.failed(&err),
        }
    }

    fn answered(&self) {
        if self.failing.swap(false, Ordering::Relaxed) {
            tracing::info!("the rate limiter answers again; limits apply");
        }
    }

    fn failed(&self, err: &PortError) {
        metrics::counter!("sesame_rate_limiter_failures_total").increment(1);
        if !self.failing.swap(true, Ordering::Relaxed) {
            tracing::warn!(error = %err.cause_chain(), "the rate limiter fails; letting requests through until it answers");
        }
    }
}

/// A client's count key: the address, or for IPv6 its /64.
fn ip_key(ip: IpAddr) -> String {
    match ip.to_canonical() {
        IpAddr::V4(v4) => v4.to_string(),
        IpAddr::V6(v6) => {
            let segments = v6.segments();
            format!("{:x}:{:x}:{:x}:{:x}::/64", segments[0], segments[1], segments[2], segments[3])
        }
    }
}

/// The account a login is counted against: the SHA-256 of its email's
/// normalised form (of the trimmed, lower-cased input when it is not an
/// address), so that every spelling of one address shares one count and the
/// store holds no addresses.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Account(String);

impl Account {
    /// The account `credentials` name.
    pub fn of(credentials: &Credentials<'_>) -> Self {
        let normalized = credentials
            .email
            .as_ref()
            .map_or_else(|| credentials.typed_email.trim().to_lowercase(), |email| email.as_str().to_owned());
        let digest = Sha256::digest(normalized.as_bytes());
        let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
        Self(format!("email:{hex}"))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ipv6_clients_share_their_slash_64_and_ipv4_clients_are_counted_alone() {
        let a: IpAddr = "2001:db8:1:2:aaaa::1".parse().unwrap();
        let b: IpAddr = "2001:db8:1:2:bbbb::9".parse().unwrap();
        assert_eq!(ip_key(a), ip_key(b));
        assert_ne!(ip_key(a), ip_key("2001:db8:1:3::1".parse().unwrap()));
        assert_eq!(ip_key("::ffff:192.0.2.1".parse().unwrap()), "192.0.2.1");
    }

    #[test]
    fn every_spelling_of_an_email_shares_one_key_that_does_not_show_it() {
        let key = |email: &str| Account::of(&Credentials::read(email, "a password")).0;
        assert_eq!(key(" Alice@Example.COM "), key("alice@example.com"));
        assert!(!key("alice@example.com").contains("alice"));
        assert_ne!(key("alice@example.com"), key("bob@example.com"));
        assert_eq!(key(" Not An Address "), key("not an address"), "what is no address is trimmed and folded");
    }
}
