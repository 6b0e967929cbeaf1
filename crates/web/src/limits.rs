//! Rate limits on what an attacker repeats: logins per client IP and per
//! email, registrations per IP, password confirmations per IP and per user,
//! and requests whose session cookie opens nothing, per IP.
//!
//! Counts live behind the `RateLimiter` port (Redis, shared by every
//! instance, whenever sessions use Redis). Over a limit the answer is 429
//! `rate_limited` with `Retry-After`, an audit event and a metric. When the
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
    time::{Duration, Instant},
};

use sesame_core::ports::{AuditEvent, AuditSink, Email, RateLimit, RateLimiter, UserId, Verdict};
use sesame_factory::RateLimitSettings;
use sha2::{Digest, Sha256};

use crate::{audit, error::ApiError, extract::Caller};

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
    settings: RateLimitSettings,
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
    pub fn new(limiter: Arc<dyn RateLimiter>, settings: RateLimitSettings, audit: Arc<dyn AuditSink>) -> Self {
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

    /// A login attempt for `email` from `caller`: counted per IP first, and
    /// per account only when the IP is within its limit, so that an address
    /// already refused cannot go on spending other accounts' budgets.
    pub async fn login(&self, caller: &Caller, email: &str) -> Result<(), ApiError> {
        self.per_ip(Limit::LoginPerIp, caller).await?;
        self.hit(Limit::LoginPerAccount, caller, &email_key(email), None).await
    }

    /// A successful login for `email`: its count starts again.
    pub async fn login_succeeded(&self, email: &str) {
        self.reset(Limit::LoginPerAccount, &email_key(email)).await;
    }

    /// A password confirmation (password change, account deletion) by `user`.
    pub async fn confirmation(&self, caller: &Caller, user: UserId) -> Result<(), ApiError> {
        self.per_ip(Limit::LoginPerIp, caller).await?;
        self.hit(Limit::LoginPerAccount, caller, &format!("user:{user}"), Some(user)).await
    }

    /// A successful password confirmation by `user`.
    pub async fn confirmation_succeeded(&self, user: UserId) {
        self.reset(Limit::LoginPerAccount, &format!("user:{user}")).await;
    }

    /// A registration from `caller`.
    pub async fn register(&self, caller: &Caller) -> Result<(), ApiError> {
        self.per_ip(Limit::RegisterPerIp, caller).await
    }

    /// A request from `caller` whose session cookie opened nothing. Over the
    /// limit, the client is remembered until it may try again.
    pub async fn invalid_cookie(&self, caller: &Caller) -> Result<(), ApiError> {
        let counted = self.per_ip(Limit::InvalidCookiePerIp, caller).await;
        if let (Err(ApiError::RateLimited(wait)), Some(ip)) = (&counted, caller.ip) {
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
    pub fn refuse_guesser(&self, ip: impl FnOnce() -> Option<IpAddr>) -> Result<(), ApiError> {
        if self.settings.invalid_cookie_per_ip.is_none() {
            return Ok(());
        }
        let guessing = self.guessing.lock().unwrap_or_else(PoisonError::into_inner);
        if guessing.is_empty() {
            return Ok(());
        }
        let Some(ip) = ip() else { return Ok(()) };
        match guessing.get(&ip_key(ip)).map(|until| until.saturating_duration_since(Instant::now())) {
            Some(wait) if !wait.is_zero() => Err(ApiError::RateLimited(wait)),
            _ => Ok(()),
        }
    }

    async fn per_ip(&self, limit: Limit, caller: &Caller) -> Result<(), ApiError> {
        match caller.ip {
            Some(ip) => self.hit(limit, caller, &ip_key(ip), None).await,
            None => Ok(()),
        }
    }

    async fn hit(&self, limit: Limit, caller: &Caller, subject: &str, user: Option<UserId>) -> Result<(), ApiError> {
        let Some(rate) = self.limit(limit) else { return Ok(()) };
        match self.limiter.hit(&format!("{}:{subject}", limit.name()), rate).await {
            Ok(verdict) => {
                self.answered();
                match verdict {
                    Verdict::Allowed => Ok(()),
                    Verdict::Limited { retry_after } => {
                        metrics::counter!("sesame_rate_limited_total", "limit" => limit.name()).increment(1);
                        audit::record(&*self.audit, AuditEvent::RateLimited(limit.name()), caller, user, None);
                        Err(ApiError::RateLimited(retry_after))
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

    fn failed(&self, err: &sesame_core::ports::PortError) {
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

/// An email's count key: the SHA-256 of its normalised form (of the trimmed,
/// lower-cased input when it is not an address), so that every spelling of one
/// address shares one count and the store holds no addresses.
fn email_key(email: &str) -> String {
    let normalized =
        Email::parse(email).map_or_else(|_| email.trim().to_lowercase(), |email| email.as_str().to_owned());
    let digest = Sha256::digest(normalized.as_bytes());
    let hex: String = digest.iter().map(|byte| format!("{byte:02x}")).collect();
    format!("email:{hex}")
}

/// `Retry-After` in whole seconds, at least one.
pub fn retry_after_seconds(wait: Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
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
        assert_eq!(email_key(" Alice@Example.COM "), email_key("alice@example.com"));
        assert!(!email_key("alice@example.com").contains("alice"));
        assert_ne!(email_key("alice@example.com"), email_key("bob@example.com"));
    }

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(Duration::from_secs(20)), 20);
        assert_eq!(retry_after_seconds(Duration::from_millis(20_001)), 21);
    }
}
