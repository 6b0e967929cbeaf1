//! A session as the fields of a Redis hash, and back.
//!
//! Instants are whole microseconds since the Unix epoch: exact in Lua's doubles,
//! so the touch script compares them without rounding.

use std::{collections::HashMap, net::IpAddr};

use sesame_ports::{Session, SessionId, SessionMetadata, SessionTokenHash, UserId};
use time::OffsetDateTime;

pub(crate) const ID: &str = "id";
pub(crate) const USER: &str = "user";
pub(crate) const CREATED: &str = "created";
pub(crate) const SEEN: &str = "seen";
pub(crate) const IDLE: &str = "idle";
pub(crate) const ABSOLUTE: &str = "absolute";
pub(crate) const IP: &str = "ip";
pub(crate) const USER_AGENT: &str = "ua";

pub(crate) fn micros(instant: OffsetDateTime) -> i64 {
    i64::try_from(instant.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn instant(micros: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
}

/// The hash fields of `session`.
pub(crate) fn encode(session: &Session) -> Vec<(&'static str, String)> {
    vec![
        (ID, session.id.to_string()),
        (USER, session.user_id.to_string()),
        (CREATED, micros(session.created_at).to_string()),
        (SEEN, micros(session.last_seen_at).to_string()),
        (IDLE, micros(session.idle_expires_at).to_string()),
        (ABSOLUTE, micros(session.absolute_expires_at).to_string()),
        (IP, session.metadata.ip.map(|ip| ip.to_string()).unwrap_or_default()),
        (USER_AGENT, session.metadata.user_agent.clone().unwrap_or_default()),
    ]
}

/// The session stored under `token_hash`, or `None` when a field is missing or malformed.
pub(crate) fn decode(token_hash: SessionTokenHash, fields: &HashMap<String, String>) -> Option<Session> {
    let field = |name: &str| fields.get(name).map(String::as_str);
    let time = |name: &str| field(name)?.parse().ok().and_then(instant);
    let optional = |name: &str| field(name).filter(|value| !value.is_empty());
    Some(Session {
        id: SessionId::parse(field(ID)?).ok()?,
        token_hash,
        user_id: UserId::parse(field(USER)?).ok()?,
        created_at: time(CREATED)?,
        last_seen_at: time(SEEN)?,
        idle_expires_at: time(IDLE)?,
        absolute_expires_at: time(ABSOLUTE)?,
        metadata: SessionMetadata {
            ip: match optional(IP) {
                Some(ip) => Some(ip.parse::<IpAddr>().ok()?),
                None => None,
            },
            user_agent: optional(USER_AGENT).map(str::to_owned),
        },
    })
}

#[cfg(test)]
mod tests {
    use time::macros::datetime;

    use super::*;

    fn session() -> Session {
        let now = datetime!(2026-03-04 05:06:07.123456 UTC);
        Session {
            id: SessionId::random(),
            token_hash: SessionTokenHash::from_bytes([9; 32]),
            user_id: UserId::random(),
            created_at: now,
            last_seen_at: now,
            idle_expires_at: now + time::Duration::minutes(30),
            absolute_expires_at: now + time::Duration::hours(12),
            metadata: SessionMetadata::new(Some("2001:db8::1".parse().unwrap()), Some("agent/1")),
        }
    }

    fn fields(session: &Session) -> HashMap<String, String> {
        encode(session).into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    #[test]
    fn a_session_round_trips() {
        let session = session();
        assert_eq!(decode(session.token_hash, &fields(&session)), Some(session));
        let bare = Session { metadata: SessionMetadata::default(), ..self::session() };
        assert_eq!(decode(bare.token_hash, &fields(&bare)), Some(bare));
    }

    #[test]
    fn a_missing_or_malformed_field_does_not_decode() {
        let session = session();
        for broken in [ID, USER, CREATED, IDLE] {
            let mut fields = fields(&session);
            fields.remove(broken);
            assert_eq!(decode(session.token_hash, &fields), None, "without {broken}");
            fields.insert(broken.to_owned(), "garbage".into());
            assert_eq!(decode(session.token_hash, &fields), None, "with a garbage {broken}");
        }
        let mut fields = fields(&session);
        fields.insert(IP.to_owned(), "not an ip".into());
        assert_eq!(decode(session.token_hash, &fields), None);
    }
}
