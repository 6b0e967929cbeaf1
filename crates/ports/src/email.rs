//! The email address as the domain accepts it: trimmed, lower-cased, RFC-shaped.

use std::fmt;

use serde::Serialize;

/// A validated, normalised email address.
///
/// Two addresses that differ only in case parse to equal values, so a store that
/// keeps the normalised form unique keeps emails unique case-insensitively.
#[derive(Clone, PartialEq, Eq, Hash, Serialize)]
#[serde(transparent)]
pub struct Email(String);

/// Why a string is not an [`Email`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
pub enum EmailError {
    /// Nothing but whitespace.
    #[error("email is empty")]
    Empty,
    /// Longer than [`Email::MAX_LEN`] bytes once trimmed.
    #[error("email is longer than 254 bytes")]
    TooLong,
    /// Not of the shape `local@domain.tld`.
    #[error("email is not a valid address")]
    Malformed,
}

impl Email {
    /// The longest address accepted, in bytes (RFC 5321's path limit less the brackets).
    pub const MAX_LEN: usize = 254;
    const MAX_LOCAL_LEN: usize = 64;
    const MAX_LABEL_LEN: usize = 63;

    /// Trims, lower-cases and checks `input`.
    ///
    /// The local part may hold the RFC 5322 "atext" characters and single dots that
    /// neither start nor end it (no quoted strings, no comments); the domain must be
    /// at least two dot-separated labels of letters, digits and inner hyphens, the
    /// last of them not all digits. Non-ASCII addresses are refused.
    pub fn parse(input: &str) -> Result<Self, EmailError> {
        let trimmed = input.trim();
        if trimmed.is_empty() {
            return Err(EmailError::Empty);
        }
        if trimmed.len() > Self::MAX_LEN {
            return Err(EmailError::TooLong);
        }
        let normalised = trimmed.to_ascii_lowercase();
        let (local, domain) = normalised.split_once('@').ok_or(EmailError::Malformed)?;
        if is_valid_local_part(local) && is_valid_domain(domain) {
            Ok(Self(normalised))
        } else {
            Err(EmailError::Malformed)
        }
    }

    /// The normalised address.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

fn is_valid_local_part(local: &str) -> bool {
    const ATEXT_SYMBOLS: &str = "!#$%&'*+-/=?^_`{|}~";
    !local.is_empty()
        && local.len() <= Email::MAX_LOCAL_LEN
        && local.split('.').all(|atom| {
            !atom.is_empty() && atom.chars().all(|c| c.is_ascii_alphanumeric() || ATEXT_SYMBOLS.contains(c))
        })
}

fn is_valid_domain(domain: &str) -> bool {
    let labels: Vec<&str> = domain.split('.').collect();
    let is_valid_label = |label: &&str| {
        !label.is_empty()
            && label.len() <= Email::MAX_LABEL_LEN
            && !label.starts_with('-')
            && !label.ends_with('-')
            && label.chars().all(|c| c.is_ascii_alphanumeric() || c == '-')
    };
    labels.len() >= 2
        && labels.iter().all(is_valid_label)
        && labels.last().is_some_and(|tld| !tld.chars().all(|c| c.is_ascii_digit()))
}

impl AsRef<str> for Email {
    fn as_ref(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for Email {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Email({:?})", self.0)
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    #[test]
    fn trims_and_lower_cases() {
        let email = Email::parse("  Alice.Smith+tag@Example.COM \n").unwrap();
        assert_eq!(email.as_str(), "alice.smith+tag@example.com");
    }

    #[test]
    fn refuses_what_is_not_an_address() {
        for input in [
            "plainaddress",
            "@example.com",
            "alice@",
            "alice@localhost",
            "alice@@example.com",
            "alice@exa mple.com",
            ".alice@example.com",
            "alice.@example.com",
            "al..ice@example.com",
            "alice@-example.com",
            "alice@example-.com",
            "alice@example..com",
            "alice@127.0.0.1",
            "\"quoted\"@example.com",
            "alice@exämple.com",
        ] {
            assert_eq!(Email::parse(input), Err(EmailError::Malformed), "{input:?}");
        }
        assert_eq!(Email::parse("   "), Err(EmailError::Empty));
    }

    #[test]
    fn enforces_the_length_limits() {
        let domain = format!("{}.{}.{}.com", "a".repeat(63), "b".repeat(63), "c".repeat(57));
        let longest = format!("{}@{domain}", "x".repeat(Email::MAX_LEN - domain.len() - 1));
        assert_eq!(longest.len(), Email::MAX_LEN);
        assert!(Email::parse(&longest).is_ok());
        assert_eq!(Email::parse(&format!("x{longest}")), Err(EmailError::TooLong));
        let long_local = format!("{}@example.com", "x".repeat(65));
        assert_eq!(Email::parse(&long_local), Err(EmailError::Malformed));
    }

    proptest! {
        #[test]
        fn valid_addresses_parse_to_their_lower_case_form(
            local in "[A-Za-z0-9_+-]{1,20}(\\.[A-Za-z0-9_+-]{1,10}){0,2}",
            domain in "[A-Za-z0-9]{1,20}(\\.[A-Za-z0-9]{1,10}){0,2}\\.[A-Za-z]{2,6}",
        ) {
            let input = format!("{local}@{domain}");
            let email = Email::parse(&input).unwrap();
            prop_assert_eq!(email.as_str(), input.to_ascii_lowercase());
        }

        #[test]
        fn case_never_makes_two_addresses_differ(input in "[a-zA-Z]{1,10}@[a-zA-Z]{1,10}\\.[a-zA-Z]{2,4}") {
            prop_assert_eq!(Email::parse(&input.to_uppercase()), Email::parse(&input.to_lowercase()));
        }

        #[test]
        fn parsing_never_panics_and_output_is_bounded(input in "\\PC{0,300}") {
            if let Ok(email) = Email::parse(&input) {
                prop_assert!(email.as_str().len() <= Email::MAX_LEN);
                prop_assert_eq!(Email::parse(email.as_str()), Ok(email));
            }
        }
    }
}
