//! What every answer says about itself: security headers, no caching of what
//! carries a cookie or a user, a request id that cannot forge a log line, and
//! metrics labels a client cannot multiply.

use reqwest::{StatusCode, header};

use crate::helpers::{PASSWORD, spawn_app};

#[tokio::test]
async fn every_answer_forbids_sniffing_framing_and_referrers_and_auth_answers_are_never_cached() {
    let app = spawn_app().await;
    let client = app.browser();
    let registered = app.register(&client, "headers@example.com", PASSWORD).await;
    let refused = app.login(&app.browser(), "headers@example.com", "not the password").await;
    let me = app.get(&client, "/api/auth/me").await;
    let health = app.get(&client, "/healthz").await;
    let missing = app.get(&client, "/nowhere").await;
    for (name, response) in [("register", &registered), ("refused login", &refused), ("me", &me)] {
        let value = response.headers().get(header::CACHE_CONTROL).map(|v| v.to_str().unwrap());
        assert_eq!(value, Some("no-store"), "{name} must not be cached");
    }
    for response in [&registered, &refused, &me, &health, &missing] {
        let headers = response.headers();
        assert_eq!(headers.get(header::X_CONTENT_TYPE_OPTIONS).unwrap(), "nosniff");
        assert_eq!(headers.get(header::REFERRER_POLICY).unwrap(), "no-referrer");
        assert_eq!(headers.get(header::X_FRAME_OPTIONS).unwrap(), "DENY");
    }
}

#[tokio::test]
async fn a_short_safe_request_id_is_kept_and_anything_else_is_replaced() {
    let app = spawn_app().await;
    let sent = |id: String| app.raw().get(app.url("/healthz")).header("x-request-id", id).send();
    let kept = sent("abc-123_DEF.4".to_owned()).await.unwrap();
    assert_eq!(kept.headers().get("x-request-id").unwrap(), "abc-123_DEF.4");
    for forged in ["a b".to_owned(), "line\tbreak".to_owned(), "evil\";drop".to_owned(), "a".repeat(65)] {
        let response = sent(forged.clone()).await.unwrap();
        let id = response.headers().get("x-request-id").unwrap().to_str().unwrap().to_owned();
        assert_ne!(id, forged, "{forged:?} was echoed");
        assert!(uuid::Uuid::parse_str(&id).is_ok(), "replaced by a made-up id, not {id:?}");
    }
}

#[tokio::test]
async fn a_made_up_http_method_does_not_make_a_new_metrics_label() {
    let app = spawn_app().await;
    let method = reqwest::Method::from_bytes(b"INVENTED").unwrap();
    let response = app.raw().request(method, app.url("/healthz")).send().await.unwrap();
    assert_eq!(response.status(), StatusCode::METHOD_NOT_ALLOWED);
    let metrics = app.get(&app.raw(), "/metrics").await.text().await.unwrap();
    assert!(!metrics.contains("INVENTED"), "the method became a label:\n{metrics}");
    assert!(metrics.contains("method=\"other\""), "it is counted as `other`");
}
