//! The session cookie: `HttpOnly; Path=/; SameSite=Lax`, plus `Secure` when configured.

use axum::http::{HeaderMap, HeaderValue, header};
use cookie::{Cookie, SameSite};
use sesame_core::{LoggedIn, SessionToken};

/// Reads and writes the session cookie.
#[derive(Debug, Clone)]
pub struct SessionCookie {
    name: String,
    secure: bool,
}

impl SessionCookie {
    /// A cookie called `name`, marked `Secure` when `secure`.
    pub fn new(name: impl Into<String>, secure: bool) -> Self {
        Self { name: name.into(), secure }
    }

    /// The token the client presented, if its cookie holds a well-formed one.
    /// A garbage, truncated or oversized value is the same as no cookie.
    pub fn presented(&self, headers: &HeaderMap) -> Option<SessionToken> {
        headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter(|cookie| cookie.name() == self.name)
            .find_map(|cookie| SessionToken::parse(cookie.value()))
    }

    /// `Set-Cookie` for a new session; it lives until the session's absolute expiry.
    pub fn issue(&self, logged_in: &LoggedIn) -> HeaderValue {
        let session = &logged_in.session;
        let max_age = session.absolute_expires_at - session.created_at;
        self.header(logged_in.token.expose(), max_age)
    }

    /// `Set-Cookie` that makes the client forget the session.
    pub fn expire(&self) -> HeaderValue {
        self.header("", time::Duration::ZERO)
    }

    fn header(&self, value: &str, max_age: time::Duration) -> HeaderValue {
        let cookie = Cookie::build((self.name.as_str(), value))
            .http_only(true)
            .path("/")
            .same_site(SameSite::Lax)
            .secure(self.secure)
            .max_age(max_age)
            .build();
        HeaderValue::try_from(cookie.to_string())
            .expect("cookie names are checked at start-up and tokens are base64url")
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn presented_reads_only_a_well_formed_token_under_the_configured_name() {
        let cookie = SessionCookie::new("sessionId", false);
        let token = SessionToken::generate().unwrap();
        let mut headers = HeaderMap::new();
        let value = format!("theme=dark; sessionId=garbage; sessionId={}", token.expose());
        headers.insert(header::COOKIE, HeaderValue::from_str(&value).unwrap());
        assert_eq!(cookie.presented(&headers), Some(token));

        headers.insert(header::COOKIE, HeaderValue::from_static("other=abc; sessionId=%%%"));
        assert_eq!(cookie.presented(&headers), None);
    }

    #[test]
    fn expire_clears_the_value_with_the_same_attributes() {
        let header = SessionCookie::new("__Host-sid", true).expire();
        let text = header.to_str().unwrap();
        for part in ["__Host-sid=", "HttpOnly", "Path=/", "SameSite=Lax", "Secure", "Max-Age=0"] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
    }
}
