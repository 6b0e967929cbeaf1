//! `/account`: the page where people sign up, sign in, see their sessions
//! (device, address, when each signed in and was last active, this one
//! marked), sign out one device or every one, change their password and
//! delete their account — served by sesame itself, so that no one has to
//! write a front end to use it.
//!
//! Server-rendered: every form is a plain form-encoded `POST` to
//! `/account/*` that answers with a redirect (303) to `/account` and a
//! notice (carried in a cookie the page reads once and expires, so that a
//! reload or the address bar does not bring it back) when it worked, or with
//! the page and a message for its problem code when it did not. The forms
//! pass through the same route layer as the JSON API (`Routed`: the Origin
//! rule) and the same body limits, and the work itself is the application
//! layer's (`sesame_core::Application`), as the JSON API's is. Every answer
//! carries a strict Content-Security-Policy: styles and the enhancing script
//! come from this origin only, and nothing inline runs.

mod branding;
mod device;
mod feedback;
mod pages;

pub use branding::Branding;

use axum::{
    Form, Router,
    extract::{
        FromRequestParts, Path, State,
        rejection::{FormRejection, PathRejection},
    },
    http::{HeaderMap, HeaderValue, StatusCode, header, request::Parts},
    response::{Html, IntoResponse, Response},
    routing::{MethodRouter, any, get, post},
};
use maud::Markup;
use serde::Deserialize;
use sesame_core::{
    LoggedIn,
    ports::{Session, SessionId},
};

use crate::{
    AppState,
    dto::{Credentials, PasswordChange, PasswordConfirmation},
    error::ApiError,
    extract::{Caller, CurrentSession, PresentedTokens},
};
use feedback::{Feedback, Form as Which, Notice};

/// Where the page lives.
pub const PATH: &str = "/account";

/// Whether `path` is the page or under it: answered with pages, not JSON,
/// and its forms held to the stricter Origin rule of routes only browsers use.
pub fn is_page(path: &str) -> bool {
    path.strip_prefix(PATH).is_some_and(|rest| rest.is_empty() || rest.starts_with('/'))
}

/// Only this origin's stylesheet and script; no inline script or style, no
/// frames, forms that post only here.
const CONTENT_SECURITY_POLICY: &str = "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; \
     form-action 'self'; frame-ancestors 'none'; base-uri 'none'; object-src 'none'";

/// The page's routes. A form's address asked for with another method, and
/// any other address under the page, lead back to the page.
pub fn router() -> Router<AppState> {
    let form = |handler: MethodRouter<AppState>| handler.fallback(back);
    Router::new()
        .route(PATH, get(show))
        .route("/account/register", form(post(register)))
        .route("/account/login", form(post(login)))
        .route("/account/logout", form(post(logout)))
        .route("/account/logout-all", form(post(logout_all)))
        .route("/account/sessions/{id}/revoke", form(post(revoke_session)))
        .route("/account/password", form(post(change_password)))
        .route("/account/delete", form(post(delete_account)))
        .route("/account/account.css", get(|| asset("text/css; charset=utf-8", include_str!("account.css"))))
        .route("/account/account.js", get(|| asset("text/javascript; charset=utf-8", include_str!("account.js"))))
        .route("/account/favicon.ico", get(|| asset("image/x-icon", &include_bytes!("favicon.ico")[..])))
        .route("/account/logo", get(|State(state): State<AppState>| async move { state.branding.logo_response() }))
        .route("/account/{*rest}", any(back))
        .layer(axum::middleware::map_response(|mut response: Response| async move {
            seal(response.headers_mut());
            response
        }))
}

/// The page's own headers, on every answer under it.
fn seal(headers: &mut HeaderMap) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    // Not the envelope's `no-referrer`: under it a browser sends `Origin:
    // null` with the page's own form posts, which the Origin rule refuses.
    // `same-origin` still sends nothing to other sites.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    // Pages carry personal data; the assets say how long they keep.
    headers.entry(header::CACHE_CONTROL).or_insert(HeaderValue::from_static("no-store"));
}

async fn back(State(state): State<AppState>) -> Response {
    see_account(&state, None, HeaderMap::new())
}

async fn asset(content_type: &'static str, body: impl Into<axum::body::Body>) -> Response {
    let body = body.into();
    ([(header::CONTENT_TYPE, content_type), (header::CACHE_CONTROL, "public, max-age=3600")], body).into_response()
}

/// The answer to a request under [`PATH`] refused before it reached the
/// page (a foreign origin, a body announced too large): a page saying why.
pub fn refused(err: &ApiError, branding: &Branding) -> Response {
    let mut response = short_problem(branding, err);
    seal(response.headers_mut());
    response
}

/// Who is looking at the page.
enum Visitor {
    SignedIn(Box<Session>),
    /// No session cookie.
    SignedOut,
    /// A session cookie that opens nothing: signed out elsewhere, or expired.
    Ended,
}

impl FromRequestParts<AppState> for Visitor {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match CurrentSession::from_request_parts(parts, state).await {
            Ok(CurrentSession(session)) => Ok(Self::SignedIn(Box::new(session))),
            Err(ApiError::Unauthenticated) if state.cookie.candidates(&parts.headers).is_empty() => Ok(Self::SignedOut),
            Err(ApiError::Unauthenticated) => Ok(Self::Ended),
            Err(err) => Err(short_problem(&state.branding, &err)),
        }
    }
}

/// The session of a signed-in visitor, for the forms that need one; a visitor
/// without one is sent to sign in (told that their session ended, when it did).
struct Member(Session);

impl FromRequestParts<AppState> for Member {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &AppState) -> Result<Self, Self::Rejection> {
        match Visitor::from_request_parts(parts, state).await? {
            Visitor::SignedIn(session) => Ok(Self(*session)),
            Visitor::SignedOut => Err(see_account(state, None, HeaderMap::new())),
            Visitor::Ended => Err(session_ended(state)),
        }
    }
}

/// To sign in again, saying why, with the dead cookie expired.
fn session_ended(state: &AppState) -> Response {
    see_account(state, Some(Notice::SessionEnded), expired(state))
}

/// The dead cookie expired, under whichever of our names it came: not a
/// sign-out (no `Clear-Site-Data`), the session is gone already.
fn expired(state: &AppState) -> HeaderMap {
    let mut headers = HeaderMap::new();
    for cookie in state.cookie.expire_every_name() {
        headers.append(header::SET_COOKIE, cookie);
    }
    headers
}

/// `?notice=`, as instances before the notice cookie redirected with it.
#[derive(Deserialize)]
struct NoticeQuery {
    notice: Option<Notice>,
}

/// The cookie that carries a notice across the redirect to the page: a
/// fixed name of [`Notice`]'s set, nothing a request chose; read once, then
/// expired.
const NOTICE_COOKIE: &str = "sesame_notice";

/// The notice cookie set to `notice`, or expired when `None`.
fn notice_cookie(state: &AppState, notice: Option<Notice>) -> HeaderValue {
    let (value, max_age) = notice.map_or(("", 0), |notice| (notice.query(), 60));
    let secure = if state.cookie.is_secure() { "; Secure" } else { "" };
    let cookie = format!("{NOTICE_COOKIE}={value}; Path={PATH}; Max-Age={max_age}; HttpOnly; SameSite=Lax{secure}");
    HeaderValue::try_from(cookie).expect("a fixed cookie is a valid header value")
}

/// The notice cookie's value in `headers`, if the request carries one: the
/// notice it names (`None` for one that names none).
fn presented_notice(headers: &HeaderMap) -> Option<Option<Notice>> {
    let mut values = headers.get_all(header::COOKIE).iter().filter_map(|value| value.to_str().ok());
    let value = values.find_map(|cookies| {
        cookies.split(';').find_map(|pair| pair.trim().strip_prefix(NOTICE_COOKIE)?.strip_prefix('='))
    })?;
    Some(Notice::from_query(value))
}

async fn show(
    State(state): State<AppState>,
    visitor: Visitor,
    headers: HeaderMap,
    query: Result<axum::extract::Query<NoticeQuery>, axum::extract::rejection::QueryRejection>,
) -> Response {
    // An address with a notice in it becomes the plain address, the notice carried over.
    if let Ok(axum::extract::Query(NoticeQuery { notice: Some(notice) })) = query {
        return see_account(&state, Some(notice), HeaderMap::new());
    }
    let presented = presented_notice(&headers);
    let feedback = presented.flatten().map_or_else(Feedback::quiet, Feedback::notice);
    let mut response = match visitor {
        Visitor::SignedIn(session) => account_page(&state, &session, &feedback, None).await,
        Visitor::SignedOut => page(StatusCode::OK, pages::signed_out(&state.branding, &feedback, "")),
        Visitor::Ended => {
            let ended = pages::signed_out(&state.branding, &Feedback::notice(Notice::SessionEnded), "");
            (expired(&state), page(StatusCode::OK, ended)).into_response()
        }
    };
    if presented.is_some() {
        response.headers_mut().append(header::SET_COOKIE, notice_cookie(&state, None));
    }
    response
}

async fn register(
    State(state): State<AppState>,
    caller: Caller,
    PresentedTokens(presented): PresentedTokens,
    form: Result<Form<Credentials>, FormRejection>,
) -> Response {
    let register = async |body: &Credentials| {
        Ok(state.app.register(caller.client(), caller.metadata(), &presented, &body.email, &body.password).await?)
    };
    enter(&state, form, Which::SignUp, Notice::Registered, register).await
}

async fn login(
    State(state): State<AppState>,
    caller: Caller,
    PresentedTokens(presented): PresentedTokens,
    form: Result<Form<Credentials>, FormRejection>,
) -> Response {
    let login = async |body: &Credentials| {
        Ok(state.app.login(caller.client(), caller.metadata(), &presented, &body.email, &body.password).await?)
    };
    enter(&state, form, Which::SignIn, Notice::SignedIn, login).await
}

/// Sign-up or sign-in (`which`): `act` on the form's credentials, then to the
/// page signed in with `notice`; or the form again, its email kept, saying why not.
async fn enter(
    state: &AppState,
    form: Result<Form<Credentials>, FormRejection>,
    which: Which,
    notice: Notice,
    act: impl AsyncFnOnce(&Credentials) -> Result<LoggedIn, ApiError>,
) -> Response {
    let email = form.as_ref().map(|Form(body)| body.email.clone()).unwrap_or_default();
    let entered = async { act(&form?.0).await };
    match entered.await {
        Ok(logged_in) => signed_in(state, &logged_in, notice),
        Err(err) => {
            let feedback = Feedback::problem(&err, Some(which));
            problem_page(&err, pages::signed_out(&state.branding, &feedback, &email))
        }
    }
}

async fn logout(
    State(state): State<AppState>,
    caller: Caller,
    PresentedTokens(presented): PresentedTokens,
) -> Response {
    match state.app.logout(caller.client(), presented).await.map_err(ApiError::from) {
        Ok(()) => see_account(&state, Some(Notice::SignedOut), state.cookie.sign_out()),
        Err(err) => short_problem(&state.branding, &err),
    }
}

async fn logout_all(State(state): State<AppState>, caller: Caller, Member(session): Member) -> Response {
    match state.app.logout_everywhere(caller.client(), &session).await.map_err(ApiError::from) {
        Ok(()) => see_account(&state, Some(Notice::SignedOutEverywhere), state.cookie.sign_out()),
        Err(err) => account_problem(&state, &session, &err, None).await,
    }
}

async fn revoke_session(
    State(state): State<AppState>,
    caller: Caller,
    Member(session): Member,
    id: Result<Path<String>, PathRejection>,
) -> Response {
    let revoked = async {
        // A malformed id (even one that is not UTF-8) is not one of theirs either.
        let id = id.ok().and_then(|Path(id)| SessionId::parse(&id).ok()).ok_or(ApiError::SessionNotFound)?;
        state.app.revoke_session(caller.client(), &session, id).await.map(|()| id).map_err(ApiError::from)
    };
    match revoked.await {
        Ok(id) if id == session.id => see_account(&state, Some(Notice::SignedOut), state.cookie.sign_out()),
        Ok(_) => see_account(&state, Some(Notice::SessionRevoked), HeaderMap::new()),
        Err(err) => account_problem(&state, &session, &err, None).await,
    }
}

async fn change_password(
    State(state): State<AppState>,
    caller: Caller,
    Member(session): Member,
    form: Result<Form<PasswordChange>, FormRejection>,
) -> Response {
    let changed = async {
        let body = form?.0;
        let (current, new) = (&body.current_password, &body.new_password);
        let changed = state.app.change_password(caller.client(), caller.metadata(), &session, current, new).await;
        changed.map_err(|err| ApiError::from(err).for_field("newPassword"))
    };
    match changed.await {
        Ok(changed) => signed_in(&state, &changed, Notice::PasswordChanged),
        Err(err) => account_problem(&state, &session, &err, Some(Which::Password)).await,
    }
}

async fn delete_account(
    State(state): State<AppState>,
    caller: Caller,
    Member(session): Member,
    form: Result<Form<PasswordConfirmation>, FormRejection>,
) -> Response {
    let deleted = async { Ok(state.app.delete_account(caller.client(), &session, &form?.0.password).await?) };
    match deleted.await {
        Ok(()) => see_account(&state, Some(Notice::AccountDeleted), state.cookie.sign_out()),
        Err(err) => account_problem(&state, &session, &err, Some(Which::Delete)).await,
    }
}

/// The signed-in page for `session` after `form` (or another button) failed with `err`.
async fn account_problem(state: &AppState, session: &Session, err: &ApiError, form: Option<Which>) -> Response {
    account_page(state, session, &Feedback::problem(err, form), Some(err)).await
}

/// The signed-in page for `session` saying `feedback`, with the status of
/// `err` when it answers one. A session that ended meanwhile is sent to sign in.
async fn account_page(state: &AppState, session: &Session, feedback: &Feedback, err: Option<&ApiError>) -> Response {
    if matches!(err, Some(ApiError::Unauthenticated)) {
        return session_ended(state);
    }
    let loaded = async {
        let user = state.auth.current_user(session).await?;
        let sessions = state.auth.list_sessions(session.user_id).await?;
        Ok::<_, ApiError>((user, sessions))
    };
    let (user, sessions) = match loaded.await {
        Ok(loaded) => loaded,
        // The user was deleted meanwhile.
        Err(ApiError::Unauthenticated) => return session_ended(state),
        Err(failed) => return short_problem(&state.branding, &failed),
    };
    let account = pages::Account { email: user.email.as_str(), sessions: &sessions, current: session.id };
    let markup = pages::signed_in(&state.branding, &account, feedback);
    match err {
        Some(err) => problem_page(err, markup),
        None => page(StatusCode::OK, markup),
    }
}

/// The redirect after signing in: the new session's cookie, and the notice.
fn signed_in(state: &AppState, logged_in: &LoggedIn, notice: Notice) -> Response {
    let mut headers = HeaderMap::new();
    headers.insert(header::SET_COOKIE, state.cookie.issue(logged_in));
    see_account(state, Some(notice), headers)
}

/// 303 to the page, with `headers` (cookies) and `notice` (in its cookie).
fn see_account(state: &AppState, notice: Option<Notice>, mut headers: HeaderMap) -> Response {
    if notice.is_some() {
        headers.append(header::SET_COOKIE, notice_cookie(state, notice));
    }
    (StatusCode::SEE_OTHER, headers, [(header::LOCATION, HeaderValue::from_static(PATH))]).into_response()
}

fn page(status: StatusCode, markup: Markup) -> Response {
    (status, Html(markup.into_string())).into_response()
}

/// The short page that only says what went wrong, answered as `err` is.
fn short_problem(branding: &Branding, err: &ApiError) -> Response {
    problem_page(err, pages::problem(branding, &Feedback::problem(err, None)))
}

/// `markup` answered with the status of `err` (and its `Retry-After`, log line).
fn problem_page(err: &ApiError, markup: Markup) -> Response {
    let mut response = page(err.code().status(), markup);
    err.annotate(&mut response);
    response
}
