//! The session cookie: `HttpOnly; Path=/; SameSite=Lax`, plus `Secure` when
//! configured. A session cookie by default (no `Max-Age`: it ends with the
//! browser; the server's idle and absolute expiry rule either way), a
//! persistent one when configured.
//!
//! **Several cookies of the name.** A sibling subdomain can plant a cookie of
//! our name; the browser then sends both. Every well-formed token is a
//! candidate, in the order the request lists them (current name first, then
//! the previous names), and the first that opens a live session wins, so a
//! planted token never shadows a valid one.
//!
//! **Renaming.** Cookies under a previous name (`SESAME__COOKIE__PREVIOUS_NAMES`)
//! are still read; a request authenticated by one gets the cookie re-issued
//! under the current name and the old one expired.
//!
//! **Legacy tokens.** With `SESAME__COOKIE__LEGACY_TOKENS`, a value another
//! system issued ([`SessionToken::parse_legacy`]) is a candidate too; the
//! session extractor rotates it at its first use, and the new token is issued
//! the way a renamed cookie is.

use std::sync::{Arc, OnceLock};

use axum::{
    extract::Request,
    http::{HeaderMap, HeaderName, HeaderValue, header},
    response::Response,
};
use cookie::{Cookie, SameSite};
use sesame_core::{LoggedIn, SessionToken};

/// The most candidate tokens one request may present; each costs a lookup.
pub const MAX_CANDIDATES: usize = 4;

/// A token the request presented, and whether it came under a previous name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Candidate {
    /// The token.
    pub token: SessionToken,
    /// It came under a previous name and is to be re-issued under the current one.
    pub renamed: bool,
    /// Another system issued it: it is rotated at its first use.
    pub legacy: bool,
}

/// Reads and writes the session cookie.
#[derive(Debug, Clone)]
pub struct SessionCookie {
    name: String,
    previous: Vec<String>,
    secure: bool,
    /// `Max-Age` of a re-issued persistent cookie; `None` for a session cookie.
    persistent: Option<time::Duration>,
    /// Signing out also answers `Clear-Site-Data: "cookies"`.
    clear_site_data: bool,
    /// Values another system issued are candidates too.
    legacy_tokens: bool,
}

impl SessionCookie {
    /// A session cookie called `name`, marked `Secure` when `secure`.
    pub fn new(name: impl Into<String>, secure: bool) -> Self {
        Self {
            name: name.into(),
            previous: Vec::new(),
            secure,
            persistent: None,
            clear_site_data: false,
            legacy_tokens: false,
        }
    }

    /// Whether it is marked `Secure` (the page's other cookies follow it).
    pub fn is_secure(&self) -> bool {
        self.secure
    }

    /// Also reads tokens another system issued (`sesame users import --legacy`).
    #[must_use]
    pub fn accepting_legacy_tokens(mut self, accept: bool) -> Self {
        self.legacy_tokens = accept;
        self
    }

    /// Signing out also clears every cookie of the site (`Clear-Site-Data`).
    #[must_use]
    pub fn clearing_site_data(mut self, clear: bool) -> Self {
        self.clear_site_data = clear;
        self
    }

    /// Also reads cookies under these names, re-issuing them under the current one.
    #[must_use]
    pub fn with_previous_names(mut self, previous: Vec<String>) -> Self {
        self.previous = previous;
        self
    }

    /// Persistent: `Max-Age` until the session's absolute expiry (at most
    /// `longest`, the absolute timeout, for a re-issued cookie).
    #[must_use]
    pub fn persistent(mut self, longest: time::Duration) -> Self {
        self.persistent = Some(longest);
        self
    }

    /// The well-formed tokens the request presents (see the module docs), at
    /// most [`MAX_CANDIDATES`], without repeats. Garbage, truncated or oversized
    /// values are not candidates.
    pub fn candidates(&self, headers: &HeaderMap) -> Vec<Candidate> {
        // One pass over the request's cookies, keeping ours ranked by name:
        // the current name first, then the previous names in their order.
        let mut ours: Vec<(usize, Cookie<'_>)> = headers
            .get_all(header::COOKIE)
            .iter()
            .filter_map(|value| value.to_str().ok())
            .flat_map(Cookie::split_parse)
            .filter_map(Result::ok)
            .filter_map(|cookie| self.rank(cookie.name()).map(|rank| (rank, cookie)))
            .collect();
        ours.sort_by_key(|(rank, _)| *rank);
        let mut candidates: Vec<Candidate> = Vec::new();
        for (rank, cookie) in ours {
            if candidates.len() == MAX_CANDIDATES {
                break;
            }
            let value = cookie.value();
            let (token, legacy) = match SessionToken::parse(value) {
                Some(token) => (token, false),
                None => match self.legacy_tokens.then(|| SessionToken::parse_legacy(value)).flatten() {
                    Some(token) => (token, true),
                    None => continue,
                },
            };
            if !candidates.iter().any(|seen| seen.token == token) {
                candidates.push(Candidate { token, renamed: rank > 0, legacy });
            }
        }
        candidates
    }

    /// 0 for the current name, 1… for the previous names in order; `None` for
    /// a cookie that is not ours.
    fn rank(&self, name: &str) -> Option<usize> {
        if name == self.name {
            return Some(0);
        }
        self.previous.iter().position(|previous| previous == name).map(|index| index + 1)
    }

    /// `Set-Cookie` for a new session.
    pub fn issue(&self, logged_in: &LoggedIn) -> HeaderValue {
        let session = &logged_in.session;
        self.header(
            &self.name,
            logged_in.token.expose(),
            self.persistent.map(|_| session.absolute_expires_at - session.created_at),
        )
    }

    /// `Set-Cookie` that makes the client forget the session.
    pub fn expire(&self) -> HeaderValue {
        self.header(&self.name, "", Some(time::Duration::ZERO))
    }

    /// `Set-Cookie`s that make the client forget a session found dead, under
    /// the current name and every previous one (it may hold any of them).
    pub fn expire_every_name(&self) -> impl Iterator<Item = HeaderValue> + '_ {
        std::iter::once(&self.name).chain(&self.previous).map(|name| self.header(name, "", Some(time::Duration::ZERO)))
    }

    /// The headers of an answer that signs the client out: the expired
    /// cookie, and `Clear-Site-Data` when configured.
    pub fn sign_out(&self) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::SET_COOKIE, self.expire());
        if self.clear_site_data {
            headers.insert(HeaderName::from_static("clear-site-data"), HeaderValue::from_static("\"cookies\""));
        }
        headers
    }

    fn header(&self, name: &str, value: &str, max_age: Option<time::Duration>) -> HeaderValue {
        let mut cookie =
            Cookie::build((name, value)).http_only(true).path("/").same_site(SameSite::Lax).secure(self.secure);
        if let Some(max_age) = max_age {
            cookie = cookie.max_age(max_age);
        }
        HeaderValue::try_from(cookie.build().to_string())
            .expect("cookie names are checked at start-up and tokens are base64url")
    }

    /// Whether the request may need its cookie re-issued: it carries one
    /// under a previous name, or a legacy token. Free when neither is configured.
    fn may_reissue(&self, headers: &HeaderMap) -> bool {
        (!self.previous.is_empty() || self.legacy_tokens)
            && self.candidates(headers).iter().any(|candidate| candidate.renamed || candidate.legacy)
    }
}

/// Where the session extractor leaves the token to re-issue — one that
/// authenticated under a previous cookie name, or the one a legacy token was
/// rotated to — for [`SessionCookie::carry_over`].
#[derive(Debug, Clone, Default)]
pub struct Reissue(Arc<OnceLock<(SessionToken, bool)>>);

impl Reissue {
    /// Records `token`, which authenticated under a previous name, as the one
    /// to re-issue when the answer succeeds (the old cookie still works
    /// otherwise).
    pub fn renamed(&self, token: SessionToken) {
        let _ = self.0.set((token, false));
    }

    /// Records `token`, which a legacy token was rotated to, as the one to
    /// issue whatever the answer: the legacy token stops working a minute later.
    pub fn rotated(&self, token: SessionToken) {
        let _ = self.0.set((token, true));
    }
}

impl SessionCookie {
    /// When `request` may need its cookie re-issued: the [`Reissue`] its
    /// session extractor fills, for [`carry_over`](Self::carry_over).
    pub fn watch_reissue(&self, request: &mut Request) -> Option<Reissue> {
        if !self.may_reissue(request.headers()) {
            return None;
        }
        let reissue = Reissue::default();
        request.extensions_mut().insert(reissue.clone());
        Some(reissue)
    }

    /// When the session extractor left a token to re-issue and the answer
    /// does not set the cookie itself: issues the token under the current
    /// name and expires the old names — a renamed one only when the answer
    /// succeeds, a rotated one whatever it is.
    pub fn carry_over(&self, reissue: &Reissue, response: &mut Response) {
        let untouched = !response.headers().contains_key(header::SET_COOKIE);
        let due = |rotated: bool| untouched && (rotated || response.status().is_success());
        if let Some((token, _)) = reissue.0.get().filter(|(_, rotated)| due(*rotated)) {
            let headers = response.headers_mut();
            headers.append(header::SET_COOKIE, self.header(&self.name, token.expose(), self.persistent));
            for old in &self.previous {
                headers.append(header::SET_COOKIE, self.header(old, "", Some(time::Duration::ZERO)));
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use proptest::prelude::*;

    use super::*;

    proptest! {
        #[test]
        fn any_cookie_header_yields_at_most_four_well_formed_candidates(header in "\\PC{0,400}") {
            let mut headers = HeaderMap::new();
            if let Ok(value) = HeaderValue::from_str(&header) {
                headers.insert(header::COOKIE, value);
            }
            let candidates = SessionCookie::new("sessionId", false).candidates(&headers);
            prop_assert!(candidates.len() <= MAX_CANDIDATES);
            for candidate in candidates {
                prop_assert_eq!(SessionToken::parse(candidate.token.expose()), Some(candidate.token.clone()));
            }
        }

        #[test]
        fn a_planted_cookie_never_hides_a_valid_token(planted in "[!#$%&'*+.^_`|~0-9A-Za-z-]{0,60}") {
            let token = SessionToken::generate().unwrap();
            let headers = cookie_header(&format!("sessionId={planted}; sessionId={}", token.expose()));
            let candidates = SessionCookie::new("sessionId", false).candidates(&headers);
            prop_assert!(candidates.iter().any(|candidate| candidate.token == token));
        }
    }

    fn cookie_header(value: &str) -> HeaderMap {
        let mut headers = HeaderMap::new();
        headers.insert(header::COOKIE, HeaderValue::from_str(value).unwrap());
        headers
    }

    fn tokens(candidates: &[Candidate]) -> Vec<&SessionToken> {
        candidates.iter().map(|candidate| &candidate.token).collect()
    }

    #[test]
    fn a_rotated_token_is_issued_whatever_the_answer_and_a_renamed_one_only_on_success() {
        let cookie = SessionCookie::new("sessionId", false);
        let refused = || {
            let mut response = Response::new(axum::body::Body::empty());
            *response.status_mut() = axum::http::StatusCode::NOT_FOUND;
            response
        };
        let (renamed, rotated) = (Reissue::default(), Reissue::default());
        renamed.renamed(SessionToken::generate().unwrap());
        let new_token = SessionToken::generate().unwrap();
        rotated.rotated(new_token.clone());

        let mut response = refused();
        cookie.carry_over(&renamed, &mut response);
        assert!(response.headers().get(header::SET_COOKIE).is_none(), "the old name still works: nothing to do");

        let mut response = refused();
        cookie.carry_over(&rotated, &mut response);
        let set = response.headers()[header::SET_COOKIE].to_str().unwrap();
        assert!(set.contains(new_token.expose()), "the legacy token ends soon: the new one must reach the client");
    }

    #[test]
    fn legacy_tokens_are_candidates_only_when_configured_and_are_marked() {
        let token = SessionToken::generate().unwrap();
        let headers = cookie_header(&format!("sessionId=legacy-0123456789abcdef; sessionId={}", token.expose()));
        let strict = SessionCookie::new("sessionId", false);
        assert_eq!(tokens(&strict.candidates(&headers)), [&token], "off by default: garbage reaches no store");

        let candidates = strict.accepting_legacy_tokens(true).candidates(&headers);
        let legacy: Vec<bool> = candidates.iter().map(|candidate| candidate.legacy).collect();
        assert_eq!(legacy, [true, false], "{candidates:?}");
        assert_eq!(candidates[0].token.hash(), SessionToken::parse_legacy("legacy-0123456789abcdef").unwrap().hash());
    }

    #[test]
    fn only_well_formed_tokens_under_the_configured_names_are_candidates() {
        let cookie = SessionCookie::new("sessionId", false).with_previous_names(vec!["sid".into()]);
        let (a, b) = (SessionToken::generate().unwrap(), SessionToken::generate().unwrap());
        let headers = cookie_header(&format!(
            "theme=dark; sid={}; sessionId=garbage; sessionId={}; other={}",
            b.expose(),
            a.expose(),
            a.expose()
        ));
        let candidates = cookie.candidates(&headers);
        assert_eq!(tokens(&candidates), [&a, &b], "the current name first, then previous names");
        assert_eq!(candidates.iter().map(|c| c.renamed).collect::<Vec<_>>(), [false, true]);
        assert!(cookie.candidates(&cookie_header("other=abc; sessionId=%%%")).is_empty());
    }

    #[test]
    fn repeated_cookies_keep_their_order_without_repeats_and_are_capped() {
        let cookie = SessionCookie::new("sessionId", false);
        let all: Vec<_> = (0..6).map(|_| SessionToken::generate().unwrap()).collect();
        let mut value: Vec<String> = all.iter().map(|token| format!("sessionId={}", token.expose())).collect();
        value.insert(1, format!("sessionId={}", all[0].expose()));
        let candidates = cookie.candidates(&cookie_header(&value.join("; ")));
        assert_eq!(tokens(&candidates), all.iter().take(MAX_CANDIDATES).collect::<Vec<_>>());
    }

    #[test]
    fn a_session_cookie_has_no_max_age_and_a_persistent_one_has() {
        let session = SessionCookie::new("sessionId", false).header("sessionId", "v", None);
        assert!(!session.to_str().unwrap().contains("Max-Age"), "{session:?}");
        let expired = SessionCookie::new("__Host-sid", true).expire();
        let text = expired.to_str().unwrap();
        for part in ["__Host-sid=", "HttpOnly", "Path=/", "SameSite=Lax", "Secure", "Max-Age=0"] {
            assert!(text.contains(part), "{text} lacks {part}");
        }
    }
}
