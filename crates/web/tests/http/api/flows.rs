//! The flows a browser relies on: register, me, logout, login rotation, logout
//! everywhere, the sessions list, revoking a session.

use reqwest::StatusCode;

use crate::support::{PASSWORD, assert_problem, json_without, session_token, set_cookie, spawn_app};

#[tokio::test]
async fn register_then_me_then_logout_then_me_is_refused() {
    let app = spawn_app().await;
    let client = app.browser();

    let registered = app.register(&client, "  Alice@Example.COM ", PASSWORD).await;
    assert_eq!(registered.status(), StatusCode::CREATED);
    let token = session_token(&registered).expect("a session cookie");
    let body = json_without(registered, &token).await;
    assert_eq!(body["user"]["email"], "alice@example.com");
    assert_eq!(body["user"]["isVerified"], false);
    assert!(body["user"]["id"].is_string() && body["user"]["createdAt"].is_string());
    assert!(body["user"].get("passwordHash").is_none());

    let me = app.get(&client, "/api/auth/me").await;
    assert_eq!(me.status(), StatusCode::OK);
    let me = json_without(me, &token).await;
    assert_eq!(me["user"], body["user"]);
    assert_eq!(me["session"]["current"], true);
    assert_eq!(me["session"]["userAgent"], "sesame-tests/1.0");
    assert_eq!(me["session"]["ip"], "127.0.0.1");

    let logout = app.post(&client, "/api/auth/logout").await;
    assert_eq!(logout.status(), StatusCode::NO_CONTENT);
    let expired = set_cookie(&logout).expect("logout expires the cookie");
    assert!(expired.starts_with("sessionId=;") && expired.contains("Max-Age=0"), "{expired}");

    assert_problem(app.get(&client, "/api/auth/me").await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    // The token is dead on the server, not merely forgotten by the browser.
    assert_problem(app.me_with_token(&token).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn session_cookie_has_the_required_attributes() {
    let app = spawn_app().await;
    let response = app.register(&app.browser(), "attrs@example.com", PASSWORD).await;
    let cookie = set_cookie(&response).expect("Set-Cookie");
    let attributes: Vec<&str> = cookie.split(';').map(str::trim).collect();
    for required in ["HttpOnly", "Path=/", "SameSite=Lax"] {
        assert!(attributes.contains(&required), "{cookie} lacks {required}");
    }
    assert!(!cookie.contains("Max-Age") && !cookie.contains("Expires"), "a session cookie by default: {cookie}");
    assert!(!attributes.contains(&"Secure"), "the mock environment serves plain HTTP");
    let token = session_token(&response).unwrap();
    assert_eq!(token.len(), 43, "256 bits in base64url without padding");
}

#[tokio::test]
async fn login_issues_a_new_token_and_the_presented_one_stops_working() {
    let app = spawn_app().await;
    let (client, first) = app.signed_up("rotate@example.com").await;

    let login = app.login(&client, "ROTATE@example.com", PASSWORD).await;
    assert_eq!(login.status(), StatusCode::OK);
    let second = session_token(&login).expect("login sets a new cookie");
    assert_ne!(first, second);
    let body = json_without(login, &second).await;
    assert_eq!(body["user"]["email"], "rotate@example.com");

    assert_problem(app.me_with_token(&first).await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(app.me_with_token(&second).await.status(), StatusCode::OK);
    assert_eq!(app.get(&client, "/api/auth/me").await.status(), StatusCode::OK, "the jar holds the new token");
}

#[tokio::test]
async fn wrong_password_and_unknown_email_get_the_same_answer() {
    let app = spawn_app().await;
    app.signed_up("known@example.com").await;
    let sessions_before = app.sessions_created().await;

    let wrong = app.login(&app.browser(), "known@example.com", "not the password").await;
    assert!(set_cookie(&wrong).is_none());
    let wrong = assert_problem(wrong, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    let unknown = app.login(&app.browser(), "unknown@example.com", PASSWORD).await;
    let unknown = assert_problem(unknown, StatusCode::UNAUTHORIZED, "invalid_credentials").await;
    assert_eq!(wrong, unknown);
    assert_eq!(app.sessions_created().await, sessions_before);
}

#[tokio::test]
async fn registering_a_taken_email_in_another_case_is_a_conflict() {
    let app = spawn_app().await;
    app.signed_up("taken@example.com").await;
    let sessions_before = app.sessions_created().await;
    let again = app.register(&app.browser(), "Taken@Example.com", "another fine passphrase").await;
    assert!(set_cookie(&again).is_none());
    assert_problem(again, StatusCode::CONFLICT, "email_taken").await;
    assert_eq!(app.sessions_created().await, sessions_before);
}

#[tokio::test]
async fn logout_all_ends_every_session_of_the_user_and_none_of_another() {
    let app = spawn_app().await;
    let (laptop, _) = app.signed_up("everywhere@example.com").await;
    let phone = app.browser();
    assert_eq!(app.login(&phone, "everywhere@example.com", PASSWORD).await.status(), StatusCode::OK);
    let (stranger, _) = app.signed_up("stranger@example.com").await;

    let response = app.post(&laptop, "/api/auth/logout-all").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);

    for client in [&laptop, &phone] {
        assert_problem(app.get(client, "/api/auth/me").await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    }
    assert_eq!(app.get(&stranger, "/api/auth/me").await.status(), StatusCode::OK);
    assert_problem(app.post(&laptop, "/api/auth/logout-all").await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
}

#[tokio::test]
async fn the_sessions_list_marks_only_the_callers_session_current() {
    let app = spawn_app().await;
    let (laptop, laptop_token) = app.signed_up("lister@example.com").await;
    let phone = app.browser();
    let login = app.login(&phone, "lister@example.com", PASSWORD).await;
    let phone_token = session_token(&login).unwrap();
    app.signed_up("other-lister@example.com").await;

    let me: serde_json::Value = app.get(&laptop, "/api/auth/me").await.json().await.unwrap();
    let listed = app.get(&laptop, "/api/auth/sessions").await;
    assert_eq!(listed.status(), StatusCode::OK);
    let text = listed.text().await.unwrap();
    assert!(!text.contains(&laptop_token) && !text.contains(&phone_token), "tokens never appear in a body");
    let body: serde_json::Value = serde_json::from_str(&text).unwrap();
    let sessions = body["sessions"].as_array().expect("a list");
    assert_eq!(sessions.len(), 2, "the user's two sessions and not the other user's: {body}");
    let current: Vec<_> = sessions.iter().filter(|s| s["current"] == true).collect();
    assert_eq!(current.len(), 1);
    assert_eq!(current[0]["id"], me["session"]["id"]);
    for session in sessions {
        for field in ["id", "createdAt", "lastSeenAt", "expiresAt", "ip", "userAgent"] {
            assert!(session[field].is_string(), "{field} missing in {session}");
        }
    }
}

#[tokio::test]
async fn deleting_another_users_session_is_not_found_and_it_keeps_working() {
    let app = spawn_app().await;
    let (mallory, _) = app.signed_up("mallory@example.com").await;
    let (victim, _) = app.signed_up("victim@example.com").await;
    let victim_me: serde_json::Value = app.get(&victim, "/api/auth/me").await.json().await.unwrap();
    let victim_session = victim_me["session"]["id"].as_str().unwrap();

    let response = mallory.delete(app.url(&format!("/api/auth/sessions/{victim_session}"))).send().await.unwrap();
    assert_problem(response, StatusCode::NOT_FOUND, "session_not_found").await;
    assert_eq!(app.get(&victim, "/api/auth/me").await.status(), StatusCode::OK);

    let malformed = mallory.delete(app.url("/api/auth/sessions/not-a-session-id")).send().await.unwrap();
    assert_problem(malformed, StatusCode::NOT_FOUND, "session_not_found").await;
}

#[tokio::test]
async fn deleting_ones_own_other_session_ends_it() {
    let app = spawn_app().await;
    let (laptop, _) = app.signed_up("owner@example.com").await;
    let phone = app.browser();
    app.login(&phone, "owner@example.com", PASSWORD).await;
    let phone_me: serde_json::Value = app.get(&phone, "/api/auth/me").await.json().await.unwrap();
    let phone_session = phone_me["session"]["id"].as_str().unwrap();

    let response = laptop.delete(app.url(&format!("/api/auth/sessions/{phone_session}"))).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert_problem(app.get(&phone, "/api/auth/me").await, StatusCode::UNAUTHORIZED, "unauthenticated").await;
    assert_eq!(app.get(&laptop, "/api/auth/me").await.status(), StatusCode::OK);
}

#[tokio::test]
async fn logout_without_a_session_is_still_no_content() {
    let app = spawn_app().await;
    let response = app.post(&app.browser(), "/api/auth/logout").await;
    assert_eq!(response.status(), StatusCode::NO_CONTENT);
    assert!(set_cookie(&response).is_some_and(|cookie| cookie.contains("Max-Age=0")));
}

#[tokio::test]
async fn probes_answer_and_every_response_carries_a_request_id() {
    let app = spawn_app().await;
    let client = app.browser();
    let health = app.get(&client, "/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert!(health.headers().contains_key("x-request-id"));
    let ready = app.get(&client, "/readyz").await;
    assert_eq!(ready.status(), StatusCode::OK);
    let ready: serde_json::Value = ready.json().await.unwrap();
    assert_eq!(ready["checks"]["users"]["status"], "up");
    assert_eq!(ready["checks"]["sessions"]["status"], "up");

    let traced = client.get(app.url("/api/auth/me")).header("x-request-id", "trace-me-42").send().await.unwrap();
    assert_eq!(traced.headers()["x-request-id"], "trace-me-42", "a client's request id is propagated");

    let metrics = app.get(&client, "/metrics").await.text().await.unwrap();
    for series in [
        "sesame_http_requests_total",
        "sesame_http_request_duration_seconds_bucket",
        "sesame_store_up{store=\"sessions\"} 1",
        "sesame_password_hashes_waiting 0",
    ] {
        assert!(metrics.contains(series), "no {series} in:\n{metrics}");
    }
}

#[tokio::test]
async fn the_openapi_document_is_served_and_describes_every_route() {
    let app = spawn_app().await;
    let response = app.get(&app.browser(), "/api/openapi.json").await;
    assert_eq!(response.status(), StatusCode::OK);
    assert_eq!(response.headers()["content-type"], "application/json");
    let document: serde_json::Value = response.json().await.unwrap();
    assert_eq!(document["openapi"], "3.1.0");
    let served: serde_json::Value = serde_json::from_str(sesame_web::routes::openapi::document()).unwrap();
    assert_eq!(document, served, "the document served is the one generated");
    for (path, method) in [
        ("/api/auth/register", "post"),
        ("/api/auth/login", "post"),
        ("/api/auth/logout", "post"),
        ("/api/auth/logout-all", "post"),
        ("/api/auth/me", "get"),
        ("/api/auth/sessions", "get"),
        ("/api/auth/sessions/{id}", "delete"),
        ("/api/auth/password", "post"),
        ("/api/auth/account", "delete"),
    ] {
        let operation = &document["paths"][path][method];
        assert!(operation.is_object(), "{method} {path} is described");
        let statuses: Vec<&String> = operation["responses"].as_object().unwrap().keys().collect();
        assert!(statuses.iter().any(|status| status.starts_with('2')), "{method} {path}: {statuses:?}");
        assert!(statuses.iter().any(|status| *status == "503"), "{method} {path} declares 503: {statuses:?}");
    }
}
