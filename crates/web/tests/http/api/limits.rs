//! Rate limits over TCP: logins per email and per IP, registrations per IP,
//! cookies that open nothing per IP; 429 `rate_limited` with `Retry-After`; the
//! client IP from a trusted proxy's `X-Forwarded-For` only.

use reqwest::{StatusCode, header};
use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_problem, spawn_app_with};

async fn login_from(app: &TestApp, forwarded_for: Option<&str>, email: &str, password: &str) -> reqwest::Response {
    let mut request = app.raw().post(app.url("/api/auth/login")).json(&json!({"email": email, "password": password}));
    if let Some(ip) = forwarded_for {
        request = request.header("x-forwarded-for", ip);
    }
    request.send().await.unwrap()
}

async fn assert_limited(response: reqwest::Response) {
    let retry_after: u64 =
        response.headers().get(header::RETRY_AFTER).expect("Retry-After").to_str().unwrap().parse().unwrap();
    assert!((1..=3600).contains(&retry_after), "{retry_after}");
    assert_problem(response, StatusCode::TOO_MANY_REQUESTS, "rate_limited").await;
}

#[tokio::test]
async fn wrong_passwords_for_one_email_are_limited_and_then_even_the_right_one_waits() {
    let app = spawn_app_with(&[("SESAME__RATE_LIMIT__LOGIN_PER_EMAIL", "3/10m")]).await;
    app.signed_up("target@example.com").await;
    for _ in 0..3 {
        let response = login_from(&app, None, "target@example.com", "wrong password").await;
        assert_problem(response, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    }
    assert_limited(login_from(&app, None, " TARGET@example.com", "wrong password").await).await;
    assert_limited(login_from(&app, None, "target@example.com", PASSWORD).await).await;
    // Another account is not affected.
    app.signed_up("bystander@example.com").await;
    assert_eq!(login_from(&app, None, "bystander@example.com", PASSWORD).await.status(), StatusCode::OK);
}

#[tokio::test]
async fn a_successful_login_resets_the_email_count() {
    let app = spawn_app_with(&[("SESAME__RATE_LIMIT__LOGIN_PER_EMAIL", "3/10m")]).await;
    app.signed_up("forgetful@example.com").await;
    for _ in 0..2 {
        login_from(&app, None, "forgetful@example.com", "wrong password").await;
    }
    assert_eq!(login_from(&app, None, "forgetful@example.com", PASSWORD).await.status(), StatusCode::OK);
    for _ in 0..3 {
        let response = login_from(&app, None, "forgetful@example.com", "wrong password").await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED, "the count started again");
    }
    assert_limited(login_from(&app, None, "forgetful@example.com", "wrong password").await).await;
}

#[tokio::test]
async fn logins_per_ip_count_the_client_behind_a_trusted_proxy_and_ignore_a_forged_header() {
    let app = spawn_app_with(&[
        ("SESAME__RATE_LIMIT__LOGIN_PER_IP", "3/1m"),
        ("SESAME__HTTP__TRUSTED_PROXIES", "127.0.0.0/8"),
    ])
    .await;
    for n in 0..3 {
        let response = login_from(&app, Some("198.51.100.1"), &format!("spray{n}@example.com"), PASSWORD).await;
        assert_eq!(response.status(), StatusCode::UNAUTHORIZED);
    }
    assert_limited(login_from(&app, Some("198.51.100.1"), "spray9@example.com", PASSWORD).await).await;
    // The client forges a first hop; the proxy's appended hop is what counts.
    assert_limited(login_from(&app, Some("203.0.113.5, 198.51.100.1"), "spray9@example.com", PASSWORD).await).await;
    // Another client behind the same proxy has its own count.
    let other = login_from(&app, Some("198.51.100.2"), "spray9@example.com", PASSWORD).await;
    assert_eq!(other.status(), StatusCode::UNAUTHORIZED);

    // Without trusted proxies the header changes nothing: the socket peer is the client.
    let direct = spawn_app_with(&[("SESAME__RATE_LIMIT__LOGIN_PER_IP", "3/1m")]).await;
    for n in 0..3 {
        login_from(&direct, Some(&format!("198.51.100.{n}")), &format!("spray{n}@example.com"), PASSWORD).await;
    }
    assert_limited(login_from(&direct, Some("198.51.100.77"), "spray9@example.com", PASSWORD).await).await;
}

#[tokio::test]
async fn registrations_per_ip_are_limited_and_a_refused_one_creates_nothing() {
    let app = spawn_app_with(&[("SESAME__RATE_LIMIT__REGISTER_PER_IP", "2/1h")]).await;
    app.signed_up("first@example.com").await;
    app.signed_up("second@example.com").await;
    let users = app.users_created().await;
    assert_limited(app.register(&app.raw(), "third@example.com", PASSWORD).await).await;
    assert_eq!(app.users_created().await, users);
    assert!(!app.user_exists("third@example.com").await);
}

#[tokio::test]
async fn cookies_that_open_nothing_are_limited_per_ip_and_then_refused_unlooked_up() {
    let app = spawn_app_with(&[("SESAME__RATE_LIMIT__INVALID_COOKIE_PER_IP", "3/1m")]).await;
    let (_, token) = app.signed_up("valid@example.com").await;
    assert_eq!(app.me_with_token(&token).await.status(), StatusCode::OK, "a valid cookie is never counted");
    // Well-formed tokens (43 base64url characters) that open nothing.
    let made_up = |c: &str| format!("{}A", c.repeat(42));
    for c in ["a", "b", "c"] {
        assert_problem(app.me_with_token(&made_up(c)).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    assert_limited(app.me_with_token(&made_up("d")).await).await;
    // While it waits, the client's cookies are refused without a lookup, its
    // own valid one too: the limit is per client address.
    assert_limited(app.me_with_token(&token).await).await;
    // No cookie at all is not guessing.
    assert_problem(app.get(&app.raw(), "/api/auth/me").await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn password_confirmations_are_limited_like_logins() {
    let app = spawn_app_with(&[("SESAME__RATE_LIMIT__LOGIN_PER_EMAIL", "2/10m")]).await;
    let (client, _) = app.signed_up("confirm@example.com").await;
    let change = |current: &'static str| {
        app.post_json(
            &client,
            "/api/auth/password",
            json!({"currentPassword": current, "newPassword": "a brand new passphrase"}),
        )
    };
    for _ in 0..2 {
        assert_problem(change("wrong password").await, StatusCode::FORBIDDEN, "wrong_password").await;
    }
    assert_limited(change(PASSWORD).await).await;
}

#[tokio::test(flavor = "multi_thread", worker_threads = 2)]
async fn when_no_hash_may_wait_concurrent_logins_beyond_the_running_one_get_503_busy() {
    let app = spawn_app_with(&[
        ("SESAME__PASSWORD__MAX_CONCURRENT_HASHES", "1"),
        ("SESAME__PASSWORD__MAX_WAITING_HASHES", "0"),
    ])
    .await;
    app.signed_up("busy@example.com").await;
    let url = app.url("/api/auth/login");
    let logins: Vec<_> = (0..8)
        .map(|_| {
            let (client, url) = (app.raw(), url.clone());
            tokio::spawn(async move {
                client.post(url).json(&json!({"email": "busy@example.com", "password": PASSWORD})).send().await.unwrap()
            })
        })
        .collect();
    let mut busy = Vec::new();
    for login in logins {
        let answer = login.await.unwrap();
        if answer.status() == StatusCode::SERVICE_UNAVAILABLE {
            busy.push(answer);
        }
    }
    assert!(!busy.is_empty(), "eight logins at once with one hash at a time and no queue");
    for answer in busy {
        assert_eq!(answer.headers().get(header::RETRY_AFTER).unwrap(), "1");
        assert_problem(answer, StatusCode::SERVICE_UNAVAILABLE, "service_busy").await;
    }
}
