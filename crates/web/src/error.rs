//! The HTTP error policy.
//!
//! Every error answer is `application/problem+json` (RFC 9457) with a stable
//! `code` that clients may match on. A 4xx says what was wrong with the request;
//! a 5xx says only that it failed: its cause is logged, with the request id, and
//! never sent. A 503 for a store outage carries `Retry-After`; its cause is
//! logged once per outage by the store's guard, not once per request (here it
//! is a debug line). Nothing a client sends is echoed back, and no answer carries a
//! token, a hash or a store's own error text.

use axum::{
    Json,
    extract::rejection::{FormRejection, JsonRejection},
    http::{HeaderValue, StatusCode, header},
    response::{IntoResponse, Response},
};
use serde::Serialize;
use sesame_core::{AuthError, PasswordError, ports::EmailError};

use crate::{
    problem::{ProblemCode, RetryAfter},
    telemetry::Failure,
};

/// `Retry-After` on a 503 for a store outage: the guard's breaker first probes
/// a failing store after one second.
const RETRY_AFTER_SECONDS: u64 = 1;

/// A field that broke a rule, in a `validation_failed` problem.
#[derive(Debug, Clone, Serialize)]
pub struct FieldError {
    /// The field's JSON name.
    pub field: &'static str,
    /// A stable code for the rule broken.
    pub code: &'static str,
    /// A sentence for people.
    pub message: String,
}

/// Every way a request can fail, with the status each answers.
#[derive(Debug)]
pub enum ApiError {
    /// 400 `malformed_json`: the body is not JSON.
    MalformedJson,
    /// 401 `invalid_credentials`: unknown email or wrong password; the same answer for both.
    InvalidCredentials,
    /// 401 `unauthenticated`: no live session was presented.
    Unauthenticated,
    /// 403 `wrong_password`: the password confirming a change is not the user's.
    WrongPassword,
    /// 403 `csrf_rejected`: a state-changing request from a foreign origin.
    CsrfRejected,
    /// 403 `account_disabled`: the credentials are right, but an operator
    /// disabled the account.
    AccountDisabled,
    /// 404 `not_found`: no such route.
    NotFound,
    /// 404 `session_not_found`: not one of the caller's sessions.
    SessionNotFound,
    /// 405 `method_not_allowed`.
    MethodNotAllowed,
    /// 409 `email_taken`.
    EmailTaken,
    /// 408 `request_timeout`: the body did not arrive in time.
    RequestTimeout,
    /// 413 `payload_too_large`: the body is over 16 KiB.
    PayloadTooLarge,
    /// 429 `rate_limited` with `Retry-After`: too many attempts; try after the wait.
    RateLimited(std::time::Duration),
    /// 417 `expectation_failed`: an `Expect` other than `100-continue`.
    ExpectationFailed,
    /// 415 `unsupported_media_type`: a JSON route got another content type (a
    /// form route, a type other than `application/x-www-form-urlencoded`).
    UnsupportedMediaType,
    /// 422 `invalid_body`: JSON of the wrong shape (a missing field, a wrong type).
    InvalidBody(String),
    /// 422 `validation_failed`: fields that break the rules.
    Validation(Vec<FieldError>),
    /// 503 `store_unavailable` with `Retry-After`: a store did not answer (or its
    /// breaker is open). The cause is logged, not sent.
    StoreUnavailable(String),
    /// 503 `service_busy` with `Retry-After`: too many password hashes wait.
    Busy,
    /// 503 `service_starting` with `Retry-After`: the stores are still connecting.
    Starting,
    /// 500 `internal_error`. The cause is logged, not sent.
    Internal(String),
}

#[derive(Serialize)]
struct Problem<'a> {
    #[serde(rename = "type")]
    kind: String,
    title: &'a str,
    status: u16,
    code: &'a str,
    detail: &'a str,
    #[serde(skip_serializing_if = "<[_]>::is_empty")]
    errors: &'a [FieldError],
}

impl ApiError {
    /// The problem code this error answers with ([`ProblemCode::row`] says
    /// its status, detail and the rest).
    pub fn code(&self) -> ProblemCode {
        match self {
            Self::MalformedJson => ProblemCode::MalformedJson,
            Self::InvalidCredentials => ProblemCode::InvalidCredentials,
            Self::Unauthenticated => ProblemCode::Unauthenticated,
            Self::WrongPassword => ProblemCode::WrongPassword,
            Self::AccountDisabled => ProblemCode::AccountDisabled,
            Self::CsrfRejected => ProblemCode::CsrfRejected,
            Self::NotFound => ProblemCode::NotFound,
            Self::SessionNotFound => ProblemCode::SessionNotFound,
            Self::MethodNotAllowed => ProblemCode::MethodNotAllowed,
            Self::EmailTaken => ProblemCode::EmailTaken,
            Self::RequestTimeout => ProblemCode::RequestTimeout,
            Self::PayloadTooLarge => ProblemCode::PayloadTooLarge,
            Self::ExpectationFailed => ProblemCode::ExpectationFailed,
            Self::UnsupportedMediaType => ProblemCode::UnsupportedMediaType,
            Self::RateLimited(_) => ProblemCode::RateLimited,
            Self::InvalidBody(_) => ProblemCode::InvalidBody,
            Self::Validation(_) => ProblemCode::ValidationFailed,
            Self::StoreUnavailable(_) => ProblemCode::StoreUnavailable,
            Self::Starting => ProblemCode::ServiceStarting,
            Self::Busy => ProblemCode::ServiceBusy,
            Self::Internal(_) => ProblemCode::InternalError,
        }
    }

    /// `Retry-After`, in seconds, for the answers that carry it.
    pub fn retry_after(&self) -> Option<u64> {
        match (self.code().row().retry_after, self) {
            (RetryAfter::Shortly, _) => Some(RETRY_AFTER_SECONDS),
            (RetryAfter::TheWait, Self::RateLimited(wait)) => Some(retry_after_seconds(*wait)),
            _ => None,
        }
    }

    fn detail(&self) -> &str {
        match self {
            Self::InvalidBody(detail) => detail,
            other => other.code().row().detail,
        }
    }
}

/// `Retry-After` in whole seconds, at least one.
pub fn retry_after_seconds(wait: std::time::Duration) -> u64 {
    wait.as_secs() + u64::from(wait.subsec_nanos() > 0)
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let code = self.code();
        let (status, code) = (code.status(), code.as_str());
        let problem = Problem {
            kind: format!("urn:sesame:problem:{code}"),
            title: status.canonical_reason().unwrap_or("Error"),
            status: status.as_u16(),
            code,
            detail: self.detail(),
            errors: self.field_errors(),
        };
        let mut response = (status, Json(problem)).into_response();
        response.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/problem+json"));
        self.annotate(&mut response);
        response
    }
}

impl ApiError {
    /// What every answer to this error gets, whatever its body: the log line
    /// (a 5xx's cause goes there, never into the body), `Retry-After`, and for
    /// an internal error the cause that telemetry logs with the request id.
    pub fn annotate(&self, response: &mut Response) {
        let code = self.code().as_str();
        match self {
            Self::StoreUnavailable(cause) => tracing::debug!(code, cause = %cause, "store unavailable"),
            // Logged with the request's id by `telemetry::Observed::finish`.
            Self::Internal(_) => {}
            _ => tracing::debug!(code, "request refused"),
        }
        if let Some(seconds) = self.retry_after() {
            response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from(seconds));
        }
        if let Self::Internal(cause) = self {
            response.extensions_mut().insert(Failure(cause.clone()));
        }
    }

    /// The fields that broke a rule, for `validation_failed`; else none.
    pub fn field_errors(&self) -> &[FieldError] {
        match self {
            Self::Validation(errors) => errors,
            _ => &[],
        }
    }

    /// The same error, with a field error about `password` naming `field` instead.
    pub fn for_field(mut self, field: &'static str) -> Self {
        if let Self::Validation(errors) = &mut self {
            for error in errors.iter_mut().filter(|error| error.field == "password") {
                error.field = field;
            }
        }
        self
    }
}

impl From<AuthError> for ApiError {
    fn from(err: AuthError) -> Self {
        match err {
            AuthError::InvalidEmail(reason) => Self::Validation(vec![email_error(reason)]),
            AuthError::WeakPassword(reason) => Self::Validation(vec![password_error(reason)]),
            AuthError::InvalidEmailAndPassword(email, password) => {
                Self::Validation(vec![email_error(email), password_error(password)])
            }
            AuthError::EmailTaken => Self::EmailTaken,
            AuthError::InvalidCredentials => Self::InvalidCredentials,
            AuthError::WrongPassword => Self::WrongPassword,
            AuthError::AccountDisabled => Self::AccountDisabled,
            // An operator's error; no request leads to it.
            AuthError::UserNotFound => Self::Unauthenticated,
            AuthError::Unauthenticated => Self::Unauthenticated,
            AuthError::SessionNotFound => Self::SessionNotFound,
            AuthError::Store(cause) => Self::StoreUnavailable(cause.cause_chain()),
            AuthError::Busy => Self::Busy,
            AuthError::RateLimited(wait) => Self::RateLimited(wait),
            AuthError::Internal(cause) => Self::Internal(cause),
        }
    }
}

fn email_error(reason: EmailError) -> FieldError {
    let code = match reason {
        EmailError::Empty => "email_empty",
        EmailError::TooLong => "email_too_long",
        EmailError::Malformed => "email_malformed",
    };
    FieldError { field: "email", code, message: reason.to_string() }
}

fn password_error(reason: PasswordError) -> FieldError {
    let code = match reason {
        PasswordError::TooShort => "password_too_short",
        PasswordError::TooLong => "password_too_long",
        PasswordError::TooCommon => "password_too_common",
    };
    FieldError { field: "password", code, message: reason.to_string() }
}

impl From<JsonRejection> for ApiError {
    fn from(rejection: JsonRejection) -> Self {
        match rejection {
            JsonRejection::MissingJsonContentType(_) => Self::UnsupportedMediaType,
            JsonRejection::JsonSyntaxError(_) => Self::MalformedJson,
            JsonRejection::JsonDataError(err) => Self::InvalidBody(data_error_detail(&err.body_text())),
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            other if timed_out(&other) => Self::RequestTimeout,
            _ => Self::MalformedJson,
        }
    }
}

impl From<FormRejection> for ApiError {
    fn from(rejection: FormRejection) -> Self {
        match rejection {
            FormRejection::InvalidFormContentType(_) => Self::UnsupportedMediaType,
            other if other.status() == StatusCode::PAYLOAD_TOO_LARGE => Self::PayloadTooLarge,
            other if timed_out(&other) => Self::RequestTimeout,
            // serde_urlencoded's sentence may quote a value: never echoed.
            _ => Self::InvalidBody("The form has the wrong shape.".to_owned()),
        }
    }
}

/// Whether reading the body failed because its deadline passed.
fn timed_out(rejection: &(dyn std::error::Error + 'static)) -> bool {
    let mut cause: Option<&(dyn std::error::Error + 'static)> = Some(rejection);
    while let Some(error) = cause {
        if error.is::<tower_http::timeout::TimeoutError>() {
            return true;
        }
        cause = error.source();
    }
    false
}

/// What was wrong with the body's shape, naming the field but never echoing a value
/// the client sent: serde's "missing field" sentence is kept, any other is replaced.
fn data_error_detail(body_text: &str) -> String {
    let reason = body_text.split_once("target type: ").map_or(body_text, |(_, reason)| reason);
    let reason = reason.split(" at line ").next().unwrap_or(reason);
    if reason.starts_with("missing field `") {
        return format!("The request body has the wrong shape: {reason}.");
    }
    match reason.split_once(": ").map(|(path, _)| path).filter(|path| is_field_path(path)) {
        Some(path) => format!("The request body has the wrong shape: field `{path}` has the wrong type."),
        None => "The request body has the wrong shape.".to_owned(),
    }
}

fn is_field_path(path: &str) -> bool {
    !path.is_empty()
        && path.len() <= 64
        && path.chars().all(|c| c.is_ascii_alphanumeric() || matches!(c, '_' | '.' | '[' | ']'))
}

#[cfg(test)]
mod tests {
    use super::*;

    const PREFIX: &str = "Failed to deserialize the JSON body into the target type: ";

    #[test]
    fn retry_after_rounds_up_to_whole_seconds() {
        assert_eq!(retry_after_seconds(std::time::Duration::from_millis(1)), 1);
        assert_eq!(retry_after_seconds(std::time::Duration::from_secs(20)), 20);
        assert_eq!(retry_after_seconds(std::time::Duration::from_millis(20_001)), 21);
    }

    #[test]
    fn data_error_detail_names_a_missing_field() {
        let text = format!("{PREFIX}missing field `password` at line 1 column 24");
        assert_eq!(data_error_detail(&text), "The request body has the wrong shape: missing field `password`.");
    }

    #[test]
    fn data_error_detail_names_the_field_but_never_echoes_its_value() {
        let text = format!("{PREFIX}password: invalid type: integer `12345678`, expected a string at line 1 column 50");
        let detail = data_error_detail(&text);
        assert_eq!(detail, "The request body has the wrong shape: field `password` has the wrong type.");
        let text = format!("{PREFIX}invalid type: string \"hunter2\", expected struct Credentials at line 1 column 9");
        assert_eq!(data_error_detail(&text), "The request body has the wrong shape.");
    }
}
