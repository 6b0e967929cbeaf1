//! Changing the password and deleting the account: each confirmed by the
//! password, each ending every session of the user.

use reqwest::{Method, StatusCode};
use serde_json::{Value, json};

use crate::support::{PASSWORD, TestApp, assert_problem, session_token, set_cookie, spawn_app};

const NEW_PASSWORD: &str = "a brand new passphrase";

async fn change(app: &TestApp, client: &reqwest::Client, current: &str, new: &str) -> reqwest::Response {
    app.post_json(client, "/api/auth/password", json!({"currentPassword": current, "newPassword": new})).await
}

async fn delete_account(app: &TestApp, client: &reqwest::Client, password: &str) -> reqwest::Response {
    let request = client.request(Method::DELETE, app.url("/api/auth/account")).json(&json!({"password": password}));
    request.send().await.unwrap()
}

#[tokio::test]
async fn a_password_change_rotates_the_callers_session_and_ends_every_other() {
    let app = spawn_app().await;
    let (laptop, laptop_token) = app.signed_up("change@example.com").await;
    let phone = app.browser();
    let phone_token = session_token(&app.login(&phone, "change@example.com", PASSWORD).await).unwrap();

    let response = change(&app, &laptop, PASSWORD, NEW_PASSWORD).await;
    assert_eq!(response.status(), StatusCode::OK);
    let new_token = session_token(&response).expect("a new cookie");
    assert_ne!(new_token, laptop_token);
    let body: Value = response.json().await.unwrap();
    assert_eq!(body["user"]["email"], "change@example.com");

    for old in [&laptop_token, &phone_token] {
        assert_problem(app.me_with_token(old).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    assert_eq!(app.get(&laptop, "/api/auth/me").await.status(), StatusCode::OK, "the caller stays signed in");
    let old = app.login(&app.browser(), "change@example.com", PASSWORD).await;
    assert_problem(old, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(app.login(&app.browser(), "change@example.com", NEW_PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_refused_password_change_changes_nothing() {
    let app = spawn_app().await;
    let (client, token) = app.signed_up("refused@example.com").await;
    assert_problem(
        change(&app, &client, "not the password", NEW_PASSWORD).await,
        StatusCode::FORBIDDEN,
        "wrong_password",
    )
    .await;
    let weak = assert_problem(
        change(&app, &client, PASSWORD, " password ").await,
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(weak["errors"][0]["field"], "newPassword");
    assert_eq!(weak["errors"][0]["code"], "password_too_common");
    let missing = app.post_json(&client, "/api/auth/password", json!({"newPassword": NEW_PASSWORD})).await;
    assert_problem(missing, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let stranger = change(&app, &app.browser(), PASSWORD, NEW_PASSWORD).await;
    assert_problem(stranger, StatusCode::UNAUTHORIZED, "unauthenticated").await;

    assert_eq!(app.me_with_token(&token).await.status(), StatusCode::OK);
    assert_eq!(app.login(&app.browser(), "refused@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn deleting_the_account_needs_the_password_and_ends_every_session() {
    let app = spawn_app().await;
    let (laptop, laptop_token) = app.signed_up("leaving@example.com").await;
    let phone = app.browser();
    let phone_token = session_token(&app.login(&phone, "leaving@example.com", PASSWORD).await).unwrap();

    let refused = delete_account(&app, &laptop, "not the password").await;
    assert_problem(refused, StatusCode::FORBIDDEN, "wrong_password").await;
    assert!(app.user_exists("leaving@example.com").await);
    assert_eq!(app.me_with_token(&phone_token).await.status(), StatusCode::OK);

    let response = delete_account(&app, &laptop, PASSWORD).await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(set_cookie(&response).is_some_and(|cookie| cookie.contains("Max-Age=0")));
    assert!(!app.user_exists("leaving@example.com").await);
    for token in [&laptop_token, &phone_token] {
        assert_problem(app.me_with_token(token).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    let login = app.login(&app.browser(), "leaving@example.com", PASSWORD).await;
    assert_problem(login, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(app.register(&app.browser(), "leaving@example.com", PASSWORD).await.status(), StatusCode::CREATED);
}
