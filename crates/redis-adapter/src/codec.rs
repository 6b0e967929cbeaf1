//! A session as the fields of a Redis hash, and back.
//!
//! Instants are whole microseconds since the Unix epoch: exact in Lua's doubles,
//! so the touch script compares them without rounding.
//!
//! Records are versioned by the field `v`. Version 1 — the records of sesame
//! before tiered stores, which have no `v` — holds the same fields as version 2
//! and is read as it is; version 2 adds `v`, `d` (the session is durable: a
//! tiered store wrote it, so its durable tier holds it too) and the user
//! snapshot (`email`, `verified`, `joined`). Unknown fields are ignored, so a
//! record written by a later version still reads. An ended session is a hash
//! with the single field `ended`.

use std::net::IpAddr;

use sesame_ports::{Email, Session, SessionId, SessionMetadata, SessionTokenHash, UserId, UserSnapshot};
use time::OffsetDateTime;

/// The format version this code writes.
pub(crate) const VERSION: &str = "2";

pub(crate) const ID: &str = "id";
pub(crate) const USER: &str = "user";
pub(crate) const CREATED: &str = "created";
pub(crate) const SEEN: &str = "seen";
pub(crate) const IDLE: &str = "idle";
pub(crate) const ABSOLUTE: &str = "absolute";
pub(crate) const IP: &str = "ip";
pub(crate) const USER_AGENT: &str = "ua";
pub(crate) const EMAIL: &str = "email";
pub(crate) const VERIFIED: &str = "verified";
pub(crate) const JOINED: &str = "joined";
pub(crate) const FORMAT: &str = "v";
pub(crate) const DURABLE: &str = "d";
pub(crate) const ENDED: &str = "ended";

/// What a hash at a session key holds.
// Built once per read and consumed at once, like `Cached`: no box.
#[allow(clippy::large_enum_variant)]
#[derive(Debug, PartialEq, Eq)]
pub(crate) enum Record {
    /// A session, live or not; `durable` when a tiered store wrote it.
    Session { session: Session, durable: bool },
    /// The marker an ended session leaves.
    Ended,
    /// Fields that do not make a session.
    Corrupt,
}

pub(crate) fn micros(instant: OffsetDateTime) -> i64 {
    i64::try_from(instant.unix_timestamp_nanos() / 1_000).unwrap_or(i64::MAX)
}

fn instant(micros: i64) -> Option<OffsetDateTime> {
    OffsetDateTime::from_unix_timestamp_nanos(i128::from(micros) * 1_000).ok()
}

/// The hash fields of `session`, marked durable or not.
pub(crate) fn encode(session: &Session, durable: bool) -> Vec<(&'static str, String)> {
    let mut fields = vec![
        (FORMAT, VERSION.to_owned()),
        (DURABLE, if durable { "1" } else { "0" }.to_owned()),
        (ID, session.id.to_string()),
        (USER, session.user_id.to_string()),
        (CREATED, micros(session.created_at).to_string()),
        (SEEN, micros(session.last_seen_at).to_string()),
        (IDLE, micros(session.idle_expires_at).to_string()),
        (ABSOLUTE, micros(session.absolute_expires_at).to_string()),
        (IP, session.metadata.ip.map(|ip| ip.to_string()).unwrap_or_default()),
        (USER_AGENT, session.metadata.user_agent.clone().unwrap_or_default()),
    ];
    if let Some(user) = &session.user {
        fields.push((EMAIL, user.email.as_str().to_owned()));
        fields.push((VERIFIED, if user.is_verified { "1" } else { "0" }.to_owned()));
        fields.push((JOINED, micros(user.created_at).to_string()));
    }
    fields
}

/// The fields a read asks for (`HMGET`), in the order [`Read`] holds them:
/// every field a session record of any version has, and the ended marker.
/// Fields a later version adds are not read, as a reader that ignores them would.
pub(crate) const READ: [&str; 14] =
    [ENDED, FORMAT, DURABLE, ID, USER, CREATED, SEEN, IDLE, ABSOLUTE, IP, USER_AGENT, EMAIL, VERIFIED, JOINED];

/// The values of [`READ`]'s fields in one record, `None` where it has none.
pub(crate) struct Read<'a>(pub(crate) [Option<&'a str>; READ.len()]);

impl Read<'_> {
    fn field(&self, name: &str) -> Option<&str> {
        READ.iter().position(|read| *read == name).and_then(|index| self.0[index])
    }

    /// Whether the key holds nothing (no hash, or none of the fields read).
    pub(crate) fn is_empty(&self) -> bool {
        self.0.iter().all(Option::is_none)
    }
}

/// What the (non-empty) record `read` under `token_hash` holds.
pub(crate) fn decode(token_hash: SessionTokenHash, read: &Read<'_>) -> Record {
    if read.field(ENDED).is_some() {
        return Record::Ended;
    }
    match decode_session(token_hash, read) {
        Some(session) => Record::Session { session, durable: read.field(DURABLE) == Some("1") },
        None => Record::Corrupt,
    }
}

/// The session in `read`, or `None` when a field is missing or malformed.
fn decode_session(token_hash: SessionTokenHash, read: &Read<'_>) -> Option<Session> {
    let field = |name: &str| read.field(name);
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
        user: match field(EMAIL) {
            Some(email) => Some(UserSnapshot {
                email: Email::parse(email).ok()?,
                is_verified: match field(VERIFIED)? {
                    "1" => true,
                    "0" => false,
                    _ => return None,
                },
                created_at: time(JOINED)?,
            }),
            None => None,
        },
    })
}

#[cfg(test)]
mod tests {
    use std::collections::HashMap;

    use sesame_ports::testkit::SessionBuilder;
    use time::macros::datetime;

    use super::*;

    fn session() -> Session {
        SessionBuilder::opened_at(datetime!(2026-03-04 05:06:07.123456 UTC))
            .metadata(SessionMetadata::new(Some("2001:db8::1".parse().unwrap()), Some("agent/1")))
            .build()
    }

    fn fields(session: &Session, durable: bool) -> HashMap<String, String> {
        encode(session, durable).into_iter().map(|(k, v)| (k.to_owned(), v)).collect()
    }

    /// `decode` of a hash as `HMGET` of [`READ`] returns it.
    fn decode(token_hash: SessionTokenHash, fields: &HashMap<String, String>) -> Record {
        super::decode(token_hash, &Read(READ.map(|name| fields.get(name).map(String::as_str))))
    }

    fn durable(session: Session) -> Record {
        Record::Session { session, durable: true }
    }

    #[test]
    fn a_session_round_trips() {
        let session = session();
        assert_eq!(decode(session.token_hash, &fields(&session, true)), durable(session.clone()));
        let plain = Record::Session { session: session.clone(), durable: false };
        assert_eq!(decode(session.token_hash, &fields(&session, false)), plain);
        let bare = Session { metadata: SessionMetadata::default(), user: None, ..self::session() };
        assert_eq!(decode(bare.token_hash, &fields(&bare, true)), durable(bare));
    }

    #[test]
    fn a_version_1_record_reads_as_a_session_that_is_not_durable() {
        // Exactly what sesame wrote before records were versioned: no `v`, no
        // `d`, no user snapshot.
        let session = Session { user: None, ..session() };
        let fields: HashMap<String, String> = [
            (ID, session.id.to_string()),
            (USER, session.user_id.to_string()),
            (CREATED, "1772600767123456".to_owned()),
            (SEEN, "1772600767123456".to_owned()),
            (IDLE, "1772602567123456".to_owned()),
            (ABSOLUTE, "1772643967123456".to_owned()),
            (IP, "2001:db8::1".to_owned()),
            (USER_AGENT, "agent/1".to_owned()),
        ]
        .into_iter()
        .map(|(k, v)| (k.to_owned(), v))
        .collect();
        assert_eq!(decode(session.token_hash, &fields), Record::Session { session, durable: false });
    }

    #[test]
    fn unknown_fields_are_ignored_and_an_ended_marker_is_not_corrupt() {
        let session = session();
        let mut later = fields(&session, true);
        later.insert("v".into(), "7".into());
        later.insert("something-new".into(), "x".into());
        assert_eq!(decode(session.token_hash, &later), durable(session.clone()));
        let ended: HashMap<String, String> = [(ENDED.to_owned(), "1".to_owned())].into();
        assert_eq!(decode(session.token_hash, &ended), Record::Ended);
    }

    #[test]
    fn a_missing_or_malformed_field_does_not_decode() {
        let session = session();
        for broken in [ID, USER, CREATED, IDLE, VERIFIED, JOINED] {
            let mut fields = fields(&session, false);
            fields.remove(broken);
            assert_eq!(decode(session.token_hash, &fields), Record::Corrupt, "without {broken}");
            fields.insert(broken.to_owned(), "garbage".into());
            assert_eq!(decode(session.token_hash, &fields), Record::Corrupt, "with a garbage {broken}");
        }
        for (field, garbage) in [(IP, "not an ip"), (EMAIL, "not an email")] {
            let mut fields = fields(&session, false);
            fields.insert(field.to_owned(), garbage.into());
            assert_eq!(decode(session.token_hash, &fields), Record::Corrupt, "with a garbage {field}");
        }
    }
}
