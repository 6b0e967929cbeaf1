//! What the account page says after a request: a notice after a form that
//! worked (carried across the redirect in a cookie, one of a fixed set, so
//! nothing a request sends is shown), or, after one that did not, a sentence
//! for its problem code and the fields it names.

use serde::Deserialize;

use crate::{
    error::{ApiError, FieldError},
    problem::{ProblemCode, SESSION_ENDED},
};

/// The forms of the page.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Form {
    SignIn,
    SignUp,
    Password,
    Delete,
}

impl Form {
    /// The prefix of the form's input ids.
    pub(super) fn id(self) -> &'static str {
        match self {
            Self::SignIn => "sign-in",
            Self::SignUp => "sign-up",
            Self::Password => "password",
            Self::Delete => "delete",
        }
    }
}

/// How the message reads.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(super) enum Tone {
    /// Nothing to say.
    Quiet,
    /// A form worked.
    Done,
    /// A form did not.
    Problem,
}

/// What a form that worked redirects with.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "snake_case")]
pub(super) enum Notice {
    Registered,
    SignedIn,
    SignedOut,
    SignedOutEverywhere,
    SessionRevoked,
    PasswordChanged,
    AccountDeleted,
    /// A form of the signed-in page was sent with a session that had ended.
    SessionEnded,
}

impl Notice {
    const ALL: [Self; 8] = [
        Self::Registered,
        Self::SignedIn,
        Self::SignedOut,
        Self::SignedOutEverywhere,
        Self::SessionRevoked,
        Self::PasswordChanged,
        Self::AccountDeleted,
        Self::SessionEnded,
    ];

    /// The notice `value` names, if one does.
    pub(super) fn from_query(value: &str) -> Option<Self> {
        Self::ALL.into_iter().find(|notice| notice.query() == value)
    }

    /// Its value in the notice cookie (and the `?notice=` of older instances).
    pub(super) fn query(self) -> &'static str {
        match self {
            Self::Registered => "registered",
            Self::SignedIn => "signed_in",
            Self::SignedOut => "signed_out",
            Self::SignedOutEverywhere => "signed_out_everywhere",
            Self::SessionRevoked => "session_revoked",
            Self::PasswordChanged => "password_changed",
            Self::AccountDeleted => "account_deleted",
            Self::SessionEnded => "session_ended",
        }
    }

    fn message(self) -> &'static str {
        match self {
            Self::Registered => "Your account is ready, and you are signed in.",
            Self::SignedIn => "You are signed in.",
            Self::SignedOut => "You are signed out.",
            Self::SignedOutEverywhere => "You are signed out on every device.",
            Self::SessionRevoked => "That device is signed out.",
            Self::PasswordChanged => "Your password is changed, and every other device is signed out.",
            Self::AccountDeleted => "Your account is deleted.",
            Self::SessionEnded => SESSION_ENDED,
        }
    }
}

/// The page's message, and the fields of the form it is about.
#[derive(Debug, Clone)]
pub(super) struct Feedback {
    pub(super) tone: Tone,
    pub(super) message: String,
    /// The form that was sent, whose fields the errors belong to.
    pub(super) form: Option<Form>,
    fields: Vec<FieldError>,
}

impl Feedback {
    /// Nothing to say.
    pub(super) fn quiet() -> Self {
        Self { tone: Tone::Quiet, message: String::new(), form: None, fields: Vec::new() }
    }

    /// After a redirect.
    pub(super) fn notice(notice: Notice) -> Self {
        let tone = if notice == Notice::SessionEnded { Tone::Problem } else { Tone::Done };
        Self { tone, message: notice.message().to_owned(), form: None, fields: Vec::new() }
    }

    /// After `form` failed with `err`.
    pub(super) fn problem(err: &ApiError, form: Option<Form>) -> Self {
        let code = err.code();
        let message = match (code, err.retry_after()) {
            (ProblemCode::RateLimited, Some(seconds)) => format!(
                "Too many attempts. Wait {seconds} second{} and try again.",
                if seconds == 1 { "" } else { "s" }
            ),
            _ => code.row().sentence.to_owned(),
        };
        let mut fields = err.field_errors().to_vec();
        // A wrong password is about the field that holds it.
        let confirming = match form {
            Some(Form::Password) => Some("currentPassword"),
            Some(Form::Delete) => Some("password"),
            _ => None,
        };
        if let (Some(field), ProblemCode::WrongPassword) = (confirming, code) {
            let message = "That is not your current password.".to_owned();
            fields.push(FieldError { field, code: code.as_str(), message });
        }
        Self { tone: Tone::Problem, message, form, fields }
    }

    /// The error about `input` (a field's name: the forms use the JSON
    /// API's names) of `form`, if any.
    pub(super) fn field_error(&self, form: Form, input: &str) -> Option<&str> {
        if self.form != Some(form) {
            return None;
        }
        self.fields.iter().find(|error| error.field == input).map(|error| error.message.as_str())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Every problem code the API documents has its own sentence on the page.
    #[test]
    fn every_problem_code_has_a_message_for_people() {
        let document: serde_json::Value = serde_json::from_str(crate::routes::openapi::document()).unwrap();
        let codes = document["components"]["schemas"]["ProblemCode"]["enum"].as_array().expect("the codes");
        assert!(codes.len() > 15);
        for code in codes.iter().filter_map(serde_json::Value::as_str) {
            let row = ProblemCode::ALL.iter().map(|known| known.row()).find(|row| row.code == code);
            let sentence = row.unwrap_or_else(|| panic!("`{code}` is not in the problem table")).sentence;
            assert!(sentence.len() > 20, "no message for `{code}`");
        }
    }

    #[test]
    fn a_rate_limited_form_says_how_long_to_wait() {
        let feedback = Feedback::problem(&ApiError::RateLimited(std::time::Duration::from_secs(30)), None);
        assert_eq!(feedback.message, "Too many attempts. Wait 30 seconds and try again.");
        assert_eq!(feedback.tone, Tone::Problem);
    }

    #[test]
    fn field_errors_belong_to_the_form_that_was_sent() {
        let err = ApiError::Validation(vec![FieldError {
            field: "newPassword",
            code: "password_too_common",
            message: "too common".into(),
        }]);
        let feedback = Feedback::problem(&err, Some(Form::Password));
        assert_eq!(feedback.field_error(Form::Password, "newPassword"), Some("too common"));
        assert_eq!(feedback.field_error(Form::SignUp, "password"), None);
    }
}
