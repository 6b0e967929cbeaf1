//! The session expiry policy: an idle (sliding) timeout inside an absolute one,
//! with extension writes throttled.

use sesame_ports::Session;
use time::{Duration, OffsetDateTime};

/// How long sessions live and how often their use is recorded.
///
/// A session's validity is measured from its last *recorded* use. Recording is
/// throttled to one write per `touch_interval`, so a validated request is usually a
/// read only; the price is that the idle window can start up to `touch_interval`
/// before the latest use.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct SessionPolicy {
    /// A session unused for this long ends (`SESSION_MAX_AGE_SECONDS`).
    pub idle_timeout: Duration,
    /// A session ends this long after it was opened, however much it is used
    /// (`SESAME__SESSION__ABSOLUTE_TIMEOUT_SECONDS`).
    pub absolute_timeout: Duration,
    /// The least time between two recorded uses of one session
    /// (`SESAME__SESSION__TOUCH_INTERVAL_SECONDS`).
    pub touch_interval: Duration,
}

/// When a session opened at some instant ends, by each rule.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Expiry {
    /// End of the first idle window (never after `absolute`).
    pub idle: OffsetDateTime,
    /// The absolute end.
    pub absolute: OffsetDateTime,
}

impl SessionPolicy {
    /// The expiries of a session opened at `now`.
    pub fn open(&self, now: OffsetDateTime) -> Expiry {
        let absolute = now + self.absolute_timeout;
        Expiry { idle: (now + self.idle_timeout).min(absolute), absolute }
    }

    /// The new idle expiry if `session`, used at `now`, is due for a recorded use;
    /// `None` while its last recorded use is more recent than `touch_interval`.
    pub fn touch(&self, session: &Session, now: OffsetDateTime) -> Option<OffsetDateTime> {
        (now - session.last_seen_at >= self.touch_interval)
            .then(|| (now + self.idle_timeout).min(session.absolute_expires_at))
    }
}

#[cfg(test)]
mod tests {
    use sesame_ports::testkit::SessionBuilder;
    use time::macros::datetime;

    use super::*;

    /// A policy for the tests: 30 min idle, 12 h absolute, 60 s between touches.
    fn policy() -> SessionPolicy {
        SessionPolicy {
            idle_timeout: Duration::minutes(30),
            absolute_timeout: Duration::hours(12),
            touch_interval: Duration::seconds(60),
        }
    }

    fn opened_at(now: OffsetDateTime, policy: &SessionPolicy) -> Session {
        let expiry = policy.open(now);
        SessionBuilder::opened_at(now).idle_for(expiry.idle - now).absolute_after(expiry.absolute - now).build()
    }

    #[test]
    fn open_sets_both_expiries() {
        let now = datetime!(2026-01-01 0:00 UTC);
        let expiry = policy().open(now);
        assert_eq!(expiry.idle, now + Duration::minutes(30));
        assert_eq!(expiry.absolute, now + Duration::hours(12));
    }

    #[test]
    fn idle_expiry_never_passes_the_absolute_one() {
        let policy =
            SessionPolicy { idle_timeout: Duration::hours(2), absolute_timeout: Duration::hours(1), ..policy() };
        let now = datetime!(2026-01-01 0:00 UTC);
        let session = opened_at(now, &policy);
        assert_eq!(session.idle_expires_at, session.absolute_expires_at);
        let later = now + Duration::minutes(50);
        assert_eq!(policy.touch(&session, later), Some(session.absolute_expires_at));
    }

    #[test]
    fn the_idle_window_runs_from_the_last_recorded_use() {
        // The documented price of throttling: a use within the touch interval of
        // the last recorded one is not written, so the window can end up to one
        // interval earlier than "last request + idle timeout".
        let policy = policy();
        let opened = datetime!(2026-01-01 0:00 UTC);
        let session = opened_at(opened, &policy);
        assert_eq!(policy.touch(&session, opened + Duration::seconds(59)), None, "not recorded");
        assert!(!session.is_live_at(opened + Duration::minutes(30)), "so the session ends 30 min after opening");
        let recorded = opened + Duration::seconds(60);
        let idle_expires_at = policy.touch(&session, recorded).expect("recorded");
        assert_eq!(idle_expires_at, recorded + policy.idle_timeout);
        assert!(idle_expires_at - (opened + Duration::seconds(59)) < policy.idle_timeout + policy.touch_interval);
    }

    #[test]
    fn touch_is_throttled_to_one_per_interval() {
        let policy = policy();
        let now = datetime!(2026-01-01 0:00 UTC);
        let session = opened_at(now, &policy);
        assert_eq!(policy.touch(&session, now + Duration::seconds(59)), None);
        let due = now + Duration::seconds(60);
        assert_eq!(policy.touch(&session, due), Some(due + Duration::minutes(30)));
    }
}
