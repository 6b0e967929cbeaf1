//! `sesame users import --legacy FILE`: the users of the plan's mock, a JSON
//! array of `{id, email, passwordHash, sessionId, …}` records. Each becomes a
//! user with its password hash kept (argon2, bcrypt, scrypt or PBKDF2: they
//! verify at login and become argon2id at the first); an id that is not a UUID
//! gets one made from it (the same every run, so the import is idempotent like
//! every import), and the mapping is printed.
//!
//! The records' `sessionId`s are counted, not imported: legacy tokens are not
//! accepted yet, so their sessions could not be used (issue 9).

use std::{path::Path, sync::Arc};

use serde::Deserialize;
use sesame_core::ports::{Email, PasswordHash, PortError, User, UserId, UserRepository};
use sha2::{Digest as _, Sha256};
use time::OffsetDateTime;

use super::Tally;

/// One record of the legacy file; other fields are ignored.
#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct LegacyUser {
    id: serde_json::Value,
    email: String,
    password_hash: String,
    #[serde(default)]
    is_verified: bool,
    #[serde(default, with = "time::serde::rfc3339::option")]
    created_at: Option<OffsetDateTime>,
    #[serde(default)]
    session_id: Option<String>,
}

/// What a legacy import did: the tally, the ids it replaced (legacy id, new
/// id) and how many sessions it left behind.
pub(super) struct LegacyImport {
    /// Users created, skipped and failed.
    pub(super) tally: Tally,
    /// Each legacy id that was not a UUID, with the id its user now has.
    pub(super) new_ids: Vec<(String, UserId)>,
    /// Records that held a `sessionId`.
    pub(super) sessions_left: u64,
}

/// Reads the legacy file at `path` into `users`.
pub(super) async fn import(users: &Arc<dyn UserRepository>, path: &Path) -> Result<LegacyImport, String> {
    let text = std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|err| format!("{} is not a JSON array: {err}", path.display()))?;
    let mut done = LegacyImport { tally: Tally::default(), new_ids: Vec::new(), sessions_left: 0 };
    for (index, record) in records.into_iter().enumerate() {
        let number = index as u64 + 1;
        let record: LegacyUser = match serde_json::from_value(record) {
            Ok(record) => record,
            Err(err) => {
                done.tally.fail("record", number, &format!("not a user record: {}", super::described(&err)));
                continue;
            }
        };
        done.sessions_left += u64::from(record.session_id.is_some());
        let legacy_id = match &record.id {
            serde_json::Value::String(id) => id.clone(),
            other => other.to_string(),
        };
        let Ok(email) = Email::parse(&record.email) else {
            done.tally.fail("record", number, "the email is not an address");
            continue;
        };
        let id = UserId::parse(&legacy_id).unwrap_or_else(|_| {
            let id = id_for(&legacy_id);
            done.new_ids.push((legacy_id.clone(), id));
            id
        });
        let user = User {
            id,
            email,
            password_hash: PasswordHash::new(record.password_hash),
            is_verified: record.is_verified,
            is_disabled: false,
            created_at: record.created_at.unwrap_or_else(OffsetDateTime::now_utc),
        };
        match users.import(&user).await {
            Ok(imported) => done.tally.count(imported),
            Err(PortError::EmailTaken) => done.tally.fail("record", number, "another user has this email"),
            Err(err) => return Err(err.cause_chain()),
        }
    }
    Ok(done)
}

/// The UUID a legacy id that is not one becomes: a version 8 UUID from the
/// SHA-256 of the id, so that the same id becomes the same user every run.
fn id_for(legacy_id: &str) -> UserId {
    let digest = Sha256::digest(format!("sesame legacy user id {legacy_id}").as_bytes());
    let mut bytes = [0u8; 16];
    bytes.copy_from_slice(&digest[..16]);
    UserId::from_uuid(uuid::Builder::from_custom_bytes(bytes).into_uuid())
}
