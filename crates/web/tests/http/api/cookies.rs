//! The cookie: persistent only when asked; renamed without logging anyone out;
//! several cookies of one name never let a planted token shadow a valid one.

use reqwest::{StatusCode, header};
use serde_json::Value;

use crate::support::{PASSWORD, TestApp, session_token, set_cookie, spawn_app, spawn_app_with};

async fn me_with_cookies(app: &TestApp, cookies: &str) -> reqwest::Response {
    app.raw().get(app.url("/api/auth/me")).header(header::COOKIE, cookies).send().await.unwrap()
}

async fn email_of(response: reqwest::Response) -> String {
    let body: Value = response.json().await.unwrap();
    body["user"]["email"].as_str().unwrap().to_owned()
}

#[tokio::test]
async fn a_persistent_cookie_lives_until_the_absolute_expiry_when_configured() {
    let app = spawn_app_with(&[("SESAME__COOKIE__PERSISTENT", "true")]).await;
    let response = app.register(&app.browser(), "persistent@example.com", PASSWORD).await;
    let cookie = set_cookie(&response).unwrap();
    assert!(cookie.split(';').any(|part| part.trim() == "Max-Age=43200"), "{cookie}");
}

#[tokio::test]
async fn a_planted_token_never_shadows_a_valid_one_and_the_first_valid_one_wins() {
    let app = spawn_app().await;
    let (_, alice) = app.signed_up("alice@example.com").await;
    let (_, mallory) = app.signed_up("mallory@example.com").await;
    let forged = "A".repeat(43);
    for cookies in [
        format!("sessionId={forged}; sessionId={alice}"),
        format!("sessionId={alice}; sessionId={forged}"),
        format!("sessionId=garbage; theme=dark; sessionId={alice}"),
    ] {
        let response = me_with_cookies(&app, &cookies).await;
        assert_eq!(response.status(), StatusCode::OK, "{cookies}");
        assert_eq!(email_of(response).await, "alice@example.com");
    }
    // Two live sessions: the first listed wins, every time.
    for _ in 0..3 {
        let response = me_with_cookies(&app, &format!("sessionId={alice}; sessionId={mallory}")).await;
        assert_eq!(email_of(response).await, "alice@example.com");
        let response = me_with_cookies(&app, &format!("sessionId={mallory}; sessionId={alice}")).await;
        assert_eq!(email_of(response).await, "mallory@example.com");
    }
    // Logout ends every session presented.
    let logout = app
        .raw()
        .post(app.url("/api/auth/logout"))
        .header(header::COOKIE, format!("sessionId={alice}; sessionId={mallory}"))
        .send()
        .await
        .unwrap();
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    for token in [&alice, &mallory] {
        assert_eq!(app.me_with_token(token).await.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn a_renamed_cookie_keeps_working_and_is_reissued_under_the_new_name() {
    let app = spawn_app_with(&[("SESAME__COOKIE__NAME", "sid"), ("SESAME__COOKIE__PREVIOUS_NAMES", "sessionId")]).await;
    let old = app.raw();
    // A session issued before the rename, under the old name.
    let registered = app.register(&old, "renamed@example.com", PASSWORD).await;
    let token = set_cookie(&registered).unwrap().split(';').next().unwrap().strip_prefix("sid=").unwrap().to_owned();
    let response = me_with_cookies(&app, &format!("sessionId={token}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    let set: Vec<String> =
        response.headers().get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap().to_owned()).collect();
    assert!(set.iter().any(|c| c.starts_with(&format!("sid={token};"))), "re-issued under the new name: {set:?}");
    assert!(set.iter().any(|c| c.starts_with("sessionId=;") && c.contains("Max-Age=0")), "old one expired: {set:?}");
    // Under the new name it is just the cookie: nothing re-issued.
    let response = me_with_cookies(&app, &format!("sid={token}")).await;
    assert_eq!(response.status(), StatusCode::OK);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    // A dead token under the old name is refused and re-issues nothing.
    let response = me_with_cookies(&app, &format!("sessionId={}", "B".repeat(43))).await;
    assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    assert!(response.headers().get(header::SET_COOKIE).is_none());
    assert!(session_token(&response).is_none());
}
