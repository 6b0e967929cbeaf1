//! Session tokens: 256 random bits from the OS, sent to the client in the cookie;
//! stores see only their SHA-256.

use std::fmt;

use base64::{Engine as _, engine::general_purpose::URL_SAFE_NO_PAD};
use sesame_ports::SessionTokenHash;
use sha2::{Digest, Sha256};

/// A session token as the client holds it. `Debug` never shows it, and there is
/// no `Display`: the only way out is [`SessionToken::expose`], for the cookie.
#[derive(Clone, PartialEq, Eq)]
pub struct SessionToken(String);

impl SessionToken {
    /// Length of the base64url form of 32 bytes, without padding.
    pub const ENCODED_LEN: usize = 43;

    /// A fresh token: 32 bytes from the operating system's CSPRNG.
    pub fn generate() -> Result<Self, getrandom::Error> {
        let mut bytes = [0u8; 32];
        getrandom::fill(&mut bytes)?;
        Ok(Self(URL_SAFE_NO_PAD.encode(bytes)))
    }

    /// Reads a token presented by a client. Anything that is not exactly the
    /// base64url form of 32 bytes is `None`: garbage never reaches a store.
    pub fn parse(input: &str) -> Option<Self> {
        if input.len() != Self::ENCODED_LEN {
            return None;
        }
        let decoded = URL_SAFE_NO_PAD.decode(input).ok()?;
        (decoded.len() == 32).then(|| Self(input.to_owned()))
    }

    /// The shortest and longest token another system may have issued.
    pub const LEGACY_LEN: std::ops::RangeInclusive<usize> = 16..=256;

    /// Reads a token another system issued, for the sessions an import
    /// brought from it (`sesame users import --legacy`): printable ASCII
    /// (no space), 16 to 256 characters, that is not a sesame token.
    ///
    /// It is hashed as a sesame token is, so it can open only a session whose
    /// token hash is the SHA-256 of such a string: sesame makes those only
    /// when it imports a legacy session; a session sesame opened has a
    /// sesame token, which [`parse`](Self::parse) reads instead.
    pub fn parse_legacy(input: &str) -> Option<Self> {
        let printable = input.bytes().all(|byte| byte.is_ascii_graphic());
        (printable && Self::LEGACY_LEN.contains(&input.len()) && Self::parse(input).is_none())
            .then(|| Self(input.to_owned()))
    }

    /// SHA-256 of the token, the form stores keep.
    pub fn hash(&self) -> SessionTokenHash {
        SessionTokenHash::from_bytes(Sha256::digest(self.0.as_bytes()).into())
    }

    /// The token itself, to put in the `Set-Cookie` header and nowhere else.
    pub fn expose(&self) -> &str {
        &self.0
    }
}

impl fmt::Debug for SessionToken {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("SessionToken([redacted])")
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_cookie_value_parses_only_as_a_token_that_round_trips(input in "\\PC{0,100}") {
            if let Some(token) = SessionToken::parse(&input) {
                prop_assert_eq!(token.expose(), input.as_str());
                prop_assert_eq!(SessionToken::parse(token.expose()), Some(token));
            }
        }

        #[test]
        fn every_32_bytes_encode_to_a_token(bytes in proptest::array::uniform32(any::<u8>())) {
            let encoded = URL_SAFE_NO_PAD.encode(bytes);
            let token = SessionToken::parse(&encoded).expect("a token");
            prop_assert_eq!(token.expose(), encoded.as_str());
        }
    }

    #[test]
    fn legacy_tokens_are_printable_ascii_of_16_to_256_chars_that_are_not_sesame_tokens() {
        let uuid = "0b6f3c1e-6a3f-4f7e-9a51-5c2d8f1e7a90";
        assert_eq!(SessionToken::parse_legacy(uuid).unwrap().hash(), SessionToken(uuid.into()).hash());
        assert!(SessionToken::parse_legacy(&"a".repeat(16)).is_some());
        assert!(SessionToken::parse_legacy(&"a".repeat(256)).is_some());
        for refused in
            ["a".repeat(15), "a".repeat(257), "with a space 1234".into(), "caf\u{e9}-0123456789abcdef".into()]
        {
            assert!(SessionToken::parse_legacy(&refused).is_none(), "{refused:?}");
        }
        let native = SessionToken::generate().unwrap();
        assert!(SessionToken::parse_legacy(native.expose()).is_none(), "a sesame token is read as one");
    }

    #[test]
    fn generated_tokens_are_43_base64url_chars_and_distinct() {
        let a = SessionToken::generate().unwrap();
        let b = SessionToken::generate().unwrap();
        assert_eq!(a.expose().len(), SessionToken::ENCODED_LEN);
        assert!(a.expose().chars().all(|c| c.is_ascii_alphanumeric() || c == '-' || c == '_'));
        assert_ne!(a, b);
        assert_ne!(a.hash(), b.hash());
    }

    #[test]
    fn parse_accepts_only_the_encoded_form() {
        let token = SessionToken::generate().unwrap();
        assert_eq!(SessionToken::parse(token.expose()), Some(token.clone()));
        assert_eq!(SessionToken::parse(&token.expose()[..42]), None, "truncated");
        assert_eq!(SessionToken::parse(&format!("{}A", token.expose())), None, "too long");
        assert_eq!(SessionToken::parse(&"!".repeat(43)), None, "not base64url");
        assert_eq!(SessionToken::parse(""), None);
    }

    #[test]
    fn hash_is_sha256_of_the_encoded_token() {
        let token = SessionToken::parse("AAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAAA").unwrap();
        // sha256 of 43 'A's, computed independently with `printf %s AAA… | sha256sum`.
        assert_eq!(token.hash().to_hex(), "0f007385b6f9d4b7eeb2748605afe1a984a0a3bfa3f014d09e2a784ce9e5cd1a");
    }

    #[test]
    fn debug_never_shows_the_token() {
        let token = SessionToken::generate().unwrap();
        assert!(!format!("{token:?}").contains(token.expose()));
    }
}
