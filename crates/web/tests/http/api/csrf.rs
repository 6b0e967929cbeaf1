//! CSRF beyond SameSite: state-changing requests from a foreign origin are
//! refused with 403 `csrf_rejected` and change nothing; CORS lets the allowed
//! origins in, with credentials.

use reqwest::{Method, RequestBuilder, StatusCode, header};
use serde_json::json;

use crate::support::{PASSWORD, TestApp, assert_problem, spawn_app, spawn_app_with};

/// A request of `method` to `path` carrying the victim's cookie and `headers`.
fn from_page(app: &TestApp, token: &str, method: Method, path: &str, headers: &[(&str, &str)]) -> RequestBuilder {
    let mut request = app.raw().request(method, app.url(path)).header(header::COOKIE, format!("sessionId={token}"));
    for (name, value) in headers {
        request = request.header(*name, *value);
    }
    request
}

async fn still_signed_in(app: &TestApp, token: &str) {
    assert_eq!(app.me_with_token(token).await.status(), StatusCode::OK, "the session must be untouched");
}

#[tokio::test]
async fn a_foreign_page_cannot_end_sessions_or_log_in() {
    let app = spawn_app().await;
    let (_, token) = app.signed_up("victim@example.com").await;
    let (_, other) = app.signed_up("victim2@example.com").await;
    let own_port = app.base.rsplit(':').next().unwrap().to_owned();
    let other_port = if own_port == "1" { "2".to_owned() } else { "1".to_owned() };
    let foreign = [
        ("origin", "http://evil.example".to_owned()),
        ("origin", "null".to_owned()),
        ("origin", format!("http://127.0.0.1:{other_port}")),
        ("origin", format!("https://127.0.0.1:{own_port}")),
        ("origin", "not an origin".to_owned()),
        ("sec-fetch-site", "cross-site".to_owned()),
        ("sec-fetch-site", "same-site".to_owned()),
        ("referer", "http://evil.example/attack.html".to_owned()),
    ];
    let attempts = [
        (Method::POST, "/api/auth/logout-all"),
        (Method::POST, "/api/auth/logout"),
        (Method::DELETE, "/api/auth/sessions/00000000-0000-4000-8000-000000000000"),
        (Method::PUT, "/api/auth/me"),
    ];
    for (name, value) in &foreign {
        for (method, path) in &attempts {
            let response = from_page(&app, &token, method.clone(), path, &[(name, value)]).send().await.unwrap();
            assert_problem(response, StatusCode::FORBIDDEN, "csrf_rejected").await;
        }
        let login = app
            .raw()
            .post(app.url("/api/auth/login"))
            .header(*name, value)
            .json(&json!({"email": "victim2@example.com", "password": PASSWORD}))
            .send()
            .await
            .unwrap();
        assert_problem(login, StatusCode::FORBIDDEN, "csrf_rejected").await;
        still_signed_in(&app, &token).await;
    }
    still_signed_in(&app, &other).await;
    // Reading is not changing: a foreign page's GET is answered (CORS keeps the
    // answer from it).
    let read = from_page(&app, &token, Method::GET, "/api/auth/me", &[("origin", "http://evil.example")]);
    assert_eq!(read.send().await.unwrap().status(), StatusCode::OK);
}

#[tokio::test]
async fn the_same_origin_and_clients_that_are_not_browsers_are_allowed() {
    let app = spawn_app().await;
    let own = app.base.clone();
    let own_referer = format!("{own}/account");
    for (index, headers) in [
        vec![("origin", own.as_str())],
        vec![("sec-fetch-site", "same-origin"), ("origin", own.as_str())],
        vec![("sec-fetch-site", "same-origin")],
        vec![("sec-fetch-site", "none")],
        vec![("referer", own_referer.as_str())],
        vec![],
    ]
    .into_iter()
    .enumerate()
    {
        let (_, token) = app.signed_up(&format!("same-{index}@example.com")).await;
        let response = from_page(&app, &token, Method::POST, "/api/auth/logout-all", &headers).send().await.unwrap();
        assert_eq!(response.status(), StatusCode::NO_CONTENT, "{headers:?}");
        assert_eq!(app.me_with_token(&token).await.status(), StatusCode::UNAUTHORIZED);
    }
}

#[tokio::test]
async fn configured_origins_replace_the_served_one_and_get_cors_with_credentials() {
    let app =
        spawn_app_with(&[("SESAME__HTTP__ALLOWED_ORIGINS", "https://app.example.com,http://localhost:5173")]).await;
    let (_, token) = app.signed_up("cors@example.com").await;
    let own = app.base.clone();
    let refused = from_page(&app, &token, Method::POST, "/api/auth/logout-all", &[("origin", &own)]);
    assert_problem(refused.send().await.unwrap(), StatusCode::FORBIDDEN, "csrf_rejected").await;

    let preflight = app
        .raw()
        .request(Method::OPTIONS, app.url("/api/auth/logout"))
        .header("origin", "https://app.example.com")
        .header("access-control-request-method", "POST")
        .header("access-control-request-headers", "content-type")
        .send()
        .await
        .unwrap();
    assert!(preflight.status().is_success(), "{}", preflight.status());
    let headers = preflight.headers();
    assert_eq!(headers.get("access-control-allow-origin").unwrap(), "https://app.example.com");
    assert_eq!(headers.get("access-control-allow-credentials").unwrap(), "true");
    let evil = app
        .raw()
        .request(Method::OPTIONS, app.url("/api/auth/logout"))
        .header("origin", "https://evil.example")
        .header("access-control-request-method", "POST")
        .send()
        .await
        .unwrap();
    assert!(evil.headers().get("access-control-allow-origin").is_none(), "never a wildcard, never a stranger");

    let allowed =
        from_page(&app, &token, Method::POST, "/api/auth/logout-all", &[("origin", "https://app.example.com")]);
    let response = allowed.send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_eq!(response.headers().get("access-control-allow-origin").unwrap(), "https://app.example.com");
}

#[tokio::test]
async fn forwarded_host_and_scheme_count_only_from_a_trusted_proxy() {
    let forwarded = [
        ("origin", "https://app.example.com"),
        ("x-forwarded-proto", "https"),
        ("x-forwarded-host", "app.example.com"),
    ];
    let untrusted = spawn_app().await;
    let (_, token) = untrusted.signed_up("proxy@example.com").await;
    let response = from_page(&untrusted, &token, Method::POST, "/api/auth/logout-all", &forwarded).send().await;
    assert_problem(response.unwrap(), StatusCode::FORBIDDEN, "csrf_rejected").await;

    let behind_proxy = spawn_app_with(&[("SESAME__HTTP__TRUSTED_PROXIES", "127.0.0.0/8")]).await;
    let (_, token) = behind_proxy.signed_up("proxy@example.com").await;
    let response = from_page(&behind_proxy, &token, Method::POST, "/api/auth/logout-all", &forwarded).send().await;
    assert_eq!(response.unwrap().status(), StatusCode::NO_CONTENT);
}
