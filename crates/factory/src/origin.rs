//! Web origins (`scheme://host[:port]`), as settings name them and as browsers
//! send them in `Origin` and `Referer`.

use std::{fmt, str::FromStr};

/// A normalised web origin: `http` or `https`, a lower-cased host, and a port
/// only when it is not the scheme's default. Two spellings of one origin
/// compare equal.
#[derive(Debug, Clone, PartialEq, Eq, Hash)]
pub struct Origin(String);

impl Origin {
    /// The origin as `Origin` headers spell it: `scheme://host[:port]`, nothing
    /// else. `None` for `null`, other schemes, paths, user info, or an empty host.
    pub fn parse(text: &str) -> Option<Self> {
        let (scheme, authority) = text.split_once("://")?;
        Self::from_parts(scheme, authority)
    }

    /// The origin of a URL, as in `Referer`: its scheme and authority; the path,
    /// query and fragment are ignored.
    pub fn of_url(url: &str) -> Option<Self> {
        let (scheme, rest) = url.split_once("://")?;
        let end = rest.find(['/', '?', '#']).unwrap_or(rest.len());
        Self::from_parts(scheme, &rest[..end])
    }

    /// The origin of `scheme` and an authority such as a `Host` header.
    pub fn from_parts(scheme: &str, authority: &str) -> Option<Self> {
        let scheme = scheme.to_ascii_lowercase();
        let default_port = match scheme.as_str() {
            "http" => "80",
            "https" => "443",
            _ => return None,
        };
        let well_formed = |c: char| c.is_ascii_alphanumeric() || matches!(c, '.' | '-' | ':' | '[' | ']' | '_');
        if authority.is_empty() || !authority.chars().all(well_formed) {
            return None;
        }
        let authority = authority.to_ascii_lowercase();
        // A port follows the last colon, unless that colon is inside an IPv6 literal.
        let (host, port) = match authority.rsplit_once(':') {
            Some((host, port)) if !port.contains(']') => (host, Some(port)),
            _ => (authority.as_str(), None),
        };
        if host.is_empty() || port.is_some_and(|port| port.is_empty() || !port.bytes().all(|b| b.is_ascii_digit())) {
            return None;
        }
        Some(match port.filter(|port| *port != default_port) {
            Some(port) => Self(format!("{scheme}://{host}:{port}")),
            None => Self(format!("{scheme}://{host}")),
        })
    }

    /// `scheme://host[:port]`.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Origin {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl FromStr for Origin {
    type Err = String;

    fn from_str(text: &str) -> Result<Self, Self::Err> {
        Self::parse(text.trim()).ok_or_else(|| format!("{text:?} is not an origin (scheme://host[:port])"))
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_text_is_refused_or_parses_to_a_fixed_point(text in "\\PC{0,80}") {
            if let Some(origin) = Origin::parse(&text) {
                prop_assert_eq!(Origin::parse(origin.as_str()), Some(origin.clone()));
                let (scheme, authority) = origin.as_str().split_once("://").expect("a scheme");
                prop_assert!(scheme == "http" || scheme == "https");
                prop_assert!(authority.is_ascii() && !authority.is_empty());
                prop_assert!(!authority.contains(['/', '@', ' ', '\r', '\n', '?', '#']));
            }
        }
    }

    #[test]
    fn spellings_of_one_origin_are_equal() {
        let plain = Origin::parse("https://app.example.com").unwrap();
        assert_eq!(Origin::parse("HTTPS://App.Example.com:443"), Some(plain.clone()));
        assert_eq!(Origin::of_url("https://app.example.com/login?next=/#top"), Some(plain.clone()));
        assert_eq!(Origin::from_parts("https", "app.example.com"), Some(plain));
        assert_eq!(Origin::parse("http://[::1]:3000").unwrap().as_str(), "http://[::1]:3000");
        assert_eq!(Origin::parse("http://[::1]").unwrap().as_str(), "http://[::1]");
        assert_ne!(Origin::parse("http://localhost:3000"), Origin::parse("http://localhost:3001"));
    }

    #[test]
    fn what_is_not_an_origin_is_refused() {
        for text in [
            "null",
            "",
            "https://",
            "file:///etc/passwd",
            "ftp://example.com",
            "https://user@example.com",
            "https://example.com/path",
            "https://example.com:",
            "https://example.com:80a",
            "https://exa mple.com",
            "https://example.com\r\nx: y",
        ] {
            assert_eq!(Origin::parse(text), None, "{text:?}");
        }
    }
}
