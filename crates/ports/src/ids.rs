//! Identifiers that cross a port.

use std::fmt;

use serde::{Deserialize, Serialize};
use uuid::Uuid;

/// A user's identifier: a random UUID, stable for the user's life.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct UserId(Uuid);

/// A session's public identifier, used to list and revoke sessions.
///
/// It is neither the session token nor its hash: knowing it grants nothing.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord, Serialize, Deserialize)]
#[serde(transparent)]
pub struct SessionId(Uuid);

/// Why a string is not an identifier.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[error("not a valid identifier")]
pub struct ParseIdError;

macro_rules! uuid_id {
    ($name:ident) => {
        impl $name {
            /// A fresh random identifier (UUID v4).
            pub fn random() -> Self {
                Self(Uuid::new_v4())
            }

            /// Wraps a UUID read back from a store.
            pub const fn from_uuid(uuid: Uuid) -> Self {
                Self(uuid)
            }

            /// The UUID, for a store to write.
            pub const fn as_uuid(&self) -> Uuid {
                self.0
            }

            /// Parses the hyphenated form that [`Display`](fmt::Display) prints.
            pub fn parse(input: &str) -> Result<Self, ParseIdError> {
                Uuid::try_parse(input).map(Self).map_err(|_| ParseIdError)
            }
        }

        impl fmt::Display for $name {
            fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                self.0.hyphenated().fmt(f)
            }
        }
    };
}

uuid_id!(UserId);
uuid_id!(SessionId);

/// SHA-256 of a session token: the only form of the token a store ever sees.
///
/// A dump of a store therefore gives nobody a usable session. `Debug` shows only a
/// short prefix, enough to correlate log lines.
#[derive(Clone, Copy, PartialEq, Eq, Hash)]
pub struct SessionTokenHash([u8; 32]);

impl SessionTokenHash {
    /// Wraps a digest computed by the domain or read back from a store.
    pub const fn from_bytes(bytes: [u8; 32]) -> Self {
        Self(bytes)
    }

    /// The digest's bytes.
    pub const fn as_bytes(&self) -> &[u8; 32] {
        &self.0
    }

    /// The digest as 64 lower-case hex digits, for stores that key by text.
    pub fn to_hex(&self) -> String {
        const DIGITS: &[u8; 16] = b"0123456789abcdef";
        let mut hex = String::with_capacity(64);
        for byte in self.0 {
            hex.push(char::from(DIGITS[usize::from(byte >> 4)]));
            hex.push(char::from(DIGITS[usize::from(byte & 0xf)]));
        }
        hex
    }

    /// Reads 64 hex digits (either case), as [`to_hex`](Self::to_hex) writes them.
    pub fn from_hex(hex: &str) -> Option<Self> {
        fn digit(byte: u8) -> Option<u8> {
            match byte {
                b'0'..=b'9' => Some(byte - b'0'),
                b'a'..=b'f' => Some(byte - b'a' + 10),
                b'A'..=b'F' => Some(byte - b'A' + 10),
                _ => None,
            }
        }
        let hex = hex.as_bytes();
        if hex.len() != 64 {
            return None;
        }
        let mut bytes = [0u8; 32];
        for (byte, pair) in bytes.iter_mut().zip(hex.chunks_exact(2)) {
            *byte = digit(pair[0])? << 4 | digit(pair[1])?;
        }
        Some(Self(bytes))
    }

    /// The first 8 hex digits: enough to tell sessions apart in a log line, far too
    /// few to look one up.
    pub fn short(&self) -> String {
        self.to_hex()[..8].to_owned()
    }
}

impl fmt::Debug for SessionTokenHash {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "SessionTokenHash({}…)", self.short())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn token_hashes_round_trip_through_hex() {
        let hash = SessionTokenHash::from_bytes([0xa5; 32]);
        assert_eq!(SessionTokenHash::from_hex(&hash.to_hex()), Some(hash));
        assert_eq!(SessionTokenHash::from_hex(&hash.to_hex().to_uppercase()), Some(hash));
        assert_eq!(SessionTokenHash::from_hex("zz"), None);
        assert_eq!(SessionTokenHash::from_hex(&"g".repeat(64)), None);
        assert_eq!(SessionTokenHash::from_hex(&"+f".repeat(32)), None);
    }

    #[test]
    fn ids_round_trip_through_their_display_form() {
        let id = SessionId::random();
        assert_eq!(SessionId::parse(&id.to_string()), Ok(id));
        assert_eq!(SessionId::parse("not-a-uuid"), Err(ParseIdError));
    }

    #[test]
    fn token_hash_debug_shows_only_a_prefix() {
        let hash = SessionTokenHash::from_bytes([0xab; 32]);
        assert_eq!(hash.to_hex().len(), 64);
        assert_eq!(format!("{hash:?}"), "SessionTokenHash(abababab…)");
    }
}
