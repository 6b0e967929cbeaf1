//! The account page (`/account`) over HTTP, as a browser without script uses
//! it: form-encoded posts answered by a redirect and a notice, or by the page
//! and a message; the Origin rule, the size limit and the CSP. The browser
//! suite (`crates/browser`) drives the same page in Chromium.

use reqwest::{Client, Response, StatusCode, header, redirect};

use crate::support::{PASSWORD, TestApp, session_token, spawn_app, spawn_app_with};

const FIREFOX: &str = "Mozilla/5.0 (X11; Linux x86_64; rv:133.0) Gecko/20100101 Firefox/133.0";
const IPHONE: &str = "Mozilla/5.0 (iPhone; CPU iPhone OS 17_5 like Mac OS X) AppleWebKit/605.1.15 (KHTML, like Gecko) Version/17.5 Mobile/15E148 Safari/604.1";

/// A browser that keeps cookies and shows each redirect rather than following it.
fn browser(user_agent: &str) -> Client {
    Client::builder().cookie_store(true).redirect(redirect::Policy::none()).user_agent(user_agent).build().unwrap()
}

async fn submit(app: &TestApp, client: &Client, path: &str, fields: &[(&str, &str)]) -> Response {
    client.post(app.url(path)).header(header::ORIGIN, &app.base).form(fields).send().await.expect("request")
}

async fn page(app: &TestApp, client: &Client, path: &str) -> (StatusCode, String) {
    let response = client.get(app.url(path)).send().await.expect("request");
    (response.status(), response.text().await.expect("body"))
}

/// A redirect to the plain address, the notice in its cookie.
fn assert_sees_account(response: &Response, notice: &str) {
    assert_eq!(response.status(), StatusCode::SEE_OTHER);
    let location = response.headers().get(header::LOCATION).expect("a redirect").to_str().unwrap();
    assert_eq!(location, "/account");
    let flash = format!("sesame_notice={notice}; Path=/account; Max-Age=60; HttpOnly; SameSite=Lax");
    let cookies: Vec<&str> =
        response.headers().get_all(header::SET_COOKIE).iter().map(|c| c.to_str().unwrap()).collect();
    assert!(cookies.contains(&flash.as_str()), "{cookies:?}");
}

async fn signed_up(app: &TestApp, client: &Client, email: &str) {
    let response = submit(app, client, "/account/register", &[("email", email), ("password", PASSWORD)]).await;
    assert_sees_account(&response, "registered");
    assert!(session_token(&response).is_some(), "registering sets the session cookie");
}

#[tokio::test]
async fn the_page_is_html_under_a_strict_content_security_policy_with_no_inline_script_or_style() {
    let app = spawn_app().await;
    let response = browser(FIREFOX).get(app.url("/account")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::OK);
    let headers = response.headers().clone();
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    // Under `no-referrer` a browser's form posts say `Origin: null`, which the Origin rule refuses.
    assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    let policy = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
    for directive in ["default-src 'self'", "script-src 'self'", "style-src 'self'", "frame-ancestors 'none'"] {
        assert!(policy.contains(directive), "{policy}");
    }
    assert!(!policy.contains("unsafe"), "{policy}");
    let html = response.text().await.unwrap();
    assert!(html.starts_with("<!DOCTYPE html><html lang=\"en\">"));
    assert!(html.contains("<script src=\"/account/account.js\" defer></script>"));
    assert_eq!(html.matches("<script").count(), 1, "no inline script");
    assert!(!html.contains(" style=") && !html.contains("<style") && !html.contains(" onclick="));
    for input in html.split("<input").skip(1) {
        let id = input.split("id=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("every input has an id");
        assert!(html.contains(&format!("<label for=\"{id}\">")), "input {id} has a label");
    }
    for asset in ["/account/account.css", "/account/account.js"] {
        let response = browser(FIREFOX).get(app.url(asset)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::OK, "{asset}");
        assert!(response.headers()[header::CACHE_CONTROL].to_str().unwrap().contains("max-age"));
    }
}

#[tokio::test]
async fn sign_up_shows_the_sessions_with_their_device_and_the_current_one_marked() {
    let app = spawn_app().await;
    let laptop = browser(FIREFOX);
    signed_up(&app, &laptop, "page@example.com").await;
    let phone = browser(IPHONE);
    let response =
        submit(&app, &phone, "/account/login", &[("email", "page@example.com"), ("password", PASSWORD)]).await;
    assert_sees_account(&response, "signed_in");

    let (status, html) = page(&app, &laptop, "/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Your account is ready, and you are signed in."));
    assert!(html.contains("<strong id=\"account-email\">page@example.com</strong>"));
    assert!(html.contains("<h3>Firefox on Linux</h3><span class=\"badge\">This device</span>"), "{html}");
    assert!(html.contains("<h3>Safari on iPhone</h3>"));
    assert_eq!(html.matches("class=\"session current\"").count(), 1);
    assert!(html.contains("<dd>127.0.0.1</dd>"));
    let (_, unknown) = page(&app, &laptop, "/account?notice=<script>").await;
    assert!(!unknown.contains("<script>") && !unknown.contains("role=\"status\""), "an unknown notice says nothing");
}

#[tokio::test]
async fn a_notice_is_shown_once_and_never_stays_in_the_address() {
    let app = spawn_app().await;
    let laptop = browser(FIREFOX);
    signed_up(&app, &laptop, "once@example.com").await;
    let shown = laptop.get(app.url("/account")).send().await.unwrap();
    let cookies: Vec<String> =
        shown.headers().get_all(header::SET_COOKIE).iter().map(|c| c.to_str().unwrap().to_owned()).collect();
    assert!(cookies.iter().any(|c| c.starts_with("sesame_notice=;") && c.contains("Max-Age=0")), "{cookies:?}");
    assert!(shown.text().await.unwrap().contains("Your account is ready, and you are signed in."));
    let (status, reloaded) = page(&app, &laptop, "/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(!reloaded.contains("Your account is ready") && !reloaded.contains("role=\"status\""), "once only");

    // An address an older instance redirected to: the plain address, the notice carried over.
    let old = laptop.get(app.url("/account?notice=signed_in")).send().await.unwrap();
    assert_sees_account(&old, "signed_in");
    assert!(page(&app, &laptop, "/account").await.1.contains("You are signed in."));
    assert!(!page(&app, &laptop, "/account").await.1.contains("You are signed in."));
    // A notice cookie that names no notice says nothing, and is expired too.
    let forged = browser(FIREFOX).get(app.url("/account")).header(header::COOKIE, "sesame_notice=<b>").send().await;
    let forged = forged.unwrap();
    assert!(forged.headers().get_all(header::SET_COOKIE).iter().any(|c| c.to_str().unwrap().contains("Max-Age=0")));
    let html = forged.text().await.unwrap();
    assert!(!html.contains("<b>") && !html.contains("role=\"status\""), "{html}");
}

#[tokio::test]
async fn the_products_name_links_and_logo_are_shown_escaped_and_served_from_this_origin() {
    let dir = std::env::temp_dir().join(format!("sesame-logo-{}", uuid::Uuid::new_v4().simple()));
    std::fs::create_dir_all(&dir).unwrap();
    let logo = dir.join("logo.png");
    let png = b"\x89PNG\r\n\x1a\n not really, but bytes all the same";
    std::fs::write(&logo, png).unwrap();
    let app = spawn_app_with(&[
        ("SESAME__ACCOUNT__PRODUCT_NAME", "<b>Acme</b> & \"Trade\""),
        ("SESAME__ACCOUNT__HELP_URL", "https://help.example.com/?from=\"sesame\"&x=<y>"),
        ("SESAME__ACCOUNT__PRIVACY_URL", "https://example.com/privacy"),
        ("SESAME__ACCOUNT__LOGO_FILE", &logo.display().to_string()),
    ])
    .await;
    let laptop = browser(FIREFOX);
    let (_, html) = page(&app, &laptop, "/account").await;
    let escaped = "&lt;b&gt;Acme&lt;/b&gt; &amp; &quot;Trade&quot;";
    assert!(html.contains(&format!("<title>Sign in — {escaped}</title>")), "{html}");
    assert!(html.contains(&format!("<h1>Sign in to {escaped}</h1>")), "{html}");
    assert!(html.contains(&format!("<span id=\"product\">{escaped}</span>")), "{html}");
    assert!(!html.contains("<b>Acme</b>") && !html.contains("<y>"), "nothing unescaped: {html}");
    assert!(html.contains("href=\"https://help.example.com/?from=&quot;sesame&quot;&amp;x=&lt;y&gt;\""), "{html}");
    assert!(html.contains("<a id=\"privacy-link\" href=\"https://example.com/privacy\">Privacy</a>"), "{html}");
    assert!(html.contains("<img src=\"/account/logo\" alt=\"\" height=\"32\">"), "{html}");
    assert!(html.contains("<link rel=\"icon\" href=\"/account/favicon.ico\">"), "{html}");

    let served = laptop.get(app.url("/account/logo")).send().await.unwrap();
    assert_eq!(
        (served.status(), served.headers()[header::CONTENT_TYPE].to_str().unwrap()),
        (StatusCode::OK, "image/png")
    );
    assert!(served.headers()[header::CONTENT_SECURITY_POLICY].to_str().unwrap().contains("default-src 'self'"));
    assert_eq!(served.bytes().await.unwrap().as_ref(), png);
    let icon = laptop.get(app.url("/account/favicon.ico")).send().await.unwrap();
    assert_eq!(icon.headers()[header::CONTENT_TYPE], "image/x-icon");
    assert!(icon.bytes().await.unwrap().starts_with(&[0, 0, 1, 0]), "an ICO file");
    std::fs::remove_dir_all(&dir).unwrap();

    // sesame's own, without branding: no logo to serve, no footer.
    let plain = spawn_app().await;
    let (_, html) = page(&plain, &laptop, "/account").await;
    assert!(html.contains("<h1>Sign in to sesame</h1>") && !html.contains("<footer") && !html.contains("<img"));
    assert_eq!(laptop.get(plain.url("/account/logo")).send().await.unwrap().status(), StatusCode::NOT_FOUND);
}

#[tokio::test]
async fn the_password_forms_name_the_account_for_password_managers() {
    let app = spawn_app().await;
    let laptop = browser(FIREFOX);
    signed_up(&app, &laptop, "manager@example.com").await;
    let (_, html) = page(&app, &laptop, "/account").await;
    for form in ["password", "delete"] {
        let hidden = format!(
            "<input id=\"{form}-username\" type=\"text\" name=\"username\" autocomplete=\"username\" \
             value=\"manager@example.com\" hidden readonly>"
        );
        assert!(html.contains(&hidden), "{form}: {html}");
    }
    let new = "a brand new passphrase";
    let fields = [("username", "manager@example.com"), ("currentPassword", PASSWORD), ("newPassword", new)];
    assert_sees_account(&submit(&app, &laptop, "/account/password", &fields).await, "password_changed");
}

#[tokio::test]
async fn a_device_signed_out_elsewhere_is_sent_to_sign_in_at_its_next_click() {
    let app = spawn_app().await;
    let laptop = browser(FIREFOX);
    signed_up(&app, &laptop, "devices@example.com").await;
    let phone = browser(IPHONE);
    submit(&app, &phone, "/account/login", &[("email", "devices@example.com"), ("password", PASSWORD)]).await;

    let (_, html) = page(&app, &laptop, "/account").await;
    let phone_form = html.split("<h3>Safari on iPhone</h3>").nth(1).expect("the phone's row");
    let action = phone_form.split("action=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("its form");
    assert_sees_account(&submit(&app, &laptop, action, &[]).await, "session_revoked");
    let (_, html) = page(&app, &laptop, "/account").await;
    assert!(html.contains("That device is signed out.") && !html.contains("Safari on iPhone"));

    // The phone's next click: to sign in, told why, its cookie expired.
    let response = submit(&app, &phone, "/account/logout-all", &[]).await;
    assert_sees_account(&response, "session_ended");
    assert!(response.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let (status, html) = page(&app, &phone, "/account").await;
    assert_eq!(status, StatusCode::OK);
    assert!(html.contains("Your session has ended") && html.contains("action=\"/account/login\""));
    assert_eq!(page(&app, &laptop, "/account").await.0, StatusCode::OK, "the laptop stays signed in");
}

#[tokio::test]
async fn a_failed_form_answers_its_status_with_a_message_and_changes_nothing() {
    let app = spawn_app().await;
    let laptop = browser(FIREFOX);
    signed_up(&app, &laptop, "careful@example.com").await;

    let wrong = submit(&app, &laptop, "/account/delete", &[("password", "not my password")]).await;
    assert_eq!(wrong.status(), StatusCode::FORBIDDEN);
    let html = wrong.text().await.unwrap();
    assert!(html.contains("role=\"alert\"") && html.contains("That is not your current password."));
    assert!(html.contains("<title>Error: Your account — sesame</title>"));
    assert!(html.contains("id=\"delete-password-error\""), "the password field says why");
    assert!(app.user_exists("careful@example.com").await);

    // An id that is no session id — not even UTF-8 — is none of theirs: the page, 404.
    for id in ["not-an-id", "%FF"] {
        let unknown = submit(&app, &laptop, &format!("/account/sessions/{id}/revoke"), &[]).await;
        assert_eq!(unknown.status(), StatusCode::NOT_FOUND, "{id}");
        assert!(unknown.text().await.unwrap().contains("That device was already signed out."));
    }

    let common =
        submit(&app, &laptop, "/account/password", &[("currentPassword", PASSWORD), ("newPassword", "password123")])
            .await;
    assert_eq!(common.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let html = common.text().await.unwrap();
    assert!(html.contains("id=\"password-new-password-error\""), "the field says why");
    assert!(
        html.contains(
            "aria-invalid=\"true\" aria-describedby=\"password-new-password-hint password-new-password-error\""
        )
    );

    let taken = submit(
        &app,
        &browser(FIREFOX),
        "/account/register",
        &[("email", "careful@example.com"), ("password", PASSWORD)],
    )
    .await;
    assert_eq!(taken.status(), StatusCode::CONFLICT);
    let html = taken.text().await.unwrap();
    assert!(html.contains("An account with this email address already exists."));
    assert!(html.contains("value=\"careful@example.com\""), "the email is kept, the password is not");
    assert!(!html.contains(PASSWORD));

    let wrong_login = submit(
        &app,
        &browser(FIREFOX),
        "/account/login",
        &[("email", "careful@example.com"), ("password", "nope nope nope")],
    )
    .await;
    assert_eq!(wrong_login.status(), StatusCode::UNAUTHORIZED);
    assert!(wrong_login.text().await.unwrap().contains("The email address or password is not right."));

    let missing = submit(&app, &browser(FIREFOX), "/account/login", &[("email", "careful@example.com")]).await;
    assert_eq!(missing.status(), StatusCode::UNPROCESSABLE_ENTITY);
    let json = browser(FIREFOX)
        .post(app.url("/account/login"))
        .header(header::ORIGIN, &app.base)
        .json(&serde_json::json!({"email": "careful@example.com", "password": PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(json.status(), StatusCode::UNSUPPORTED_MEDIA_TYPE);
    assert!(json.headers().get(header::SET_COOKIE).is_none());
}

/// Every answer under /account carries the page's headers, refusals included.
fn assert_page_headers(response: &Response) {
    let headers = response.headers();
    assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
    assert!(headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap().starts_with("default-src 'self'"));
    assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
    assert_eq!(headers[header::CACHE_CONTROL], "no-store");
}

#[tokio::test]
async fn forms_follow_the_origin_rule_and_the_size_limit_of_the_json_api() {
    let app = spawn_app().await;
    let credentials = [("email", "forged@example.com"), ("password", PASSWORD)];
    let foreign = browser(FIREFOX)
        .post(app.url("/account/register"))
        .header(header::ORIGIN, "https://evil.example")
        .form(&credentials)
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    assert_page_headers(&foreign);
    assert!(foreign.text().await.unwrap().contains("sent from another website, so nothing was changed"));
    // Only browsers post these forms, and browsers say where from: a post
    // that names no origin is refused here (the JSON API lets it through).
    let anonymous = browser(FIREFOX).post(app.url("/account/register")).form(&credentials).send().await.unwrap();
    assert_eq!(anonymous.status(), StatusCode::FORBIDDEN);
    assert!(!app.user_exists("forged@example.com").await);

    let padding = "x".repeat(17 * 1024);
    let large =
        submit(&app, &browser(FIREFOX), "/account/register", &[("email", "big@example.com"), ("password", &padding)])
            .await;
    assert_eq!(large.status(), StatusCode::PAYLOAD_TOO_LARGE);
    assert_page_headers(&large);
    assert!(large.text().await.unwrap().contains("The form is larger than 16 KiB."));
    assert!(!app.user_exists("big@example.com").await);
}

#[tokio::test]
async fn a_form_address_opened_or_an_unknown_address_leads_back_to_the_page() {
    let app = spawn_app().await;
    for path in ["/account/login", "/account/sessions/whatever/revoke", "/account/nothing/here"] {
        let response = browser(FIREFOX).get(app.url(path)).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::SEE_OTHER, "{path}");
        assert_eq!(response.headers()[header::LOCATION], "/account");
    }
}

#[tokio::test]
async fn signing_out_this_device_from_its_own_row_ends_it_and_expires_the_cookie() {
    let app = spawn_app().await;
    let laptop = browser(FIREFOX);
    signed_up(&app, &laptop, "own-row@example.com").await;
    let (_, html) = page(&app, &laptop, "/account").await;
    let row = html.split("class=\"session current\"").nth(1).expect("this device's row");
    let action = row.split("action=\"").nth(1).and_then(|rest| rest.split('"').next()).expect("its form");
    let response = submit(&app, &laptop, action, &[]).await;
    assert_sees_account(&response, "signed_out");
    assert!(response.headers()[header::SET_COOKIE].to_str().unwrap().contains("Max-Age=0"));
    let (_, html) = page(&app, &laptop, "/account").await;
    assert!(html.contains("You are signed out.") && html.contains("action=\"/account/login\""));
}

#[tokio::test]
async fn changing_the_password_keeps_this_device_and_signs_out_the_others_then_deletion_ends_all() {
    let app = spawn_app().await;
    let laptop = browser(FIREFOX);
    signed_up(&app, &laptop, "mover@example.com").await;
    let phone = browser(IPHONE);
    submit(&app, &phone, "/account/login", &[("email", "mover@example.com"), ("password", PASSWORD)]).await;

    let new = "a brand new passphrase";
    let changed =
        submit(&app, &laptop, "/account/password", &[("currentPassword", PASSWORD), ("newPassword", new)]).await;
    assert_sees_account(&changed, "password_changed");
    assert!(session_token(&changed).is_some(), "a new cookie for this device");
    let (_, html) = page(&app, &laptop, "/account").await;
    assert_eq!(html.matches("<li class=\"session").count(), 1, "only this device is left");
    assert!(page(&app, &phone, "/account").await.1.contains("Your session has ended"));

    assert_sees_account(&submit(&app, &laptop, "/account/delete", &[("password", new)]).await, "account_deleted");
    assert!(!app.user_exists("mover@example.com").await);
    let (_, html) = page(&app, &laptop, "/account").await;
    assert!(html.contains("Your account is deleted.") && html.contains("Create an account"));
}

#[tokio::test]
async fn a_rate_limited_sign_in_says_how_long_to_wait() {
    let app = spawn_app_with(&[("SESAME__RATE_LIMIT__LOGIN_PER_EMAIL", "2/10m")]).await;
    signed_up(&app, &browser(FIREFOX), "limited@example.com").await;
    let guess = [("email", "limited@example.com"), ("password", "wrong guess here")];
    for _ in 0..2 {
        assert_eq!(submit(&app, &browser(FIREFOX), "/account/login", &guess).await.status(), StatusCode::UNAUTHORIZED);
    }
    let limited = submit(&app, &browser(FIREFOX), "/account/login", &guess).await;
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);
    assert!(limited.headers().contains_key(header::RETRY_AFTER));
    let html = limited.text().await.unwrap();
    assert!(html.contains("Too many attempts. Wait ") && html.contains(" seconds and try again."), "{html}");
}

#[tokio::test]
async fn a_dead_cookie_is_forgotten_under_every_name_it_may_have_come_by() {
    let app = spawn_app_with(&[("SESAME__COOKIE__PREVIOUS_NAMES", "oldSession")]).await;
    let (client, token) = app.signed_up("renamed@example.com").await;
    assert_eq!(app.post(&client, "/api/auth/logout").await.status(), StatusCode::NO_CONTENT);
    let response =
        app.raw().get(app.url("/account")).header(header::COOKIE, format!("oldSession={token}")).send().await.unwrap();
    assert_page_headers(&response);
    let cleared: Vec<&str> =
        response.headers().get_all(header::SET_COOKIE).iter().map(|value| value.to_str().unwrap()).collect();
    for name in ["sessionId", "oldSession"] {
        let expired = |cookie: &&str| cookie.starts_with(&format!("{name}=;")) && cookie.contains("Max-Age=0");
        assert!(cleared.iter().any(expired), "{name} expired: {cleared:?}");
    }
    assert!(!response.headers().contains_key("clear-site-data"), "only a sign-out clears the site");
    assert!(response.text().await.unwrap().contains("Your session has ended"));
}
