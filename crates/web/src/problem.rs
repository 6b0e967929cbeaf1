//! Every problem code sesame answers with, in one table ([`ProblemCode::row`]):
//! its stable name, its HTTP status, the `detail` the JSON API sends, the
//! sentence the account page shows, and whether the answer carries
//! `Retry-After`. The OpenAPI document's `ProblemCode` enum is this enum's
//! schema; nothing else lists the codes.

use axum::http::StatusCode;
use serde::Serialize;
use utoipa::ToSchema;

/// Every problem code (docs/api.md says when each is answered).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum ProblemCode {
    MalformedJson,
    InvalidCredentials,
    Unauthenticated,
    WrongPassword,
    AccountDisabled,
    CsrfRejected,
    NotFound,
    SessionNotFound,
    MethodNotAllowed,
    EmailTaken,
    RequestTimeout,
    PayloadTooLarge,
    ExpectationFailed,
    UnsupportedMediaType,
    RateLimited,
    InvalidBody,
    ValidationFailed,
    StoreUnavailable,
    ServiceStarting,
    ServiceBusy,
    InternalError,
}

/// When an answer carries `Retry-After`.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RetryAfter {
    /// Never.
    No,
    /// After a second: a failing store's breaker first probes it then.
    Shortly,
    /// After the wait the rate limit gives.
    TheWait,
}

/// One code's row of the table.
#[derive(Debug, Clone, Copy)]
pub struct Row {
    /// Its stable name, as `code` carries it.
    pub code: &'static str,
    /// The status it answers with.
    pub status: StatusCode,
    /// The JSON API's `detail` (`invalid_body` says more where it can).
    pub detail: &'static str,
    /// What the account page says.
    pub sentence: &'static str,
    /// Whether it carries `Retry-After`.
    pub retry_after: RetryAfter,
}

/// What the account page says for any problem of a form that arrived broken.
const FORM_INCOMPLETE: &str = "The form arrived incomplete. Reload the page and try again.";
/// What the account page says while a store or the service cannot answer.
const UNAVAILABLE: &str = "The service is briefly unavailable, so this may not have been done. Try again in a moment.";
/// What the account page says to a visitor whose session ended.
pub const SESSION_ENDED: &str =
    "Your session has ended: you were signed out on another device, or it expired. Sign in again.";

impl ProblemCode {
    /// Every code, in the order of the declaration (and of the OpenAPI enum).
    pub const ALL: [Self; 21] = [
        Self::MalformedJson,
        Self::InvalidCredentials,
        Self::Unauthenticated,
        Self::WrongPassword,
        Self::AccountDisabled,
        Self::CsrfRejected,
        Self::NotFound,
        Self::SessionNotFound,
        Self::MethodNotAllowed,
        Self::EmailTaken,
        Self::RequestTimeout,
        Self::PayloadTooLarge,
        Self::ExpectationFailed,
        Self::UnsupportedMediaType,
        Self::RateLimited,
        Self::InvalidBody,
        Self::ValidationFailed,
        Self::StoreUnavailable,
        Self::ServiceStarting,
        Self::ServiceBusy,
        Self::InternalError,
    ];

    /// The code's row: everything said about it, in one place.
    pub fn row(self) -> Row {
        use RetryAfter::{No, Shortly, TheWait};
        use StatusCode as S;
        let row = |code, status, detail, sentence, retry_after| Row { code, status, detail, sentence, retry_after };
        match self {
            Self::MalformedJson => {
                row("malformed_json", S::BAD_REQUEST, "The request body is not valid JSON.", FORM_INCOMPLETE, No)
            }
            Self::InvalidCredentials => row(
                "invalid_credentials",
                S::UNAUTHORIZED,
                "The email or password is incorrect.",
                "The email address or password is not right. Check both and try again.",
                No,
            ),
            Self::Unauthenticated => {
                row("unauthenticated", S::UNAUTHORIZED, "This request needs a valid session.", SESSION_ENDED, No)
            }
            Self::WrongPassword => row(
                "wrong_password",
                S::FORBIDDEN,
                "The password is not correct.",
                "That is not your current password. Nothing was changed.",
                No,
            ),
            Self::AccountDisabled => row(
                "account_disabled",
                S::FORBIDDEN,
                "This account is disabled. Ask the service's operators to enable it.",
                "This account is disabled. Ask the service's operators to enable it.",
                No,
            ),
            Self::CsrfRejected => row(
                "csrf_rejected",
                S::FORBIDDEN,
                "This request comes from a page on another origin, which may not change anything here.",
                "This form was sent from another website, so nothing was changed. Open this page directly and try again.",
                No,
            ),
            Self::NotFound => row(
                "not_found",
                S::NOT_FOUND,
                "There is nothing at this address.",
                "There is no page at this address.",
                No,
            ),
            Self::SessionNotFound => row(
                "session_not_found",
                S::NOT_FOUND,
                "There is no such session among yours.",
                "That device was already signed out.",
                No,
            ),
            Self::MethodNotAllowed => row(
                "method_not_allowed",
                S::METHOD_NOT_ALLOWED,
                "This address does not accept this method.",
                "This address does not take that kind of request.",
                No,
            ),
            Self::EmailTaken => row(
                "email_taken",
                S::CONFLICT,
                "An account with this email address already exists.",
                "An account with this email address already exists. Sign in instead, or use another address.",
                No,
            ),
            Self::RequestTimeout => row(
                "request_timeout",
                S::REQUEST_TIMEOUT,
                "The request body did not arrive in time.",
                "The form took too long to arrive. Try again.",
                No,
            ),
            Self::PayloadTooLarge => row(
                "payload_too_large",
                S::PAYLOAD_TOO_LARGE,
                "The request body is larger than 16 KiB.",
                "The form is larger than 16 KiB. Shorten what you typed and try again.",
                No,
            ),
            Self::ExpectationFailed => row(
                "expectation_failed",
                S::EXPECTATION_FAILED,
                "Only `Expect: 100-continue` is understood.",
                FORM_INCOMPLETE,
                No,
            ),
            Self::UnsupportedMediaType => row(
                "unsupported_media_type",
                S::UNSUPPORTED_MEDIA_TYPE,
                "The request body must be sent as application/json.",
                FORM_INCOMPLETE,
                No,
            ),
            Self::RateLimited => row(
                "rate_limited",
                S::TOO_MANY_REQUESTS,
                "Too many attempts. Try again after the time Retry-After gives.",
                "Too many attempts. Wait a minute and try again.",
                TheWait,
            ),
            Self::InvalidBody => row(
                "invalid_body",
                S::UNPROCESSABLE_ENTITY,
                "The request body has the wrong shape.",
                FORM_INCOMPLETE,
                No,
            ),
            Self::ValidationFailed => row(
                "validation_failed",
                S::UNPROCESSABLE_ENTITY,
                "Some fields are invalid.",
                "Some fields need another look; each says why below.",
                No,
            ),
            Self::StoreUnavailable => row(
                "store_unavailable",
                S::SERVICE_UNAVAILABLE,
                "The service is temporarily unavailable. Try again shortly.",
                UNAVAILABLE,
                Shortly,
            ),
            Self::ServiceStarting => row(
                "service_starting",
                S::SERVICE_UNAVAILABLE,
                "The service is starting. Try again shortly.",
                UNAVAILABLE,
                Shortly,
            ),
            Self::ServiceBusy => row(
                "service_busy",
                S::SERVICE_UNAVAILABLE,
                "The service is busy checking passwords. Try again shortly.",
                "The service is busy checking passwords; nothing was done. Try again in a moment.",
                Shortly,
            ),
            Self::InternalError => row(
                "internal_error",
                S::INTERNAL_SERVER_ERROR,
                "The request could not be completed.",
                "Something went wrong on our side. Try again; if it keeps happening, tell the operators.",
                No,
            ),
        }
    }

    /// Its stable name.
    pub fn as_str(self) -> &'static str {
        self.row().code
    }

    /// The status it answers with.
    pub fn status(self) -> StatusCode {
        self.row().status
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_table_lists_every_code_once_under_the_name_serde_gives_it() {
        assert_eq!(ProblemCode::ALL.len(), ProblemCode::InternalError as usize + 1, "every variant is in ALL");
        for (index, code) in ProblemCode::ALL.into_iter().enumerate() {
            assert_eq!(code as usize, index, "ALL is in the declaration's order");
            assert_eq!(serde_json::to_value(code).unwrap(), code.as_str(), "the row names the code as serde does");
            let row = code.row();
            assert!(row.detail.ends_with('.') && row.sentence.ends_with('.'), "{}", row.code);
            assert_eq!(
                row.retry_after != RetryAfter::No,
                row.status == StatusCode::SERVICE_UNAVAILABLE || row.status == StatusCode::TOO_MANY_REQUESTS,
                "{}: Retry-After goes with 429 and 503",
                row.code
            );
        }
    }
}
