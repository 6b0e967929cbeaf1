//! The OpenAPI 3.1 document of the API, generated from the handlers'
//! `#[utoipa::path]` annotations and the DTOs' schemas, served at
//! `GET /api/openapi.json` and committed as docs/openapi.json (a test fails
//! when the two differ).

use std::sync::OnceLock;

use axum::http::{HeaderValue, header};
use serde::Serialize;
use utoipa::{
    IntoResponses, Modify, OpenApi, ToSchema,
    openapi::{
        RefOr,
        link::LinkBuilder,
        path::{HttpMethod, PathItem},
        security::{ApiKey, ApiKeyValue, SecurityScheme},
    },
};

use crate::{
    dto::{
        Credentials, MeResponse, PasswordChange, PasswordConfirmation, SessionBody, SessionsResponse, UserBody,
        UserResponse,
    },
    problem::ProblemCode,
};

/// An error answer, `application/problem+json` (RFC 9457).
#[derive(Serialize, ToSchema)]
#[schema(example = json!({
    "type": "urn:sesame:problem:invalid_credentials",
    "title": "Unauthorized",
    "status": 401,
    "code": "invalid_credentials",
    "detail": "The email or password is incorrect."
}))]
pub struct Problem {
    /// `urn:sesame:problem:{code}`.
    #[serde(rename = "type")]
    kind: String,
    /// The status's reason phrase.
    title: String,
    /// The HTTP status.
    status: u16,
    /// What went wrong, stable: match on this.
    code: ProblemCode,
    /// A sentence for people; never an echo of the request.
    detail: String,
    /// For `validation_failed`: each field that broke a rule.
    #[schema(nullable = false)]
    errors: Option<Vec<FieldProblem>>,
}

/// A field that broke a rule, in a `validation_failed` problem.
#[derive(Serialize, ToSchema)]
pub struct FieldProblem {
    /// The field's JSON name.
    field: String,
    /// `email_empty`, `email_too_long`, `email_malformed`, `password_too_short`,
    /// `password_too_long` or `password_too_common`.
    code: String,
    /// A sentence for people.
    message: String,
}

/// The problems of every operation with a JSON body.
#[derive(IntoResponses)]
pub enum BodyProblems {
    /// The body is not JSON.
    #[response(status = 400, description = "`malformed_json`.", content_type = "application/problem+json")]
    MalformedJson(Problem),
    /// The body was too slow.
    #[response(
        status = 408,
        description = "`request_timeout`: the body did not arrive in time.",
        content_type = "application/problem+json"
    )]
    RequestTimeout(Problem),
    /// The body was too large.
    #[response(
        status = 413,
        description = "`payload_too_large`: over 16 KiB.",
        content_type = "application/problem+json"
    )]
    PayloadTooLarge(Problem),
    /// The body was not JSON by its type.
    #[response(
        status = 415,
        description = "`unsupported_media_type`: not application/json.",
        content_type = "application/problem+json"
    )]
    UnsupportedMediaType(Problem),
}

/// The problems of every operation that needs a session.
#[derive(IntoResponses)]
pub enum SessionProblems {
    /// No session.
    #[response(
        status = 401,
        description = "`unauthenticated`: no live session.",
        content_type = "application/problem+json"
    )]
    Unauthenticated(Problem),
    /// Guessing cookies.
    #[response(
        status = 429,
        description = "`rate_limited`: too many cookies that open nothing from this client (Retry-After).",
        content_type = "application/problem+json"
    )]
    RateLimited(Problem),
}

/// The server's own failures, for an operation that checks no password.
#[derive(IntoResponses)]
pub enum ServerProblems {
    /// A bug.
    #[response(status = 500, description = "`internal_error`.", content_type = "application/problem+json")]
    Internal(Problem),
    /// A store down, or not yet connected.
    #[response(
        status = 503,
        description = "`store_unavailable` (with Retry-After), `service_starting`.",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem),
}

/// The server's own failures, for an operation that checks a password.
#[derive(IntoResponses)]
pub enum HashingProblems {
    /// A bug.
    #[response(status = 500, description = "`internal_error`.", content_type = "application/problem+json")]
    Internal(Problem),
    /// Passwords queued, a store down, or not yet connected.
    #[response(
        status = 503,
        description = "`service_busy` (passwords queued; Retry-After), `store_unavailable`, `service_starting`.",
        content_type = "application/problem+json"
    )]
    Unavailable(Problem),
}

/// The session cookie as a security scheme.
struct SessionCookie;

impl Modify for SessionCookie {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            SESSION_COOKIE,
            SecurityScheme::ApiKey(ApiKey::Cookie(ApiKeyValue::with_description(
                "sessionId",
                "The session cookie register and login set (HttpOnly; its name is SESAME__COOKIE__NAME, \
                 `sessionId` by default).",
            ))),
        );
    }
}

/// The links between operations a client (and schemathesis's stateful
/// phase) follows: register or log in, see who you are, list your sessions,
/// revoke one, log out.
struct Links;

/// `(path, method, status)` of an answer, and the links it gets: `(name,
/// operation id, parameter)`.
type LinkSpec = (
    (&'static str, HttpMethod, &'static str),
    &'static [(&'static str, &'static str, Option<(&'static str, &'static str)>)],
);

const LINKS: &[LinkSpec] = &[
    (("/api/auth/register", HttpMethod::Post, "201"), &[("Me", "me", None), ("Logout", "logout", None)]),
    (("/api/auth/login", HttpMethod::Post, "200"), &[("Me", "me", None), ("Logout", "logout", None)]),
    (("/api/auth/me", HttpMethod::Get, "200"), &[("ListSessions", "list_sessions", None), ("Logout", "logout", None)]),
    (
        ("/api/auth/sessions", HttpMethod::Get, "200"),
        &[("RevokeSession", "revoke_session", Some(("id", "$response.body#/sessions/0/id")))],
    ),
];

impl Modify for Links {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        for ((path, method, status), links) in LINKS {
            let operation = openapi.paths.paths.get_mut(*path).and_then(|item: &mut PathItem| match method {
                HttpMethod::Get => item.get.as_mut(),
                HttpMethod::Post => item.post.as_mut(),
                _ => None,
            });
            let Some(RefOr::T(response)) =
                operation.and_then(|operation| operation.responses.responses.get_mut(*status))
            else {
                panic!("{path} has no {status} answer to link from");
            };
            for (name, operation_id, parameter) in *links {
                let mut link = LinkBuilder::new().operation_id(*operation_id);
                if let Some((name, value)) = parameter {
                    link = link.parameter(*name, *value);
                }
                response.links.insert((*name).to_owned(), RefOr::T(link.build()));
            }
        }
    }
}

/// The security scheme's name in the document.
pub(super) const SESSION_COOKIE: &str = "sessionCookie";

#[derive(OpenApi)]
#[openapi(
    info(
        title = "sesame",
        description = "Session management and authentication over cookies. Errors are \
                       application/problem+json with a stable `code`. State-changing requests from a \
                       browser must come from an allowed origin (403 `csrf_rejected`).",
        license(name = "MIT OR Apache-2.0"),
    ),
    paths(
        super::auth::register,
        super::auth::login,
        super::auth::logout,
        super::auth::logout_all,
        super::auth::me,
        super::auth::list_sessions,
        super::auth::revoke_session,
        super::auth::change_password,
        super::auth::delete_account,
        super::health::healthz,
        super::health::ready,
        openapi_json,
    ),
    components(schemas(
        Credentials, PasswordChange, PasswordConfirmation, UserBody, SessionBody, UserResponse, MeResponse,
        SessionsResponse, Problem, FieldProblem, ProblemCode
    )),
    modifiers(&SessionCookie, &Links),
    tags(
        (name = "auth", description = "Register, log in and out, the current user."),
        (name = "sessions", description = "The caller's sessions."),
        (name = "account", description = "Password and account."),
        (name = "health", description = "Liveness, readiness, this document."),
    )
)]
struct ApiDoc;

/// The document, pretty-printed, built once.
pub fn document() -> &'static str {
    static DOCUMENT: OnceLock<String> = OnceLock::new();
    DOCUMENT.get_or_init(|| {
        let mut text = ApiDoc::openapi().to_pretty_json().expect("the document serializes");
        text.push('\n');
        text
    })
}

/// This document.
#[utoipa::path(get, path = "/api/openapi.json", tag = "health",
    responses((status = 200, description = "The OpenAPI 3.1 document of this API.", content_type = "application/json")))]
pub(super) async fn openapi_json() -> ([(header::HeaderName, HeaderValue); 1], &'static str) {
    ([(header::CONTENT_TYPE, HeaderValue::from_static("application/json"))], document())
}

#[cfg(test)]
mod tests {
    /// The document's problem codes are exactly those of the problem table.
    #[test]
    fn every_problem_code_the_service_answers_is_documented() {
        let answered: Vec<&str> = crate::problem::ProblemCode::ALL.iter().map(|code| code.as_str()).collect();
        let document: serde_json::Value = serde_json::from_str(super::document()).unwrap();
        let documented: Vec<&str> = document["components"]["schemas"]["ProblemCode"]["enum"]
            .as_array()
            .expect("the ProblemCode enum")
            .iter()
            .filter_map(serde_json::Value::as_str)
            .collect();
        assert_eq!(documented, answered);
    }

    /// The committed document is the one the code generates: run the test
    /// with `UPDATE_OPENAPI=1` to rewrite it after changing the API.
    #[test]
    fn docs_openapi_json_is_what_the_code_generates() {
        let path = concat!(env!("CARGO_MANIFEST_DIR"), "/../../docs/openapi.json");
        let generated = super::document();
        if std::env::var_os("UPDATE_OPENAPI").is_some() {
            std::fs::write(path, generated).expect("docs/openapi.json written");
        }
        let committed = std::fs::read_to_string(path).unwrap_or_default();
        assert!(
            committed == generated,
            "docs/openapi.json differs from what the code generates: run \
             `UPDATE_OPENAPI=1 cargo test -p sesame-web --lib openapi` and commit it"
        );
    }
}
