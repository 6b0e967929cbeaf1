//! Bad input: each case answers its own 4xx with a stable code, never a 5xx, and
//! creates no user and no session.

use reqwest::{StatusCode, header};
use serde_json::json;

use crate::support::{TestApp, assert_problem, set_cookie, spawn_app};

const EMAIL: &str = "bad-input@example.com";

/// Sends a raw body to register with `content_type`, expects `status` and `code`,
/// and checks that nothing was created.
async fn refused_register(
    app: &TestApp,
    content_type: &str,
    body: Vec<u8>,
    status: StatusCode,
    code: &str,
) -> serde_json::Value {
    let response = app
        .raw()
        .post(app.url("/api/auth/register"))
        .header(header::CONTENT_TYPE, content_type)
        .body(body)
        .send()
        .await
        .expect("request");
    assert!(set_cookie(&response).is_none(), "{code}: a refused request sets no cookie");
    let problem = assert_problem(response, status, code).await;
    assert!(!app.user_exists(EMAIL).await, "{code}: no user was created");
    assert_eq!(app.users_created().await, 0, "{code}: no user was created");
    assert_eq!(app.sessions_created().await, 0, "{code}: no session was created");
    problem
}

fn credentials(email: &str, password: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"email": email, "password": password})).unwrap()
}

#[tokio::test]
async fn malformed_json_is_400() {
    let app = spawn_app().await;
    refused_register(
        &app,
        "application/json",
        b"{\"email\": \"bad-input@example.com\", ".to_vec(),
        StatusCode::BAD_REQUEST,
        "malformed_json",
    )
    .await;
}

#[tokio::test]
async fn missing_fields_and_wrong_types_are_422_invalid_body() {
    let app = spawn_app().await;
    let problem = refused_register(
        &app,
        "application/json",
        serde_json::to_vec(&json!({"email": EMAIL})).unwrap(),
        StatusCode::UNPROCESSABLE_ENTITY,
        "invalid_body",
    )
    .await;
    assert!(problem["detail"].as_str().unwrap().contains("password"), "{problem}");
    let wrong_type = serde_json::to_vec(&json!({"email": EMAIL, "password": 12345678})).unwrap();
    let problem =
        refused_register(&app, "application/json", wrong_type, StatusCode::UNPROCESSABLE_ENTITY, "invalid_body").await;
    let detail = problem["detail"].as_str().unwrap();
    assert!(
        detail.contains("`password`") && !detail.contains("12345678"),
        "names the field, never echoes it: {detail}"
    );
}

#[tokio::test]
async fn a_wrong_content_type_is_415() {
    let app = spawn_app().await;
    refused_register(
        &app,
        "text/plain",
        credentials(EMAIL, "fine passphrase"),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
    refused_register(
        &app,
        "application/x-www-form-urlencoded",
        b"email=a&password=b".to_vec(),
        StatusCode::UNSUPPORTED_MEDIA_TYPE,
        "unsupported_media_type",
    )
    .await;
}

#[tokio::test]
async fn a_17_kib_body_is_413() {
    let app = spawn_app().await;
    let padding = "x".repeat(17 * 1024);
    let body = serde_json::to_vec(&json!({"email": EMAIL, "password": "fine passphrase", "padding": padding})).unwrap();
    refused_register(&app, "application/json", body, StatusCode::PAYLOAD_TOO_LARGE, "payload_too_large").await;
}

#[tokio::test]
async fn an_invalid_email_is_422_naming_the_field() {
    let app = spawn_app().await;
    for email in ["not-an-email", "", "a@b", &format!("{}@example.com", "x".repeat(250))] {
        let problem = refused_register(
            &app,
            "application/json",
            credentials(email, "fine passphrase"),
            StatusCode::UNPROCESSABLE_ENTITY,
            "validation_failed",
        )
        .await;
        assert_eq!(problem["errors"][0]["field"], "email", "{problem}");
    }
}

#[tokio::test]
async fn passwords_of_7_and_129_characters_are_422() {
    let app = spawn_app().await;
    let short = refused_register(
        &app,
        "application/json",
        credentials(EMAIL, "sevench"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(short["errors"][0]["code"], "password_too_short");
    let long = refused_register(
        &app,
        "application/json",
        credentials(EMAIL, &"p".repeat(129)),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(long["errors"][0]["code"], "password_too_long");
    let common = refused_register(
        &app,
        "application/json",
        credentials(EMAIL, "Password123"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    assert_eq!(common["errors"][0]["code"], "password_too_common");
    // Nothing the client sent is echoed back.
    assert!(!long.to_string().contains(&"p".repeat(129)));
}

#[tokio::test]
async fn every_invalid_field_is_listed() {
    let app = spawn_app().await;
    let problem = refused_register(
        &app,
        "application/json",
        credentials("not-an-email", "short"),
        StatusCode::UNPROCESSABLE_ENTITY,
        "validation_failed",
    )
    .await;
    let listed: Vec<(&str, &str)> = problem["errors"]
        .as_array()
        .expect("errors")
        .iter()
        .map(|error| (error["field"].as_str().unwrap(), error["code"].as_str().unwrap()))
        .collect();
    assert_eq!(listed, [("email", "email_malformed"), ("password", "password_too_short")], "{problem}");
}

#[tokio::test]
async fn an_unknown_route_is_404_and_a_wrong_method_is_405() {
    let app = spawn_app().await;
    assert_problem(app.get(&app.raw(), "/api/auth/nothing-here").await, StatusCode::NOT_FOUND, "not_found").await;
    assert_problem(app.get(&app.raw(), "/api/auth/login").await, StatusCode::METHOD_NOT_ALLOWED, "method_not_allowed")
        .await;
}

#[tokio::test]
async fn garbage_truncated_or_oversized_session_cookies_are_401_and_never_5xx() {
    let app = spawn_app().await;
    let (_, token) = app.signed_up("cookie-owner@example.com").await;
    let created = app.sessions_created().await;
    let cookies = [
        "garbage".to_owned(),
        token[..token.len() - 1].to_owned(),
        format!("{token}{token}"),
        "A".repeat(4000),
        "%00%ff".to_owned(),
        "\"quoted\"".to_owned(),
        String::new(),
    ];
    for cookie in &cookies {
        for path in ["/api/auth/me", "/api/auth/sessions"] {
            let response = app
                .raw()
                .get(app.url(path))
                .header(header::COOKIE, format!("sessionId={cookie}"))
                .send()
                .await
                .unwrap();
            assert_problem(response, StatusCode::UNAUTHORIZED, "unauthenticated").await;
        }
        let logout = app
            .raw()
            .post(app.url("/api/auth/logout"))
            .header(header::COOKIE, format!("sessionId={cookie}"))
            .send()
            .await
            .unwrap();
        assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    }
    assert_eq!(app.sessions_created().await, created, "no session was created");
    assert_eq!(app.me_with_token(&token).await.status(), StatusCode::OK, "the real session is untouched");
}
