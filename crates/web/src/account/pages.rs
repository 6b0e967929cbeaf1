//! The account page's HTML (maud: every value is escaped): signed out, the
//! sign-in and sign-up forms; signed in, the user's sessions and the forms
//! that end them, change the password and delete the account. Every form is
//! a plain `POST` that works without script; `account.js` only enhances.

use maud::{DOCTYPE, Markup, html};
use sesame_core::ports::{Session, SessionId};
use time::{OffsetDateTime, format_description::BorrowedFormatItem, macros::format_description};

use super::{
    Branding, device,
    feedback::{Feedback, Form, Tone},
};

/// What the signed-in page shows.
pub(super) struct Account<'a> {
    /// The user's email address.
    pub(super) email: &'a str,
    /// The user's live sessions, oldest first.
    pub(super) sessions: &'a [Session],
    /// The session viewing the page.
    pub(super) current: SessionId,
}

/// The signed-out page: sign in, or create an account; `email` refills the
/// form that was sent.
pub(super) fn signed_out(branding: &Branding, feedback: &Feedback, email: &str) -> Markup {
    let refill = |form| if feedback.form == Some(form) { email } else { "" };
    layout(
        branding,
        "Sign in",
        feedback,
        &html! {
            h1 { "Sign in to " (branding.product) }
            (message(feedback))
            div.columns {
                section.card aria-labelledby="sign-in-heading" {
                    h2 #sign-in-heading { "Sign in" }
                    form method="post" action="/account/login" {
                        (field(feedback, Form::SignIn, &Input { autocomplete: "username", ..Input::email(refill(Form::SignIn)) }))
                        (field(feedback, Form::SignIn, &Input::password("password", "Password", "current-password")))
                        button.primary type="submit" { "Sign in" }
                    }
                }
                section.card aria-labelledby="sign-up-heading" {
                    h2 #sign-up-heading { "Create an account" }
                    form method="post" action="/account/register" {
                        (field(feedback, Form::SignUp, &Input::email(refill(Form::SignUp))))
                        (field(feedback, Form::SignUp, &Input::new_password("password", "Password")))
                        button.primary type="submit" { "Create account" }
                    }
                }
            }
        },
    )
}

/// The signed-in page.
pub(super) fn signed_in(branding: &Branding, account: &Account<'_>, feedback: &Feedback) -> Markup {
    layout(
        branding,
        "Your account",
        feedback,
        &html! {
            div.title {
                h1 { "Your account" }
                form method="post" action="/account/logout" {
                    button.secondary type="submit" { "Sign out" }
                }
            }
            p.lead { "Signed in as " strong #account-email { (account.email) } }
            (message(feedback))
            section.card aria-labelledby="sessions-heading" {
                h2 #sessions-heading { "Your sessions" }
                p { "These devices are signed in to your account. Sign out any you do not recognise." }
                // `role` keeps the list a list for VoiceOver, which drops it without bullets.
                ul.sessions role="list" {
                    @for session in account.sessions {
                        (session_item(session, session.id == account.current))
                    }
                }
                form method="post" action="/account/logout-all" {
                    button.secondary type="submit" { "Sign out everywhere" }
                }
            }
            section.card aria-labelledby="password-heading" {
                h2 #password-heading { "Change password" }
                p { "Every other device is signed out when the password changes." }
                form method="post" action="/account/password" {
                    (username(account.email, Form::Password))
                    (field(feedback, Form::Password, &Input::password("currentPassword", "Current password", "current-password")))
                    (field(feedback, Form::Password, &Input::new_password("newPassword", "New password")))
                    button.primary type="submit" { "Change password" }
                }
            }
            section.card.danger aria-labelledby="delete-heading" {
                h2 #delete-heading { "Delete account" }
                p { "Your account and every session of it end at once. This cannot be undone." }
                form method="post" action="/account/delete" {
                    (username(account.email, Form::Delete))
                    (field(feedback, Form::Delete, &Input::password("password", "Password", "current-password")))
                    button.destructive type="submit" { "Delete account" }
                }
            }
        },
    )
}

/// The account's email in a hidden `username` field, so that a password
/// manager knows whose password a form changes or confirms.
fn username(email: &str, form: Form) -> Markup {
    let id = format!("{}-username", form.id());
    html! { input id=(id) type="text" name="username" autocomplete="username" value=(email) hidden readonly; }
}

fn session_item(session: &Session, current: bool) -> Markup {
    let device = device::describe(session.metadata.user_agent.as_deref());
    let ip = session.metadata.ip.map_or_else(|| "unknown".to_owned(), |ip| ip.to_string());
    html! {
        li.session.current[current] {
            div.device {
                h3 { (device) }
                @if current { span.badge { "This device" } }
            }
            dl {
                div { dt { "IP address" } dd { (ip) } }
                div { dt { "Signed in" } dd { (moment(session.created_at)) } }
                div { dt { "Last active" } dd { (moment(session.last_seen_at)) } }
            }
            form method="post" action={ "/account/sessions/" (session.id) "/revoke" } {
                button.secondary type="submit" {
                    @if current { "Sign out this device" } @else {
                        "Sign out" span.visually-hidden { " " (device) ", " (ip) ", signed in " (moment(session.created_at)) }
                    }
                }
            }
        }
    }
}

const MOMENT: &[BorrowedFormatItem<'static>] = format_description!("[year]-[month]-[day] [hour]:[minute] UTC");

/// A time people read; the script shows it in their own time zone.
fn moment(at: OffsetDateTime) -> Markup {
    let at = at.to_offset(time::UtcOffset::UTC);
    let machine = at.format(&time::format_description::well_known::Rfc3339).unwrap_or_default();
    html! { time datetime=(machine) { (at.format(MOMENT).unwrap_or_default()) } }
}

/// The outcome of the last request, announced to screen readers.
fn message(feedback: &Feedback) -> Markup {
    html! {
        @match feedback.tone {
            Tone::Quiet => {},
            Tone::Done => div.notice.done #message role="status" tabindex="-1" { (feedback.message) },
            Tone::Problem => div.notice.problem #message role="alert" tabindex="-1" { (feedback.message) },
        }
    }
}

/// One labelled input of a form.
struct Input<'a> {
    name: &'static str,
    label: &'static str,
    kind: &'static str,
    autocomplete: &'static str,
    value: &'a str,
    /// A new password: its least length, which the browser checks too.
    bounded: bool,
    hint: Option<&'static str>,
}

impl<'a> Input<'a> {
    fn email(value: &'a str) -> Self {
        Self {
            name: "email",
            label: "Email address",
            kind: "email",
            autocomplete: "email",
            value,
            bounded: false,
            hint: None,
        }
    }

    fn password(name: &'static str, label: &'static str, autocomplete: &'static str) -> Self {
        Self { name, label, kind: "password", autocomplete, value: "", bounded: false, hint: None }
    }

    fn new_password(name: &'static str, label: &'static str) -> Self {
        Self {
            bounded: true,
            hint: Some("8 to 128 characters; common passwords are refused."),
            ..Self::password(name, label, "new-password")
        }
    }
}

fn field(feedback: &Feedback, form: Form, input: &Input<'_>) -> Markup {
    let id = format!("{}-{}", form.id(), kebab(input.name));
    let error = feedback.field_error(form, input.name);
    let hint_id = input.hint.map(|_| format!("{id}-hint"));
    let error_id = error.map(|_| format!("{id}-error"));
    let described: Vec<&str> = [hint_id.as_deref(), error_id.as_deref()].into_iter().flatten().collect();
    let described = (!described.is_empty()).then(|| described.join(" "));
    html! {
        div.field {
            label for=(id) { (input.label) }
            @if let (Some(hint), Some(hint_id)) = (input.hint, &hint_id) { p.hint id=(hint_id) { (hint) } }
            @if let (Some(error), Some(error_id)) = (error, &error_id) { p.field-error id=(error_id) { (sentence(error)) } }
            input id=(id) name=(input.name) type=(input.kind) autocomplete=(input.autocomplete) required
                value=[(!input.value.is_empty()).then_some(input.value)]
                // No `maxlength`: a browser would cut a pasted password short
                // without a word; the server says when one is too long.
                minlength=[input.bounded.then_some(8)]
                aria-invalid=[error.map(|_| "true")]
                aria-describedby=[described];
        }
    }
}

/// `text` with a capital and a full stop, as the page's other sentences.
fn sentence(text: &str) -> String {
    let mut chars = text.chars();
    let first = chars.next().map(|c| c.to_uppercase().collect::<String>()).unwrap_or_default();
    let end = if text.ends_with('.') { "" } else { "." };
    format!("{first}{}{end}", chars.as_str())
}

/// `currentPassword` as `current-password`, for ids.
fn kebab(name: &str) -> String {
    let mut id = String::with_capacity(name.len() + 2);
    for c in name.chars() {
        if c.is_ascii_uppercase() {
            id.push('-');
        }
        id.push(c.to_ascii_lowercase());
    }
    id
}

/// A page that only says what went wrong (the service busy, a request
/// refused before it reached a form), and leads back.
pub(super) fn problem(branding: &Branding, feedback: &Feedback) -> Markup {
    layout(
        branding,
        "Not done",
        feedback,
        &html! {
            h1 { "That did not work" }
            (message(feedback))
            p { a href="/account" { "Back to your account" } }
        },
    )
}

/// The page around `content`, under the product's name (and logo), above
/// its help and privacy links; its title says when something went wrong.
fn layout(branding: &Branding, title: &str, feedback: &Feedback, content: &Markup) -> Markup {
    let product = &branding.product;
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { @if feedback.tone == Tone::Problem { "Error: " } (title) " — " (product) }
                link rel="icon" href="/account/favicon.ico";
                link rel="stylesheet" href="/account/account.css";
                script src="/account/account.js" defer {}
            }
            body {
                // No link: the page is the only place it could lead, and a
                // keyboard's first stop stays the page's first field.
                header.brand {
                    // The name beside it says what the logo shows.
                    @if branding.has_logo() { img src="/account/logo" alt="" height="32"; }
                    span #product { (product) }
                }
                main #main { (content) }
                @if branding.help_url.is_some() || branding.privacy_url.is_some() {
                    footer.brand {
                        nav aria-label={ "About " (product) } {
                            @if let Some(help) = &branding.help_url { a #help-link href=(help) { "Help" } }
                            @if let Some(privacy) = &branding.privacy_url { a #privacy-link href=(privacy) { "Privacy" } }
                        }
                    }
                }
            }
        }
    }
}
