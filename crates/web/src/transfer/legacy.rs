//! `sesame users import --legacy FILE`: the users of the plan's mock, a JSON
//! array of `{id, email, passwordHash, sessionId, …}` records. Each becomes a
//! user with its password hash kept (argon2, bcrypt, scrypt or PBKDF2: they
//! verify at login and become argon2id at the first); an id that is not a UUID
//! gets one made from it (the same every run, so the import is idempotent like
//! every import), and the mapping is printed.
//!
//! Each user the import creates that has a `sessionId` gets a session under
//! it, so the cookie the old system set keeps working (with
//! `SESAME__COOKIE__LEGACY_TOKENS`) and is rotated at its first use. A user
//! that was there already gets none: running the import again never reopens
//! a legacy token that was rotated since.

use std::{path::Path, sync::Arc};

use serde::Deserialize;
use sesame_core::{
    AuthService, SessionToken,
    ports::{Email, Imported, PasswordHash, PortError, User, UserId, UserRepository},
};
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
/// id) and the sessions it opened.
pub(super) struct LegacyImport {
    /// Users created, skipped and failed (a `sessionId` that cannot be a
    /// token fails its record).
    pub(super) tally: Tally,
    /// Each legacy id that was not a UUID, with the id its user now has.
    pub(super) new_ids: Vec<(String, UserId)>,
    /// Sessions opened under a legacy `sessionId`.
    pub(super) sessions: u64,
}

/// Reads the legacy file at `path` into the users store; `auth` opens the
/// sessions.
pub(super) async fn import(
    users: &Arc<dyn UserRepository>,
    auth: &AuthService,
    path: &Path,
) -> Result<LegacyImport, String> {
    let text = std::fs::read_to_string(path).map_err(|err| format!("{}: {err}", path.display()))?;
    let records: Vec<serde_json::Value> =
        serde_json::from_str(&text).map_err(|err| format!("{} is not a JSON array: {err}", path.display()))?;
    let mut done = LegacyImport { tally: Tally::default(), new_ids: Vec::new(), sessions: 0 };
    for (index, record) in records.into_iter().enumerate() {
        let number = index as u64 + 1;
        let record: LegacyUser = match serde_json::from_value(record) {
            Ok(record) => record,
            Err(err) => {
                done.tally.fail("record", number, &format!("not a user record: {}", super::described(&err)));
                continue;
            }
        };
        let legacy_id = match &record.id {
            serde_json::Value::String(id) => id.clone(),
            other => other.to_string(),
        };
        let Ok(email) = Email::parse(&record.email) else {
            done.tally.fail("record", number, "the email is not an address");
            continue;
        };
        let token = match record
            .session_id
            .as_deref()
            .map(|id| SessionToken::parse_legacy(id).or_else(|| SessionToken::parse(id)))
        {
            Some(None) => {
                done.tally.fail("record", number, "the sessionId is not 16 to 256 printable ASCII characters");
                continue;
            }
            Some(token) => token,
            None => None,
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
        let created = match users.import(&user).await {
            Ok(imported) => {
                done.tally.count(imported);
                imported == Imported::Created
            }
            Err(PortError::EmailTaken) => {
                done.tally.fail("record", number, "another user has this email");
                continue;
            }
            Err(err) => return Err(err.cause_chain()),
        };
        if let Some(token) = token.filter(|_| created) {
            match auth.adopt_legacy_session(&user, &token).await {
                Ok(_) => done.sessions += 1,
                // The user exists now and a rerun skips it: say whose cookie was not kept.
                Err(err) => done.tally.fail("record", number, &format!("user created, its legacy session not: {err}")),
            }
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
