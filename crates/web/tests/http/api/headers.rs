//! What every answer says about itself: security headers, no caching of what
//! carries a cookie or a user, a request id that cannot forge a log line, and
//! metrics labels a client cannot multiply.

use reqwest::{StatusCode, header};

use crate::support::{PASSWORD, spawn_app};

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

#[tokio::test]
async fn signing_out_clears_site_data_only_when_asked() {
    for (setting, expected) in [("false", None), ("true", Some("\"cookies\""))] {
        let app = crate::support::spawn_app_with(&[("SESAME__HTTP__CLEAR_SITE_DATA", setting)]).await;
        let (client, _) = app.signed_up("clear@example.com").await;
        let me = app.get(&client, "/api/auth/me").await;
        assert!(me.headers().get("clear-site-data").is_none(), "only signing out clears");
        let logout = app.post(&client, "/api/auth/logout").await;
        let value = logout.headers().get("clear-site-data").map(|v| v.to_str().unwrap().to_owned());
        assert_eq!(value.as_deref(), expected, "CLEAR_SITE_DATA={setting}");
    }
}

#[tokio::test]
async fn hsts_is_sent_in_production_behind_tls_only() {
    use sesame_factory::Environment;
    let tls = [("SESAME__HTTP__TLS_IN_FRONT", "true"), ("SESAME__POSTGRES__MIGRATE_ON_START", "true")];
    let production = crate::support::spawn_app_in(Environment::Production, &tls).await;
    let development = crate::support::spawn_app_in(Environment::Development, &tls).await;
    let hsts = |response: &reqwest::Response| response.headers().get(header::STRICT_TRANSPORT_SECURITY).cloned();
    let answer = production.get(&production.raw(), "/healthz").await;
    assert_eq!(hsts(&answer).unwrap(), "max-age=31536000");
    let missing = production.get(&production.raw(), "/nowhere").await;
    assert!(hsts(&missing).is_some(), "on every response");
    assert!(hsts(&development.get(&development.raw(), "/healthz").await).is_none());
}

#[tokio::test]
async fn metrics_can_move_to_an_address_of_their_own() {
    let app = crate::support::spawn_app_with(&[("SESAME__HTTP__METRICS_ADDR", "127.0.0.1:0")]).await;
    let _ = app.get(&app.raw(), "/healthz").await;
    assert_eq!(app.get(&app.raw(), "/metrics").await.status(), StatusCode::NOT_FOUND, "not on the public address");
    let metrics_base = app.metrics_base.as_deref().expect("a metrics address");
    let metrics = app.raw().get(format!("{metrics_base}/metrics")).send().await.unwrap();
    assert_eq!(metrics.status(), StatusCode::OK);
    assert!(metrics.text().await.unwrap().contains("sesame_http_requests_total"));
}
