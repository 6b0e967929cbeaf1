//! The audit log, read from the binary's JSON log lines: every security event
//! on `sesame::audit` with the user, session, client IP and request id, and
//! never a token, a password or a hash anywhere in the log.

use std::{
    process::Command,
    time::{Duration, Instant},
};

use reqwest::{Client, StatusCode, header};
use serde_json::{Value, json};
use sesame_testbed::Service;

const PASSWORD: &str = "correct horse battery staple";
const NEW_PASSWORD: &str = "another long passphrase";

fn cookie_of(response: &reqwest::Response) -> String {
    let set = response.headers().get(header::SET_COOKIE).expect("Set-Cookie").to_str().unwrap();
    set.split(';').next().unwrap().to_owned()
}

/// The audit events logged so far, waiting (up to 5 s) until every one of
/// `names` is among them: log lines arrive through a pipe, after the answers.
fn audit_events(service: &Service, names: &[&str]) -> Vec<Value> {
    let started = Instant::now();
    loop {
        let events: Vec<Value> = service
            .lines()
            .iter()
            .filter_map(|line| serde_json::from_str::<Value>(line).ok())
            .filter(|event| event["target"] == "sesame::audit")
            .collect();
        let all_there = names.iter().all(|name| events.iter().any(|event| event["event"] == *name));
        if all_there || started.elapsed() > Duration::from_secs(5) {
            return events;
        }
        std::thread::sleep(Duration::from_millis(20));
    }
}

#[tokio::test]
async fn security_events_are_audited_with_who_and_where_and_never_a_secret() {
    let service = Service::start(
        Command::new(env!("CARGO_BIN_EXE_sesame"))
            .env("SESSION_ENVIRONMENT", "mock")
            .env("SESAME__HTTP__ADDR", "127.0.0.1:0")
            .env("SESAME__LOG__FORMAT", "json")
            .env("SESAME__LOG__FILTER", "debug")
            .env("SESAME__RATE_LIMIT__LOGIN_PER_EMAIL", "3/10m"),
    );
    let base = service.listening_on(Duration::from_secs(20));
    let client = Client::new();
    // Listening comes before the stores are built: wait until it is ready.
    let started = Instant::now();
    while !client.get(format!("{base}/readyz")).send().await.is_ok_and(|r| r.status() == StatusCode::OK) {
        assert!(started.elapsed() < Duration::from_secs(20), "never ready:\n{}", service.logs());
        tokio::time::sleep(Duration::from_millis(20)).await;
    }
    let post = |path: &str, cookie: Option<&str>, body: Value| {
        let mut request = client.post(format!("{base}{path}")).json(&body).header("x-request-id", "audit-test-1");
        if let Some(cookie) = cookie {
            request = request.header(header::COOKIE, cookie);
        }
        request.send()
    };
    let credentials = json!({"email": "audited@example.com", "password": PASSWORD});

    let registered = post("/api/auth/register", None, credentials.clone()).await.unwrap();
    assert_eq!(registered.status(), StatusCode::CREATED);
    let first = cookie_of(&registered);
    let wrong = json!({"email": "audited@example.com", "password": "wrong password"});
    assert_eq!(post("/api/auth/login", None, wrong.clone()).await.unwrap().status(), StatusCode::UNAUTHORIZED);
    let second = cookie_of(&post("/api/auth/login", None, credentials.clone()).await.unwrap());
    let sessions: Value = client
        .get(format!("{base}/api/auth/sessions"))
        .header(header::COOKIE, &second)
        .send()
        .await
        .unwrap()
        .json()
        .await
        .unwrap();
    let other = sessions["sessions"].as_array().unwrap().iter().find(|s| s["current"] == false).unwrap()["id"]
        .as_str()
        .unwrap()
        .to_owned();
    let revoked = client
        .delete(format!("{base}/api/auth/sessions/{other}"))
        .header(header::COOKIE, &second)
        .send()
        .await
        .unwrap();
    assert_eq!(revoked.status(), StatusCode::NO_CONTENT);
    let foreign = client
        .post(format!("{base}/api/auth/logout-all"))
        .header(header::COOKIE, &second)
        .header(header::ORIGIN, "https://evil.example")
        .send()
        .await
        .unwrap();
    assert_eq!(foreign.status(), StatusCode::FORBIDDEN);
    let wrong_change = json!({"currentPassword": "wrong password", "newPassword": NEW_PASSWORD});
    let refused = post("/api/auth/password", Some(&second), wrong_change).await.unwrap();
    assert_eq!(refused.status(), StatusCode::FORBIDDEN);
    let change = json!({"currentPassword": PASSWORD, "newPassword": NEW_PASSWORD});
    let changed = post("/api/auth/password", Some(&second), change).await.unwrap();
    assert_eq!(changed.status(), StatusCode::OK);
    let third = cookie_of(&changed);
    assert_eq!(post("/api/auth/logout-all", Some(&third), json!({})).await.unwrap().status(), StatusCode::NO_CONTENT);
    let fourth = cookie_of(
        &post("/api/auth/login", None, json!({"email": "audited@example.com", "password": NEW_PASSWORD}))
            .await
            .unwrap(),
    );
    assert_eq!(post("/api/auth/logout", Some(&fourth), json!({})).await.unwrap().status(), StatusCode::NO_CONTENT);
    let fifth = cookie_of(
        &post("/api/auth/login", None, json!({"email": "audited@example.com", "password": NEW_PASSWORD}))
            .await
            .unwrap(),
    );
    let deleted = client
        .delete(format!("{base}/api/auth/account"))
        .header(header::COOKIE, &fifth)
        .json(&json!({"password": NEW_PASSWORD}))
        .send()
        .await
        .unwrap();
    assert_eq!(deleted.status(), StatusCode::NO_CONTENT);
    for _ in 0..3 {
        post("/api/auth/login", None, wrong.clone()).await.unwrap();
    }
    let limited = post("/api/auth/login", None, wrong.clone()).await.unwrap();
    assert_eq!(limited.status(), StatusCode::TOO_MANY_REQUESTS);

    let expected = [
        "registered",
        "login_failed",
        "login_succeeded",
        "session_revoked",
        "csrf_rejected",
        "password_confirmation_failed",
        "password_changed",
        "logged_out_everywhere",
        "logged_out",
        "rate_limited",
        "account_deleted",
    ];
    let events = audit_events(&service, &expected);
    let names: Vec<&str> = events.iter().filter_map(|event| event["event"].as_str()).collect();
    for name in expected {
        assert!(names.contains(&name), "no `{name}` event in {names:?}");
    }
    for event in &events {
        assert_eq!(event["ip"], "127.0.0.1", "{event}");
        assert!(event["request_id"].is_string(), "{event}");
        let refusal = matches!(
            event["event"].as_str(),
            Some("login_failed" | "password_confirmation_failed" | "csrf_rejected" | "rate_limited")
        );
        assert_eq!(event["level"], if refusal { "WARN" } else { "INFO" }, "{event}");
        if !refusal {
            assert!(event["user_id"].is_string() && event["session_id"].is_string(), "{event}");
        }
    }
    let limited = events.iter().find(|event| event["event"] == "rate_limited").unwrap();
    assert_eq!(limited["limit"], "login_per_account");

    let log = service.logs();
    let tokens = [&first, &second, &third, &fourth, &fifth].map(|cookie| cookie.split_once('=').unwrap().1.to_owned());
    for secret in tokens.iter().map(String::as_str).chain([PASSWORD, NEW_PASSWORD, "$argon2"]) {
        assert!(!log.contains(secret), "the log holds a secret ({secret})");
    }
}
